// Tracepoints to timeline events (udrm/trace/timeline.h): which track, which phase, which span.
// Runs in the firing context (interrupt context, under the event or vblank spinlocks): only
// formatting and bookkeeping under the timeline's spinlock.
#include <drm.h>

#include <iterator>

#include "timeline_impl.h"

namespace udrm::trace {

namespace {

constexpr std::size_t kClosedKept = 64;  // commit spans remembered for a late flip_done

std::string str_arg(std::string_view key, std::string_view v) {
  std::string o = "{\"";
  o += key;
  o += "\":\"";
  json_escape(o, v);
  o += "\"}";
  return o;
}

const char* event_type_name(uint32_t type) {
  switch (type) {
    case DRM_EVENT_VBLANK:
      return "VBLANK";
    case DRM_EVENT_FLIP_COMPLETE:
      return "FLIP_COMPLETE";
    case DRM_EVENT_CRTC_SEQUENCE:
      return "CRTC_SEQUENCE";
    default:
      return "driver";
  }
}

const char* fate_name(TraceEventFate f) {
  switch (f) {
    case TraceEventFate::delivered:
      return "delivered";
    case TraceEventFate::cancelled:
      return "cancelled";
    case TraceEventFate::detached:
      return "detached";
    case TraceEventFate::dropped:
      return "dropped";
  }
  return "?";
}

const char* phase_name(TraceCommit p) {
  switch (p) {
    case TraceCommit::check_begin:
    case TraceCommit::check_end:
      return "check";
    case TraceCommit::swap:
      return "swap";
    case TraceCommit::hw_done:
      return "hw_done";
    case TraceCommit::flip_done:
      return "flip_done";
    case TraceCommit::cleanup_done:
      return "cleanup_done";
  }
  return "?";
}

}  // namespace

uint64_t Timeline::Impl::crtc_tid_locked(const char* crtc) {
  const std::string name = crtc ? crtc : "?";
  auto it = crtc_tids.find(name);
  if (it != crtc_tids.end()) return it->second;
  const uint64_t tid = kFirstCrtcTid + crtc_tids.size();
  crtc_tids.emplace(name, tid);
  meta_locked("thread_name", pid, tid, "crtc " + name);
  sort_locked(tid, static_cast<int>(tid));
  return tid;
}

Timeline::Impl::Track Timeline::Impl::file_track_locked(const void* file, const char* drv) {
  auto it = files.find(file);
  if (it != files.end()) return it->second;
  const uint64_t n = next_file++;
  Track t{pid, kFirstFileTid + n};
  files.emplace(file, t);
  meta_locked("thread_name", pid, t.tid, "file " + std::to_string(n) + (drv ? std::string(" (") + drv + ")" : ""));
  sort_locked(t.tid, static_cast<int>(t.tid));
  return t;
}

void Timeline::Impl::on_irq(const char* name) {
  std::lock_guard<SpinLock> l(lock);
  if (slot < 0) return;
  const std::string n = name ? name : "?";
  auto it = irq_tids.find(n);
  if (it == irq_tids.end()) {
    it = irq_tids.emplace(n, kFirstIrqTid + irq_tids.size()).first;
    meta_locked("thread_name", pid, it->second, "irq " + n);
    sort_locked(it->second, static_cast<int>(it->second));
  }
  instant_locked("irq", "irq", it->second, "");
}

void Timeline::Impl::on_vblank(const char* crtc, uint64_t seq) {
  std::lock_guard<SpinLock> l(lock);
  if (slot < 0) return;
  instant_locked("vblank", "vblank", crtc_tid_locked(crtc), "{\"seq\":" + std::to_string(seq) + "}");
}

void Timeline::Impl::on_commit(TraceCommit phase, const void* update, const void* commit, const char* crtc,
                               int ret) {
  std::lock_guard<SpinLock> l(lock);
  if (slot < 0) return;
  switch (phase) {
    case TraceCommit::check_begin: {
      Update& u = updates[update];
      u.n = ++next_update;
      u.check_id = next_id++;
      async_locked('b', "check #" + std::to_string(u.n), u.check_id, kUpdatesTid,
                   "{\"commit\":" + std::to_string(u.n) + "}");
      return;
    }
    case TraceCommit::check_end: {
      auto it = updates.find(update);
      if (it == updates.end() || !it->second.check_id) return;
      async_locked('e', "check #" + std::to_string(it->second.n), it->second.check_id, kUpdatesTid,
                   "{\"ret\":" + std::to_string(ret) + "}");
      it->second.check_id = 0;
      if (ret) updates.erase(it);  // nothing follows a failed check
      return;
    }
    case TraceCommit::swap: {
      auto it = updates.find(update);
      if (it == updates.end()) {  // committed without a check (a driver calling the helpers)
        it = updates.emplace(update, Update{++next_update, 0}).first;
      }
      Span s;
      s.id = next_id++;
      s.n = it->second.n;
      s.tid = crtc_tid_locked(crtc);
      s.crtc = crtc ? crtc : "?";
      s.sub = "swap";
      const std::string name = "commit #" + std::to_string(s.n);
      std::string args = "{\"commit\":" + std::to_string(s.n) + ",\"crtc\":\"";
      json_escape(args, s.crtc);
      args += '"';
      auto early = flipped_at_setup.find(commit);
      if (early != flipped_at_setup.end()) {  // no event to wait for: flip_done at setup
        args += ",\"flip_done\":\"at setup\"";
        flipped_at_setup.erase(early);
      }
      async_locked('b', name, s.id, s.tid, args + "}");
      async_locked('b', s.sub, s.id, s.tid, "");
      // The address is a new commit's: an older closed one there was freed, its flip_done done.
      std::erase_if(closed, [commit](const auto& c) { return c.first == commit; });
      spans[commit] = std::move(s);
      return;
    }
    case TraceCommit::hw_done:
    case TraceCommit::flip_done: {
      auto it = spans.find(commit);
      if (it == spans.end() && phase == TraceCommit::flip_done && update) {
        // Completed in setup_commit, before the swap: nothing to wait for. Noted on the span.
        if (flipped_at_setup.size() > 64) flipped_at_setup.clear();  // updates that failed later
        flipped_at_setup[commit] = update;
        return;
      }
      if (it == spans.end()) {
        // A flip after its commit's cleanup (the worker woke on the vblank count before the
        // interrupt handler sent the event): an instant on the CRTC, named after the commit.
        // Newest first, and each closed span takes one late flip_done: a freed commit's address
        // can come back for a later commit, whose flip_done must not be put on the old one.
        for (auto c = closed.rbegin(); c != closed.rend(); ++c)
          if (c->first == commit) {
            instant_locked(phase_name(phase), "commit", c->second.tid,
                           "{\"commit\":" + std::to_string(c->second.n) + ",\"after\":\"cleanup_done\"}");
            closed.erase(std::next(c).base());
            return;
          }
        return;  // a commit that started before the trace
      }
      Span& s = it->second;
      async_locked('e', s.sub, s.id, s.tid, "");
      s.sub = phase_name(phase);
      async_locked('b', s.sub, s.id, s.tid, "");
      return;
    }
    case TraceCommit::cleanup_done: {
      auto it = spans.find(commit);
      if (it == spans.end()) return;
      Span& s = it->second;
      async_locked('e', s.sub, s.id, s.tid, "");
      async_locked('e', "commit #" + std::to_string(s.n), s.id, s.tid, "");
      closed.emplace_back(commit, std::move(s));
      if (closed.size() > kClosedKept) closed.pop_front();
      spans.erase(it);
      updates.erase(update);  // swapped already on every CRTC: the update number is not needed again
      return;
    }
  }
}

void Timeline::Impl::on_device(TraceDevice ev, const char* dev) {
  std::lock_guard<SpinLock> l(lock);
  if (slot < 0) return;
  const std::string name = dev ? dev : "?";
  switch (ev) {
    case TraceDevice::bind:
      instant_locked("bind " + name, "device", kDeviceTid, str_arg("device", name));
      return;
    case TraceDevice::unplug:
      instant_locked("unplug " + name, "device", kDeviceTid, str_arg("driver", name));
      return;
    case TraceDevice::unbind: {
      const uint64_t id = next_id++;
      unbinds[name].push_back(id);
      event_locked("b", "unbind " + name, "device", pid, kDeviceTid, now_us(), ",\"id\":" + std::to_string(id),
                   str_arg("device", name));
      return;
    }
    case TraceDevice::unbind_done: {
      auto it = unbinds.find(name);
      if (it == unbinds.end() || it->second.empty()) return;
      const uint64_t id = it->second.back();
      it->second.pop_back();
      event_locked("e", "unbind " + name, "device", pid, kDeviceTid, now_us(), ",\"id\":" + std::to_string(id), "");
      return;
    }
  }
}

void Timeline::Impl::on_release(TraceRelease kind, const char* owner, const char* name) {
  std::lock_guard<SpinLock> l(lock);
  if (slot < 0) return;
  const bool devm = kind == TraceRelease::devm;
  instant_locked(std::string(devm ? "devm: " : "drmm: ") + (name ? name : "?"), devm ? "devm" : "drmm", kDeviceTid,
                 str_arg("owner", owner ? owner : "?"));
}

void Timeline::Impl::on_file(TraceFile ev, const void* file, const char* drv) {
  std::lock_guard<SpinLock> l(lock);
  if (slot < 0) return;
  const Track t = file_track_locked(file, drv);
  const char* what = ev == TraceFile::open ? "open" : ev == TraceFile::close ? "close" : "last close";
  event_locked("i", what, "file", t.pid, t.tid, now_us(), ",\"s\":\"t\"", str_arg("driver", drv ? drv : "?"));
  if (ev != TraceFile::open) files.erase(file);  // the address may be reused
}

void Timeline::Impl::on_event(const void* file, uint32_t type, TraceEventFate fate) {
  std::lock_guard<SpinLock> l(lock);
  if (slot < 0) return;
  const Track t = file_track_locked(file, nullptr);
  const std::string name = std::string("event ") + event_type_name(type) + " " + fate_name(fate);
  event_locked("i", name, "event", t.pid, t.tid, now_us(), ",\"s\":\"t\"",
               "{\"type\":" + std::to_string(type) + ",\"fate\":\"" + fate_name(fate) + "\"}");
}

}  // namespace udrm::trace
