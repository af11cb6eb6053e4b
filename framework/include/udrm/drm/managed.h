// udrm/drm/managed.h — DRM-managed resources (drivers/gpu/drm/drm_managed.c).
//
// drmm resources belong to the DrmDevice object, not to the driver binding: they are released
// LIFO at the final drm_dev_put(), which open files, mappings and in-flight work delay past
// unbind. Everything userspace can reach (KMS objects, property blobs, the driver's private
// container) belongs here, never in devm.
//
// drmm_release_action mirrors a kernel quirk on purpose: it searches oldest-first, a NULL
// `data` matches any node of that action, and the action is called with the caller's `data`
// (not the stored one). Tests pin this down (M4); udrm's drivers always pass the exact data.
//
// Lifetime: nodes live until the final put (or drmm_release_action / drmm_kfree).
// Context: add/kfree: any context; release runs in the context of the final put (whoever
// closes the last file, or unbind).
#pragma once
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/mutex.h"

namespace udrm {

class DrmDevice;

namespace detail {
using drmm_erased_fn = void (*)();
struct DrmmAction {
  drmm_erased_fn action;
  void (*call)(drmm_erased_fn, DrmDevice&, void*);
  void* data;
};
template <class T>
void drmm_call_action(drmm_erased_fn f, DrmDevice& dev, void* data) {
  reinterpret_cast<void (*)(DrmDevice&, T*)>(f)(dev, static_cast<T*>(data));
}
int drmm_add_action_impl(DrmDevice& dev, DrmmAction a, const char* name);
void drmm_release_action_impl(DrmDevice& dev, drmm_erased_fn action, void* data);
}  // namespace detail

/// drmm_add_action: run action(dev, data) at the final put. 0 or -ENOMEM (not run).
template <class T>
[[nodiscard]] int drmm_add_action(DrmDevice& dev, void (*action)(DrmDevice&, T*), T* data,
                                  const char* name = "drmm_action") {
  return detail::drmm_add_action_impl(
      dev, {reinterpret_cast<detail::drmm_erased_fn>(action), &detail::drmm_call_action<T>, data}, name);
}
/// drmm_add_action_or_reset: on failure run action(dev, data) now and return the error.
template <class T>
[[nodiscard]] int drmm_add_action_or_reset(DrmDevice& dev, void (*action)(DrmDevice&, T*), T* data,
                                           const char* name = "drmm_action") {
  int ret = drmm_add_action(dev, action, data, name);
  if (ret) action(dev, data);
  return ret;
}
/// drmm_release_action: find the oldest node of `action` (data == nullptr: any data; else equal),
/// unlink it and call action(dev, data) with the caller's data. WARNs if none.
template <class T>
void drmm_release_action(DrmDevice& dev, void (*action)(DrmDevice&, T*), T* data) {
  detail::drmm_release_action_impl(dev, reinterpret_cast<detail::drmm_erased_fn>(action), data);
}

void* drmm_kmalloc(DrmDevice& dev, std::size_t size, const char* name = nullptr);
void* drmm_kzalloc(DrmDevice& dev, std::size_t size, const char* name = nullptr);
void* drmm_kmalloc_array(DrmDevice& dev, std::size_t n, std::size_t size, const char* name = nullptr);
void* drmm_kcalloc(DrmDevice& dev, std::size_t n, std::size_t size, const char* name = nullptr);
char* drmm_kstrdup(DrmDevice& dev, const char* s);
/// drmm_kfree: NULL is a no-op; a pointer that is not a drmm allocation of dev WARNs.
void drmm_kfree(DrmDevice& dev, const void* p);

/// drmm_mutex_init: a Mutex destroyed at the final put (its storage is drmm memory).
Mutex* drmm_mutex_init(DrmDevice& dev, const char* name);

/// Typed convenience: T constructed in drmm memory, destroyed at the final put.
template <class T, class... Args>
T* drmm_new(DrmDevice& dev, const char* name, Args&&... args);

}  // namespace udrm
