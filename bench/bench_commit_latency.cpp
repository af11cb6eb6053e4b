// Commit latency distribution (issue 7): many nonblocking page-flip commits with an event, one
// after the other, on the simple and soc drivers (immediate vblank), each timed from the atomic
// ioctl to the flip event read back; per-commit percentiles as counters (bench/latency.h).
// Baseline in the same run, on an executor of the same kind: post a task and wait for it to
// complete, timed the same way (the cheapest "work on another context, then wake the caller").
// Deterministic on the SimExecutor (one thread) and on Asio threads (2 pool threads, real time).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <thread>

#include "bench_main.h"
#include "udrm/base/asio_executor.h"
#include "udrm/base/completion.h"
#include "udrm/base/sim_executor.h"

#include "flip_client.h"
#include "latency.h"

namespace {

using udrm_bench::Client;
using udrm_bench::LatencySamples;
namespace drivers = udrm::drivers;

bool timed_flips(benchmark::State& state, Client& cl, LatencySamples& lat) {
  uint64_t i = 0;
  for (auto _ : state) {
    auto t0 = LatencySamples::Clock::now();
    if (!udrm_bench::flip_round_trip(cl, ++i)) return false;
    lat.add(LatencySamples::Clock::now() - t0);
  }
  return true;
}

void timed_posts(benchmark::State& state, udrm::Executor& ex, LatencySamples& lat) {
  for (auto _ : state) {
    auto t0 = LatencySamples::Clock::now();
    udrm::Completion done;
    ex.post([&] { done.complete(); }, "bench");
    done.wait();
    lat.add(LatencySamples::Clock::now() - t0);
  }
}

void BM_CommitLatency_Sim(benchmark::State& state, drivers::Kind kind) {
  udrm::SimExecutor sim;
  LatencySamples lat;
  bool ok = true;
  auto r = sim.run([&] { ok = udrm_bench::with_flip_client(sim, kind, [&](Client& cl) { return timed_flips(state, cl, lat); }); });
  if (!r || !ok) state.SkipWithError("flip round trip failed");
  lat.publish(state);
}

void BM_PostLatency_Sim(benchmark::State& state) {
  udrm::SimExecutor sim;
  LatencySamples lat;
  auto r = sim.run([&] { timed_posts(state, sim, lat); });
  if (!r) state.SkipWithError("sim run failed");
  lat.publish(state);
}

void BM_CommitLatency_Asio(benchmark::State& state, drivers::Kind kind) {
  udrm::AsioExecutor ex(2);
  LatencySamples lat;
  bool ok = udrm_bench::with_flip_client(ex, kind, [&](Client& cl) { return timed_flips(state, cl, lat); });
  ex.shutdown();
  if (!ok) state.SkipWithError("flip round trip failed");
  lat.publish(state);
}

void BM_PostLatency_Asio(benchmark::State& state) {
  udrm::AsioExecutor ex(2);
  LatencySamples lat;
  timed_posts(state, ex, lat);
  ex.shutdown();
  lat.publish(state);
}

}  // namespace

BENCHMARK_CAPTURE(BM_CommitLatency_Sim, simple, drivers::Kind::simple)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CommitLatency_Sim, soc, drivers::Kind::soc)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PostLatency_Sim)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CommitLatency_Asio, simple, drivers::Kind::simple)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CommitLatency_Asio, soc, drivers::Kind::soc)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PostLatency_Asio)->UseRealTime()->Unit(benchmark::kMicrosecond);

UDRM_BENCHMARK_MAIN_THREADED()
