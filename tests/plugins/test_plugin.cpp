// tests/plugins/test_plugin.cpp — the test driver module as a real plugin (libudrm_test_plugin.so).
#include "plugins/test_driver.h"

// Defined in the test executable (tests/module), resolved at dlopen time.
extern "C" udrm_test::PluginObserver udrm_test_plugin_observer;

namespace {
TestModule* g_module = nullptr;
}

extern "C" __attribute__((visibility("default"))) int udrm_module_init(udrm::World& w, udrm::Module& m) {
  return test_module_init(w, m, &udrm_test_plugin_observer, "udrm-test", &g_module);
}

extern "C" __attribute__((visibility("default"))) void udrm_module_exit(udrm::World&, udrm::Module& m) {
  test_module_exit(m, g_module, &udrm_test_plugin_observer);
  g_module = nullptr;
}
