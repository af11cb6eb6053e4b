// KMS performance (issue 3):
//  - nonblocking commit → flip event round trip with the timing generator in immediate mode,
//    deterministic (SimExecutor) and on Asio threads, next to a bare Asio post → complete
//    round trip in the same run (target: within 3x; ≥ 50k commits/s deterministic on one core);
//  - ioctl dispatch (GETRESOURCES, GETCONNECTOR, ATOMIC TEST_ONLY) next to a real syscall
//    (ioctl FIONREAD on a pipe);
//  - unbind latency of the soc display with 0, 1 and 8 open files and a commit in flight.
#include <benchmark/benchmark.h>
#include <drm_fourcc.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "bench_main.h"
#include "udrm/base/asio_executor.h"
#include "udrm/base/completion.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"
#include "udrm/testing/kms_client.h"

#include "flip_client.h"

namespace {

using udrm::Ref;
using udrm::testing::KmsClient;
using udrm_bench::Client;
using udrm_bench::flip_round_trip;
using udrm_bench::setup_client;
using udrm_bench::teardown_client;
using udrm_bench::with_flip_client;
namespace drivers = udrm::drivers;

bool flip_loop(benchmark::State& state, Client& cl) {
  uint64_t i = 0;
  for (auto _ : state)
    if (!flip_round_trip(cl, ++i)) return false;
  return true;
}

void BM_FlipRoundTrip_Sim(benchmark::State& state, drivers::Kind kind) {
  udrm::SimExecutor sim;
  bool ok = true;
  auto r = sim.run([&] { ok = with_flip_client(sim, kind, [&](Client& cl) { return flip_loop(state, cl); }); });
  if (!r || !ok) state.SkipWithError("flip round trip failed");
  state.counters["commits_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_FlipRoundTrip_Asio(benchmark::State& state, drivers::Kind kind) {
  udrm::AsioExecutor ex(2);
  bool ok = with_flip_client(ex, kind, [&](Client& cl) { return flip_loop(state, cl); });
  ex.shutdown();
  if (!ok) state.SkipWithError("flip round trip failed");
  state.counters["commits_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// The same flip round trip, interleaved iteration by iteration with the bare post/complete
// round trip on a second executor of the same kind, so both see the same host noise (a VM's
// wake-up cost drifts by 2x between runs). Counter `ratio` = total flip time / total baseline
// time. Interleaved, the baseline runs on CPUs that never went idle, so it is the harsher
// comparison (docs/design.md, "Asio flip round trip").
void BM_FlipVsPost_Asio(benchmark::State& state, drivers::Kind kind) {
  udrm::AsioExecutor ex(2), base(2);
  double flip_s = 0, post_s = 0;
  bool ok = with_flip_client(ex, kind, [&](Client& cl) {
    using C = std::chrono::steady_clock;
    uint64_t i = 0;
    for (auto _ : state) {
      auto t0 = C::now();
      if (!flip_round_trip(cl, ++i)) return false;
      auto t1 = C::now();
      udrm::Completion done;
      base.post([&] { done.complete(); }, "bench");
      done.wait();
      auto t2 = C::now();
      flip_s += std::chrono::duration<double>(t1 - t0).count();
      post_s += std::chrono::duration<double>(t2 - t1).count();
    }
    return true;
  });
  ex.shutdown();
  base.shutdown();
  if (!ok) state.SkipWithError("flip round trip failed");
  const double n = static_cast<double>(state.iterations());
  state.counters["flip_us"] = n ? flip_s / n * 1e6 : 0;
  state.counters["post_us"] = n ? post_s / n * 1e6 : 0;
  state.counters["ratio"] = post_s > 0 ? flip_s / post_s : 0;
}

// Baseline: post a task to the same kind of executor and wait for it to complete, with the
// same blocking primitive the flip read uses.
void BM_AsioPostComplete(benchmark::State& state) {
  udrm::AsioExecutor ex(2);
  for (auto _ : state) {
    udrm::Completion done;
    ex.post([&] { done.complete(); }, "bench");
    done.wait();
  }
  ex.shutdown();
}

void BM_SimPostComplete(benchmark::State& state) {
  udrm::SimExecutor sim;
  auto r = sim.run([&] {
    for (auto _ : state) {
      udrm::Completion done;
      sim.post([&] { done.complete(); }, "bench");
      done.wait();
    }
  });
  if (!r) state.SkipWithError("sim run failed");
}

// ---- ioctl dispatch -------------------------------------------------------------------------

enum class Op { getresources, getconnector, atomic_test_only };

void BM_Ioctl(benchmark::State& state, Op op) {
  udrm::AsioExecutor ex(1);
  bool ok = true;
  {
    udrm::World world(ex);
    drivers::DisplayOptions opts;
    opts.kind = drivers::Kind::simple;
    auto d = drivers::create_display(world, opts);
    Client cl;
    ok = d->bind() == 0 && setup_client(*d, &cl);
    if (ok) {
      KmsClient& c = *cl.c;
      uint32_t crtcs[4], conns[4], encs[4], fbs[8];
      drm_mode_modeinfo modes[16];
      uint32_t encoders[4], props[32];
      uint64_t values[32];
      KmsClient::Atomic req;
      req.add(cl.plane, c.prop_id(cl.plane, DRM_MODE_OBJECT_PLANE, "FB_ID"), cl.fb[1]);
      for (auto _ : state) {
        int r = 0;
        switch (op) {
          case Op::getresources: {
            drm_mode_card_res res{};
            res.crtc_id_ptr = reinterpret_cast<uintptr_t>(crtcs);
            res.connector_id_ptr = reinterpret_cast<uintptr_t>(conns);
            res.encoder_id_ptr = reinterpret_cast<uintptr_t>(encs);
            res.fb_id_ptr = reinterpret_cast<uintptr_t>(fbs);
            res.count_crtcs = res.count_connectors = res.count_encoders = 4;
            res.count_fbs = 8;
            r = c.ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res);
            break;
          }
          case Op::getconnector: {
            drm_mode_get_connector gc{};
            gc.connector_id = cl.conn;
            gc.modes_ptr = reinterpret_cast<uintptr_t>(modes);
            gc.count_modes = 16;
            gc.encoders_ptr = reinterpret_cast<uintptr_t>(encoders);
            gc.count_encoders = 4;
            gc.props_ptr = reinterpret_cast<uintptr_t>(props);
            gc.prop_values_ptr = reinterpret_cast<uintptr_t>(values);
            gc.count_props = 32;
            r = c.ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &gc);
            break;
          }
          case Op::atomic_test_only:
            r = c.atomic_commit(req, DRM_MODE_ATOMIC_TEST_ONLY);
            break;
        }
        if (r) {
          ok = false;
          break;
        }
      }
      teardown_client(cl);
    }
    d.reset();
  }
  ex.shutdown();
  if (!ok) state.SkipWithError("ioctl failed");
}

void BM_Syscall_FIONREAD(benchmark::State& state) {
  int p[2];
  if (pipe(p)) {
    state.SkipWithError("pipe");
    return;
  }
  for (auto _ : state) {
    int n = 0;
    benchmark::DoNotOptimize(::ioctl(p[0], FIONREAD, &n));
  }
  close(p[0]);
  close(p[1]);
}

// ---- unbind latency -------------------------------------------------------------------------

// The soc display bound, `files` open files (one of them with an active output and a
// nonblocking flip in flight), then unbind of the display controller, timed. Asio threads,
// immediate vblank (so the in-flight flip completes without waiting for a frame).
void BM_SocUnbindLatency(benchmark::State& state) {
  const int files = static_cast<int>(state.range(0));
  // Two pool threads, as the flip benchmarks: interrupts have their own thread, so the soc
  // bind's poll of the reset-BUSY bit (cleared by a timer) cannot starve it.
  udrm::AsioExecutor ex(2);
  bool ok = true;
  {
    udrm::World world(ex);
    drivers::DisplayOptions opts;
    opts.kind = drivers::Kind::soc;
    opts.immediate_vblank = true;
    auto d = drivers::create_display(world, opts);
    for (auto _ : state) {
      state.PauseTiming();
      std::vector<Client> clients(static_cast<std::size_t>(files));
      bool setup = d->bind() == 0;
      for (int i = 0; setup && i < files; ++i) {
        if (i == 0) {
          setup = setup_client(*d, &clients[0]) &&
                  clients[0].c->atomic_flip(clients[0].plane, clients[0].fb[1],
                                            DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 1) == 0;
        } else {
          Ref<udrm::DrmFile> f;
          setup = d->open(&f) == 0;
          clients[static_cast<std::size_t>(i)].c = std::make_unique<KmsClient>(f);
        }
      }
      if (!setup) {
        ok = false;
        break;
      }
      state.ResumeTiming();
      if (d->unbind() != 0) ok = false;
      state.PauseTiming();
      for (auto& cl : clients) {
        if (!cl.c) continue;
        for (auto& b : cl.buf)
          if (b.map) cl.c->file().munmap(b.map, b.size);
        cl.c->close();
      }
      d->rebind();
      d->unbind();  // leave it unbound for the next round's bind
      state.ResumeTiming();
      if (!ok) break;
    }
    d.reset();
  }
  ex.shutdown();
  if (!ok) state.SkipWithError("unbind round failed");
}

}  // namespace

BENCHMARK_CAPTURE(BM_FlipRoundTrip_Sim, simple, drivers::Kind::simple);
BENCHMARK_CAPTURE(BM_FlipRoundTrip_Sim, soc, drivers::Kind::soc);
BENCHMARK(BM_SimPostComplete);
BENCHMARK_CAPTURE(BM_FlipRoundTrip_Asio, simple, drivers::Kind::simple)->UseRealTime();
BENCHMARK_CAPTURE(BM_FlipRoundTrip_Asio, soc, drivers::Kind::soc)->UseRealTime();
BENCHMARK(BM_AsioPostComplete)->UseRealTime();
BENCHMARK_CAPTURE(BM_FlipVsPost_Asio, simple, drivers::Kind::simple)->UseRealTime();
BENCHMARK_CAPTURE(BM_FlipVsPost_Asio, soc, drivers::Kind::soc)->UseRealTime();
BENCHMARK_CAPTURE(BM_Ioctl, getresources, Op::getresources);
BENCHMARK_CAPTURE(BM_Ioctl, getconnector, Op::getconnector);
BENCHMARK_CAPTURE(BM_Ioctl, atomic_test_only, Op::atomic_test_only);
BENCHMARK(BM_Syscall_FIONREAD);
BENCHMARK(BM_SocUnbindLatency)->Arg(0)->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMicrosecond);

UDRM_BENCHMARK_MAIN_THREADED()
