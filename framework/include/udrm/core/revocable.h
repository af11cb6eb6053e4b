// udrm/core/revocable.h — Revocable<T> and Devres<T> (rust/kernel/{revocable,devres}.rs).
//
// Revocable<T> holds a T that can be revoked at any time: readers take a guard with
// try_access() (empty once revoked); revoke() flips one atomic, waits for every reader (a
// Gate), then destroys T exactly once. A second, concurrent revoke() returns false but only
// after T has been destroyed, so "it's gone" always means gone.
//
// Devres<T> is a Revocable<T> owned by a device binding: created with a Bound proof token
// (inside probe/bind), it registers a devm action that revokes at unbind, so T (an MMIO
// mapping, a clock handle) is destroyed before unbind returns and every later try_access()
// fails. Dropping the Devres<T> first revokes and removes the devm action; if unbind is
// releasing it at that very moment the two sides agree through the same atomic flip and unbind
// returns only after T is gone. Code that runs inside the binding (probe, remove, paths the
// framework runs under the gate) presents the Bound token to access() and skips the runtime
// check.
//
// Lifetime: see above. A Guard must not outlive the scope that took it (it holds the gate).
// Context: try_access/access: any context, never sleep, callable after unplug (they fail).
// revoke(): process context, sleeps until readers exit; never call it while holding a guard
// of the same object (it would wait for itself).
#pragma once
#include <atomic>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "udrm/base/completion.h"
#include "udrm/base/refcount.h"
#include "udrm/core/device.h"
#include "udrm/core/gate.h"

namespace udrm {

template <class T>
class Devres;

template <class T>
class Revocable {
 public:
  /// Read-side guard: derefs to T while the gate is held; false if revoked.
  class [[nodiscard]] Guard {
   public:
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    explicit operator bool() const noexcept { return static_cast<bool>(g_); }
    T* get() const noexcept { return g_ ? p_ : nullptr; }
    T* operator->() const noexcept { return get(); }
    T& operator*() const noexcept { return *get(); }

   private:
    friend class Revocable;
    template <class>
    friend class Devres;
    Guard() noexcept : p_(nullptr) {}  // empty: what an empty Devres<T> hands out
    Guard(Gate& gate, T* p) noexcept : g_(gate.enter()), p_(p) {}
    EnterGuard g_;
    T* p_;
  };

  template <class... Args>
  explicit Revocable(Args&&... args) : gate_("revocable") {
    ::new (static_cast<void*>(storage_)) T(std::forward<Args>(args)...);
  }
  ~Revocable() {
    if (state_.load(std::memory_order_acquire) == kAvailable) ptr()->~T();
  }
  Revocable(const Revocable&) = delete;
  Revocable& operator=(const Revocable&) = delete;

  /// try_access: a guard holding T alive, or an empty guard once revoked.
  Guard try_access() noexcept { return Guard(gate_, ptr()); }

  /// try_access_with: run f(T&) under a short guard. Returns f's result (std::optional of it,
  /// or bool for void) — empty/false if revoked.
  template <class F>
  auto try_access_with(F&& f) {
    using R = std::invoke_result_t<F, T&>;
    Guard g = try_access();
    if constexpr (std::is_void_v<R>) {
      if (!g) return false;
      std::forward<F>(f)(*g);
      return true;
    } else {
      if (!g) return std::optional<R>();
      return std::optional<R>(std::forward<F>(f)(*g));
    }
  }

  /// Unchecked access. The caller must prove (in a comment) that revoke cannot run meanwhile.
  T& access_unchecked() noexcept { return *ptr(); }

  /// revoke: true if this call revoked. Always returns after T has been destroyed.
  bool revoke() {
    int expected = kAvailable;
    if (!state_.compare_exchange_strong(expected, kRevoking, std::memory_order_acq_rel)) {
      dropped_.wait();  // the winner may still be waiting for readers
      return false;
    }
    gate_.unplug();
    ptr()->~T();
    state_.store(kRevoked, std::memory_order_release);
    dropped_.complete_all();
    return true;
  }
  /// revoke_nosync: as revoke() without waiting for readers (caller guarantees there are none).
  bool revoke_nosync() {
    int expected = kAvailable;
    if (!state_.compare_exchange_strong(expected, kRevoking, std::memory_order_acq_rel)) {
      dropped_.wait();
      return false;
    }
    gate_.unplug_nosync();
    ptr()->~T();
    state_.store(kRevoked, std::memory_order_release);
    dropped_.complete_all();
    return true;
  }
  bool is_revoked() const noexcept { return state_.load(std::memory_order_acquire) != kAvailable; }

