// udrm/base/context.h — execution context: process vs atomic (interrupt) context.
//
// Interrupt handlers and timer callbacks run in atomic context: they must not sleep. A
// blocking primitive called there WARNs ("sleeping function called from invalid context"),
// as the kernel's might_sleep() does. Process context (work items, client calls, probe) may sleep.
//
// Context: any; never sleeps.
#pragma once

namespace udrm {

namespace detail {
// constinit: no TLS init-function check on access (g++ 12 mis-flags that check under UBSan).
extern constinit thread_local int tls_atomic_depth;
/// Spinlocks held by this task (spin_lock disables preemption): a simulated executor never
/// switches tasks or injects an event at a scheduling point while it is non-zero.
extern constinit thread_local int tls_spin_depth;
/// Per-task state that a simulated executor saves and restores on every task switch (slot 0:
/// the current module, see udrm/core/module.h). Real threads simply own theirs.
inline constexpr int kTaskLocalSlots = 4;
/// Slot assignments.
inline constexpr int kTaskLocalModule = 0;    // core/module.h: the current module
inline constexpr int kTaskLocalTeardown = 1;  // core/gate.h: the gate this task tears down
inline constexpr int kTaskLocalSignal = 2;    // base/signal.h: pending signal
inline constexpr int kTaskLocalWork = 3;      // base/workqueue.h: the work item this task runs
extern constinit thread_local void* tls_task_local[kTaskLocalSlots];
void might_sleep_warn(const char* what);
}  // namespace detail

/// True inside an interrupt handler, timer callback or other atomic section.
inline bool in_atomic() noexcept { return detail::tls_atomic_depth > 0; }

/// WARN if the caller may not sleep here. Called by every blocking primitive.
inline void might_sleep(const char* what) {
  if (__builtin_expect(detail::tls_atomic_depth > 0, 0)) detail::might_sleep_warn(what);
}

/// Marks an atomic (non-sleeping) section, e.g. an interrupt handler. Nestable.
class AtomicSection {
 public:
  AtomicSection() noexcept { ++detail::tls_atomic_depth; }
  ~AtomicSection() { --detail::tls_atomic_depth; }
  AtomicSection(const AtomicSection&) = delete;
  AtomicSection& operator=(const AtomicSection&) = delete;
};

}  // namespace udrm
