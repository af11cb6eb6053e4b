// udrm/base/executor.h — the one executor abstraction.
//
// All asynchronous work in udrm goes through an Executor: work items (process context, may
// sleep) and timers (atomic context, must not sleep). Two implementations:
//   AsioExecutor (asio_executor.h) — production: a Boost.Asio thread pool and the steady clock.
//   SimExecutor  (sim_executor.h)  — tests: one OS thread, tasks as fibers, a virtual clock and
//                                    a pluggable strategy choosing which ready task runs next.
// Waits, locks, sleeps and the clock are reached through primitives (WaitQueue, Completion,
// Mutex, udrm::now, udrm::sleep_for) that follow whichever executor runs the caller.
//
// Lifetime: an Executor outlives every device and object that posts to it.
// Context: post/post_at/cancel: any context, never sleep.
#pragma once
#include <cstdint>

#include "udrm/base/task.h"
#include "udrm/base/time.h"

namespace udrm {

using TimerId = uint64_t;

class Executor {
 public:
  virtual ~Executor() = default;

  /// Queue `t` to run once in process context (it may sleep). `name` appears in traces and
  /// replay tokens; give it a stable literal.
  virtual void post(Task t, const char* name) = 0;
  /// Run `t` once in atomic context at `when` (interrupts and timers). Returns an id for cancel().
  virtual TimerId post_at(TimePoint when, Task t, const char* name) = 0;
  /// Cancel a timer. True if it had not started and now never will.
  virtual bool cancel(TimerId id) = 0;
  /// The executor's clock.
  virtual TimePoint now() const = 0;
};

}  // namespace udrm
