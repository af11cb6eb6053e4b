// udrm/core/release_trace.h — observe devm/drmm resources being added and released.
//
// The explorer's release-order oracle installs a tracer on its simulation thread; devres and
// drmm report every resource node added, and every node released inside a release-all batch
// (unbind / probe failure for devm, the final put for drmm). With no tracer this is one load of
// a global counter per add/release.
//
// Context: called from devres/drmm code in any context; a tracer must not sleep. Tracers are
// per thread (a simulated world is one thread).
#pragma once
#include <atomic>

namespace udrm {

class ReleaseTracer {
 public:
  enum class Kind : unsigned char { devm, drmm };
  virtual ~ReleaseTracer() = default;
  virtual void added(Kind k, const void* owner, const char* owner_name, const void* node, const char* name) = 0;
  /// A batch release of owner's list starts (begin) or ends.
  virtual void batch(Kind k, const void* owner, bool begin) = 0;
  virtual void releasing(Kind k, const void* owner, const char* owner_name, const void* node, const char* name) = 0;
};

namespace detail {
extern std::atomic<int> g_release_tracers;
ReleaseTracer* release_tracer_slow() noexcept;
inline ReleaseTracer* release_tracer() noexcept {
  return __builtin_expect(g_release_tracers.load(std::memory_order_relaxed) != 0, 0) ? release_tracer_slow() : nullptr;
}
}  // namespace detail

/// Installs a tracer on the current thread for its lifetime (nests).
class ScopedReleaseTracer {
 public:
  explicit ScopedReleaseTracer(ReleaseTracer& t);
  ~ScopedReleaseTracer();
  ScopedReleaseTracer(const ScopedReleaseTracer&) = delete;
  ScopedReleaseTracer& operator=(const ScopedReleaseTracer&) = delete;

 private:
  ReleaseTracer* prev_;
};

}  // namespace udrm
