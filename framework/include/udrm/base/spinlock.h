// udrm/base/spinlock.h — a short, non-sleeping lock (spin_lock / spin_unlock).
//
// For lists touched from any context (devres lists, event queues). Never hold it across a
// sleep or a scheduling point: in a simulated world nothing else can run while it is held,
// which is exactly the kernel's guarantee for spinlocks.
//
// Context: any, including atomic context. Never sleeps (briefly spins under contention).
#pragma once
#include <atomic>

namespace udrm {

class SpinLock {
 public:
  SpinLock() noexcept = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }
  bool is_locked() const noexcept { return locked_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace udrm
