// bench_gate — the read-side cost of udrm::Gate (drm_dev_enter/exit) against its baselines, and
// the latency of Gate::unplug() under three reader scenarios.
//
// Method (docs: /work/shared/reference/perf-anchors.md, "Method that held up"):
//  * Guard pairs run at 1 and 2 threads with UseRealTime(). Google Benchmark 1.7 divides the
//    summed per-thread wall time by the thread count and then by the *total* iteration count, so
//    the reported time x threads is the per-thread cost of one pair; the `per_thread_ns` counter
//    reports exactly that (Counter: iterations, kIsRate|kAvgThreads|kInvert; the console
//    prints it with an "s" suffix, the value is in ns).
//  * main() creates and joins a thread before anything is measured: until a process has had a
//    second thread, glibc/libstdc++ skip atomics (shared_ptr, some mutex paths).
//  * Unplug latency: fixed iteration count, manual timing of unplug() alone with steady_clock,
//    p50/p99/max as counters, writer paced with random gaps, and a progress counter for the
//    background reader. A run where the reader made no progress (or failed to enter a fresh gate
//    within the timeout) is reported as an error instead of a latency; `reader_cpu_share` lets
//    the runner script reject runs where another process took the reader's CPU.
//
// Run: tools/perf/run_gate_bench.sh (repetitions, interleaving, JSON, ratio table).
#define _LGPL_SOURCE 1
#include <urcu/urcu-memb.h>

#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "udrm/core/gate.h"

namespace {

using Clock = std::chrono::steady_clock;

// Per-thread cost of one iteration in ns: sum over threads of iterations, divided by the
// (thread-averaged) wall time and by the thread count, inverted => seconds / iterations-per-thread.
void set_per_thread_ns(benchmark::State& st) {
  st.counters["per_thread_ns"] =
      benchmark::Counter(static_cast<double>(st.iterations()) * 1e-9,
                         benchmark::Counter::kIsRate | benchmark::Counter::kAvgThreads |
                             benchmark::Counter::kInvert);
}

// Function-local statics: constructed on first use (inside main), never at static-init time.
udrm::Gate& shared_gate() {
  static udrm::Gate* g = new udrm::Gate("bench");  // immortal: threads may outlive main's scope
  return *g;
}

// ---------------------------------------------------------------------------------------------
// Read-side guard pairs.

void BM_Gate_EnterExit(benchmark::State& st) {
  udrm::Gate& gate = shared_gate();
  for (auto _ : st) {
    if (auto g = gate.enter()) benchmark::DoNotOptimize(g.gate());
  }
  set_per_thread_ns(st);
}

std::shared_mutex g_shared_mutex;
void BM_SharedMutex_LockShared(benchmark::State& st) {
  for (auto _ : st) {
    g_shared_mutex.lock_shared();
    benchmark::DoNotOptimize(&g_shared_mutex);
    g_shared_mutex.unlock_shared();
  }
  set_per_thread_ns(st);
}

void BM_Urcu_ReadLock(benchmark::State& st) {
  urcu_memb_register_thread();
  for (auto _ : st) {
    urcu_memb_read_lock();  // inlined: _LGPL_SOURCE maps this to _urcu_memb_read_lock
    benchmark::DoNotOptimize(&st);
    urcu_memb_read_unlock();
  }
  urcu_memb_unregister_thread();
  set_per_thread_ns(st);
}

std::atomic<long> g_shared_counter{0};
void BM_SharedAtomicCounter(benchmark::State& st) {
  for (auto _ : st) {
    g_shared_counter.fetch_add(1, std::memory_order_seq_cst);
    benchmark::DoNotOptimize(&g_shared_counter);
    g_shared_counter.fetch_sub(1, std::memory_order_seq_cst);
  }
  set_per_thread_ns(st);
}

std::atomic<bool> g_flag{false};
void BM_BareFlagCheck(benchmark::State& st) {
  for (auto _ : st) {
    if (!g_flag.load(std::memory_order_relaxed)) benchmark::DoNotOptimize(&g_flag);
  }
  set_per_thread_ns(st);
}

#define UDRM_PAIR_BENCH(fn) BENCHMARK(fn)->Threads(1)->Threads(2)->UseRealTime()
UDRM_PAIR_BENCH(BM_BareFlagCheck);
UDRM_PAIR_BENCH(BM_Urcu_ReadLock);
UDRM_PAIR_BENCH(BM_Gate_EnterExit);
UDRM_PAIR_BENCH(BM_SharedAtomicCounter);
UDRM_PAIR_BENCH(BM_SharedMutex_LockShared);

// ---------------------------------------------------------------------------------------------
// Unplug latency.

enum class Scenario { kNoReaders, kBusyReader, kReader1usSection };

inline void spin_for(Clock::duration d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) __builtin_ia32_pause();
}

