// udrm/base/spinlock.h — a short, non-sleeping lock (spin_lock / spin_unlock).
//
// For lists touched from any context (devres lists, event queues). Never hold it across a
// sleep or a scheduling point: in a simulated world nothing else can run while it is held,
// which is exactly the kernel's guarantee for spinlocks.
//
// Context: any, including atomic context. Never sleeps (briefly spins under contention).
//
// Unlike the kernel's, a userspace holder can be preempted — typically by the very thread it
// just woke (an eventfd write or a post under the lock), which then spins on the lock. So a
// waiter spins briefly, then yields the CPU to let the holder finish (sched_yield, not a sleep).
// Like spin_lock's preempt_disable, holding one makes a simulated executor ignore scheduling
// points (no task switch, no injected event) until the last spinlock is dropped.
#pragma once
#include <sched.h>

#include <atomic>

#include "udrm/base/context.h"

namespace udrm {

class SpinLock {
 public:
  SpinLock() noexcept = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins < kSpinsBeforeYield) {
          __builtin_ia32_pause();
        } else {
          sched_yield();
        }
      }
    }
    ++detail::tls_spin_depth;
  }
  bool try_lock() noexcept {
    if (locked_.exchange(true, std::memory_order_acquire)) return false;
    ++detail::tls_spin_depth;
    return true;
  }
  void unlock() noexcept {
    --detail::tls_spin_depth;
    locked_.store(false, std::memory_order_release);
  }
  bool is_locked() const noexcept { return locked_.load(std::memory_order_relaxed); }

 private:
  static constexpr int kSpinsBeforeYield = 64;
  std::atomic<bool> locked_{false};
};

}  // namespace udrm
