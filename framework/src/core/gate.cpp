// Per-device enter/exit/unplug gate (udrm/core/gate.h).
#include "udrm/core/gate.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <vector>

#include "udrm/base/point.h"
#include "udrm/base/sim_hooks.h"

namespace udrm {
namespace detail {

thread_local uint32_t tls_gate_tid __attribute__((tls_model("initial-exec"))) = 0;
bool g_gate_slow = false;

namespace {

std::mutex g_tid_mu;
std::vector<uint32_t>* g_free_tids = new std::vector<uint32_t>;  // immortal: used from TLS dtors
uint32_t g_next_tid = 1;

struct TidReleaser {
  ~TidReleaser() {
    if (tls_gate_tid == 0) return;
    std::lock_guard<std::mutex> l(g_tid_mu);
    g_free_tids->push_back(tls_gate_tid);
    tls_gate_tid = 0;
  }
};
thread_local TidReleaser tls_tid_releaser;

bool g_have_membarrier = false;

// Decide once, before the first gate exists, whether readers may rely on membarrier.
void init_barrier_mode() {
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(UDRM_TSAN)
    // ThreadSanitizer cannot see membarrier's ordering; use fences it models.
    g_have_membarrier = false;
#else
    long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    g_have_membarrier = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
                        syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
    g_gate_slow = !g_have_membarrier;
  });
}

// The writer half of the asymmetric barrier: after this, every reader store that preceded
// the flag store is visible, and every later reader load sees the flag.
void heavy_barrier() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (g_have_membarrier && tls_sim == nullptr)
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace

uint32_t gate_assign_tid() {
  if (tls_gate_tid) return tls_gate_tid;
  (void)&tls_tid_releaser;  // instantiate the releaser for this thread
  std::lock_guard<std::mutex> l(g_tid_mu);
  if (!g_free_tids->empty()) {
    tls_gate_tid = g_free_tids->back();
    g_free_tids->pop_back();
  } else {
    tls_gate_tid = g_next_tid++;
  }
  return tls_gate_tid;
}

}  // namespace detail

Gate::Gate(const char* name) : wq_(name) { detail::init_barrier_mode(); }

Gate::~Gate() {
  UDRM_WARN_ON(readers() != 0, LogCat::core);
  for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
}

EnterGuard Gate::enter_slow(std::atomic<long>* s) noexcept {
  UDRM_POINT("gate.enter");
  if (s == nullptr) {
    uint32_t tid = detail::gate_assign_tid() - 1;
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
  if (unplugged_.load(std::memory_order_seq_cst)) {
    exit(s);
    return EnterGuard();
  }
  return EnterGuard(this, s);
}

void Gate::exit_slow() noexcept {
  // unplug() raised waiters_ before it stored the flag we just saw.
  if (unplugged_.load(std::memory_order_acquire) && waiters_.load(std::memory_order_acquire) != 0)
    wq_.wake_up_all();
}

long Gate::readers() const noexcept {
  long n = overflow_.count.load(std::memory_order_acquire);
  for (const auto& chunk : chunks_) {
    const Slot* c = chunk.load(std::memory_order_acquire);
    if (!c) continue;
    for (uint32_t i = 0; i < kSlotsPerChunk; ++i) n += c[i].count.load(std::memory_order_acquire);
  }
  return n;
}

void Gate::unplug() {
  UDRM_POINT("gate.unplug");
  // Announce a possible sleeper before closing the gate: a reader that sees the flag then
  // also sees waiters_ and wakes us (see exit_slow).
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  unplugged_.store(true, std::memory_order_seq_cst);
  detail::heavy_barrier();
  wait_readers();
  waiters_.fetch_sub(1, std::memory_order_seq_cst);
}

void Gate::wait_readers() {
  if (readers() == 0) return;
  // Spin briefly (readers are short), then sleep until the last reader's exit wakes us.
  if (detail::tls_sim == nullptr) {
    for (int i = 0; i < 2000; ++i) {
      if (readers() == 0) return;
      __builtin_ia32_pause();
    }
  }
  wq_.wait_event([this] { return readers() == 0; });
}

}  // namespace udrm
