// tests/plugins/plugin_api.h — what the test driver module reports to the test.
//
// The plugin is built without udrm_framework: its undefined symbols (the framework's and the
// observer below) resolve against the test executable, which exports its symbols
// (ENABLE_EXPORTS). The observer lives in the executable, so it survives dlclose.
#pragma once
#include <atomic>

namespace udrm {
class DrmDevice;
class Module;
}  // namespace udrm

namespace udrm_test {

struct PluginObserver {
  // Set by the test before loading.
  std::atomic<int> init_error{0};   // udrm_module_init returns this (before registering anything)
  std::atomic<int> probe_error{0};  // probe returns this (before allocating anything)

  // Reported by the module.
  std::atomic<int> init_calls{0};
  std::atomic<int> exit_calls{0};
  std::atomic<int> probes{0};
  std::atomic<int> removes{0};
  std::atomic<int> devm_released{0};     // devm actions (function and closure form) run
  std::atomic<int> drmm_released{0};     // the drmm action run (at the final drm_dev_put)
  std::atomic<int> containers_freed{0};  // ~TestDrm
  std::atomic<int> try_get_in_exit{-1};  // try_module_get(&self) inside exit: 1 ok, 0 refused
  std::atomic<udrm::Module*> probe_module{nullptr};  // current_module() seen by probe
  std::atomic<long> code_pins_after_probe{0};        // Module::code_pins() at the end of probe
  std::atomic<udrm::DrmDevice*> drm{nullptr};        // the DRM device of the last probe

  void clear() {
    init_error = 0;
    probe_error = 0;
    init_calls = exit_calls = probes = removes = 0;
    devm_released = drmm_released = containers_freed = 0;
    try_get_in_exit = -1;
    probe_module = nullptr;
    code_pins_after_probe = 0;
    drm = nullptr;
  }
};

}  // namespace udrm_test
