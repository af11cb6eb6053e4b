// Work items and workqueues (udrm/base/workqueue.h).
#include "udrm/base/workqueue.h"

#include <mutex>

#include "udrm/base/context.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"

namespace udrm {

Work::~Work() {
  if (pending_ || running_) warn(LogCat::core, "work '%s' destroyed while %s", name_, pending_ ? "pending" : "running");
}

bool Work::pending() const noexcept {
  if (!wq_) return false;
  std::lock_guard<SpinLock> l(wq_->lock_);
  return pending_;
}

bool Work::running() const noexcept {
  if (!wq_) return false;
  std::lock_guard<SpinLock> l(wq_->lock_);
  return running_;
}

namespace {

// The item the current task is running, and what to run once the queue lets go of it.
struct Running {
  Work* w;
  void (*after)(void*) = nullptr;
  void* arg = nullptr;
  void* saved;
};

void run_fn(Work* w, std::function<void()>& fn, Running& r) {
  r.w = w;
  r.after = nullptr;
  r.saved = detail::tls_task_local[detail::kTaskLocalWork];
  detail::tls_task_local[detail::kTaskLocalWork] = &r;
  fn();
  detail::tls_task_local[detail::kTaskLocalWork] = r.saved;
}

void run_after(Running& r) {
  if (r.after) r.after(r.arg);
  r.after = nullptr;
}

}  // namespace

bool Work::defer_after_run(void (*fn)(void*), void* arg) noexcept {
  auto* r = static_cast<Running*>(detail::tls_task_local[detail::kTaskLocalWork]);
  if (!r || r->w != this || r->after) return false;
  r->after = fn;
  r->arg = arg;
  return true;
}

WorkQueue::WorkQueue(Executor& ex, const char* name, bool ordered)
    : ex_(ex), name_(name), ordered_(ordered), wq_(name) {}

WorkQueue::~WorkQueue() {
  {
    std::lock_guard<SpinLock> l(lock_);
    dying_ = true;
  }
  wq_.wait_event([this] {
    std::lock_guard<SpinLock> l(lock_);
    return outstanding_.empty() && !draining_ && posted_ == 0;
  });
}

bool WorkQueue::queue(Work& w) {
  UDRM_POINT("work.queue");
  bool post = false;
  {
    std::lock_guard<SpinLock> l(lock_);
    if (dying_) {
      warn(LogCat::core, "queue_work '%s' on workqueue '%s' being destroyed", w.name(), name_);
      return false;
    }
    if (w.pending_) return false;
    if (w.wq_ && w.wq_ != this) {
      warn(LogCat::core, "work '%s' is busy on workqueue '%s'", w.name(), w.wq_->name_);
      return false;
    }
    w.wq_ = this;
    w.pending_ = true;
    w.seq_ = ++seq_;
    outstanding_.insert(w.seq_);
    if (ordered_) {
      queue_.push_back(w);
      if (!draining_) draining_ = post = true;
    } else if (!w.running_ && !w.posted_) {
      post = w.posted_ = true;  // a running item re-runs itself when it finishes
      ++posted_;
    }
  }
  if (post) {
    if (ordered_) {
      ex_.post([this] { drain_ordered(); }, name_);
    } else {
      ex_.post([this, &w] { run_one(&w); }, w.name());
    }
  }
  return true;
}

// Every final state change happens inside wq_.wake_up_all(update): a flusher or the
// destructor may free the Work or the queue the moment it sees that state.
void WorkQueue::run_one(Work* w) {
  bool run;
  uint64_t seq = 0;
  wq_.wake_up_all([&] {
    std::lock_guard<SpinLock> l(lock_);
    w->posted_ = false;
    --posted_;
    run = w->pending_;
    if (run) {
      w->pending_ = false;
      w->running_ = true;
      seq = w->seq_;
    } else if (!w->running_) {
      w->wq_ = nullptr;  // cancelled before it started
    }
  });
  Running r{};
  while (run) {
    UDRM_POINT("work.run");
    run_fn(w, w->fn_, r);
    wq_.wake_up_all([&] {
      std::lock_guard<SpinLock> l(lock_);
      w->running_ = false;
      outstanding_.erase(outstanding_.find(seq));
      run = w->pending_;  // queued again while it ran: run it again, here
      if (run && r.after) drop_requeued_locked(*w);
      run = run && !r.after;
      if (run) {
        w->pending_ = false;
        w->running_ = true;
        seq = w->seq_;
      } else {
        w->wq_ = nullptr;
      }
    });
  }
  run_after(r);
}

void WorkQueue::drain_ordered() {
  Work* w = nullptr;
  uint64_t seq = 0;
  auto next = [&] {
    std::lock_guard<SpinLock> l(lock_);
    if (queue_.empty()) {
      draining_ = false;
      w = nullptr;
      return;
    }
    w = &queue_.front();
    queue_.pop_front();
    w->pending_ = false;
    w->running_ = true;
    seq = w->seq_;
  };
  wq_.wake_up_all(next);
  Running r{};
  while (w) {
    UDRM_POINT("work.run");
    run_fn(w, w->fn_, r);
    wq_.wake_up_all([&] {
      {
        std::lock_guard<SpinLock> l(lock_);
        w->running_ = false;
        outstanding_.erase(outstanding_.find(seq));
        if (w->pending_ && r.after) drop_requeued_locked(*w);
        if (!w->pending_) w->wq_ = nullptr;
      }
      next();
    });
    run_after(r);
  }
}

// The item is freed after this run (Work::defer_after_run) but was queued again meanwhile:
// a use-after-free in the making. Drop the queueing, loudly.
void WorkQueue::drop_requeued_locked(Work& w) {
  warn(LogCat::core, "work '%s' queued again while it frees itself: dropped", w.name());
  w.pending_ = false;
  outstanding_.erase(outstanding_.find(w.seq_));
  if (ordered_ && w.is_linked()) queue_.erase(queue_.iterator_to(w));
}

bool WorkQueue::busy(const Work& w) const {
  std::lock_guard<SpinLock> l(lock_);
  return w.wq_ == this && (w.pending_ || w.running_ || w.posted_);
}

bool WorkQueue::flush_work(Work& w) {
  bool waited = false;
  wq_.wait_event([&] {
    std::lock_guard<SpinLock> l(lock_);
    bool busy = w.wq_ == this && (w.pending_ || w.running_ || w.posted_);
    waited |= busy;
    return !busy;
  });
  return waited;
}

bool WorkQueue::cancel_sync(Work& w) {
  bool was_pending = false;
  {
    std::lock_guard<SpinLock> l(lock_);
    if (w.wq_ == this && w.pending_) {
      was_pending = true;
      w.pending_ = false;
      outstanding_.erase(outstanding_.find(w.seq_));
      if (ordered_ && w.is_linked()) queue_.erase(queue_.iterator_to(w));
      if (!w.running_ && !w.posted_) w.wq_ = nullptr;
    }
  }
  wq_.wake_up_all();
  flush_work(w);
  return was_pending;
}

void WorkQueue::flush() {
  uint64_t target;
  {
    std::lock_guard<SpinLock> l(lock_);
    target = seq_;
  }
  wq_.wait_event([&] {
    std::lock_guard<SpinLock> l(lock_);
    return outstanding_.empty() || *outstanding_.begin() > target;
  });
}

}  // namespace udrm
