// udrm/base/trace_hook.h — one process-wide tracing hook a module (plugin) may register.
//
// The framework fires trace events from hot paths (today: every fake-IRQ dispatch, in
// interrupt context). A module registers a TraceHook table at init and unregisters it at exit;
// the table lives in a CallbackSlot, so firing with no hook costs one load and a branch, and
// trace_hook_unregister() returns only when no CPU still runs the module's hook: the module's
// code may be unloaded (dlclose) right after.
//
// Lifetime: a registered table (and the code it points to) must stay valid until
// trace_hook_unregister() has returned. Context: trace_*(): any context; the hook runs in the
// firing context (atomic for IRQs: never sleep). register: any context. unregister: process
// context, sleeps.
#pragma once
#include "udrm/base/callback_slot.h"

namespace udrm {

struct TraceHook {
  /// An interrupt handler is about to run (interrupt context). name: the IRQ action's name.
  void (*irq)(const char* name) = nullptr;
};

namespace detail {
extern CallbackSlot<TraceHook> g_trace_hook;
}

/// Install h. -EBUSY if another hook is registered, -EINVAL if h is null.
int trace_hook_register(const TraceHook* h);
/// Remove h (no-op if h is not the registered hook) and wait until no CPU runs it.
void trace_hook_unregister(const TraceHook* h);

inline void trace_irq(const char* name) {
  detail::g_trace_hook.call([name](const TraceHook& h) {
    if (h.irq) h.irq(name);
  });
}

}  // namespace udrm
