// Per-device enter/exit/unplug gate (udrm/core/gate.h).
#include "udrm/core/gate.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "udrm/base/context.h"
#include "udrm/base/point.h"
#include "udrm/base/sim_hooks.h"

namespace udrm {
namespace detail {

constinit thread_local uint32_t tls_gate_tid __attribute__((tls_model("initial-exec"))) = 0;

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
    if (!g_have_membarrier) g_slow.fetch_or(kSlowFence);
  });
}

// The writer half of the asymmetric barrier: after this, every reader store that preceded
// the flag store is visible, and every later reader load sees the flag.
void heavy_barrier() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (g_have_membarrier && tls_sim == nullptr) syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Simulated worlds only: which task holds which gate's sections (one OS thread, many tasks
// sharing its counter), so unplug can tell a task's own sections from the others'. Entries of
// tasks abandoned inside a section stay, harmlessly: abandoned tasks are never freed (their
// stacks are kept, see sim_executor.cpp), so their address never matches a running task.
thread_local std::vector<std::pair<const void*, const Gate*>> tls_sim_sections;

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

uintptr_t Gate::enter_slow(std::atomic<long>* s) noexcept {
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
  const uintptr_t tagged = reinterpret_cast<uintptr_t>(s) | 1u;
  if (unplugged_.load(std::memory_order_seq_cst)) {
    exit_slow(tagged);
    return enter_teardown();
  }
  if (detail::tls_sim) detail::tls_sim_sections.emplace_back(detail::current_execution_id(), this);
  return tagged;
}

void Gate::exit_slow(uintptr_t tagged) noexcept {
  if (tagged == kTeardownSlot) return;
  auto* s = reinterpret_cast<std::atomic<long>*>(tagged & ~uintptr_t{1});
  if (s == &overflow_.count) {
    s->fetch_sub(1, std::memory_order_seq_cst);
  } else {
    s->store(s->load(std::memory_order_relaxed) - 1, std::memory_order_release);
  }
  if (detail::tls_sim) {
    // One task at a time and no scheduling point in between: the unplugger cannot run (and
    // destroy the gate) before this wake-up is done.
    auto& v = detail::tls_sim_sections;
    auto it = std::find(v.rbegin(), v.rend(), std::pair<const void*, const Gate*>(detail::current_execution_id(), this));
    if (it != v.rend()) v.erase(std::next(it).base());
    if (unplugged_.load(std::memory_order_relaxed)) wq_.wake_up_all();
  }
}

uintptr_t Gate::enter_teardown() const noexcept { return in_teardown() ? kTeardownSlot : 0; }

bool Gate::in_teardown() const noexcept { return detail::tls_task_local[detail::kTaskLocalTeardown] == this; }

Gate::TeardownScope::TeardownScope(Gate& g) noexcept : prev_(detail::tls_task_local[detail::kTaskLocalTeardown]) {
  detail::tls_task_local[detail::kTaskLocalTeardown] = &g;
}

Gate::TeardownScope::~TeardownScope() { detail::tls_task_local[detail::kTaskLocalTeardown] = prev_; }

long Gate::readers() const noexcept {
  long n = overflow_.count.load(std::memory_order_acquire);
  for (const auto& chunk : chunks_) {
    const Slot* c = chunk.load(std::memory_order_acquire);
    if (!c) continue;
    for (uint32_t i = 0; i < kSlotsPerChunk; ++i) n += c[i].count.load(std::memory_order_acquire);
  }
  return n;
}

long Gate::own_sections() const noexcept {
  if (detail::tls_sim) {
    const void* me = detail::current_execution_id();
    return std::count(detail::tls_sim_sections.begin(), detail::tls_sim_sections.end(), std::pair<const void*, const Gate*>(me, this));
  }
  // A section never migrates between threads, so this thread's counter is its own sections.
  uint32_t tid = detail::tls_gate_tid - 1;
  if (tid >= kSlotsPerChunk * kChunks) return 0;  // overflow threads: not attributable
  const Slot* c = chunks_[tid / kSlotsPerChunk].load(std::memory_order_acquire);
  return c ? c[tid % kSlotsPerChunk].count.load(std::memory_order_relaxed) : 0;
}

void Gate::unplug() {
  UDRM_POINT("gate.unplug");
  unplugged_.store(true, std::memory_order_seq_cst);
  detail::heavy_barrier();
  long own = own_sections();
  if (own > 0) {
    warn(LogCat::core, "gate '%s': unplug called from inside %ld of its own enter section(s); "
         "waiting only for the other readers (in the kernel this deadlocks)", name(), own);
  }
  wait_readers(own);
}

void Gate::wait_readers(long own) {
  if (readers() <= own) return;
  if (detail::tls_sim) {
    wq_.wait_event([&] { return readers() <= own; });
    return;
  }
  // Readers never wake us (their exit must be their last touch of the gate): spin briefly,
  // since sections are short, then yield, then sleep with a growing interval.
  for (int i = 0; i < 4000; ++i) {
    if (readers() <= own) return;
    __builtin_ia32_pause();
  }
  for (int i = 0; i < 64; ++i) {
    if (readers() <= own) return;
    std::this_thread::yield();
  }
  Duration backoff = std::chrono::microseconds(5);
  while (readers() > own) {
    sleep_for(backoff);
    backoff = std::min<Duration>(backoff * 2, std::chrono::milliseconds(1));
  }
}

}  // namespace udrm
