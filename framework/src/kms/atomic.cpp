// Atomic state bookkeeping and the check/commit entry points (udrm/kms/atomic.h), modelled on
// drm_atomic.c.
#include "udrm/kms/atomic.h"

#include <climits>
#include <cstring>
#include <new>

#include "udrm/base/context.h"
#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/trace_hook.h"
#include "udrm/core/system_wq.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/event.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "atomic_internal.h"

namespace udrm {

// An event that never reached the hardware: unhook it from the commit (dropping the reference
// its completion held), free an internal one, cancel a userspace one (budget returned).
void atomic_state_abort_crtc_event(DrmDevice& dev, CrtcState& s, bool cancel_user_event) {
  PendingVblankEvent* e = s.event;
  if (!e) return;
  CrtcCommit* c = s.commit.get();
  if (c && e->completion == &c->flip_done) {
    e->completion = nullptr;
    e->completion_release = nullptr;
    if (c->abort_completion) {
      c->abort_completion = false;
      c->put();
    }
  }
  if (c && c->event == e) {
    c->event = nullptr;
    s.event = nullptr;
    event_cancel_free(dev, e);  // internal: never reserved against a file, just freed
    return;
  }
  if (cancel_user_event) {
    s.event = nullptr;
    log_dbg(LogCat::atomic, "cancelling event of an update that was not committed");
    event_cancel_free(dev, e);
  }
}

AtomicState::AtomicState(DrmDevice& dev)
    : commit_work("atomic_commit_work",
                  [this] {
                    if (commit_work_func) commit_work_func(*this);
                  }),
      dev_(&dev) {
  ++detail::atomic_states_live;
}

AtomicState::~AtomicState() {
  clear();
  --detail::atomic_states_live;
}

void AtomicState::clear() {
  DrmDevice& d = *dev_;
  for (auto& e : crtcs) {
    if (!swapped && e.new_state) atomic_state_abort_crtc_event(d, *e.new_state, true);
    CrtcState* owned = swapped ? e.old_state : e.new_state;
    // The state this commit replaced was installed by an earlier commit whose worker may still
    // read it (commit_tail after hw_done: wait_for_vblanks, cleanup). Free it only after that
    // commit's cleanup (explorer zoo finding: heap-use-after-free when a blocking commit, e.g.
    // shutdown's disable_all, overtook a nonblocking one between hw_done and its vblank wait).
    const Ref<CrtcCommit>& prev = e.prev_commit;
    if (swapped && owned && prev && prev != e.commit && !prev->cleanup_done.done()) {
      if (in_atomic())
        warn(LogCat::atomic, "[CRTC:%u] state freed in atomic context before its commit's cleanup", e.ptr->id);
      else if (!prev->cleanup_done.wait_timeout(std::chrono::seconds(10)))
        warn(LogCat::atomic, "[CRTC:%u] commit cleanup_done timed out before freeing its state", e.ptr->id);
    }
    if (owned) {
      owned->state = nullptr;
      crtc_destroy_state(*e.ptr, owned);
    }
  }
  for (auto& e : planes) {
    PlaneState* owned = swapped ? e.old_state : e.new_state;
    if (owned) {
      owned->state = nullptr;
      plane_destroy_state(*e.ptr, owned);
    }
  }
  for (auto& e : connectors) {
    ConnectorState* owned = swapped ? e.old_state : e.new_state;
    if (owned) {
      owned->state = nullptr;
      connector_destroy_state(*e.ptr, owned);
    }
  }
  crtcs.clear();
  planes.clear();
  connectors.clear();
  fake_commit.reset();
  swapped = false;
}

void AtomicState::kref_release() noexcept {
  // The last reference may go inside commit_work itself: the work item must not be freed while
  // the workqueue still touches it, so free once it is idle (the kernel frees from the work
  // function; udrm's WorkQueue touches the item after the function returns).
  // Decided under the queue's lock (WorkQueue::busy): a worker that has finished with the item
  // never touches it again, one that has not yet will be waited for by the deferred free.
  // The usual case: the last reference goes at the end of commit_work; free once its queue has
  // let go of the item, on the same worker.
  if (commit_work.defer_after_run([](void* p) { delete static_cast<AtomicState*>(p); }, this)) return;
  std::shared_ptr<WorkQueue> wq = commit_wq;
  if (wq && wq->busy(commit_work)) {
    World& world = dev_->world();
    // The task may run after the World is gone (a test destroys it at the end of its run):
    // it keeps the queue alive itself.
    world.executor().post(
        [this, wq] {
          wq->flush_work(commit_work);
          delete this;
        },
        "atomic_state_free");
    return;
  }
  delete this;
}

Ref<AtomicState> atomic_state_alloc(DrmDevice& dev) {
  if (UDRM_SHOULD_FAIL("kms.atomic_state_alloc")) return nullptr;
  auto* s = new (std::nothrow) AtomicState(dev);
  if (!s) return nullptr;
  return adopt_ref(s);
}

// ---- object states -----------------------------------------------------------------------------

CrtcState* atomic_get_new_crtc_state(const AtomicState& state, const Crtc& crtc) {
  for (auto& e : state.crtcs)
    if (e.ptr == &crtc) return e.new_state;
  return nullptr;
}
CrtcState* atomic_get_old_crtc_state(const AtomicState& state, const Crtc& crtc) {
  for (auto& e : state.crtcs)
    if (e.ptr == &crtc) return e.old_state;
  return nullptr;
}
PlaneState* atomic_get_new_plane_state(const AtomicState& state, const Plane& plane) {
  for (auto& e : state.planes)
    if (e.ptr == &plane) return e.new_state;
  return nullptr;
}
PlaneState* atomic_get_old_plane_state(const AtomicState& state, const Plane& plane) {
  for (auto& e : state.planes)
    if (e.ptr == &plane) return e.old_state;
  return nullptr;
}
ConnectorState* atomic_get_new_connector_state(const AtomicState& state, const Connector& conn) {
  for (auto& e : state.connectors)
    if (e.ptr == &conn) return e.new_state;
  return nullptr;
}
ConnectorState* atomic_get_old_connector_state(const AtomicState& state, const Connector& conn) {
  for (auto& e : state.connectors)
    if (e.ptr == &conn) return e.old_state;
  return nullptr;
}

CrtcState* atomic_get_crtc_state(AtomicState& state, Crtc& crtc) {
  if (CrtcState* s = atomic_get_new_crtc_state(state, crtc)) return s;
  if (UDRM_WARN_ON(state.swapped, LogCat::atomic)) return nullptr;
  if (UDRM_SHOULD_FAIL("kms.atomic_get_state")) return nullptr;
  CrtcState* s = crtc.funcs && crtc.funcs->atomic_duplicate_state ? crtc.funcs->atomic_duplicate_state(crtc)
                                                                   : atomic_helper_crtc_duplicate_state(crtc);
  if (!s) return nullptr;
  s->crtc = &crtc;
  s->state = &state;
  state.crtcs.push_back({&crtc, crtc.state, s, 0, nullptr, nullptr});
  log_dbg(LogCat::atomic, "added [CRTC:%u:%s] to the update", crtc.id, crtc.name.c_str());
  return s;
}

PlaneState* atomic_get_plane_state(AtomicState& state, Plane& plane) {
  if (PlaneState* s = atomic_get_new_plane_state(state, plane)) return s;
  if (UDRM_WARN_ON(state.swapped, LogCat::atomic)) return nullptr;
  if (UDRM_SHOULD_FAIL("kms.atomic_get_state")) return nullptr;
  PlaneState* s = plane.funcs && plane.funcs->atomic_duplicate_state ? plane.funcs->atomic_duplicate_state(plane)
                                                                     : atomic_helper_plane_duplicate_state(plane);
  if (!s) return nullptr;
  s->plane = &plane;
  s->state = &state;
  state.planes.push_back({&plane, plane.state, s, 0, nullptr, nullptr});
  // The CRTC the plane is on joins too (its commit tracks the plane).
  if (s->crtc && !atomic_get_crtc_state(state, *s->crtc)) return nullptr;
  return s;
}

ConnectorState* atomic_get_connector_state(AtomicState& state, Connector& connector) {
  if (ConnectorState* s = atomic_get_new_connector_state(state, connector)) return s;
  if (UDRM_WARN_ON(state.swapped, LogCat::atomic)) return nullptr;
  if (UDRM_SHOULD_FAIL("kms.atomic_get_state")) return nullptr;
  ConnectorState* s = connector.funcs && connector.funcs->atomic_duplicate_state
                          ? connector.funcs->atomic_duplicate_state(connector)
                          : atomic_helper_connector_duplicate_state(connector);
  if (!s) return nullptr;
  s->connector = &connector;
  s->state = &state;
  state.connectors.push_back({&connector, connector.state, s, 0, nullptr, nullptr});
  if (s->crtc && !atomic_get_crtc_state(state, *s->crtc)) return nullptr;
  return s;
}

int atomic_add_affected_connectors(AtomicState& state, Crtc& crtc) {
  CrtcState* cs = atomic_get_crtc_state(state, crtc);
  if (!cs) return -ENOMEM;
  ModeConfig* mc = mode_config(state.dev());
  if (!mc) return 0;
  const uint32_t mask = cs->connector_mask;
  for (Connector* c : mc->connectors) {
    if (!(mask & c->mask())) continue;
    if (!atomic_get_connector_state(state, *c)) return -ENOMEM;
  }
  return 0;
}

int atomic_add_affected_planes(AtomicState& state, Crtc& crtc) {
  CrtcState* old_cs = atomic_get_old_crtc_state(state, crtc);
  if (UDRM_WARN_ON(!old_cs, LogCat::atomic)) return -EINVAL;
  ModeConfig* mc = mode_config(state.dev());
  if (!mc) return 0;
  const uint32_t mask = old_cs->plane_mask;
  for (Plane* p : mc->planes) {
    if (!(mask & p->mask())) continue;
    if (!atomic_get_plane_state(state, *p)) return -ENOMEM;
  }
  return 0;
}

// ---- setters -------------------------------------------------------------------------------------

int atomic_set_mode_for_crtc(CrtcState& s, const DisplayMode* mode) {
  if (mode && s.enable && s.mode_blob && s.mode == *mode && s.mode.name == mode->name) return 0;
  s.mode_blob.reset();
  if (mode) {
    DrmDevice& dev = *s.crtc->dev;
    drm_mode_modeinfo umode{};
    mode_to_umode(*mode, &umode);
    Ref<PropertyBlob> blob;
    int ret = property_blob_create(dev, &umode, sizeof(umode), &blob);
    if (ret) return ret;
    s.mode_blob = std::move(blob);
    s.mode = *mode;
    s.enable = true;
    log_dbg(LogCat::atomic, "set mode %s for CRTC state", mode->name.c_str());
  } else {
    s.mode = DisplayMode{};
    s.enable = false;
  }
  return 0;
}

int atomic_set_mode_prop_for_crtc(CrtcState& s, PropertyBlob* blob) {
  if (blob == s.mode_blob.get()) return 0;
  s.mode_blob.reset();
  s.mode = DisplayMode{};
  if (blob) {
    if (blob->data.size() != sizeof(drm_mode_modeinfo)) {
      log_dbg(LogCat::atomic, "bad mode blob length: %zu", blob->data.size());
      return -EINVAL;
    }
    drm_mode_modeinfo umode;
    std::memcpy(&umode, blob->data.data(), sizeof(umode));
    int ret = mode_from_umode(umode, &s.mode);
    if (ret) {
      log_dbg(LogCat::atomic, "invalid mode in MODE_ID blob (%d)", ret);
      return ret;
    }
    s.mode_blob = blob;
    s.enable = true;
  } else {
    s.enable = false;
  }
  return 0;
}

int atomic_set_crtc_for_plane(PlaneState& s, Crtc* crtc) {
  if (s.crtc == crtc) return 0;
  if (UDRM_WARN_ON(!s.state || !s.plane, LogCat::atomic)) return -EINVAL;
  if (s.crtc) {
    CrtcState* cs = atomic_get_crtc_state(*s.state, *s.crtc);
    if (!cs) return -ENOMEM;
    cs->plane_mask &= ~s.plane->mask();
  }
  s.crtc = crtc;
  if (crtc) {
    CrtcState* cs = atomic_get_crtc_state(*s.state, *crtc);
    if (!cs) return -ENOMEM;
    cs->plane_mask |= s.plane->mask();
  }
  return 0;
}

void atomic_set_fb_for_plane(PlaneState& s, Framebuffer* fb) { s.fb = fb; }

int atomic_set_crtc_for_connector(ConnectorState& s, Crtc* crtc) {
  if (s.crtc == crtc) return 0;
  if (UDRM_WARN_ON(!s.state || !s.connector, LogCat::atomic)) return -EINVAL;
  if (s.crtc) {
    CrtcState* cs = atomic_get_new_crtc_state(*s.state, *s.crtc);
    if (cs) cs->connector_mask &= ~s.connector->mask();
    s.crtc = nullptr;
  }
  if (crtc) {
    CrtcState* cs = atomic_get_crtc_state(*s.state, *crtc);
    if (!cs) return -ENOMEM;
    cs->connector_mask |= s.connector->mask();
    s.crtc = crtc;
  }
  return 0;
}

// ---- check / commit ------------------------------------------------------------------------------

namespace {

int plane_check(const PlaneState& old_s, const PlaneState& s) {
  (void)old_s;
  Plane& plane = *s.plane;
  Crtc* crtc = s.crtc;
  Framebuffer* fb = s.fb.get();
  if (crtc && !fb) {
    log_dbg(LogCat::atomic, "[PLANE:%u:%s] CRTC set but no FB", plane.id, plane.name.c_str());
    return -EINVAL;
  }
  if (fb && !crtc) {
    log_dbg(LogCat::atomic, "[PLANE:%u:%s] FB set but no CRTC", plane.id, plane.name.c_str());
    return -EINVAL;
  }
  if (!crtc) return 0;
  if (!(plane.possible_crtcs & crtc->mask())) {
    log_dbg(LogCat::atomic, "invalid [CRTC:%u] for [PLANE:%u:%s]", crtc->id, plane.id, plane.name.c_str());
    return -EINVAL;
  }
  if (!fb->format || !plane.format_supported(fb->format->format, fb->modifier)) {
    log_dbg(LogCat::atomic, "[PLANE:%u:%s] invalid pixel format", plane.id, plane.name.c_str());
    return -EINVAL;
  }
  if (s.crtc_w > INT_MAX || s.crtc_x > static_cast<int64_t>(INT_MAX) - static_cast<int32_t>(s.crtc_w) ||
      s.crtc_h > INT_MAX || s.crtc_y > static_cast<int64_t>(INT_MAX) - static_cast<int32_t>(s.crtc_h)) {
    log_dbg(LogCat::atomic, "[PLANE:%u:%s] invalid CRTC coordinates", plane.id, plane.name.c_str());
    return -ERANGE;
  }
  const uint64_t fb_w = static_cast<uint64_t>(fb->width) << 16, fb_h = static_cast<uint64_t>(fb->height) << 16;
  if (s.src_w > fb_w || s.src_x > fb_w - s.src_w || s.src_h > fb_h || s.src_y > fb_h - s.src_h) {
    log_dbg(LogCat::atomic, "[PLANE:%u:%s] invalid source coordinates", plane.id, plane.name.c_str());
    return -ENOSPC;
  }
  return 0;
}

int crtc_check(const CrtcState& old_s, const CrtcState& s, bool atomic_driver) {
  Crtc& crtc = *s.crtc;
  if (s.active && !s.enable) {
    log_dbg(LogCat::atomic, "[CRTC:%u:%s] active without enabled", crtc.id, crtc.name.c_str());
    return -EINVAL;
  }
  if (atomic_driver && s.enable && !s.mode_blob) {
    log_dbg(LogCat::atomic, "[CRTC:%u:%s] enabled without mode blob", crtc.id, crtc.name.c_str());
    return -EINVAL;
  }
  if (atomic_driver && !s.enable && s.mode_blob) {
    log_dbg(LogCat::atomic, "[CRTC:%u:%s] disabled with mode blob", crtc.id, crtc.name.c_str());
    return -EINVAL;
  }
  // An event for a CRTC that is off and stays off could never be sent by a vblank.
  if (s.event && !s.active && !old_s.active) {
    log_dbg(LogCat::atomic, "[CRTC:%u:%s] requesting event but off", crtc.id, crtc.name.c_str());
    return -EINVAL;
  }
  return 0;
}

}  // namespace

static int check_only(AtomicState& state) {
  DrmDevice& dev = state.dev();
  ModeConfig* mc = mode_config(dev);
  if (UDRM_WARN_ON(!mc, LogCat::atomic)) return -EINVAL;
  UDRM_POINT("atomic.check");
  for (auto& e : state.planes) {
    if (int ret = plane_check(*e.old_state, *e.new_state)) return ret;
  }
  const bool atomic_driver = dev.has_feature(DRIVER_ATOMIC);
  for (auto& e : state.crtcs) {
    if (int ret = crtc_check(*e.old_state, *e.new_state, atomic_driver)) return ret;
  }
  int ret = mc->funcs && mc->funcs->atomic_check ? mc->funcs->atomic_check(dev, state) : atomic_helper_check(dev, state);
  if (ret) {
    log_dbg(LogCat::atomic, "atomic driver check failed: %d", ret);
    return ret;
  }
  if (!state.allow_modeset) {
    for (auto& e : state.crtcs) {
      if (e.new_state->needs_modeset()) {
        log_dbg(LogCat::atomic, "[CRTC:%u:%s] requires full modeset", e.ptr->id, e.ptr->name.c_str());
        return -EINVAL;
      }
    }
  }
  return 0;
}

int atomic_check_only(AtomicState& state) {
  trace_commit(TraceCommit::check_begin, &state, nullptr, nullptr);
  const int ret = check_only(state);
  trace_commit(TraceCommit::check_end, &state, nullptr, nullptr, ret);
  return ret;
}

namespace {
int commit_common(AtomicState& state, bool nonblock) {
  DrmDevice& dev = state.dev();
  if (int ret = atomic_check_only(state)) return ret;
  log_dbg(LogCat::atomic, "committing update %p%s", static_cast<void*>(&state), nonblock ? " nonblocking" : "");
  ModeConfig* mc = mode_config(dev);
  return mc->funcs && mc->funcs->atomic_commit ? mc->funcs->atomic_commit(dev, state, nonblock)
                                               : atomic_helper_commit(dev, state, nonblock);
}
}  // namespace

int atomic_commit(AtomicState& state) { return commit_common(state, false); }
int atomic_nonblocking_commit(AtomicState& state) { return commit_common(state, true); }

}  // namespace udrm
