// tests/races/trace_observer.h — what the trace-hook plugin (tests/plugins/trace_plugin.cpp)
// reports. Defined in the test executable, so it survives dlclose.
#pragma once
#include <atomic>

struct UdrmTraceObserver {
  std::atomic<long> calls{0};
  std::atomic<long> calls_after_exit{0};  // hook ran after trace_hook_unregister() returned
  std::atomic<bool> exited{false};
  std::atomic<bool> unloading{false};  // set by the test before it unloads the plugin
  std::atomic<long> overlaps{0};       // hook was still running while the unload had begun
  void (*on_hook)() = nullptr;  // called by the hook after counting (set by the test)
  void clear() {
    calls = 0;
    calls_after_exit = 0;
    exited = false;
    unloading = false;
    overlaps = 0;
    on_hook = nullptr;
  }
};

extern "C" UdrmTraceObserver udrm_test_trace_observer;
