// udrm/base/point.h — named scheduling points.
//
// A scheduling point marks a place where another task could run in between (a lock, a put, a
// check before an act). In production a point is one load of a global flag and a predicted
// branch. When a simulated executor runs the current task, the point is handed to it: the
// strategy may switch to another ready task there, and the explorer may inject a domain event
// (unbind, unplug, close, allocation failure) there. Points are named, never numbered, so a
// replay token stays valid when unrelated code changes.
//
// Context: any; never sleeps in production; in simulation a point may switch tasks.
#pragma once
#include <atomic>

namespace udrm {

struct Point {
  const char* name;
};

namespace detail {
/// Global slow-path switches, one load on every fast path that cares:
/// kSlowSim while any simulated executor exists in this process (points, gate bookkeeping),
/// kSlowFence when gate readers must fence themselves (no membarrier, or ThreadSanitizer).
inline constexpr unsigned kSlowSim = 1u, kSlowFence = 2u;
extern std::atomic<unsigned> g_slow;
void point_slow(const Point& p);
}  // namespace detail

inline void point(const Point& p) {
  if (__builtin_expect(detail::g_slow.load(std::memory_order_relaxed) & detail::kSlowSim, 0)) detail::point_slow(p);
}

}  // namespace udrm

/// UDRM_POINT("area.what"): a named scheduling point at this call site.
#define UDRM_POINT(literal)                                   \
  do {                                                        \
    static constexpr ::udrm::Point udrm_point_here_{literal}; \
    ::udrm::point(udrm_point_here_);                          \
  } while (0)
