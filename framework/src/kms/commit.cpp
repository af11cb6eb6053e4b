// Commit tracking (udrm/kms/atomic.h CrtcCommit, udrm/kms/atomic_helper.h setup_commit,
// swap_state, wait_for_dependencies, commit_hw_done, wait_for_flip_done, cleanup_done):
// kernel-semantics §5.1–5.2 rules 1–11.
#include <mutex>
#include <new>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/signal.h"
#include "udrm/base/trace_hook.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/event.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"

namespace udrm {

using namespace std::chrono_literals;

namespace {

constexpr Duration kCommitTimeout = 10s;

// The completion_release of an event wired to flip_done: the event's commit reference goes.
void release_crtc_commit(Completion* c) {
  CrtcCommit* commit = static_cast<FlipDoneCompletion*>(c)->commit;
  trace_commit(TraceCommit::flip_done, nullptr, commit, commit->crtc ? commit->crtc->name.c_str() : "fake");
  commit->put();
}

Ref<CrtcCommit> new_commit(DrmDevice& dev, Crtc* crtc) {
  if (UDRM_SHOULD_FAIL("kms.crtc_commit_alloc")) return nullptr;
  auto* c = new (std::nothrow) CrtcCommit(crtc);
  if (!c) return nullptr;
  if (ModeConfig* mc = mode_config(dev)) c->seqno = ++mc->commit_seqno;
  return adopt_ref(c);
}

const char* crtc_name(const Crtc* c) { return c ? c->name.c_str() : "fake"; }

// Userspace may not get ahead of the previous commit with nonblocking ones; a queue depth of
// two is allowed (triple buffering), the third waits for the first's cleanup.
int stall_checks(Crtc& crtc, bool nonblock) {
  Ref<CrtcCommit> stall;
  {
    std::lock_guard<SpinLock> l(crtc.commit_lock);
    int i = 0;
    for (CrtcCommit& c : crtc.commit_list) {
      if (i == 0) {
        if (!c.flip_done.done() && nonblock) {
          log_dbg(LogCat::atomic, "[CRTC:%u:%s] busy with a previous commit", crtc.id, crtc.name.c_str());
          return -EBUSY;
        }
      } else if (i == 1) {
        stall = &c;
        break;
      }
      ++i;
    }
  }
  if (!stall) return 0;
  UDRM_POINT("atomic.stall");
  int ret = wait_for_completion_interruptible_timeout(stall->cleanup_done, kCommitTimeout);
  if (ret == 0) log_err(LogCat::atomic, "[CRTC:%u:%s] cleanup_done timed out", crtc.id, crtc.name.c_str());
  return ret < 0 ? ret : 0;
}

Ref<CrtcCommit> crtc_or_fake_commit(AtomicState& state, Crtc* crtc) {
  if (crtc) {
    if (CrtcState* cs = atomic_get_new_crtc_state(state, *crtc)) return cs->commit;
    warn(LogCat::atomic, "[CRTC:%u:%s] tracks an object of the update but is not part of it", crtc->id,
         crtc->name.c_str());
  }
  if (!state.fake_commit) state.fake_commit = new_commit(state.dev(), nullptr);
  return state.fake_commit;
}

int wait_hw_done_interruptible(const Ref<CrtcCommit>& c) {
  if (!c) return 0;
  return wait_for_completion_interruptible(c->hw_done);
}

}  // namespace

int crtc_commit_wait(CrtcCommit* commit) {
  if (!commit) return 0;
  if (!commit->hw_done.wait_timeout(kCommitTimeout)) {
    log_err(LogCat::atomic, "[CRTC:%s] hw_done timed out", crtc_name(commit->crtc));
    return -ETIMEDOUT;
  }
  // No overwriting flips: the previous one must have executed completely.
  if (!commit->flip_done.wait_timeout(kCommitTimeout)) {
    log_err(LogCat::atomic, "[CRTC:%s] flip_done timed out", crtc_name(commit->crtc));
    return -ETIMEDOUT;
  }
  return 0;
}

int atomic_helper_setup_commit(AtomicState& state, bool nonblock) {
  DrmDevice& dev = state.dev();
  UDRM_POINT("atomic.setup_commit");
  for (auto& e : state.crtcs) {
    Crtc& crtc = *e.ptr;
    CrtcState& ns = *e.new_state;
    Ref<CrtcCommit> commit = new_commit(dev, &crtc);
    if (!commit) return -ENOMEM;
    ns.commit = commit;
    e.commit = commit;
    e.prev_commit = e.old_state ? e.old_state->commit : Ref<CrtcCommit>();
    if (int ret = stall_checks(crtc, nonblock)) return ret;
    // Drivers only send events when the old or the new state is active.
    if (!e.old_state->active && !ns.active) {
      commit->flip_done.complete_all();
      trace_commit(TraceCommit::flip_done, &state, commit.get(), crtc.name.c_str());
      continue;
    }
    // Legacy cursor updates are not synchronised to anything.
    if (state.legacy_cursor_update) {
      commit->flip_done.complete_all();
      trace_commit(TraceCommit::flip_done, &state, commit.get(), crtc.name.c_str());
      continue;
    }
    if (!ns.event) {
      if (UDRM_SHOULD_FAIL("kms.commit_event_alloc")) return -ENOMEM;
      auto* ev = new (std::nothrow) PendingVblankEvent();
      if (!ev) return -ENOMEM;
      ev->ev.vbl.base.type = DRM_EVENT_FLIP_COMPLETE;
      ev->ev.vbl.base.length = sizeof(ev->ev.vbl);
      ev->ev.vbl.crtc_id = crtc.id;
      commit->event = ev;
      ns.event = ev;
    }
    ns.event->completion = &commit->flip_done;
    ns.event->completion_release = &release_crtc_commit;
    commit->get();
    commit->abort_completion = true;
  }
  for (auto& e : state.connectors) {
    const Ref<CrtcCommit>& prev = e.old_state->commit;
    if (nonblock && prev && !prev->flip_done.done()) {
      log_dbg(LogCat::atomic, "[CONNECTOR:%u:%s] busy with a previous commit", e.ptr->id, e.ptr->name.c_str());
      return -EBUSY;
    }
    Ref<CrtcCommit> c = crtc_or_fake_commit(state, e.new_state->crtc ? e.new_state->crtc : e.old_state->crtc);
    if (!c) return -ENOMEM;
    e.new_state->commit = std::move(c);
  }
  for (auto& e : state.planes) {
    const Ref<CrtcCommit>& prev = e.old_state->commit;
    if (nonblock && prev && !prev->flip_done.done()) {
      log_dbg(LogCat::atomic, "[PLANE:%u:%s] busy with a previous commit", e.ptr->id, e.ptr->name.c_str());
      return -EBUSY;
    }
    Ref<CrtcCommit> c = crtc_or_fake_commit(state, e.new_state->crtc ? e.new_state->crtc : e.old_state->crtc);
    if (!c) return -ENOMEM;
    e.new_state->commit = std::move(c);
  }
  ModeConfig* mc = mode_config(dev);
  if (mc && mc->helper_private && mc->helper_private->atomic_commit_setup)
    return mc->helper_private->atomic_commit_setup(state);
  return 0;
}

int atomic_helper_swap_state(AtomicState& state, bool stall) {
  if (stall) {
    // The previous commits must be done with the modeset state before it is replaced.
    for (auto& e : state.crtcs) {
      Ref<CrtcCommit> c = e.old_state->commit;
      if (int ret = wait_hw_done_interruptible(c)) return ret;
    }
    for (auto& e : state.connectors) {
      if (int ret = wait_hw_done_interruptible(e.old_state->commit)) return ret;
    }
    for (auto& e : state.planes) {
      if (int ret = wait_hw_done_interruptible(e.old_state->commit)) return ret;
    }
  }

  for (auto& e : state.connectors) {
    Connector& c = *e.ptr;
    UDRM_WARN_ON(c.state != e.old_state, LogCat::atomic);
    e.old_state->state = &state;
    e.new_state->state = nullptr;
    c.state = e.new_state;
  }
  for (auto& e : state.crtcs) {
    Crtc& crtc = *e.ptr;
    UDRM_WARN_ON(crtc.state != e.old_state, LogCat::atomic);
    e.old_state->state = &state;
    e.new_state->state = nullptr;
    crtc.state = e.new_state;
    if (CrtcCommit* c = e.new_state->commit.get()) {
      {
        std::lock_guard<SpinLock> l(crtc.commit_lock);
        c->get();  // the list's reference, dropped at cleanup_done
        crtc.commit_list.push_front(*c);
      }
      // The event now travels with the commit and is sent (and freed) exactly once; its
      // completion reference is no longer the update's to drop, even if a buggy driver never
      // sends it (that is WARNed at hw_done).
      c->event = nullptr;
      c->abort_completion = false;
      trace_commit(TraceCommit::swap, &state, c, crtc.name.c_str());
    }
  }
  for (auto& e : state.planes) {
    Plane& p = *e.ptr;
    UDRM_WARN_ON(p.state != e.old_state, LogCat::atomic);
    e.old_state->state = &state;
    e.new_state->state = nullptr;
    p.state = e.new_state;
  }
  state.swapped = true;

  // Legacy pointers (GETCRTC / GETPLANE / GETENCODER / connector DPMS), as
  // drm_atomic_helper_update_legacy_modeset_state keeps them.
  for (auto& e : state.connectors) {
    Connector& c = *e.ptr;
    if (c.encoder) {
      c.encoder->crtc = nullptr;
      c.encoder = nullptr;
    }
    Crtc* crtc = e.new_state->crtc;
    if ((!crtc && e.old_state->crtc) || (crtc && crtc->state->needs_modeset()))
      c.dpms = crtc && crtc->state->active ? DRM_MODE_DPMS_ON : DRM_MODE_DPMS_OFF;
  }
  for (auto& e : state.connectors) {
    if (!e.new_state->crtc || !e.new_state->best_encoder) continue;
    e.ptr->encoder = e.new_state->best_encoder;
    e.ptr->encoder->crtc = e.new_state->crtc;
  }
  for (auto& e : state.planes) {
    e.ptr->crtc = e.new_state->crtc;
    e.ptr->fb = e.new_state->fb;
  }
  UDRM_POINT("atomic.swap_state");
  return 0;
}

void atomic_helper_wait_for_dependencies(AtomicState& old_state) {
  for (auto& e : old_state.crtcs) {
    if (crtc_commit_wait(e.old_state->commit.get()))
      log_err(LogCat::atomic, "[CRTC:%u:%s] commit wait timed out", e.ptr->id, e.ptr->name.c_str());
  }
  for (auto& e : old_state.connectors) {
    if (crtc_commit_wait(e.old_state->commit.get()))
      log_err(LogCat::atomic, "[CONNECTOR:%u:%s] commit wait timed out", e.ptr->id, e.ptr->name.c_str());
  }
  for (auto& e : old_state.planes) {
    if (crtc_commit_wait(e.old_state->commit.get()))
      log_err(LogCat::atomic, "[PLANE:%u:%s] commit wait timed out", e.ptr->id, e.ptr->name.c_str());
  }
}

void atomic_helper_commit_hw_done(AtomicState& old_state) {
  for (auto& e : old_state.crtcs) {
    Ref<CrtcCommit> commit = e.new_state->commit;
    if (!commit) continue;
    // The old state learns the new commit, so cleanup_done can find it from the old state.
    e.old_state->commit = commit;
    // The driver must have sent or armed the event by now.
    if (e.new_state->event)
      warn(LogCat::atomic, "[CRTC:%u:%s] event not consumed by the driver at hw_done", e.ptr->id,
           e.ptr->name.c_str());
    commit->hw_done.complete_all();
    trace_commit(TraceCommit::hw_done, &old_state, commit.get(), e.ptr->name.c_str());
  }
  if (old_state.fake_commit) {
    old_state.fake_commit->hw_done.complete_all();
    old_state.fake_commit->flip_done.complete_all();
  }
  UDRM_POINT("atomic.hw_done");
}

void atomic_helper_wait_for_flip_done(DrmDevice&, AtomicState& old_state) {
  for (auto& e : old_state.crtcs) {
    CrtcCommit* commit = e.commit.get();
    if (!commit) continue;
    if (!commit->flip_done.wait_timeout(kCommitTimeout))
      log_err(LogCat::atomic, "[CRTC:%u:%s] flip_done timed out", e.ptr->id, e.ptr->name.c_str());
  }
  if (old_state.fake_commit) old_state.fake_commit->flip_done.complete_all();
  UDRM_POINT("atomic.flip_done");
}

void atomic_helper_commit_cleanup_done(AtomicState& old_state) {
  for (auto& e : old_state.crtcs) {
    Ref<CrtcCommit> commit = e.old_state->commit;
    if (UDRM_WARN_ON(!commit, LogCat::atomic)) continue;
    commit->cleanup_done.complete_all();
    trace_commit(TraceCommit::cleanup_done, &old_state, commit.get(), e.ptr->name.c_str());
    UDRM_WARN_ON(!commit->hw_done.done(), LogCat::atomic);
    bool unlinked = false;
    {
      std::lock_guard<SpinLock> l(e.ptr->commit_lock);
      if (commit->is_linked()) {
        e.ptr->commit_list.erase(e.ptr->commit_list.iterator_to(*commit));
        unlinked = true;
      }
    }
    if (unlinked) commit->put();  // the list's reference
  }
  if (old_state.fake_commit) {
    old_state.fake_commit->cleanup_done.complete_all();
    UDRM_WARN_ON(!old_state.fake_commit->hw_done.done(), LogCat::atomic);
  }
  UDRM_POINT("atomic.cleanup_done");
}

}  // namespace udrm
