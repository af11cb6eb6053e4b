// udrm/base/grace.h — GraceDomain: a small SRCU (srcu_read_lock / synchronize_srcu).
//
// Two counter sets, thread-sharded; a reader increments a counter of the current set (seq_cst)
// and then reads the shared pointer it protects (seq_cst); synchronize() flips the set new
// readers use and waits until both sets have drained. Store-buffering argument: a reader that
// read the old pointer incremented before the writer's "empty" store, so the writer's later
// counter reads see it. On SimExecutor the wait is a scheduling point ("grace.wait") that
// yields, so readers run to the end of their sections; on real threads it spins, yields, then
// naps (a leaf wait, like the Gate's).
//
// Users: CallbackSlot (callback_slot.h) and the Lookup table (lookup.h).
//
// Lifetime: must outlive its readers. Context: read(): any context, never sleeps.
// synchronize(): process context, sleeps; never from inside a section of the same domain.
#pragma once
#include <atomic>

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

}  // namespace udrm
