// udrm/base/signal.h — a udrm model of signal delivery and interruptible sleeps.
//
// udrm has no real signals. A task (a simulated task, or an OS thread) has a pending-signal
// flag: signal_task() sets it and wakes the task if it sleeps in an interruptible wait;
// signal_current_after() does the same for the calling task from a timer (a signal that arrives
// while the task sleeps). Interruptible waits (wait_event_interruptible*,
// wait_for_completion_interruptible*) return -ERESTARTSYS when the flag is set and their
// condition is not yet true, and consume the flag when they do so (the kernel leaves it for the
// syscall exit to deliver; udrm collapses that step). The ioctl layer maps -ERESTARTSYS to
// -EINTR, as the kernel's syscall exit does for a handler that is not restarted.
// Uninterruptible waits ignore the flag.
//
// Lifetime: flags live in a process-wide table keyed by task identity; a flag set for a task
// that never waits interruptibly stays until signal_clear() from that task.
// Context: signal_task/signal_pending/signal_clear: any context. Waits: process context.
#pragma once
#include <atomic>
#include <cerrno>

#include "udrm/base/completion.h"
#include "udrm/base/errno.h"
#include "udrm/base/executor.h"
#include "udrm/base/time.h"
#include "udrm/base/waitqueue.h"

namespace udrm {

/// A task's identity for signals: the simulated task, or the OS thread.
using SignalTarget = const void*;

/// The calling task.
SignalTarget current_signal_target() noexcept;
/// Set t's pending flag and wake it if it sleeps interruptibly. Any context.
void signal_task(SignalTarget t);
/// Signal the calling task after d on ex's clock (a timer in atomic context does it).
void signal_current_after(Executor& ex, Duration d);
/// Is a signal pending for the calling task? (signal_pending(current))
bool signal_pending() noexcept;
/// Drop the calling task's pending signal; returns whether one was pending.
bool signal_clear() noexcept;

namespace detail {
/// Bookkeeping for interruptible sleepers: which queue a signal must wake. Returns the
/// sleeper's flag, which predicates read without taking the table lock.
const std::atomic<bool>* signal_sleep_begin(WaitQueue* wq) noexcept;
void signal_sleep_end() noexcept;
struct SignalSleep {
  explicit SignalSleep(WaitQueue* wq) noexcept : flag(signal_sleep_begin(wq)) {}
  ~SignalSleep() { signal_sleep_end(); }
  SignalSleep(const SignalSleep&) = delete;
  SignalSleep& operator=(const SignalSleep&) = delete;
  bool pending() const noexcept { return flag->load(std::memory_order_acquire); }
  const std::atomic<bool>* flag;
};
}  // namespace detail

/// wait_event_interruptible_timeout: 1 if pred() became true, 0 on timeout, -ERESTARTSYS if a
/// signal arrived first (the signal is consumed). pred() is evaluated until it first returns
/// true and never after (so it may consume, like Completion::try_wait).
template <class Pred>
int wait_event_interruptible_timeout(WaitQueue& wq, Pred pred, Duration timeout) {
  bool done = false;
  auto check = [&] { return done || (done = pred()); };
  if (check()) return 1;
  {
    detail::SignalSleep sleep(&wq);
    wq.wait_event_timeout([&] { return check() || sleep.pending(); }, timeout);
  }
  if (done) return 1;
  return signal_clear() ? -ERESTARTSYS : 0;
}

/// wait_event_interruptible: 0 once pred() holds, -ERESTARTSYS on a signal (consumed).
template <class Pred>
int wait_event_interruptible(WaitQueue& wq, Pred pred) {
  bool done = false;
  auto check = [&] { return done || (done = pred()); };
  if (check()) return 0;
  {
    detail::SignalSleep sleep(&wq);
    wq.wait_event([&] { return check() || sleep.pending(); });
  }
  if (done) return 0;
  signal_clear();
  return -ERESTARTSYS;
}

/// wait_for_completion_interruptible: 0 when completed (one completion consumed, as wait()
/// does), -ERESTARTSYS on a signal.
int wait_for_completion_interruptible(Completion& c);
/// wait_for_completion_interruptible_timeout: 1 completed, 0 timed out, -ERESTARTSYS.
int wait_for_completion_interruptible_timeout(Completion& c, Duration timeout);

}  // namespace udrm
