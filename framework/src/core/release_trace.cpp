// devm/drmm release tracing (udrm/core/release_trace.h).
#include "udrm/core/release_trace.h"

namespace udrm {
namespace detail {
std::atomic<int> g_release_tracers{0};
namespace {
thread_local ReleaseTracer* t_tracer = nullptr;
}
ReleaseTracer* release_tracer_slow() noexcept { return t_tracer; }
}  // namespace detail

ScopedReleaseTracer::ScopedReleaseTracer(ReleaseTracer& t) : prev_(detail::t_tracer) {
  detail::t_tracer = &t;
  detail::g_release_tracers.fetch_add(1, std::memory_order_relaxed);
}

ScopedReleaseTracer::~ScopedReleaseTracer() {
  detail::t_tracer = prev_;
  detail::g_release_tracers.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace udrm
