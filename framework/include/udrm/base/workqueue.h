// udrm/base/workqueue.h — work items and workqueues (include/linux/workqueue.h).
//
// A Work is embedded in the object it works for (like struct work_struct) and bound to one
// function. queue() is a no-op while the item is already pending; an item never runs
// concurrently with itself (re-queued while running, it runs again afterwards). An ordered
// WorkQueue runs one item at a time in queue order (alloc_ordered_workqueue; the strand of the
// production executor); an unordered one runs items concurrently on the executor's workers.
// Everything goes through udrm::Executor, so the simulated executor schedules work items
// like any other task.
//
// Lifetime: a Work must not be destroyed while pending or running (cancel_sync() first).
// A WorkQueue drains (flushes) in its destructor (destroy_workqueue).
// Context: queue(): any context. flush*/cancel_sync: process context, may sleep; never from
// the work item itself (it would wait for itself).
#pragma once
#include <cstdint>
#include <functional>
#include <set>

#include <boost/intrusive/list.hpp>

#include "udrm/base/executor.h"
#include "udrm/base/spinlock.h"
#include "udrm/base/waitqueue.h"

namespace udrm {

class WorkQueue;

class Work : public boost::intrusive::list_base_hook<> {
 public:
  /// INIT_WORK: `name` appears in traces and replay tokens.
  Work(const char* name, std::function<void()> fn) : name_(name), fn_(std::move(fn)) {}
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;
  ~Work();

  const char* name() const noexcept { return name_; }
  /// work_pending: queued and not yet started.
  bool pending() const noexcept;
  bool running() const noexcept;

  /// From inside this item's own function: run `fn(arg)` once the queue is done with the item
  /// (after the function returns and the queue has let go of it), on the same task. This is how
  /// an object that embeds its work item frees itself from that work (the kernel's work
  /// function may free its work_struct). False, and nothing scheduled, if the calling task is
  /// not running this item.
  bool defer_after_run(void (*fn)(void*), void* arg) noexcept;

 private:
  friend class WorkQueue;
  const char* name_;
  std::function<void()> fn_;
  WorkQueue* wq_ = nullptr;  // set while pending or running
  bool pending_ = false;
  bool running_ = false;
  bool posted_ = false;  // unordered: an executor task for this item has not started yet
  uint64_t seq_ = 0;
};

class WorkQueue {
 public:
  WorkQueue(Executor& ex, const char* name, bool ordered);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  const char* name() const noexcept { return name_; }
  /// queue_work: true if queued, false if it was already pending. Once the queue is being
  /// destroyed, new work is refused (false) with a WARN.
  bool queue(Work& w);
  /// flush_work: wait until w is neither pending nor running. True if it had to wait.
  bool flush_work(Work& w);
  /// Is w queued, posted or running on this queue? Decided under the queue's lock: once it
  /// says false, the queue will not touch w again (until w is queued anew), so the caller may
  /// free it. (Work::pending/running read w's queue pointer unlocked: racy for that purpose.)
  bool busy(const Work& w) const;
  /// cancel_work_sync: unqueue w if pending, wait if running. True if it was pending.
  bool cancel_sync(Work& w);
  /// flush_workqueue: wait for every item queued before this call.
  void flush();

 private:
  friend class Work;
  void run_one(Work* w);
  void drain_ordered();
  void drop_requeued_locked(Work& w);

  Executor& ex_;
  const char* name_;
  bool ordered_;
  bool dying_ = false;
  mutable SpinLock lock_;
  boost::intrusive::list<Work> queue_;  // ordered only: pending items in order
  bool draining_ = false;               // ordered only: a drainer task is posted/running
  int posted_ = 0;                      // unordered: executor tasks not yet started
  std::multiset<uint64_t> outstanding_;  // seqs of items queued and not finished
  uint64_t seq_ = 0;
  WaitQueue wq_;
};

}  // namespace udrm
