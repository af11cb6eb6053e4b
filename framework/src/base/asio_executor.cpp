// Production executor on Boost.Asio (udrm/base/asio_executor.h).
#include "udrm/base/asio_executor.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <mutex>

#include "udrm/base/context.h"

namespace udrm {

struct AsioExecutor::Impl {
  explicit Impl(unsigned n) : pool(n ? n : 1) {}
  boost::asio::thread_pool pool;
  std::mutex mu;
  std::map<TimerId, std::shared_ptr<boost::asio::steady_timer>> timers;
  TimerId next = 1;
  bool stopped = false;
};

AsioExecutor::AsioExecutor(unsigned threads) : impl_(std::make_unique<Impl>(threads)) {}

AsioExecutor::~AsioExecutor() { shutdown(); }

void AsioExecutor::shutdown() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& [id, t] : impl_->timers) t->cancel();
  }
  impl_->pool.join();
}

void AsioExecutor::post(Task t, const char* /*name*/) {
  boost::asio::post(impl_->pool, [t = std::move(t)]() mutable { t(); });
}

TimerId AsioExecutor::post_at(TimePoint when, Task t, const char* /*name*/) {
  auto timer = std::make_shared<boost::asio::steady_timer>(impl_->pool, when);
  // Register the wait under the lock: cancel()/shutdown() must never find a timer whose wait
  // is not armed yet (its cancel would be a no-op and the timer would run to expiry).
  std::lock_guard<std::mutex> l(impl_->mu);
  TimerId id = impl_->next++;
  if (impl_->stopped) return id;
  impl_->timers.emplace(id, timer);
  timer->async_wait([this, id, timer, t = std::move(t)](const boost::system::error_code& ec) mutable {
    bool run;
    {
      std::lock_guard<std::mutex> lk(impl_->mu);
      run = impl_->timers.erase(id) == 1 && !ec;
    }
    if (run) {
      AtomicSection irq;
      t();
    }
  });
  return id;
}

bool AsioExecutor::cancel(TimerId id) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->timers.find(id);
  if (it == impl_->timers.end()) return false;
  it->second->cancel();
  impl_->timers.erase(it);
  return true;
}

TimePoint AsioExecutor::now() const { return Clock::now(); }

}  // namespace udrm
