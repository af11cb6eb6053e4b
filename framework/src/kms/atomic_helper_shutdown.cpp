// Shutdown and state duplication (udrm/kms/atomic_helper.h "shutdown / suspend"):
// drm_atomic_helper_disable_all / _shutdown / _duplicate_state, kernel-semantics §5.4.
#include <mutex>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"

namespace udrm {

int atomic_helper_disable_all(DrmDevice& dev) {
  ModeConfig* mc = mode_config(dev);
  if (!mc) return -EINVAL;
  Ref<AtomicState> state = atomic_state_alloc(dev);
  if (!state) return -ENOMEM;
  state->allow_modeset = true;
  for (Crtc* crtc : mc->crtcs) {
    CrtcState* cs = atomic_get_crtc_state(*state, *crtc);
    if (!cs) return -ENOMEM;
    cs->active = false;
    if (int ret = atomic_set_mode_prop_for_crtc(*cs, nullptr)) return ret;
    if (int ret = atomic_add_affected_planes(*state, *crtc)) return ret;
    if (int ret = atomic_add_affected_connectors(*state, *crtc)) return ret;
  }
  for (std::size_t i = 0; i < state->connectors.size(); ++i) {
    if (int ret = atomic_set_crtc_for_connector(*state->connectors[i].new_state, nullptr)) return ret;
  }
  for (std::size_t i = 0; i < state->planes.size(); ++i) {
    PlaneState* ps = state->planes[i].new_state;
    if (int ret = atomic_set_crtc_for_plane(*ps, nullptr)) return ret;
    atomic_set_fb_for_plane(*ps, nullptr);
  }
  return atomic_commit(*state);
}

void atomic_helper_shutdown(DrmDevice& dev) {
  ModeConfig* mc = mode_config(dev);
  if (!mc) return;
  int ret;
  {
    // The teardown section: remove() usually unplugs first (the kernel's documented order),
    // which would make every dev_enter()-guarded disable path skip the hardware. Inside this
    // scope this task still enters, so the outputs really go off (docs/kms.md).
    Gate::TeardownScope teardown = dev.teardown_scope();
    std::lock_guard<Mutex> l(mc->mutex);
    ret = atomic_helper_disable_all(dev);
  }
  if (ret) log_err(LogCat::atomic, "disabling all crtc's during unload failed with %d", ret);
  // The disabling commit waited for the hardware of earlier commits, not for their cleanup
  // (the kernel's stall only covers the one before last): a nonblocking commit's worker could
  // still be in the driver's commit_tail/cleanup_fb when remove() returns and the driver is
  // gone. Wait for every commit still tracked to finish its cleanup, as the kernel's
  // drm_atomic_helper_shutdown callers rely on (and udrm's explorer checks: no driver callback
  // after unbind returned).
  for (Crtc* crtc : mc->crtcs) {
    std::vector<Ref<CrtcCommit>> pending;
    {
      std::lock_guard<SpinLock> l(crtc->commit_lock);
      for (CrtcCommit& c : crtc->commit_list) pending.push_back(Ref<CrtcCommit>(&c));
    }
    for (auto& c : pending) {
      if (!c->cleanup_done.wait_timeout(std::chrono::seconds(10)))
        warn(LogCat::atomic, "[CRTC:%u:%s] commit cleanup did not finish during shutdown", crtc->id, crtc->name.c_str());
    }
  }
}

Ref<AtomicState> atomic_helper_duplicate_state(DrmDevice& dev) {
  ModeConfig* mc = mode_config(dev);
  if (!mc) return nullptr;
  Ref<AtomicState> state = atomic_state_alloc(dev);
  if (!state) return nullptr;
  state->duplicated = true;
  for (Crtc* c : mc->crtcs)
    if (!atomic_get_crtc_state(*state, *c)) return nullptr;
  for (Plane* p : mc->planes)
    if (!atomic_get_plane_state(*state, *p)) return nullptr;
  for (Connector* c : mc->connectors)
    if (!atomic_get_connector_state(*state, *c)) return nullptr;
  return state;
}

}  // namespace udrm
