// GraceDomain (udrm/base/grace.h): the shard choice and the grace-period wait.
#include "udrm/base/grace.h"

#include <chrono>
#include <thread>

#include "udrm/base/context.h"
#include "udrm/base/sim_executor.h"

namespace udrm {

unsigned GraceDomain::shard() noexcept {
  static std::atomic<unsigned> next{0};
  thread_local unsigned mine = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return mine;
}

long GraceDomain::readers() const noexcept {
  long n = 0;
  for (const auto& set : sets_)
    for (const Counter& c : set) n += c.n.load(std::memory_order_relaxed);
  return n;
}

void GraceDomain::drain(unsigned set) {
  for (unsigned s = 0; s < kShards; ++s) {
    for (unsigned spins = 0; sets_[set][s].n.load(std::memory_order_seq_cst) != 0; ++spins) {
      if (SimExecutor* sim = SimExecutor::running()) {
        UDRM_POINT("grace.wait");
        sim->yield();  // let the readers finish their sections
      } else if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      } else if (spins < 1024) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(spins < 4096 ? 20 : 200));
      }
    }
  }
}

void GraceDomain::synchronize() {
  might_sleep("GraceDomain::synchronize");
  UDRM_POINT("grace.synchronize");
  // Correctness needs only "both sets observed empty after the caller's publish"; the flips
  // send new readers to the other set so a steady stream of readers cannot starve the wait.
  unsigned cur = epoch_.load(std::memory_order_relaxed) & 1u;
  epoch_.store(cur ^ 1u, std::memory_order_seq_cst);
  drain(cur);
  epoch_.store(cur, std::memory_order_seq_cst);
  drain(cur ^ 1u);
}

}  // namespace udrm
