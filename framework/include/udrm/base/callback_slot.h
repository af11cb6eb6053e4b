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
// The grace period is a small SRCU (GraceDomain): two counter sets; a reader increments a
// counter of the current set (seq_cst) and then reads the slot (seq_cst); synchronize() flips
// the set new readers use and waits until both sets have drained. Store-buffering argument: a
// reader that read the old pointer incremented before the writer's "empty" store, so the
// writer's later counter reads see it. On SimExecutor the wait is a scheduling point
// ("grace.wait") that yields, so readers run to the end of their sections.
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

#include "udrm/base/point.h"

namespace udrm {

class GraceDomain {
 public:
  /// One read-side section; leaves on destruction. Not copyable or movable.
  class [[nodiscard]] Reader {
   public:
    explicit Reader(std::atomic<long>* c) noexcept : c_(c) {}
    ~Reader() { c_->fetch_sub(1, std::memory_order_release); }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

   private:
    std::atomic<long>* c_;
  };

  GraceDomain() = default;
  GraceDomain(const GraceDomain&) = delete;
  GraceDomain& operator=(const GraceDomain&) = delete;

  /// srcu_read_lock. Loads of shared pointers inside the section must be seq_cst.
  Reader read() noexcept {
    unsigned set = epoch_.load(std::memory_order_relaxed) & 1u;
    std::atomic<long>* c = &sets_[set][shard()].n;
    c->fetch_add(1, std::memory_order_seq_cst);
    return Reader(c);
  }
  /// synchronize_srcu: every section that began before this call has ended when it returns.
  void synchronize();
  /// Sections open right now (racy snapshot, for tests).
  long readers() const noexcept;

 private:
  static constexpr unsigned kShards = 4;
  struct alignas(64) Counter {
    std::atomic<long> n{0};
  };
  static unsigned shard() noexcept;
  void drain(unsigned set);

  std::atomic<unsigned> epoch_{0};
  Counter sets_[2][kShards];
};

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
