// The timeline writer (udrm/trace/timeline.h): sinks behind the trace hook, JSON formatting,
// the file.
#include "udrm/trace/timeline.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cinttypes>

#include "timeline_impl.h"
#include "udrm/base/context.h"
#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/sim_hooks.h"

namespace udrm::trace {

namespace {

constexpr std::size_t kSinks = 4;
constexpr std::size_t kAutoFlushBytes = 64 * 1024;

// The recording timelines. Tracepoints read the table inside the hook's read-side section;
// finish() clears its entry, then waits a grace period of the hook's slot.
std::array<std::atomic<Timeline::Impl*>, kSinks> g_sinks{};
std::mutex g_sinks_mu;  // start/finish; the hook is registered while a sink is
std::size_t g_nsinks = 0;

template <class Fn>
void each_sink(Fn&& fn) {
  for (auto& s : g_sinks)
    if (Timeline::Impl* t = s.load(std::memory_order_acquire)) fn(*t);
}

const TraceHook kHook{
    [](const char* name) { each_sink([&](Timeline::Impl& t) { t.on_irq(name); }); },
    [](TraceCommit ph, const void* u, const void* c, const char* crtc, int ret) {
      each_sink([&](Timeline::Impl& t) { t.on_commit(ph, u, c, crtc, ret); });
    },
    [](const char* crtc, uint64_t seq) { each_sink([&](Timeline::Impl& t) { t.on_vblank(crtc, seq); }); },
    [](TraceDevice ev, const char* dev) { each_sink([&](Timeline::Impl& t) { t.on_device(ev, dev); }); },
    [](TraceRelease k, const char* owner, const char* name) {
      each_sink([&](Timeline::Impl& t) { t.on_release(k, owner, name); });
    },
    [](TraceFile ev, const void* file, const char* drv) {
      each_sink([&](Timeline::Impl& t) { t.on_file(ev, file, drv); });
    },
    [](const void* file, uint32_t type, TraceEventFate fate) {
      each_sink([&](Timeline::Impl& t) { t.on_event(file, type, fate); });
    },
};

void append_num(std::string& o, const char* fmt, double v) {
  char b[48];
  std::snprintf(b, sizeof(b), fmt, v);
  o += b;
}

}  // namespace

void json_escape(std::string& out, std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\u%04x", u);
      out += b;
    } else {
      out += c;
    }
  }
}

double Timeline::Impl::now_us() const noexcept {
  const TimePoint t = udrm::now();
  // A simulated task reads the virtual clock, which starts at 0: use it as is.
  const Duration d = detail::tls_sim ? t.time_since_epoch() : t - origin;
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) / 1000.0;
}

void Timeline::Impl::event_locked(std::string_view ph, std::string_view name, std::string_view cat, int p,
                                  uint64_t tid, double ts, std::string_view extra, std::string_view args) {
  buf += first ? "" : ",\n";
  first = false;
  buf += "{\"name\":\"";
  json_escape(buf, name);
  buf += "\",\"cat\":\"";
  json_escape(buf, cat);
  buf += "\",\"ph\":\"";
  buf += ph;
  buf += "\",\"pid\":" + std::to_string(p) + ",\"tid\":" + std::to_string(tid) + ",\"ts\":";
  append_num(buf, "%.3f", ts);
  buf += extra;
  if (!args.empty()) {
    buf += ",\"args\":";
    buf += args;
  }
  buf += '}';
}

void Timeline::Impl::instant_locked(std::string_view name, std::string_view cat, uint64_t tid,
                                    std::string_view args) {
  event_locked("i", name, cat, pid, tid, now_us(), ",\"s\":\"t\"", args);
}

void Timeline::Impl::async_locked(char ph, std::string_view name, uint64_t id, uint64_t tid, std::string_view args) {
  event_locked(std::string_view(&ph, 1), name, "commit", pid, tid, now_us(), ",\"id\":" + std::to_string(id), args);
}

void Timeline::Impl::meta_locked(std::string_view what, int p, uint64_t tid, std::string_view name) {
  std::string args = "{\"name\":\"";
  json_escape(args, name);
  args += "\"}";
  event_locked("M", what, "__metadata", p, tid, 0, "", args);
}

void Timeline::Impl::sort_locked(uint64_t tid, int index) {
  event_locked("M", "thread_sort_index", "__metadata", pid, tid, 0, "",
               "{\"sort_index\":" + std::to_string(index) + "}");
}

Timeline::Timeline() : impl_(std::make_unique<Impl>()) {}

Timeline::~Timeline() { finish(); }

