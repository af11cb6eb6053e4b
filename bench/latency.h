// bench/latency.h — per-iteration latency samples and their distribution as Google Benchmark
// counters: pNN_us = the NN-th percentile in microseconds (nearest rank), p100_us = the maximum,
// plus `samples`. tools/bench-report turns the pNN_us counters into a CDF plot.
//
// Lifetime: one LatencySamples per benchmark run (it holds every sample until publish()).
// Context: the benchmark's own thread.
#pragma once
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace udrm_bench {

class LatencySamples {
 public:
  using Clock = std::chrono::steady_clock;

  void add(Clock::duration d) { ns_.push_back(std::chrono::duration<double, std::nano>(d).count()); }
  std::size_t size() const { return ns_.size(); }

  /// Sorts the samples and sets the percentile counters on `state` (nothing if no sample).
  void publish(benchmark::State& state) {
    if (ns_.empty()) return;
    std::sort(ns_.begin(), ns_.end());
    static constexpr double kPercentiles[] = {1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.9, 100};
    for (double p : kPercentiles) {
      // Nearest rank: the smallest sample with at least p% of the samples at or below it.
      auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(ns_.size())));
      double v = ns_[std::clamp<std::size_t>(rank, 1, ns_.size()) - 1];
      char name[32];
      std::snprintf(name, sizeof(name), "p%g_us", p);
      state.counters[name] = benchmark::Counter(v / 1e3);
    }
    state.counters["samples"] = benchmark::Counter(static_cast<double>(ns_.size()));
  }

 private:
  std::vector<double> ns_;
};

}  // namespace udrm_bench
