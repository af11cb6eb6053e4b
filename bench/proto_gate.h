// proto_gate.h — measurement-only prototype of a cheaper udrm::Gate fast path (bench only).
//
// Same protocol and the same globals as framework/include/udrm/core/gate.h (per-thread padded
// counters picked by detail::tls_gate_tid, writer-side membarrier, one load of detail::g_slow
// on enter, chunked slots + shared overflow counter, exit = one release store, unplug polls
// with backoff), with two changes to the generated code of the inlined enter()/exit():
//
//  A. The out-of-line slow path returns the (tagged) slot pointer, a scalar in a register,
//     instead of an EnterGuard. A class with a non-trivial destructor is returned through
//     memory, and g++ 12 then keeps the fast path's guard in that stack slot too: two stores,
//     two reloads and a re-test of the slot pointer on every pair (in bench_gate the two
//     pointers are even packed through an xmm register first).
//  B. The guard carries its exit mode as bit 0 of the slot pointer, decided at enter (slow
//     mode, simulated executor or overflow slot => exit_slow), so exit() is "test bit; release
//     store" instead of re-loading g_slow and comparing the slot against &overflow_.
//
// udrm_proto::Gate has A+B, udrm_proto::GateGuardViaMemory has B only (isolates A).
// Not a drop-in: no scheduling points or simulated-executor bookkeeping (tls_sim), which the
// real gate needs on its slow paths; the point is the fast path's code.
#pragma once
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "udrm/base/point.h"
#include "udrm/core/gate.h"

namespace udrm_proto {

template <bool kScalarSlow>
class BasicGate;

namespace detail {
// Let udrm decide the barrier mode (sets kSlowFence in udrm::detail::g_slow and registers for
// membarrier), so the prototype and the real gate run in the same mode.
inline bool have_membarrier() {
  static const bool have = [] {
    udrm::Gate g("proto-init");
    return (udrm::detail::g_slow.load() & udrm::detail::kSlowFence) == 0;
  }();
  return have;
}

inline void heavy_barrier() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (have_membarrier()) syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
}  // namespace detail

template <class G>
class [[nodiscard]] BasicEnterGuard {
 public:
  BasicEnterGuard() noexcept = default;
  BasicEnterGuard(const BasicEnterGuard&) = delete;
  BasicEnterGuard& operator=(const BasicEnterGuard&) = delete;
  ~BasicEnterGuard() {
    if (slot_) gate_->exit(slot_);
  }
  explicit operator bool() const noexcept { return slot_ != 0; }
  G* gate() const noexcept { return gate_; }

 private:
  friend G;
  BasicEnterGuard(G* g, uintptr_t s) noexcept : gate_(g), slot_(s) {}
  G* gate_ = nullptr;
  uintptr_t slot_ = 0;  // std::atomic<long>*; bit 0: leave through exit_slow()
};

template <bool kScalarSlow>
class BasicGate {
 public:
  using EnterGuard = BasicEnterGuard<BasicGate>;
  explicit BasicGate(const char* = "gate") { (void)detail::have_membarrier(); }
  ~BasicGate() {
    for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
  }
  BasicGate(const BasicGate&) = delete;
  BasicGate& operator=(const BasicGate&) = delete;

  EnterGuard enter() noexcept {
    std::atomic<long>* s = slot();
    if (__builtin_expect(s == nullptr || udrm::detail::g_slow.load(std::memory_order_relaxed) != 0, 0)) {
      if constexpr (kScalarSlow) {
        return EnterGuard(this, enter_slow(s));
      } else {
        return enter_slow_guard(s);
      }
    }
    s->store(s->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // unplug() supplies the hardware barrier
    if (__builtin_expect(unplugged_.load(std::memory_order_relaxed), 0)) {
      s->store(s->load(std::memory_order_relaxed) - 1, std::memory_order_release);
      return EnterGuard();
    }
    return EnterGuard(this, reinterpret_cast<uintptr_t>(s));
  }

  void unplug() {
    unplugged_.store(true, std::memory_order_seq_cst);
    detail::heavy_barrier();
    for (int i = 0; i < 4000; ++i) {
      if (readers() == 0) return;
      __builtin_ia32_pause();
    }
    for (int i = 0; i < 64; ++i) {
      if (readers() == 0) return;
      std::this_thread::yield();
    }
    auto backoff = std::chrono::microseconds(5);
    while (readers() != 0) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::microseconds(1000));
    }
  }
  bool is_unplugged() const noexcept { return unplugged_.load(std::memory_order_acquire); }

