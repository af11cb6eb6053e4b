// udrm/base/callback_slot.h — a callback table that may be unregistered while it is being called.
//
// CallbackSlot<Table> holds a `const Table*` that interrupt/executor context calls through and
// process context may clear at any time (the kernel uses static calls or an RCU-protected ops
// pointer for this). call() enters a read-side section, reads the slot exactly once (the
// pointer it null-checks is the pointer it calls through) and leaves. unregister() publishes
// "empty" and then waits a grace period: when it returns, no caller still runs the old table,
// so the table (and the code it points to, e.g. a plugin) may go.
//
//   slot.call([&](const Ops& ops) { ops.irq(line); });   // false: nothing registered
//
// Cost: with nothing registered call() is one relaxed load and a branch. With a table, a
// section is two locked RMWs on a thread-sharded counter (no membarrier trick as in the Gate).
//
// The grace period is a GraceDomain (grace.h), a small SRCU.
//
// Lifetime: a slot/domain must outlive its callers; a published table must stay valid until
// the unregister()/synchronize() that retires it has returned.
// Context: call()/read(): any context, never sleeps (the callback decides what it may do).
// publish(): any context. unregister()/synchronize(): process context, sleeps; never from
// inside a section of the same domain (self-deadlock, as synchronize_srcu).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>

#include "udrm/base/grace.h"
#include "udrm/base/point.h"

namespace udrm {

template <class Table>
class CallbackSlot {
 public:
  CallbackSlot() = default;
  CallbackSlot(const CallbackSlot&) = delete;
  CallbackSlot& operator=(const CallbackSlot&) = delete;

  /// Call fn(const Table&) with the registered table; false (fn not called) if empty.
  template <class Fn>
  bool call(Fn&& fn) {
    if (table_.load(std::memory_order_relaxed) == nullptr) return false;  // the empty path
    return call_registered(fn);
  }
  /// Set the table (nullptr = empty); returns the previous one, which callers may still be
  /// running until the next synchronize().
  const Table* publish(const Table* t) noexcept { return table_.exchange(t, std::memory_order_seq_cst); }
  /// Publish t only if the slot is empty; false if another table is registered.
  bool publish_if_empty(const Table* t) noexcept {
    const Table* expected = nullptr;
    return table_.compare_exchange_strong(expected, t, std::memory_order_seq_cst);
  }
  /// Empty the slot and wait until no caller runs the old table. Returns the old table.
  const Table* unregister() {
    const Table* old = publish(nullptr);
    domain_.synchronize();
    return old;
  }
  /// Wait for callers that may still run a table replaced by publish().
  void synchronize() { domain_.synchronize(); }
  const Table* get() const noexcept { return table_.load(std::memory_order_acquire); }
  long callers() const noexcept { return domain_.readers(); }

 private:
  template <class Fn>
  bool call_registered(Fn& fn) {
    GraceDomain::Reader r = domain_.read();
    UDRM_POINT("slot.enter");
    const Table* t = table_.load(std::memory_order_seq_cst);  // the one read
    if (t == nullptr) return false;
    std::invoke(fn, *t);
    return true;
  }

  std::atomic<const Table*> table_{nullptr};
  GraceDomain domain_;
};

}  // namespace udrm
