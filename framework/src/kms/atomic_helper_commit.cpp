// The atomic commit helper (udrm/kms/atomic_helper.h "commit"): drm_atomic_helper_commit and
// the default commit tail, kernel-semantics §5.2–5.3.
#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/core/system_wq.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"
#include "atomic_internal.h"

namespace udrm {

using namespace std::chrono_literals;

namespace {

void commit_tail(AtomicState& state) {
  UDRM_POINT("atomic.commit_work");
  atomic_helper_wait_for_dependencies(state);
  ModeConfig* mc = mode_config(state.dev());
  if (mc && mc->helper_private && mc->helper_private->atomic_commit_tail)
    mc->helper_private->atomic_commit_tail(state);
  else
    atomic_helper_commit_tail(state);
  atomic_helper_commit_cleanup_done(state);
}

void commit_work(AtomicState& state) {
  commit_tail(state);
  state.put();  // the reference taken when the work was queued; may be the last
}

bool plane_disabling(const PlaneState& old_s, const PlaneState& new_s) {
  UDRM_WARN_ON((!new_s.crtc && new_s.fb) || (new_s.crtc && !new_s.fb), LogCat::atomic);
  return old_s.crtc && !new_s.crtc;
}

bool plane_crtc_active(const PlaneState& s) { return s.crtc && s.crtc->state && s.crtc->state->active; }

}  // namespace

int atomic_helper_commit(DrmDevice& dev, AtomicState& state, bool nonblock) {
  int ret = atomic_helper_setup_commit(state, nonblock);
  if (ret) goto abort;
  state.commit_work_func = &commit_work;
  ret = atomic_helper_prepare_planes(dev, state);
  if (ret) goto abort;
  // Point of no return once the states are swapped.
  ret = atomic_helper_swap_state(state, true);
  if (ret) {
    atomic_helper_cleanup_planes(dev, state);
    goto abort;
  }
  state.get();
  if (nonblock) {
    state.commit_wq = system_unbound_wq_ref(dev.world());  // kept for the final put's busy check
    if (!state.commit_wq->queue(state.commit_work)) {
      // Refused (the world is going away): the commit is past the point of no return.
      commit_tail(state);
      state.put();
    }
  } else {
    commit_tail(state);
    state.put();
  }
  return 0;

abort:
  // Nothing was committed: events lose their link to the commits (balancing the references
  // their completions held); internal ones are freed, userspace ones stay for the caller.
  for (auto& e : state.crtcs)
    if (e.new_state) atomic_state_abort_crtc_event(dev, *e.new_state, false);
  log_dbg(LogCat::atomic, "commit failed: %d", ret);
  return ret;
}

int atomic_helper_prepare_planes(DrmDevice&, AtomicState& state) {
  std::size_t i = 0;
  int ret = 0;
  for (; i < state.planes.size(); ++i) {
    auto& e = state.planes[i];
    const PlaneHelperFuncs* f = e.ptr->helper_private;
    if (f && f->prepare_fb) {
      ret = f->prepare_fb(*e.ptr, *e.new_state);
      if (ret) break;
    }
  }
  if (!ret) return 0;
  for (std::size_t j = 0; j < i; ++j) {
    auto& e = state.planes[j];
    const PlaneHelperFuncs* f = e.ptr->helper_private;
    if (f && f->cleanup_fb) f->cleanup_fb(*e.ptr, *e.new_state);
  }
  return ret;
}

void atomic_helper_cleanup_planes(DrmDevice&, AtomicState& old_state) {
  UDRM_POINT("atomic.cleanup_planes");
  for (auto& e : old_state.planes) {
    // Before the swap (an aborted commit) the new states were prepared; after it the old ones
    // are what the hardware no longer reads.
    PlaneState* s = old_state.swapped ? e.old_state : e.new_state;
    const PlaneHelperFuncs* f = e.ptr->helper_private;
    if (f && f->cleanup_fb) f->cleanup_fb(*e.ptr, *s);
  }
}

void atomic_helper_commit_modeset_disables(DrmDevice& dev, AtomicState& old_state) {
  // Encoders of connectors leaving an active CRTC that needs a modeset.
  for (auto& e : old_state.connectors) {
    Crtc* old_crtc = e.old_state->crtc;
    if (!old_crtc) continue;
    CrtcState* old_cs = atomic_get_old_crtc_state(old_state, *old_crtc);
    if (!old_cs || !old_cs->active || !old_crtc->state->needs_modeset()) continue;
    Encoder* enc = e.old_state->best_encoder;
    if (UDRM_WARN_ON(!enc, LogCat::atomic)) continue;
    if (enc->helper_private && enc->helper_private->atomic_disable) enc->helper_private->atomic_disable(*enc, old_state);
  }
  for (auto& e : old_state.crtcs) {
    if (!e.new_state->needs_modeset() || !e.old_state->active) continue;
    Crtc& crtc = *e.ptr;
    if (crtc.helper_private && crtc.helper_private->atomic_disable) crtc.helper_private->atomic_disable(crtc, old_state);
    // A disabled CRTC must have had its vblank switched off (which sends armed events).
    if (drm_dev_has_vblank(dev)) {
      int ret = crtc_vblank_get(crtc);
      if (ret != -EINVAL)
        warn(LogCat::atomic, "[CRTC:%u:%s] driver forgot to call crtc_vblank_off()", crtc.id, crtc.name.c_str());
      if (ret == 0) crtc_vblank_put(crtc);
    }
  }
  // New modes: vblank timing and the encoders' mode_set.
  for (auto& e : old_state.crtcs) {
    if (e.new_state->enable && e.new_state->mode_changed) crtc_calc_timestamping_constants(*e.ptr, e.new_state->mode);
  }
  for (auto& e : old_state.connectors) {
    Crtc* crtc = e.new_state->crtc;
    Encoder* enc = e.new_state->best_encoder;
    if (!crtc || !enc) continue;
    CrtcState* cs = atomic_get_new_crtc_state(old_state, *crtc);
    if (!cs || !cs->enable || !cs->mode_changed) continue;
    if (enc->helper_private && enc->helper_private->atomic_mode_set)
      enc->helper_private->atomic_mode_set(*enc, *cs, *e.new_state);
  }
}

void atomic_helper_commit_modeset_enables(DrmDevice&, AtomicState& old_state) {
  for (auto& e : old_state.crtcs) {
    if (!e.new_state->needs_modeset() || !e.new_state->active) continue;
    Crtc& crtc = *e.ptr;
    if (crtc.helper_private && crtc.helper_private->atomic_enable) crtc.helper_private->atomic_enable(crtc, old_state);
  }
  for (auto& e : old_state.connectors) {
    Encoder* enc = e.new_state->best_encoder;
    Crtc* crtc = e.new_state->crtc;
    if (!enc || !crtc) continue;
    if (!crtc->state->active || !crtc->state->needs_modeset()) continue;
    if (enc->helper_private && enc->helper_private->atomic_enable) enc->helper_private->atomic_enable(*enc, old_state);
  }
}

void atomic_helper_commit_planes(DrmDevice&, AtomicState& old_state, uint32_t flags) {
  const bool active_only = flags & kCommitPlaneActiveOnly;
  for (auto& e : old_state.crtcs) {
    const CrtcHelperFuncs* f = e.ptr->helper_private;
    if (!f || !f->atomic_begin) continue;
    if (active_only && !e.new_state->active) continue;
    f->atomic_begin(*e.ptr, old_state);
  }
  for (auto& e : old_state.planes) {
    const PlaneHelperFuncs* f = e.ptr->helper_private;
    if (!f) continue;
    const bool disabling = plane_disabling(*e.old_state, *e.new_state);
    if (active_only) {
      if (!disabling && !plane_crtc_active(*e.new_state)) continue;
      if (disabling && !plane_crtc_active(*e.old_state)) continue;
    }
    if (disabling && f->atomic_disable) {
      f->atomic_disable(*e.ptr, old_state);
    } else if ((e.new_state->crtc || disabling) && f->atomic_update) {
      f->atomic_update(*e.ptr, old_state);
    }
  }
  for (auto& e : old_state.crtcs) {
    const CrtcHelperFuncs* f = e.ptr->helper_private;
    if (!f || !f->atomic_flush) continue;
    if (active_only && !e.new_state->active) continue;
    f->atomic_flush(*e.ptr, old_state);
  }
}

void atomic_helper_fake_vblank(AtomicState& old_state) {
  for (auto& e : old_state.crtcs) {
    if (!e.new_state->no_vblank) continue;
    DrmDevice& dev = *e.ptr->dev;
    PendingVblankEvent* ev;
    {
      std::lock_guard<SpinLock> l(dev.event_lock);
      ev = e.new_state->event;
      e.new_state->event = nullptr;
    }
    if (ev) crtc_send_vblank_event(*e.ptr, ev);
  }
}

void atomic_helper_wait_for_vblanks(DrmDevice&, AtomicState& old_state) {
  if (old_state.legacy_cursor_update) return;
  std::vector<std::size_t> waiting;
  for (std::size_t i = 0; i < old_state.crtcs.size(); ++i) {
    auto& e = old_state.crtcs[i];
    if (!e.new_state->active) continue;
    if (crtc_vblank_get(*e.ptr) != 0) continue;
    e.last_vblank_count = crtc_vblank_count(*e.ptr);
    waiting.push_back(i);
  }
  for (std::size_t i : waiting) {
    auto& e = old_state.crtcs[i];
    if (!crtc_wait_vblank_count_change(*e.ptr, e.last_vblank_count, 100ms))
      warn(LogCat::atomic, "[CRTC:%u:%s] vblank wait timed out", e.ptr->id, e.ptr->name.c_str());
    crtc_vblank_put(*e.ptr);
  }
  UDRM_POINT("atomic.flip_done");
}

void atomic_helper_commit_tail(AtomicState& old_state) {
  DrmDevice& dev = old_state.dev();
  atomic_helper_commit_modeset_disables(dev, old_state);
  atomic_helper_commit_planes(dev, old_state, 0);
  atomic_helper_commit_modeset_enables(dev, old_state);
  atomic_helper_fake_vblank(old_state);
  atomic_helper_commit_hw_done(old_state);
  atomic_helper_wait_for_vblanks(dev, old_state);
  atomic_helper_cleanup_planes(dev, old_state);
}

void atomic_helper_commit_tail_rpm(AtomicState& old_state) {
  DrmDevice& dev = old_state.dev();
  atomic_helper_commit_modeset_disables(dev, old_state);
  atomic_helper_commit_modeset_enables(dev, old_state);
  atomic_helper_commit_planes(dev, old_state, kCommitPlaneActiveOnly);
  atomic_helper_fake_vblank(old_state);
  atomic_helper_commit_hw_done(old_state);
  atomic_helper_wait_for_vblanks(dev, old_state);
  atomic_helper_cleanup_planes(dev, old_state);
}

}  // namespace udrm
