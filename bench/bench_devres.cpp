// devres costs: per action added+released against hand-written baselines, heap allocations
// per node (counted exactly by interposing malloc/calloc/realloc/free in this binary).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

#include "udrm/base/asio_executor.h"
#include "udrm/core/devres.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
}

namespace {
std::atomic<uint64_t> g_allocs{0};
}

// Exact heap-allocation counting for this process (glibc lets the executable interpose these).
extern "C" void* malloc(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t n, size_t s) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, s);
}
extern "C" void* realloc(void* p, size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
extern "C" void free(void* p) { __libc_free(p); }

namespace {

using namespace udrm;

struct Fixture {
  AsioExecutor ex{1};
  World world{ex};
  Ref<Device> dev = Device::create(world, "bench0");
};

int g_sink;
void action(int* p) { ++*p; }

// One fn-pointer action: add + release.
void BM_Devm_AddRelease_Action(benchmark::State& state) {
  Fixture f;
  uint64_t a0 = g_allocs.load();
  for (auto _ : state) {
    if (devm_add_action(*f.dev, &action, &g_sink, "bench")) state.SkipWithError("add failed");
    f.dev->devres().release_all();
  }
  state.counters["allocs_per_action"] =
      benchmark::Counter(double(g_allocs.load() - a0) / double(state.iterations()));
}
BENCHMARK(BM_Devm_AddRelease_Action);

// A closure with a 16-byte capture: still one allocation (the node).
void BM_Devm_AddRelease_Closure16(benchmark::State& state) {
  Fixture f;
  uint64_t a0 = g_allocs.load();
  long x = 1, y = 2;
  for (auto _ : state) {
    if (devm_add_action(*f.dev, [&x, &y] { g_sink += int(x + y); }, "bench")) state.SkipWithError("add failed");
    f.dev->devres().release_all();
  }
  state.counters["allocs_per_action"] =
      benchmark::Counter(double(g_allocs.load() - a0) / double(state.iterations()));
}
BENCHMARK(BM_Devm_AddRelease_Closure16);

// devm_kmalloc(64) + release.
void BM_Devm_Kmalloc64(benchmark::State& state) {
  Fixture f;
  uint64_t a0 = g_allocs.load();
  for (auto _ : state) {
    benchmark::DoNotOptimize(devm_kmalloc(*f.dev, 64));
    f.dev->devres().release_all();
  }
  state.counters["allocs_per_action"] =
      benchmark::Counter(double(g_allocs.load() - a0) / double(state.iterations()));
}
BENCHMARK(BM_Devm_Kmalloc64);

// Baseline: what a hand-written cleanup list costs (std::function in a vector, run LIFO).
void BM_Baseline_StdFunctionStack(benchmark::State& state) {
  std::vector<std::function<void()>> stack;
  stack.reserve(16);
  uint64_t a0 = g_allocs.load();
  long x = 1, y = 2;
  for (auto _ : state) {
    stack.emplace_back([&x, &y] { g_sink += int(x + y); });
    while (!stack.empty()) {
      stack.back()();
      stack.pop_back();
    }
  }
  state.counters["allocs_per_action"] =
      benchmark::Counter(double(g_allocs.load() - a0) / double(state.iterations()));
}
BENCHMARK(BM_Baseline_StdFunctionStack);

// Baseline: one calloc + free (the floor for a heap node).
void BM_Baseline_CallocFree(benchmark::State& state) {
  for (auto _ : state) {
    void* p = calloc(1, 64);
    benchmark::DoNotOptimize(p);
    free(p);
  }
}
BENCHMARK(BM_Baseline_CallocFree);

// Release cost against the number of resources: bench_unbind_scaling.cpp (BM_Unbind/Devm/N, with
// its plain-free baseline in the same run).

}  // namespace

int main(int argc, char** argv) {
  std::thread([] {}).join();  // make the process multi-threaded before measuring (perf-anchors)
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
