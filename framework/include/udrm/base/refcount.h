// udrm/base/refcount.h — kref and the Ref<T> handle.
//
// Kref is the kernel's kref over refcount_t: get() on a zero count or an overflow WARNs and
// saturates instead of wrapping (a use-after-free is reported, not made worse); put() runs the
// release exactly once, on the final put. get_unless_zero() is the lookup-side primitive: it
// takes a reference only if the object is not already dying.
//
// RefCounted<T> gives T a Kref and the hooks boost::intrusive_ptr needs; Ref<T> is
// boost::intrusive_ptr<T>. T provides `void kref_release() noexcept`, called on the final put
// (typically `delete this` or a deferred free).
//
// Every get_unless_zero/put is a scheduling point ("kref.get_unless_zero", "kref.put") so the
// explorer can interleave racing final puts.
//
// Lifetime: the release decides. Context: any; release runs in the context of the final put.
#pragma once
#include <atomic>
#include <climits>

#include <boost/intrusive_ptr.hpp>

#include "udrm/base/log.h"
#include "udrm/base/point.h"

namespace udrm {

class Kref {
 public:
  static constexpr unsigned kSaturated = UINT_MAX / 2;

  explicit Kref(unsigned initial = 1) noexcept : refs_(initial) {}
  Kref(const Kref&) = delete;
  Kref& operator=(const Kref&) = delete;

  /// kref_get: the caller must already hold a reference.
  void get() noexcept {
    unsigned old = refs_.fetch_add(1, std::memory_order_relaxed);
    if (__builtin_expect(old == 0 || old >= kSaturated, 0)) saturate(old == 0 ? "addition on 0; use-after-free" : "saturated");
  }
  /// kref_get_unless_zero: take a reference unless the object is already being released.
  [[nodiscard]] bool get_unless_zero() noexcept {
    UDRM_POINT("kref.get_unless_zero");
    unsigned old = refs_.load(std::memory_order_relaxed);
    do {
      if (old == 0) return false;
      if (old >= kSaturated) return true;
    } while (!refs_.compare_exchange_weak(old, old + 1, std::memory_order_acquire, std::memory_order_relaxed));
    return true;
  }
  /// kref_put: drop a reference; on the final one call release() and return true.
  template <class Release>
  bool put(Release&& release) {
    UDRM_POINT("kref.put");
    // acq_rel rather than release + acquire fence: the same instruction on x86, and a form
    // ThreadSanitizer models (it ignores stand-alone fences).
    unsigned old = refs_.fetch_sub(1, std::memory_order_acq_rel);
    if (__builtin_expect(old == 1, 0)) {
      release();
      return true;
    }
    if (__builtin_expect(old == 0 || old > kSaturated, 0)) {
      saturate(old == 0 ? "underflow; use-after-free" : "put on saturated count");
    }
    return false;
  }
  /// kref_read: racy snapshot, for diagnostics and tests.
  unsigned read() const noexcept { return refs_.load(std::memory_order_relaxed); }

 private:
  void saturate(const char* why) noexcept {
    refs_.store(kSaturated + kSaturated / 2, std::memory_order_relaxed);
    warn(LogCat::core, "refcount_t: %s; object leaked", why);
  }
  std::atomic<unsigned> refs_;
};

/// CRTP base: T gets a Kref and works with Ref<T>. T must define `void kref_release() noexcept`.
template <class T>
class RefCounted {
 public:
  Kref& kref() noexcept { return kref_; }
  unsigned refcount() const noexcept { return kref_.read(); }
  void get() noexcept { kref_.get(); }
  [[nodiscard]] bool get_unless_zero() noexcept { return kref_.get_unless_zero(); }
  bool put() { return kref_.put([this] { static_cast<T*>(this)->kref_release(); }); }

  friend void intrusive_ptr_add_ref(T* p) noexcept { p->RefCounted<T>::get(); }
  friend void intrusive_ptr_release(T* p) { p->RefCounted<T>::put(); }

 protected:
  RefCounted() noexcept = default;
  ~RefCounted() = default;

 private:
  Kref kref_;
};

template <class T>
using Ref = boost::intrusive_ptr<T>;

/// Adopt the initial reference of a freshly created object (no extra get).
template <class T>
Ref<T> adopt_ref(T* p) noexcept {
  return Ref<T>(p, false);
}

}  // namespace udrm
