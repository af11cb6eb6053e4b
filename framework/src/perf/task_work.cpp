// framework/src/perf/task_work.cpp — TaskWorkList (see udrm/perf/task_work.h).
#include "udrm/perf/task_work.h"

#include <cerrno>
#include <mutex>

#include "udrm/base/context.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"

namespace udrm {

TaskWorkList::~TaskWorkList() {
  UDRM_WARN_ON(head_.load(std::memory_order_relaxed) != nullptr, LogCat::core);
}

int TaskWorkList::add(TaskWork& w) noexcept {
  if (!w.fn) return -EINVAL;
  std::lock_guard<SpinLock> l(lock_);
  if (dead_.load(std::memory_order_relaxed)) return -ESRCH;
  if (w.queued) return -EBUSY;
  w.queued = true;
  w.next = nullptr;
  if (tail_) {
    tail_->next = &w;
  } else {
    head_.store(&w, std::memory_order_release);
  }
  tail_ = &w;
  return 0;
}

bool TaskWorkList::cancel(TaskWork& w) noexcept {
  std::lock_guard<SpinLock> l(lock_);
  if (!w.queued) return false;
  TaskWork* prev = nullptr;
  for (TaskWork* p = head_.load(std::memory_order_relaxed); p; prev = p, p = p->next) {
    if (p != &w) continue;
    if (prev) {
      prev->next = p->next;
    } else {
      head_.store(p->next, std::memory_order_release);
    }
    if (tail_ == p) tail_ = prev;
    p->next = nullptr;
    p->queued = false;
    return true;
  }
  UDRM_WARN_ON(true, LogCat::core);  // queued but not on this list
  return false;
}

unsigned TaskWorkList::run() {
  might_sleep("task_work");
  unsigned ran = 0;
  for (;;) {
    UDRM_POINT("perf.task_work");
    TaskWork* w;
    {
      std::lock_guard<SpinLock> l(lock_);
      w = head_.load(std::memory_order_relaxed);
      if (!w) return ran;
      head_.store(w->next, std::memory_order_release);
      if (tail_ == w) tail_ = nullptr;
      w->next = nullptr;
      w->queued = false;  // from here a new add() queues it again
    }
    w->fn(*w);
    ++ran;
  }
}

unsigned TaskWorkList::shutdown() {
  unsigned ran = run();
  {
    std::lock_guard<SpinLock> l(lock_);
    dead_.store(true, std::memory_order_release);
  }
  // add() checks dead_ under the lock: nothing can have been queued since run() emptied it,
  // except by a racing add that got the lock first.
  return ran + run();
}

}  // namespace udrm
