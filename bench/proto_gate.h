// proto_gate.h — measurement-only prototype of a cheaper udrm::Gate fast path (bench only).
//
// Same protocol as framework/include/udrm/core/gate.h (per-thread padded counters, writer-side
// membarrier, chunked slots, overflow counter, sleep-until-drained unplug), with three changes
// to the generated code of enter()/exit(), each one measured in bench_gate / gate_icount:
//
//  1. The thread index is `constinit` thread_local: without it g++ calls through the C++
//     thread_local wrapper (load of the weak TLS-init symbol from the GOT, test, branch on every
//     enter()); with it the access is a single %fs-relative load.
//  2. Slow mode (no membarrier) is encoded in the thread index (bit 31), so enter() makes no
//     separate load of the global slow flag: the bounds check that already exists rejects it.
//  3. The guard carries its exit mode as bit 0 of the slot pointer (overflow slot or slow mode),
//     so exit() neither re-reads the global flag nor compares against &overflow_.
//
// Not a drop-in: no scheduling points or simulated-executor support (tls_sim), which the real
// gate needs; the point is the fast path's code.
#pragma once
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace udrm_proto {

class Gate;

namespace detail {
constexpr uint32_t kSlowBit = 0x80000000u;
// 1-based dense thread index; bit 31 set in slow mode (forces enter() onto the slow path).
inline thread_local constinit uint32_t tls_tid __attribute__((tls_model("initial-exec"))) = 0;
inline constinit bool g_slow = false;
inline constinit bool g_have_membarrier = false;

inline void init_barrier_mode() {
  static std::once_flag once;
  std::call_once(once, [] {
    long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    g_have_membarrier =
        cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
        syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    g_slow = !g_have_membarrier;
  });
}

struct TidState {
  std::mutex mu;
  std::vector<uint32_t> free;
  uint32_t next = 1;
};
inline TidState& tid_state() {
  static TidState* s = new TidState;  // immortal: used from TLS destructors
  return *s;
}
struct TidReleaser {
  ~TidReleaser() {
    if (tls_tid == 0) return;
    std::lock_guard<std::mutex> l(tid_state().mu);
    tid_state().free.push_back(tls_tid & ~kSlowBit);
    tls_tid = 0;
  }
};
inline thread_local TidReleaser tls_tid_releaser;

/// Returns the 1-based index (without the slow bit).
inline uint32_t assign_tid() {
  if (tls_tid) return tls_tid & ~kSlowBit;
  (void)&tls_tid_releaser;
  TidState& s = tid_state();
  std::lock_guard<std::mutex> l(s.mu);
  uint32_t t;
  if (!s.free.empty()) {
    t = s.free.back();
    s.free.pop_back();
  } else {
    t = s.next++;
  }
  tls_tid = t | (g_slow ? kSlowBit : 0);
  return t;
}

inline void heavy_barrier() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (g_have_membarrier) syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
}  // namespace detail

class [[nodiscard]] EnterGuard {
 public:
  EnterGuard() noexcept = default;
  EnterGuard(const EnterGuard&) = delete;
  EnterGuard& operator=(const EnterGuard&) = delete;
  inline ~EnterGuard();
  explicit operator bool() const noexcept { return slot_ != 0; }
  Gate* gate() const noexcept { return gate_; }

 private:
  friend class Gate;
  EnterGuard(Gate* g, uintptr_t s) noexcept : gate_(g), slot_(s) {}
  Gate* gate_ = nullptr;
  uintptr_t slot_ = 0;  // std::atomic<long>*, bit 0: exit with a full barrier (slow mode/overflow)
};

class Gate {
 public:
  explicit Gate(const char* = "gate") { detail::init_barrier_mode(); }
  ~Gate() {
    for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
  }
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  EnterGuard enter() noexcept {
    const uint32_t tid = detail::tls_tid - 1;  // 0 (unassigned) and slow-mode ids fail the check
    Slot* c;
    if (__builtin_expect(tid >= kSlotsPerChunk * kChunks, 0) ||
        __builtin_expect((c = chunks_[tid / kSlotsPerChunk].load(std::memory_order_acquire)) ==
                             nullptr,
                         0))
      return EnterGuard(this, enter_slow());
    std::atomic<long>* s = &c[tid % kSlotsPerChunk].count;
    s->store(s->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // unplug() supplies the hardware barrier
    if (__builtin_expect(unplugged_.load(std::memory_order_relaxed), 0)) {
      exit_fast(s);
      return EnterGuard();
    }
    return EnterGuard(this, reinterpret_cast<uintptr_t>(s));
  }

  void unplug() {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    unplugged_.store(true, std::memory_order_seq_cst);
    detail::heavy_barrier();
    if (readers() != 0) {
      for (int i = 0; i < 2000; ++i) {
        if (readers() == 0) break;
        __builtin_ia32_pause();
      }
      std::unique_lock<std::mutex> l(m_);
      cv_.wait(l, [this] { return readers() == 0; });
    }
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
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
  friend class EnterGuard;
  static constexpr uint32_t kSlotsPerChunk = 16;
  static constexpr uint32_t kChunks = 8;
  struct alignas(64) Slot {
    std::atomic<long> count{0};
  };

  void exit_fast(std::atomic<long>* s) noexcept {
    s->store(s->load(std::memory_order_relaxed) - 1, std::memory_order_release);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (__builtin_expect(unplugged_.load(std::memory_order_relaxed), 0)) exit_slow();
  }
  void exit(uintptr_t s) noexcept {
    if (__builtin_expect(s & 1, 0)) return exit_tagged(s);
    exit_fast(reinterpret_cast<std::atomic<long>*>(s));
  }
  __attribute__((noinline)) void exit_tagged(uintptr_t s) noexcept {
    auto* p = reinterpret_cast<std::atomic<long>*>(s & ~uintptr_t{1});
    if (p == &overflow_.count) {
      p->fetch_sub(1, std::memory_order_seq_cst);
    } else {
      p->store(p->load(std::memory_order_relaxed) - 1, std::memory_order_release);
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    if (unplugged_.load(std::memory_order_relaxed)) exit_slow();
  }
  // Returns the tagged slot, or 0 if unplugged. Returning a scalar (not an EnterGuard, which
  // is returned through memory) lets the inlined enter() keep the guard in registers.
  __attribute__((noinline)) uintptr_t enter_slow() noexcept {
    const uint32_t tid = detail::assign_tid() - 1;
    std::atomic<long>* s;
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
    const bool tagged = detail::g_slow || s == &overflow_.count;
    if (s == &overflow_.count) {
      s->fetch_add(1, std::memory_order_seq_cst);
    } else {
      s->store(s->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (detail::g_slow) {
        std::atomic_thread_fence(std::memory_order_seq_cst);
      } else {
        std::atomic_signal_fence(std::memory_order_seq_cst);
      }
    }
    const uintptr_t tag = reinterpret_cast<uintptr_t>(s) | (tagged ? 1 : 0);
    if (unplugged_.load(std::memory_order_seq_cst)) {
      exit(tag);
      return 0;
    }
    return tag;
  }
  __attribute__((noinline)) void exit_slow() noexcept {
    if (unplugged_.load(std::memory_order_acquire) && waiters_.load(std::memory_order_acquire)) {
      { std::lock_guard<std::mutex> l(m_); }
      cv_.notify_all();
    }
  }

  std::atomic<bool> unplugged_{false};
  std::atomic<Slot*> chunks_[kChunks] = {};
  Slot overflow_;
  std::atomic<int> waiters_{0};
  std::mutex m_;
  std::condition_variable cv_;
};

inline EnterGuard::~EnterGuard() {
  if (slot_) gate_->exit(slot_);
}

}  // namespace udrm_proto
