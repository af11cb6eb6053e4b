// Production executor on Boost.Asio (udrm/base/asio_executor.h).
//
// Two halves, as a kernel has them: process-context work on a boost::asio::thread_pool, and
// timers (fake hardware interrupts, hrtimers) on one dedicated interrupt thread running its own
// io_context. Work items may sleep — commit_tail waits for flip_done, a bind polls a BUSY bit —
// and an interrupt must still fire while every worker sleeps, or the flip it waits for never
// completes (a pool-shared reactor starved them: docs/design.md, "Asio executor").
#include "udrm/base/asio_executor.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "udrm/base/context.h"

namespace udrm {

struct AsioExecutor::Impl {
  explicit Impl(unsigned n)
      : pool(n ? n : 1), irq_guard(boost::asio::make_work_guard(irq_ctx)),
        irq_thread([this] { irq_ctx.run(); }) {}
  boost::asio::thread_pool pool;
  boost::asio::io_context irq_ctx{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> irq_guard;
  std::thread irq_thread;
  std::mutex mu;
  std::map<TimerId, std::shared_ptr<boost::asio::steady_timer>> timers;
  TimerId next = 1;
  bool stopped = false;

  // A timer's end: run it in atomic context unless it was cancelled (its id is gone).
  void fire(TimerId id, Task t, const boost::system::error_code& ec) {
    bool run;
    {
      std::lock_guard<std::mutex> lk(mu);
      run = timers.erase(id) == 1 && !ec;
    }
    if (run) {
      AtomicSection irq;
      t();
    }
  }
};

AsioExecutor::AsioExecutor(unsigned threads) : impl_(std::make_unique<Impl>(threads)) {}

AsioExecutor::~AsioExecutor() { shutdown(); }

void AsioExecutor::shutdown() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& [id, t] : impl_->timers)
      if (t) t->cancel();
    impl_->timers.clear();  // due ones already posted find their id gone and do nothing
  }
  // Queued work may still arm timers; they are refused (stopped) and the cancelled waits
  // complete on the interrupt thread, which exits once nothing is left.
  impl_->pool.join();
  impl_->irq_guard.reset();
  if (impl_->irq_thread.joinable()) impl_->irq_thread.join();
}

void AsioExecutor::post(Task t, const char* /*name*/) {
  boost::asio::post(impl_->pool, [t = std::move(t)]() mutable { t(); });
}

TimerId AsioExecutor::post_at(TimePoint when, Task t, const char* /*name*/) {
  // A timer already due (an interrupt raised now: immediate vblank, a FLIP_DONE line) skips
  // the timer queue: posted straight to the interrupt thread, no timerfd reprogramming. From
  // the interrupt thread itself (a vblank raising FLIP_DONE) it needs no wake-up at all.
  if (when <= Clock::now()) {
    std::lock_guard<std::mutex> l(impl_->mu);
    TimerId id = impl_->next++;
    if (impl_->stopped) return id;
    impl_->timers.emplace(id, nullptr);
    boost::asio::post(impl_->irq_ctx, [impl = impl_.get(), id, t = std::move(t)]() mutable { impl->fire(id, std::move(t), {}); });
    return id;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(impl_->irq_ctx, when);
  // Register the wait under the lock: cancel()/shutdown() must never find a timer whose wait
  // is not armed yet (its cancel would be a no-op and the timer would run to expiry).
  std::lock_guard<std::mutex> l(impl_->mu);
  TimerId id = impl_->next++;
  if (impl_->stopped) return id;
  impl_->timers.emplace(id, timer);
  timer->async_wait([impl = impl_.get(), id, timer, t = std::move(t)](const boost::system::error_code& ec) mutable {
    impl->fire(id, std::move(t), ec);
  });
  return id;
}

bool AsioExecutor::cancel(TimerId id) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->timers.find(id);
  if (it == impl_->timers.end()) return false;
  if (it->second) it->second->cancel();  // a due one posted already finds its id gone
  impl_->timers.erase(it);
  return true;
}

TimePoint AsioExecutor::now() const { return Clock::now(); }

}  // namespace udrm