int Timeline::start(const std::string& path) {
  if (path.empty()) return -EINVAL;
  std::lock_guard<std::mutex> reg(g_sinks_mu);
  if (impl_->slot >= 0 || impl_->f) return -EALREADY;
  std::size_t free_slot = kSinks;
  for (std::size_t i = 0; i < kSinks; ++i)
    if (!g_sinks[i].load(std::memory_order_relaxed)) {
      free_slot = i;
      break;
    }
  if (free_slot == kSinks) return -EBUSY;
  if (g_nsinks == 0) {
    if (int r = trace_hook_register(&kHook)) return r;  // a module holds the hook
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    const int err = errno ? -errno : -EIO;
    if (g_nsinks == 0) trace_hook_unregister(&kHook);
    return err;
  }
  Impl& m = *impl_;
  m.f = f;
  m.finished = false;
  m.pid = static_cast<int>(::getpid());
  m.origin = udrm::now();
  std::fputs("{\"traceEvents\":[\n", f);
  {
    std::lock_guard<SpinLock> l(m.lock);
    m.meta_locked("process_name", m.pid, 0, "udrm");
    m.meta_locked("thread_name", m.pid, Impl::kDeviceTid, "device lifetime");
    m.sort_locked(Impl::kDeviceTid, 0);
    m.meta_locked("thread_name", m.pid, Impl::kUpdatesTid, "atomic updates");
    m.sort_locked(Impl::kUpdatesTid, 1);
  }
  m.slot = static_cast<int>(free_slot);
  ++g_nsinks;
  g_sinks[free_slot].store(&m, std::memory_order_release);
  return 0;
}

bool Timeline::active() const noexcept { return impl_->slot >= 0; }
int Timeline::pid() const noexcept { return impl_->pid; }
double Timeline::now_us() const noexcept { return impl_->now_us(); }

void Timeline::complete(std::string_view name, std::string_view cat, int pid, uint64_t tid, double ts_us,
                        double dur_us, std::string_view args_json) {
  std::string extra = ",\"dur\":";
  append_num(extra, "%.3f", dur_us < 0 ? 0 : dur_us);
  bool big;
  {
    std::lock_guard<SpinLock> l(impl_->lock);
    if (impl_->slot < 0) return;
    impl_->event_locked("X", name, cat, pid, tid, ts_us, extra, args_json);
    big = impl_->buf.size() > kAutoFlushBytes;
  }
  if (big && !in_atomic() && detail::tls_spin_depth == 0) flush();
}

void Timeline::instant(std::string_view name, std::string_view cat, int pid, uint64_t tid,
                       std::string_view args_json) {
  std::lock_guard<SpinLock> l(impl_->lock);
  if (impl_->slot < 0) return;
  impl_->event_locked("i", name, cat, pid, tid, impl_->now_us(), ",\"s\":\"t\"", args_json);
}

void Timeline::name_thread(int pid, uint64_t tid, std::string_view name) {
  std::lock_guard<SpinLock> l(impl_->lock);
  if (impl_->slot >= 0) impl_->meta_locked("thread_name", pid, tid, name);
}

void Timeline::name_process(int pid, std::string_view name) {
  std::lock_guard<SpinLock> l(impl_->lock);
  if (impl_->slot >= 0) impl_->meta_locked("process_name", pid, 0, name);
}

void Timeline::bind_file(const void* file, int pid, uint64_t tid) {
  std::lock_guard<SpinLock> l(impl_->lock);
  if (impl_->slot >= 0) impl_->files[file] = Impl::Track{pid, tid};
}

int Timeline::flush() {
  std::lock_guard<std::mutex> fl(impl_->file_mu);
  if (!impl_->f) return -EBADF;
  std::string out;
  {
    std::lock_guard<SpinLock> l(impl_->lock);
    out.swap(impl_->buf);
  }
  if (!out.empty() && std::fwrite(out.data(), 1, out.size(), impl_->f) != out.size()) return -EIO;
  return std::fflush(impl_->f) ? -EIO : 0;
}

int Timeline::finish() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> reg(g_sinks_mu);
    if (m.slot < 0) return m.finished ? 0 : -EBADF;
    g_sinks[static_cast<std::size_t>(m.slot)].store(nullptr, std::memory_order_release);
    {
      std::lock_guard<SpinLock> l(m.lock);
      m.slot = -1;
    }
    // After this no tracepoint runs on m.
    if (--g_nsinks == 0) {
      trace_hook_unregister(&kHook);
    } else {
      detail::g_trace_hook.synchronize();
    }
  }
  int r = flush();
  std::lock_guard<std::mutex> fl(m.file_mu);
  if (std::fputs("\n]}\n", m.f) < 0 && !r) r = -EIO;
  if (std::fclose(m.f) && !r) r = -EIO;
  m.f = nullptr;
  m.finished = true;
  return r;
}

}  // namespace udrm::trace
