// udrm/perf/task_work.h — per-file deferred work that runs in the client's own context when its
// current call returns (the kernel's task_work_add(..., TWA_RESUME) run on return to user).
//
// Interrupt handlers and timers may not sleep, take mutexes or call back into the client. What
// they must hand to the client (a counter-overflow notification, anything that needs process
// context) they queue as a TaskWork on the file's TaskWorkList; every client entry point of
// that file opens a ReturnToUser guard, whose destructor runs the pending work in the caller's
// context after the call proper has released its locks. Work queued while the list runs is run
// in the same pass, so the list is empty when a call returns.
//
// A TaskWork is an intrusive node: queuing never allocates (safe in interrupt context) and a
// node is queued at most once at a time (add() on a queued node returns -EBUSY; whatever it
// stands for must be accounted in its owner's state, not in the number of queued nodes).
// shutdown() runs what is pending and refuses further work (-ESRCH, the kernel's "task is
// exiting"): call it when the file is released, after nothing can queue any more.
//
// Lifetime: the list and its nodes belong to the file (e.g. a PerfEvent); a node must stay alive
// while queued. Context: add/pending: any context, never sleeps. run/shutdown/ReturnToUser:
// process context (the work may sleep); not from inside a work item of the same list.
#pragma once
#include <atomic>

#include "udrm/base/spinlock.h"

namespace udrm {

struct TaskWork {
  /// Called once per queuing, in the client's context.
  void (*fn)(TaskWork&) = nullptr;
  /// The owner's pointer, for fn.
  void* owner = nullptr;
  TaskWork* next = nullptr;
  bool queued = false;  // under the list's lock
};

class TaskWorkList {
 public:
  TaskWorkList() noexcept = default;
  TaskWorkList(const TaskWorkList&) = delete;
  TaskWorkList& operator=(const TaskWorkList&) = delete;
  ~TaskWorkList();

  /// Queue `w` (FIFO). 0, -EINVAL (no fn), -EBUSY (already queued) or -ESRCH (shut down).
  int add(TaskWork& w) noexcept;
  /// Remove `w` if queued (it will not run). True if it was queued.
  bool cancel(TaskWork& w) noexcept;
  /// Something is queued (racy snapshot).
  bool pending() const noexcept { return head_.load(std::memory_order_acquire) != nullptr; }
  /// Run everything queued, including work queued while running. Returns how many ran.
  unsigned run();
  /// Run what is pending, then refuse new work.
  unsigned shutdown();
  bool is_shut_down() const noexcept { return dead_.load(std::memory_order_acquire); }

 private:
  mutable SpinLock lock_;
  std::atomic<TaskWork*> head_{nullptr};
  TaskWork* tail_ = nullptr;
  std::atomic<bool> dead_{false};
};

/// Scope guard for one client call: its destructor runs the file's pending task work.
class ReturnToUser {
 public:
  explicit ReturnToUser(TaskWorkList& l) noexcept : list_(l) {}
  // Nothing pending is the common case (every ioctl passes here): one acquire load, no lock,
  // no scheduling point. Work queued after the check runs at the next return, as in the kernel
  // (TIF_NOTIFY_RESUME set after exit_to_user_mode_loop looked is seen next time).
  ~ReturnToUser() {
    if (list_.pending()) list_.run();
  }
  ReturnToUser(const ReturnToUser&) = delete;
  ReturnToUser& operator=(const ReturnToUser&) = delete;

 private:
  TaskWorkList& list_;
};

}  // namespace udrm
