// udrm/base/waitqueue.h — wait queue with predicate waits (wait_event / wake_up).
//
// A waiter sleeps until its predicate holds; a waker changes the state, then calls
// wake_up_all(). The predicate is re-evaluated after every wake-up, so wake-ups are never lost
// and spurious ones are harmless. In a simulated world the wait switches tasks instead.
//
// Lifetime: must outlive every waiter and waker.
// Context: wait_*: process context (may sleep; WARNs in atomic context). wake_up_all: any.
#pragma once
#include <condition_variable>
#include <mutex>

#include "udrm/base/context.h"
#include "udrm/base/sim_hooks.h"

namespace udrm {

class WaitQueue {
 public:
  explicit WaitQueue(const char* name = "waitqueue") noexcept : name_(name) {}
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  const char* name() const noexcept { return name_; }

  /// Sleep until pred() is true.
  template <class Pred>
  void wait_event(Pred pred) {
    might_sleep(name_);
    if (auto* s = detail::tls_sim) {
      while (!pred()) s->block(sim_, name_, nullptr);
      return;
    }
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, pred);
  }

  /// Sleep until pred() is true or `timeout` passes on the executor's clock.
  /// Returns pred()'s final value (false = timed out).
  template <class Pred>
  bool wait_event_timeout(Pred pred, Duration timeout) {
    might_sleep(name_);
    if (auto* s = detail::tls_sim) {
      const TimePoint deadline = s->now() + timeout;
      while (!pred()) {
        if (!s->block(sim_, name_, &deadline)) return pred();
      }
      return true;
    }
    std::unique_lock<std::mutex> l(m_);
    return cv_.wait_for(l, timeout, pred);
  }

  /// Wake every waiter so it re-checks its predicate. Call after changing the state. Only if
  /// the queue outlives this call: a waiter that sees the new state may return at once.
  void wake_up_all() {
    wake_up_all([] {});
  }

  /// Change the state with update() and wake every waiter, both under the queue's lock, so a
  /// waiter can only observe the new state once this call no longer touches the queue: use it
  /// when the waiter may destroy the queue (or its owner) as soon as it returns — completions,
  /// drain-and-destroy.
  template <class F>
  void wake_up_all(F&& update) {
    if (auto* s = detail::tls_sim) {
      update();
      s->wake(sim_, true);
      return;
    }
    std::lock_guard<std::mutex> l(m_);
    update();
    cv_.notify_all();
  }

 private:
  const char* name_;
  std::mutex m_;
  std::condition_variable cv_;
  detail::SimWaitList sim_;
};

}  // namespace udrm
