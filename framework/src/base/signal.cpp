// The udrm model of signal delivery (udrm/base/signal.h).
#include "udrm/base/signal.h"

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "udrm/base/sim_hooks.h"
#include "udrm/base/spinlock.h"

namespace udrm {
namespace {

struct Entry {
  std::atomic<bool> pending{false};
  WaitQueue* sleeping = nullptr;  // the queue of an interruptible sleep in progress
};

// Entries are never erased: node addresses stay valid for sleepers that cache them.
struct Table {
  SpinLock lock;
  std::unordered_map<SignalTarget, Entry> map;
};

Table& table() {
  static Table* t = new Table;  // never destroyed: signals may arrive during static teardown
  return *t;
}

Entry& entry_locked(Table& t, SignalTarget who) { return t.map[who]; }

}  // namespace

SignalTarget current_signal_target() noexcept { return detail::current_execution_id(); }

void signal_task(SignalTarget who) {
  Table& t = table();
  std::lock_guard<SpinLock> l(t.lock);
  Entry& e = entry_locked(t, who);
  e.pending.store(true, std::memory_order_release);
  // Woken under the table lock: the sleeper unregisters under it, so the queue is alive here.
  // Sleepers read their flag without this lock, so there is no lock-order inversion.
  if (e.sleeping) e.sleeping->wake_up_all();
}

void signal_current_after(Executor& ex, Duration d) {
  SignalTarget who = current_signal_target();
  ex.post_at(ex.now() + d, [who] { signal_task(who); }, "signal");
}

bool signal_pending() noexcept {
  Table& t = table();
  std::lock_guard<SpinLock> l(t.lock);
  auto it = t.map.find(current_signal_target());
  return it != t.map.end() && it->second.pending.load(std::memory_order_acquire);
}

bool signal_clear() noexcept {
  Table& t = table();
  std::lock_guard<SpinLock> l(t.lock);
  auto it = t.map.find(current_signal_target());
  return it != t.map.end() && it->second.pending.exchange(false, std::memory_order_acq_rel);
}

namespace detail {

const std::atomic<bool>* signal_sleep_begin(WaitQueue* wq) noexcept {
  Table& t = table();
  std::lock_guard<SpinLock> l(t.lock);
  Entry& e = entry_locked(t, current_signal_target());
  e.sleeping = wq;
  return &e.pending;
}

void signal_sleep_end() noexcept {
  Table& t = table();
  std::lock_guard<SpinLock> l(t.lock);
  auto it = t.map.find(current_signal_target());
  if (it != t.map.end()) it->second.sleeping = nullptr;
}

}  // namespace detail

int wait_for_completion_interruptible(Completion& c) {
  return wait_event_interruptible(c.wait_queue(), [&] { return c.try_wait(); });
}

int wait_for_completion_interruptible_timeout(Completion& c, Duration timeout) {
  return wait_event_interruptible_timeout(c.wait_queue(), [&] { return c.try_wait(); }, timeout);
}

}  // namespace udrm