 private:
  static constexpr int kAvailable = 0, kRevoking = 1, kRevoked = 2;
  T* ptr() noexcept { return std::launder(reinterpret_cast<T*>(storage_)); }

  Gate gate_;
  std::atomic<int> state_{kAvailable};
  Completion dropped_{"revocable.dropped"};
  alignas(T) unsigned char storage_[sizeof(T)];
};

/// A Revocable<T> tied to a device binding (Rust's Devres<T>).
template <class T>
class Devres {
  struct Inner : RefCounted<Inner> {
    template <class... Args>
    explicit Inner(Device& d, Args&&... args) : dev(&d), rev(std::forward<Args>(args)...) {}
    void kref_release() noexcept { delete this; }
    static void on_unbind(Inner* self) {
      self->rev.revoke();
      self->put();  // the reference the devm node held
    }
    Ref<Device> dev;  // the object, not the binding: reset() may run after unbind
    Revocable<T> rev;
  };

 public:
  Devres() = default;
  Devres(Devres&&) noexcept = default;
  Devres& operator=(Devres&& o) noexcept {
    if (this != &o) {
      reset();
      inner_ = std::move(o.inner_);
      err_ = o.err_;
    }
    return *this;
  }
  ~Devres() { reset(); }

  /// Construct T inside the binding proven by `bound`. Check error() (-ENOMEM: T not kept).
  template <class... Args>
  static Devres create(const Bound& bound, Args&&... args) {
    Devres d;
    Device& dev = bound.device();
    d.inner_ = adopt_ref(new Inner(dev, std::forward<Args>(args)...));
    d.inner_->get();  // for the devm node
    int ret = devm_add_action_or_reset(dev, &Inner::on_unbind, d.inner_.get(), "devres<T>.revoke");
    if (ret) {
      d.inner_.reset();
      d.err_ = ret;
    }
    return d;
  }

  int error() const noexcept { return err_; }
  explicit operator bool() const noexcept { return inner_ != nullptr; }

  /// An empty Devres (default-constructed, moved-from, reset, or failed create) behaves as
  /// revoked: an empty guard / empty result.
  typename Revocable<T>::Guard try_access() noexcept {
    if (!inner_) return typename Revocable<T>::Guard();
    return inner_->rev.try_access();
  }
  template <class F>
  auto try_access_with(F&& f) {
    using R = std::invoke_result_t<F, T&>;
    if (!inner_) {
      if constexpr (std::is_void_v<R>) {
        return false;
      } else {
        return std::optional<R>();
      }
    }
    return inner_->rev.try_access_with(std::forward<F>(f));
  }
  /// access with a proof of binding: no runtime guard. nullptr and *err = -EINVAL if `bound`
  /// is for another device, -ENODEV if already revoked.
  T* access(const Bound& bound, int* err = nullptr) noexcept {
    int e = 0;
    T* p = nullptr;
    if (!inner_ || &bound.device() != inner_->dev.get()) {
      e = -EINVAL;
    } else if (inner_->rev.is_revoked()) {
      e = -ENODEV;
    } else {
      // SAFETY: `bound` proves the device is bound to its driver for the caller's scope, and
      // the revoke action runs only when that binding ends.
      p = &inner_->rev.access_unchecked();
    }
    if (err) *err = e;
    return p;
  }
  bool is_revoked() const noexcept { return !inner_ || inner_->rev.is_revoked(); }

  /// Drop T now (revoking), and unregister the devm action unless unbind already took it.
  void reset() {
    if (!inner_) return;
    Inner* in = inner_.get();
    in->rev.revoke();
    if (devm_remove_action_nowarn(*in->dev, &Inner::on_unbind, in) == 0) in->put();
    inner_.reset();
  }

 private:
  Ref<Inner> inner_;
  int err_ = 0;
};

}  // namespace udrm
