// Unbind time against the number of managed resources (issue 7): a driver whose probe adds N
// devm allocations (BM_Unbind_Devm/N), or allocates its DRM device with devm_drm_dev_alloc and
// adds N drmm allocations to it (BM_Unbind_Drmm/N: nothing holds the DRM device, so its final
// put, and the drmm release, happen inside unbind). Only the sysfs-style unbind is timed (the
// bind before it is not). Baseline in the same run: BM_Unbind_PlainFree/N, the same number of
// calloc'd blocks of a devm node's size (node header + 64 bytes) freed newest first, timed the
// same way. N = 1 .. 4096.
//
// glibc trims the heap top with brk once more than M_TRIM_THRESHOLD (128 KiB, adjusted at run
// time by the dynamic mmap threshold) is free there: an unbind of ~1000+ resources then costs a
// brk, and the next bind page-faults the memory back. Whether it happens depended on what ran
// before (Devm/4096 measured 43 ns/resource alone, 208 ns after Devm/1024; strace: one brk per
// iteration). Both thresholds are fixed for this binary, so the curve shows udrm, not glibc's
// trimming heuristics.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

#include "bench_main.h"
#include "udrm/base/asio_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/managed.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kBlock = 64;
// A devm/drmm node as devres.cpp allocates it: the header rounded to max_align_t, then the payload.
constexpr std::size_t kNodeBytes =
    ((sizeof(udrm::detail::DevresNode) + alignof(std::max_align_t) - 1) & ~(alignof(std::max_align_t) - 1)) + kBlock;

// See the top: no heap trimming, no dynamic mmap threshold, for every benchmark of this binary.
[[maybe_unused]] const bool kMallocFixed = [] {
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  return true;
}();

struct BenchDrm : udrm::DrmDevice {
  BenchDrm() = default;
  ~BenchDrm() override = default;
};

enum class Where { devm, drmm };

class ResourceDriver final : public udrm::Driver {
 public:
  explicit ResourceDriver(Where w) : Driver("bench-res"), where_(w) { drm_.name = "bench-res"; }
  int probe(udrm::Device& dev, const udrm::Bound&) override {
    if (where_ == Where::devm) {
      for (int64_t i = 0; i < n; ++i)
        if (!udrm::devm_kzalloc(dev, kBlock)) return -ENOMEM;
      return 0;
    }
    int err = 0;
    BenchDrm* drm = udrm::devm_drm_dev_alloc<BenchDrm>(dev, drm_, &err);
    if (!drm) return err;
    for (int64_t i = 0; i < n; ++i)
      if (!udrm::drmm_kzalloc(*drm, kBlock)) return -ENOMEM;
    return 0;
  }

  int64_t n = 0;

 private:
  Where where_;
  udrm::DrmDriver drm_;
};

void BM_Unbind(benchmark::State& state, Where where) {
  udrm::AsioExecutor ex(1);
  {
    udrm::World world(ex);
    ResourceDriver drv(where);
    drv.n = state.range(0);
    udrm::Ref<udrm::Device> dev = udrm::Device::create(world, "bench0", nullptr, "bench-res");
    if (world.bus().register_driver(drv) || world.bus().add_device(*dev) || !dev->is_bound()) {
      state.SkipWithError("first bind failed");
    } else {
      for (auto _ : state) {
        auto t0 = Clock::now();
        int r = world.bus().unbind("bench0");
        state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
        if (r || !dev->devres().empty()) {
          state.SkipWithError("unbind failed or left resources");
          break;
        }
        if (world.bus().bind("bench0", "bench-res")) {
          state.SkipWithError("bind failed");
          break;
        }
      }
      world.bus().del_device(*dev);
    }
    world.bus().unregister_driver(drv);
  }
  ex.shutdown();
  state.SetComplexityN(state.range(0));
  state.counters["resources"] = benchmark::Counter(static_cast<double>(state.range(0)));
}

void BM_Unbind_PlainFree(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<void*> blocks(n);
  for (auto _ : state) {
    for (auto& b : blocks) b = std::calloc(1, kNodeBytes);
    benchmark::DoNotOptimize(blocks.data());
    auto t0 = Clock::now();
    for (std::size_t i = n; i-- > 0;) std::free(blocks[i]);
    benchmark::ClobberMemory();
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  state.SetComplexityN(state.range(0));
  state.counters["resources"] = benchmark::Counter(static_cast<double>(state.range(0)));
}

}  // namespace

BENCHMARK_CAPTURE(BM_Unbind, Devm, Where::devm)->RangeMultiplier(4)->Range(1, 4096)->UseManualTime()
    ->Complexity(benchmark::oN);
BENCHMARK_CAPTURE(BM_Unbind, Drmm, Where::drmm)->RangeMultiplier(4)->Range(1, 4096)->UseManualTime()
    ->Complexity(benchmark::oN);
BENCHMARK(BM_Unbind_PlainFree)->RangeMultiplier(4)->Range(1, 4096)->UseManualTime()->Complexity(benchmark::oN);

UDRM_BENCHMARK_MAIN_THREADED()
