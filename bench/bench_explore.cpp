// bench_explore: explorer throughput (issue 5 targets: >= 1000 schedules/s for the reference
// commit scenario on one core; a full sweep of soc.commit in < 1 s).
//
//   BM_PlainScenarioRun/<scenario>   baseline: one run of the scenario on a fresh simulated
//                                    world, no injection (Explorer::run of an empty schedule)
//   BM_UnbindSweep/<scenario>        the unbind sweep (unbind injected at every recorded site);
//                                    counters us_per_schedule, schedules_per_s
//   BM_FullSweep/<scenario>          the whole sweep (every event at every site); counter
//                                    schedules_per_s
// Ratio to read: us_per_schedule of UnbindSweep / PlainScenarioRun's time (what injection and the oracles add to a run).
#include <benchmark/benchmark.h>

#include <cstdio>

#include "udrm/drivers/scenarios.h"
#include "udrm/explore/explorer.h"

namespace {

namespace ex = udrm::explore;

ex::Options quiet() {
  ex::Options o;
  o.replay_dir = "-";
  return o;
}

void BM_PlainScenarioRun(benchmark::State& state, const char* name) {
  auto sc = udrm::drivers::make_scenario(name);
  ex::Explorer e(*sc, quiet());
  ex::Schedule s;
  s.scenario = name;
  for (auto _ : state) {
    ex::RunResult r = e.run(s, false);
    if (r.failed()) state.SkipWithError("the plain scenario failed");
  }
}

void BM_UnbindSweep(benchmark::State& state, const char* name) {
  auto sc = udrm::drivers::make_scenario(name);
  ex::Options o = quiet();
  o.events = {ex::Event::unbind};
  uint64_t runs = 0;
  for (auto _ : state) {
    ex::Explorer e(*sc, o);
    ex::Report r = e.explore();
    if (!r.ok()) state.SkipWithError("the unbind sweep found a bug");
    runs += r.runs;
  }
  state.counters["us_per_schedule"] =
      benchmark::Counter(static_cast<double>(runs), benchmark::Counter::kIsRate | benchmark::Counter::kInvert,
                         benchmark::Counter::kIs1000);
  state.counters["schedules_per_s"] = benchmark::Counter(static_cast<double>(runs), benchmark::Counter::kIsRate);
}

void BM_FullSweep(benchmark::State& state, const char* name) {
  auto sc = udrm::drivers::make_scenario(name);
  uint64_t runs = 0;
  for (auto _ : state) {
    ex::Explorer e(*sc, quiet());
    ex::Report r = e.explore();
    if (!r.ok()) state.SkipWithError("the sweep found a bug");
    runs += r.runs;
  }
  state.counters["schedules_per_s"] = benchmark::Counter(static_cast<double>(runs), benchmark::Counter::kIsRate);
  state.counters["runs_per_sweep"] = static_cast<double>(runs) / static_cast<double>(state.iterations());
}

BENCHMARK_CAPTURE(BM_PlainScenarioRun, simple_commit, "simple.commit")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PlainScenarioRun, soc_commit, "soc.commit")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_UnbindSweep, simple_commit, "simple.commit")->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_FullSweep, simple_commit, "simple.commit")->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK_CAPTURE(BM_FullSweep, soc_commit, "soc.commit")->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