struct alignas(64) ReaderState {
  std::atomic<udrm::Gate*> current{nullptr};  // the gate readers should use (writer publishes)
  alignas(64) std::atomic<bool> stop{false};
  alignas(64) std::atomic<udrm::Gate*> entered{nullptr};  // last gate the reader got into
  std::atomic<uint64_t> progress{0};                       // successful sections
  std::atomic<uint64_t> attempts{0};                       // enter() calls (incl. failed)
  double cpu_share = 0;  // reader's thread CPU time / wall time (set when it stops)
};

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double wall_seconds() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

void reader_loop(ReaderState* rs, Scenario sc) {
  const double cpu0 = thread_cpu_seconds(), wall0 = wall_seconds();
  uint64_t progress = 0, attempts = 0;
  while (!rs->stop.load(std::memory_order_relaxed)) {
    udrm::Gate* g = rs->current.load(std::memory_order_acquire);
    ++attempts;
    if (auto guard = g->enter()) {
      if (rs->entered.load(std::memory_order_relaxed) != g)
        rs->entered.store(g, std::memory_order_release);
      if (sc == Scenario::kReader1usSection) spin_for(std::chrono::microseconds(1));
      ++progress;
    }
    // Publish counters cheaply (single writer), every 64 attempts and always after a section
    // in the slow scenario.
    if ((attempts & 63) == 0 || sc == Scenario::kReader1usSection) {
      rs->progress.store(progress, std::memory_order_relaxed);
      rs->attempts.store(attempts, std::memory_order_relaxed);
    }
  }
  rs->progress.store(progress, std::memory_order_relaxed);
  rs->attempts.store(attempts, std::memory_order_relaxed);
  rs->cpu_share = (thread_cpu_seconds() - cpu0) / (wall_seconds() - wall0);
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

void BM_Gate_UnplugLatency(benchmark::State& st, Scenario sc) {
  ReaderState rs;
  std::vector<std::unique_ptr<udrm::Gate>> gates;  // kept until the reader has stopped
  gates.reserve(static_cast<size_t>(st.max_iterations) + 1);
  gates.push_back(std::make_unique<udrm::Gate>("unplug-bench"));
  rs.current.store(gates.back().get(), std::memory_order_release);

  std::thread reader;
  if (sc != Scenario::kNoReaders) reader = std::thread(reader_loop, &rs, sc);

  std::minstd_rand rng(12345);
  std::uniform_int_distribution<int> gap_ns(0, 3000);
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(st.max_iterations));
  uint64_t stalled = 0;
  const uint64_t progress_before = rs.progress.load(std::memory_order_relaxed);

  for (auto _ : st) {
    gates.push_back(std::make_unique<udrm::Gate>("unplug-bench"));
    udrm::Gate* g = gates.back().get();
    rs.current.store(g, std::memory_order_release);
    if (sc != Scenario::kNoReaders) {
      // The reader must be using this gate before we close it; otherwise we'd time an idle gate.
      const auto deadline = Clock::now() + std::chrono::milliseconds(200);
      while (rs.entered.load(std::memory_order_acquire) != g) {
        if (Clock::now() > deadline) {
          ++stalled;
          break;
        }
        __builtin_ia32_pause();
      }
    }
    spin_for(std::chrono::nanoseconds(gap_ns(rng)));  // random phase against the reader

    const auto t0 = Clock::now();
    g->unplug();
    const auto t1 = Clock::now();
    const double secs = std::chrono::duration<double>(t1 - t0).count();
    st.SetIterationTime(secs);
    samples.push_back(secs * 1e6);
  }

  rs.stop.store(true, std::memory_order_relaxed);
  if (reader.joinable()) reader.join();
  const uint64_t progress = rs.progress.load(std::memory_order_relaxed) - progress_before;
  gates.clear();

  st.counters["p50_us"] = percentile(samples, 0.50);
  st.counters["p99_us"] = percentile(samples, 0.99);
  st.counters["max_us"] = *std::max_element(samples.begin(), samples.end());
  st.counters["reader_sections"] = static_cast<double>(progress);
  st.counters["stalled_iters"] = static_cast<double>(stalled);
  // The reader spins all the time: CPU share well below 1 means another process took its CPU
  // (tools/perf/run_gate_bench.sh rejects such runs).
  if (sc != Scenario::kNoReaders) st.counters["reader_cpu_share"] = rs.cpu_share;
  if (sc != Scenario::kNoReaders && (progress == 0 || stalled != 0)) {
    st.SkipWithError("background reader made no progress / stalled: run rejected");
  }
}

constexpr int kUnplugIterations = 2000;

void register_unplug_benchmarks() {
  struct {
    const char* name;
    Scenario sc;
  } const cases[] = {
      {"BM_Gate_UnplugLatency/no_readers", Scenario::kNoReaders},
      {"BM_Gate_UnplugLatency/busy_reader", Scenario::kBusyReader},
      {"BM_Gate_UnplugLatency/reader_1us_section", Scenario::kReader1usSection},
  };
  for (const auto& c : cases) {
    benchmark::RegisterBenchmark(c.name, BM_Gate_UnplugLatency, c.sc)
        ->Iterations(kUnplugIterations)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Become multi-threaded before measuring anything (see file comment).
  std::thread([] {}).join();
  register_unplug_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
