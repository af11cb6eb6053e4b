// udrm/base/completion.h — struct completion.
//
// complete() releases one waiter (or the next wait), complete_all() every present and future
// waiter until reinit(). Used for commit tracking (hw_done/flip_done/cleanup_done), probe
// hand-offs and "drop finished" signals.
//
// Lifetime: must outlive its waiters.
// Context: complete*: any (also atomic context). wait*: process context, may sleep.
#pragma once
#include <atomic>
#include <climits>

#include "udrm/base/waitqueue.h"

namespace udrm {

class Completion {
 public:
  explicit Completion(const char* name = "completion") noexcept : wq_(name) {}

  // The count changes under the wait queue's lock: a waiter may destroy the completion the
  // moment it sees the count, so the completer must be done with it by then.
  void complete() {
    wq_.wake_up_all([this] {
      unsigned d = done_.load(std::memory_order_relaxed);
      if (d != kAll) done_.store(d + 1, std::memory_order_release);
    });
  }
  void complete_all() {
    wq_.wake_up_all([this] { done_.store(kAll, std::memory_order_release); });
  }
  /// wait_for_completion.
  void wait() {
    wq_.wait_event([this] { return try_consume(); });
  }
  /// wait_for_completion_timeout: true if completed before the timeout.
  [[nodiscard]] bool wait_timeout(Duration d) {
    return wq_.wait_event_timeout([this] { return try_consume(); }, d);
  }
  /// try_wait_for_completion: consume without sleeping.
  [[nodiscard]] bool try_wait() { return try_consume(); }
  /// completion_done: would wait() return at once?
  bool done() const noexcept { return done_.load(std::memory_order_acquire) != 0; }
  /// reinit_completion.
  void reinit() noexcept { done_.store(0, std::memory_order_relaxed); }
  const char* name() const noexcept { return wq_.name(); }
  /// The queue its waiters sleep on (for interruptible waits, udrm/base/signal.h: a signal
  /// wakes the queue; the waiter re-checks try_wait() and its pending signal).
  WaitQueue& wait_queue() noexcept { return wq_; }

 private:
  static constexpr unsigned kAll = UINT_MAX;
  bool try_consume() {
    unsigned d = done_.load(std::memory_order_acquire);
    while (d != 0) {
      if (d == kAll) return true;
      if (done_.compare_exchange_weak(d, d - 1, std::memory_order_acquire)) return true;
    }
    return false;
  }
  std::atomic<unsigned> done_{0};
  WaitQueue wq_;
};

}  // namespace udrm
