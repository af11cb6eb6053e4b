// tests/plugins/zoo3_plugin.cpp — zoo entry 3's helper module (libudrm_zoo3_plugin.so): think
// of a panel or bridge helper library a display driver calls from its probe. Its helper
// registers a drmm action on the caller's DRM device; the action's code lives here.
//
// Built without the framework (symbols resolve against the test executable; see
// CMakeLists.txt in this directory).
#include "udrm/base/errno.h"
#include "udrm/core/module.h"
#include "udrm/drm/managed.h"
#include "zoo/zoo3_api.h"

namespace {

udrm::Module* g_self = nullptr;

void helper_cleanup(udrm::DrmDevice&, UdrmZoo3Observer* obs) { obs->cleanups.fetch_add(1); }

void helper_cleanup_unpin(udrm::DrmDevice&, udrm::Module* self) {
  udrm_zoo3_observer.cleanups.fetch_add(1);
  udrm::module_put(self);  // the last thing it does; the unload waits for this reference
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int udrm_module_init(udrm::World&, udrm::Module& self) {
  g_self = &self;
  return 0;
}

extern "C" __attribute__((visibility("default"))) void udrm_module_exit(udrm::World&, udrm::Module&) {
  g_self = nullptr;
}

extern "C" __attribute__((visibility("default"))) int zoo3_helper_attach(udrm::DrmDevice& dev, int pin) {
  if (!pin)  // the bug: nothing keeps this module's code while the action is registered
    return udrm::drmm_add_action(dev, &helper_cleanup, &udrm_zoo3_observer, "zoo3.helper_cleanup");
  if (!udrm::try_module_get(g_self)) return -ENODEV;
  return udrm::drmm_add_action_or_reset(dev, &helper_cleanup_unpin, g_self, "zoo3.helper_cleanup");
}
