// Execution context, clock and identity helpers (udrm/base/context.h, time.h, sim_hooks.h).
#include <thread>

#include "udrm/base/context.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/sim_hooks.h"
#include "udrm/base/time.h"

namespace udrm {
namespace detail {

constinit thread_local int tls_atomic_depth = 0;
constinit thread_local int tls_spin_depth = 0;
constinit thread_local void* tls_task_local[kTaskLocalSlots] = {};
constinit thread_local SimHooks* tls_sim = nullptr;
std::atomic<unsigned> g_slow{0};

void might_sleep_warn(const char* what) {
  warn(LogCat::core, "sleeping function called from invalid context (atomic) waiting on '%s'", what);
}

void point_slow(const Point& p) {
  if (auto* s = tls_sim) s->on_point(p);
}

const void* current_execution_id() noexcept {
  if (auto* s = tls_sim) return s->current_task();
  static thread_local char tag;
  return &tag;
}

}  // namespace detail

TimePoint now() noexcept {
  if (auto* s = detail::tls_sim) return s->now();
  return Clock::now();
}

void sleep_for(Duration d) {
  might_sleep("sleep_for");
  if (auto* s = detail::tls_sim) {
    detail::SimWaitList never;
    const TimePoint deadline = s->now() + d;
    while (s->now() < deadline) s->block(never, "sleep", &deadline);
    return;
  }
  std::this_thread::sleep_for(d);
}

}  // namespace udrm
