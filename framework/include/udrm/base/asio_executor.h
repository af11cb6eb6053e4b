// udrm/base/asio_executor.h — the production executor on Boost.Asio.
//
// Work items run on a boost::asio::thread_pool (process context, may sleep: size the pool for
// the number of work items that may block at once, as the kernel sizes kworkers). Timers are
// boost::asio::steady_timer on one dedicated interrupt thread; their callbacks run in atomic
// context there, so an interrupt fires even while every worker sleeps.
//
// Lifetime: the destructor cancels pending timers, joins the pool after running every queued
// work item, then joins the interrupt thread.
// Context: post/post_at/cancel: any thread, never sleep.
#pragma once
#include <memory>

#include "udrm/base/executor.h"

namespace udrm {

class AsioExecutor final : public Executor {
 public:
  explicit AsioExecutor(unsigned threads = 4);
  ~AsioExecutor() override;
  AsioExecutor(const AsioExecutor&) = delete;
  AsioExecutor& operator=(const AsioExecutor&) = delete;

  void post(Task t, const char* name) override;
  TimerId post_at(TimePoint when, Task t, const char* name) override;
  bool cancel(TimerId id) override;
  TimePoint now() const override;

  /// Cancel timers, finish queued work and join the threads. Idempotent.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace udrm
