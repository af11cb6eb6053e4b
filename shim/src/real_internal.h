// real_internal.h — the next definition (libc's, or a sanitizer's interceptor) of a libc
// function the shim interposes, resolved lazily with dlsym(RTLD_NEXT).
//
// UDRM_REAL(name, type) yields a `type` pointer (nullptr if the symbol does not exist). The slot
// is a constant-initialised atomic: no static initialiser, no guard, so it works from the very
// first call (a constructor, ld.so's own calls) and from any thread (a racing resolve stores
// the same value).
//
// Lifetime: process. Context: any thread, async-signal-unsafe only on the first call (dlsym).
#pragma once
#include <dlfcn.h>

#include <atomic>

namespace udrm::shim::detail {

inline void* resolve_real(std::atomic<void*>& slot, const char* name) noexcept {
  void* p = slot.load(std::memory_order_acquire);
  if (__builtin_expect(p == nullptr, 0)) {
    p = dlsym(RTLD_NEXT, name);
    slot.store(p, std::memory_order_release);
  }
  return p;
}

}  // namespace udrm::shim::detail

#define UDRM_REAL(name, type)                                                      \
  reinterpret_cast<type>(::udrm::shim::detail::resolve_real(                       \
      []() -> std::atomic<void*>& {                                                \
        static constinit std::atomic<void*> slot{nullptr};                         \
        return slot;                                                               \
      }(),                                                                         \
      #name))
