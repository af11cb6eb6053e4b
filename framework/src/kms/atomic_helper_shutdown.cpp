// Shutdown and state duplication (udrm/kms/atomic_helper.h "shutdown / suspend"):
// drm_atomic_helper_disable_all / _shutdown / _duplicate_state, kernel-semantics §5.4.
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
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
