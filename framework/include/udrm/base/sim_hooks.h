// udrm/base/sim_hooks.h — what blocking primitives ask of a simulated executor (internal).
//
// When a simulated task runs on this thread, tls_sim points at its executor. Primitives
// (WaitQueue, Completion, Mutex, sleep_for, points) then block by switching tasks instead of
// sleeping the OS thread, and read the virtual clock. Not for driver code.
//
// Context: the simulated executor's thread only.
#pragma once
#include <boost/intrusive/list.hpp>

#include "udrm/base/point.h"
#include "udrm/base/time.h"

namespace udrm::detail {

struct SimWaiter
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
  void* task = nullptr;
};
using SimWaitList = boost::intrusive::list<SimWaiter, boost::intrusive::constant_time_size<false>>;

class SimHooks {
 public:
  virtual void on_point(const Point& p) = 0;
  /// Block the current task on `list` until woken (true) or until *deadline passes (false).
  /// `what` names the wait in deadlock reports.
  virtual bool block(SimWaitList& list, const char* what, const TimePoint* deadline) = 0;
  /// Make the first (all=false) or every waiter of `list` ready.
  virtual void wake(SimWaitList& list, bool all) = 0;
  virtual TimePoint now() const = 0;
  /// Identity of the running task (for lock ownership).
  virtual const void* current_task() const = 0;

 protected:
  ~SimHooks() = default;
};

extern constinit thread_local SimHooks* tls_sim;

/// An identity for the caller: the simulated task, or the OS thread.
const void* current_execution_id() noexcept;

}  // namespace udrm::detail
