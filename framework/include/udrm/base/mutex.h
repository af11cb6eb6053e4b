// udrm/base/mutex.h — a sleeping mutex that the simulated executor can schedule.
//
// Named (the name appears in deadlock reports). lock() is a scheduling point. Recursive
// locking is a bug: it WARNs (and deadlocks, as the kernel would; the explorer reports it).
// Satisfies Lockable, so std::lock_guard / std::unique_lock / std::scoped_lock work.
//
// Lifetime: must be unlocked when destroyed.
// Context: lock: process context, may sleep. unlock/try_lock: any.
#pragma once
#include <atomic>
#include <mutex>

#include "udrm/base/context.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/sim_hooks.h"

namespace udrm {

class Mutex {
 public:
  explicit Mutex(const char* name = "mutex") noexcept : name_(name) {}
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  ~Mutex() { UDRM_WARN_ON(owner_.load(std::memory_order_relaxed) != nullptr, LogCat::core); }

  void lock() {
    UDRM_POINT("mutex.lock");
    might_sleep(name_);
    const void* me = detail::current_execution_id();
    if (owner_.load(std::memory_order_relaxed) == me)
      warn(LogCat::core, "possible recursive locking of mutex '%s'", name_);
    if (auto* s = detail::tls_sim) {
      while (sim_locked_) s->block(sim_waiters_, name_, nullptr);
      sim_locked_ = true;
    } else {
      m_.lock();
    }
    owner_.store(me, std::memory_order_relaxed);
  }
  bool try_lock() {
    const void* me = detail::current_execution_id();
    if (detail::tls_sim) {
      if (sim_locked_) return false;
      sim_locked_ = true;
    } else if (!m_.try_lock()) {
      return false;
    }
    owner_.store(me, std::memory_order_relaxed);
    return true;
  }
  void unlock() {
    owner_.store(nullptr, std::memory_order_relaxed);
    if (auto* s = detail::tls_sim) {
      sim_locked_ = false;
      s->wake(sim_waiters_, false);
    } else {
      m_.unlock();
    }
  }
  /// lockdep_assert_held, approximately: true if the caller holds it.
  bool held() const noexcept { return owner_.load(std::memory_order_relaxed) == detail::current_execution_id(); }
  const char* name() const noexcept { return name_; }

 private:
  const char* name_;
  std::mutex m_;
  bool sim_locked_ = false;
  detail::SimWaitList sim_waiters_;
  std::atomic<const void*> owner_{nullptr};
};

}  // namespace udrm
