// gate_icount — runs N udrm::Gate enter/exit pairs (N = argv[1]); nothing else scales with N.
//
// tools/perf/gate_icount.sh runs it under callgrind with N and 2N and reports
// (Ir(2N) - Ir(N)) / N: the exact instruction count of one inlined guard pair plus the loop
// overhead (increment, compare, branch). Deliberately not named bench_*.cpp (not a benchmark).
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "udrm/core/gate.h"

template <class GateT>
long run_pairs(long n) {
  GateT gate("icount");
  long entered = 0;
  for (long i = 0; i < n; ++i) {
    if (auto g = gate.enter()) {
      ++entered;
      asm volatile("" ::: "memory");  // keep every pair; the body costs no instruction
    }
  }
  gate.unplug();
  return entered;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s N\n", argv[0]);
    return 2;
  }
  const long n = std::strtol(argv[1], nullptr, 10);
  std::thread([] {}).join();  // same process state as the benchmark (multi-threaded)
  const long entered = run_pairs<udrm::Gate>(n);
  // The script counts the membarrier fast path; in the fence fallback it skips the check.
  std::printf("%ld pairs entered, mode: %s\n", entered,
              (udrm::detail::g_slow.load() & udrm::detail::kSlowFence) ? "fence-fallback"
                                                                        : "membarrier");
  return entered == n ? 0 : 1;
}
