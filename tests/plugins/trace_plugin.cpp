// tests/plugins/trace_plugin.cpp — a module that registers a trace hook (udrm/base/trace_hook.h)
// at init and unregisters it at exit (libudrm_test_trace_plugin.so, loaded by tests/races).
//
// The hook counts into an observer that lives in the test executable (it survives dlclose).
// After trace_hook_unregister() has returned the hook must never run again: exit marks the
// observer and the hook counts any call that sees the mark.
#include <atomic>

#include "races/trace_observer.h"
#include "udrm/base/point.h"
#include "udrm/base/trace_hook.h"

namespace udrm {
class World;
class Module;
}  // namespace udrm

namespace {
void on_irq(const char*) {
  UDRM_POINT("trace_plugin.hook");
  udrm_test_trace_observer.calls.fetch_add(1, std::memory_order_relaxed);
  if (auto* f = udrm_test_trace_observer.on_hook) f();
  UDRM_POINT("trace_plugin.hook_end");
  if (udrm_test_trace_observer.unloading.load(std::memory_order_seq_cst) &&
      !udrm_test_trace_observer.exited.load(std::memory_order_seq_cst))
    udrm_test_trace_observer.overlaps.fetch_add(1, std::memory_order_relaxed);
  if (udrm_test_trace_observer.exited.load(std::memory_order_seq_cst))
    udrm_test_trace_observer.calls_after_exit.fetch_add(1, std::memory_order_relaxed);
}
const udrm::TraceHook kHook{&on_irq};
}  // namespace

extern "C" __attribute__((visibility("default"))) int udrm_module_init(udrm::World&, udrm::Module&) {
  return udrm::trace_hook_register(&kHook);
}

extern "C" __attribute__((visibility("default"))) void udrm_module_exit(udrm::World&, udrm::Module&) {
  udrm::trace_hook_unregister(&kHook);
  udrm_test_trace_observer.exited.store(true, std::memory_order_seq_cst);
}
