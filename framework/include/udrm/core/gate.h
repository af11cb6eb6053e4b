// udrm/core/gate.h — drm_dev_enter / drm_dev_exit / drm_dev_unplug as a per-object gate.
//
// A Gate protects everything that may vanish at unplug (hardware behind devm, callbacks into a
// driver that is going away). Readers enter, use, exit; unplug() closes the gate for good and
// returns only when every reader that could have seen it open has exited. Sections may sleep
// and nest; they must be bounded because unplug waits for them.
//
//   if (auto g = gate.enter()) { ...touch hardware... }   // else: unplugged, skip (ENODEV)
//
// One gate per device, not one global domain: a slow reader of one device never delays the
// unplug of another.
//
// How (the drm_drv.c protocol): a reader announces itself in its own thread's counter, then
// tests the flag; unplug sets the flag, then waits until the counters drain. The store->load
// order on the reader side is made a full barrier by the writer: unplug() issues
// membarrier(PRIVATE_EXPEDITED), so the reader needs only a compiler barrier (1-2 ns per pair,
// no locked instruction, no shared cache line). Where membarrier is unavailable (and under
// ThreadSanitizer, which cannot see it), readers fence themselves instead. Counters are per
// thread (cache-line padded), so the cost stays flat with more threads. A reader's exit is its
// last touch of the gate (one release store): unplug polls with backoff instead of being woken,
// so the gate may be destroyed as soon as unplug() returns, as SRCU allows.
//
// Lifetime: a Gate must outlive its readers. EnterGuard cannot be copied or moved and must be
// destroyed on the thread that created it (a section never migrates between threads).
// Context: enter/exit: any context, never sleep, callable after unplug (they fail). unplug():
// process context, sleeps. Calling it from inside a section of the same gate is a bug (in the
// kernel, a deadlock): udrm WARNs and waits only for the other readers.
#pragma once
#include <atomic>
#include <cstdint>

#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/waitqueue.h"

namespace udrm {

class Gate;

namespace detail {
/// Dense per-thread index (1-based) used to pick a reader slot; 0 until first use.
extern constinit thread_local uint32_t tls_gate_tid __attribute__((tls_model("initial-exec")));
uint32_t gate_assign_tid();
}  // namespace detail

/// The read-side guard. Converts to true when the section was entered.
class [[nodiscard]] EnterGuard {
 public:
  EnterGuard() noexcept = default;
  EnterGuard(const EnterGuard&) = delete;
  EnterGuard& operator=(const EnterGuard&) = delete;
  inline ~EnterGuard();
  explicit operator bool() const noexcept { return slot_ != 0; }
  /// The gate this guard holds open (nullptr if entering failed).
  Gate* gate() const noexcept { return slot_ ? gate_ : nullptr; }

 private:
  friend class Gate;
  EnterGuard(Gate* g, uintptr_t s) noexcept : gate_(g), slot_(s) {}
  Gate* gate_ = nullptr;
  uintptr_t slot_ = 0;  // the reader's counter (std::atomic<long>*); bit 0: leave via exit_slow
};

class Gate {
 public:
  explicit Gate(const char* name = "gate");
  ~Gate();
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  /// drm_dev_enter: open a read section, or return an empty guard if unplugged.
  /// (The guard is built here, inline, from a plain pointer so it stays in registers; a section
  /// entered on a slow path carries bit 0 and leaves through exit_slow. The exit path is thus
  /// fixed at enter: a section must not straddle the start of a simulated executor.)
  EnterGuard enter() noexcept {
    std::atomic<long>* s = slot();
    if (__builtin_expect(s == nullptr || detail::g_slow.load(std::memory_order_relaxed) != 0, 0))
      return EnterGuard(this, enter_slow(s));
    s->store(s->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // unplug() supplies the hardware barrier
    if (__builtin_expect(unplugged_.load(std::memory_order_relaxed), 0)) {
      s->store(s->load(std::memory_order_relaxed) - 1, std::memory_order_release);
      return EnterGuard(this, enter_teardown());
    }
    return EnterGuard(this, reinterpret_cast<uintptr_t>(s));
  }

  /// drm_dev_unplug's first half: close the gate, wait for every reader. Idempotent; every
  /// caller returns only after the readers have drained.
  void unplug();
  /// The teardown section: while a task runs inside a TeardownScope for this gate (the
  /// driver's remove() after unplug, see drm_device.h), enter() succeeds for that task only,
  /// so disable paths guarded by enter() still reach the hardware, which devm has not released
  /// yet. This is how udrm closes the kernel's unplug-before-shutdown trap (kernel-semantics
  /// §3.1 rule 5). The guard does not count as a reader.
  class TeardownScope {
   public:
    explicit TeardownScope(Gate& g) noexcept;
    ~TeardownScope();
    TeardownScope(const TeardownScope&) = delete;
    TeardownScope& operator=(const TeardownScope&) = delete;

   private:
    void* prev_;
  };
  /// True if the calling task is inside a TeardownScope of this gate.
  bool in_teardown() const noexcept;

  /// Close the gate without waiting (caller guarantees there are no readers).
  void unplug_nosync() noexcept { unplugged_.store(true, std::memory_order_seq_cst); }

  /// drm_dev_is_unplugged.
  bool is_unplugged() const noexcept { return unplugged_.load(std::memory_order_acquire); }
  /// Readers inside right now (racy snapshot; exact once unplugged).
  long readers() const noexcept;
  const char* name() const noexcept { return wq_.name(); }

 private:
  friend class EnterGuard;
  static constexpr uint32_t kSlotsPerChunk = 16;
  static constexpr uint32_t kChunks = 8;  // threads beyond 128 share one atomic counter
  struct alignas(64) Slot {
    std::atomic<long> count{0};
  };

  std::atomic<long>* slot() noexcept {
    uint32_t tid = detail::tls_gate_tid - 1;  // 0 (unassigned) wraps to UINT32_MAX
    if (__builtin_expect(tid >= kSlotsPerChunk * kChunks, 0)) return nullptr;
    Slot* c = chunks_[tid / kSlotsPerChunk].load(std::memory_order_acquire);
    if (__builtin_expect(c == nullptr, 0)) return nullptr;
    return &c[tid % kSlotsPerChunk].count;
  }
  // The last touch of the gate by this reader.
  void exit(uintptr_t s) noexcept {
    if (__builtin_expect(s & 1, 0)) return exit_slow(s);
    auto* p = reinterpret_cast<std::atomic<long>*>(s);
    p->store(p->load(std::memory_order_relaxed) - 1, std::memory_order_release);
  }
  /// Returns the tagged slot (bit 0 set), or 0 if unplugged.
  uintptr_t enter_slow(std::atomic<long>* s) noexcept;
  /// After unplug: kTeardownSlot inside this gate's TeardownScope, else 0.
  uintptr_t enter_teardown() const noexcept;
  static constexpr uintptr_t kTeardownSlot = 3;  // odd: leaves through exit_slow, no counter
  void exit_slow(uintptr_t s) noexcept;
  void wait_readers(long own);
  long own_sections() const noexcept;

  std::atomic<bool> unplugged_{false};
  std::atomic<Slot*> chunks_[kChunks] = {};
  Slot overflow_;
  WaitQueue wq_;  // simulated executor only: unplug sleeps here, exits wake it
};

inline EnterGuard::~EnterGuard() {
  if (slot_) gate_->exit(slot_);
}

}  // namespace udrm