  long readers() const noexcept {
    long n = overflow_.count.load(std::memory_order_acquire);
    for (const auto& chunk : chunks_) {
      const Slot* c = chunk.load(std::memory_order_acquire);
      if (!c) continue;
      for (uint32_t i = 0; i < kSlotsPerChunk; ++i) n += c[i].count.load(std::memory_order_acquire);
    }
    return n;
  }

 private:
  friend EnterGuard;
  static constexpr uint32_t kSlotsPerChunk = 16;
  static constexpr uint32_t kChunks = 8;
  struct alignas(64) Slot {
    std::atomic<long> count{0};
  };

  std::atomic<long>* slot() noexcept {
    uint32_t tid = udrm::detail::tls_gate_tid - 1;  // 0 (unassigned) wraps to UINT32_MAX
    if (__builtin_expect(tid >= kSlotsPerChunk * kChunks, 0)) return nullptr;
    Slot* c = chunks_[tid / kSlotsPerChunk].load(std::memory_order_acquire);
    if (__builtin_expect(c == nullptr, 0)) return nullptr;
    return &c[tid % kSlotsPerChunk].count;
  }
  void exit(uintptr_t s) noexcept {
    if (__builtin_expect(s & 1, 0)) return exit_slow(s);
    auto* p = reinterpret_cast<std::atomic<long>*>(s);
    p->store(p->load(std::memory_order_relaxed) - 1, std::memory_order_release);
  }
  __attribute__((noinline)) void exit_slow(uintptr_t s) noexcept {
    auto* p = reinterpret_cast<std::atomic<long>*>(s & ~uintptr_t{1});
    if (p == &overflow_.count) {
      p->fetch_sub(1, std::memory_order_seq_cst);
    } else {
      p->store(p->load(std::memory_order_relaxed) - 1, std::memory_order_release);
    }
    // (the real gate: simulated-executor bookkeeping and wake-up here)
  }
  // Returns the tagged slot, or 0 if unplugged. Every section entered here leaves through
  // exit_slow (bit 0), as the real gate's exit() would for these cases.
  __attribute__((noinline)) uintptr_t enter_slow(std::atomic<long>* s) noexcept {
    if (s == nullptr) {
      const uint32_t tid = udrm::detail::gate_assign_tid() - 1;
      if (tid < kSlotsPerChunk * kChunks) {
        auto& chunk = chunks_[tid / kSlotsPerChunk];
        Slot* c = chunk.load(std::memory_order_acquire);
        if (!c) {
          Slot* fresh = new Slot[kSlotsPerChunk];
          if (chunk.compare_exchange_strong(c, fresh, std::memory_order_acq_rel)) {
            c = fresh;
          } else {
            delete[] fresh;
          }
        }
        s = &c[tid % kSlotsPerChunk].count;
      } else {
        s = &overflow_.count;
      }
    }
    if (s == &overflow_.count) {
      s->fetch_add(1, std::memory_order_seq_cst);
    } else {
      s->store(s->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    const bool slow = udrm::detail::g_slow.load(std::memory_order_relaxed) != 0 || s == &overflow_.count;
    const uintptr_t tagged = reinterpret_cast<uintptr_t>(s) | (slow ? 1 : 0);
    if (unplugged_.load(std::memory_order_seq_cst)) {
      exit(tagged);
      return 0;
    }
    return tagged;
  }
  __attribute__((noinline)) EnterGuard enter_slow_guard(std::atomic<long>* s) noexcept {
    return EnterGuard(this, enter_slow(s));
  }

  std::atomic<bool> unplugged_{false};
  std::atomic<Slot*> chunks_[kChunks] = {};
  Slot overflow_;
};

using Gate = BasicGate<true>;                 // the proposal: A + B
using GateGuardViaMemory = BasicGate<false>;  // B only

}  // namespace udrm_proto
