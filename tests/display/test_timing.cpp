// Timing generator: vblank at the frame period on the virtual clock (V1), no drift, immediate
// mode, > 1000 Hz refused (V8), stop/restart, overruns on real threads.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "udrm/base/asio_executor.h"
#include "udrm/base/context.h"
#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/fakehw/timing.h"

namespace udrm::fakehw {
namespace {

using namespace std::chrono_literals;

constexpr VideoTimings k1080p{148500, 1920, 2200, 1080, 1125};

TEST(Timing, FramePeriodFromTimings) {
  EXPECT_EQ(frame_period(k1080p), Duration{16'666'666});
  EXPECT_EQ(frame_period(VideoTimings{10000, 100, 100, 100, 100}), 1ms);
  EXPECT_EQ(frame_period(VideoTimings{}), Duration{0});
}

TEST(Timing, RefusesMoreThan1000Hz) {
  SimExecutor sim;
  TimingGenerator tg(sim, "tg");
  EXPECT_EQ(tg.set_timings(VideoTimings{100000, 100, 100, 100, 100}), -EINVAL);  // 10 kHz
  EXPECT_EQ(tg.set_timings(VideoTimings{10001, 100, 100, 100, 100}), -EINVAL);   // just above 1000 Hz
  EXPECT_EQ(tg.set_timings(VideoTimings{10000, 100, 100, 100, 100}), 0);         // exactly 1000 Hz
  EXPECT_EQ(tg.set_timings(VideoTimings{148500, 2300, 2200, 1080, 1125}), -EINVAL);  // hdisplay > htotal
  EXPECT_EQ(tg.set_timings(VideoTimings{0, 1920, 2200, 1080, 1125}), -EINVAL);
  TimingGenerator fresh(sim, "fresh");
  EXPECT_EQ(fresh.start(), -EINVAL);  // nothing programmed
}

TEST(Timing, VblankEveryPeriodWithExactTimestamps) {
  SimExecutor sim;
  TimingGenerator tg(sim, "tg");
  std::vector<std::pair<uint64_t, TimePoint>> seen;
  bool all_atomic = true;
  TimePoint t0{};
  auto r = sim.run([&] {
    ASSERT_EQ(tg.set_timings(k1080p), 0);
    tg.set_vblank_handler([&](uint64_t f, TimePoint ts) {
      all_atomic = all_atomic && in_atomic();
      EXPECT_EQ(now(), ts);  // on the virtual clock the callback runs exactly at its expiry
      seen.emplace_back(f, ts);
    });
    t0 = now();
    ASSERT_EQ(tg.start(), 0);
    EXPECT_TRUE(tg.running());
    sleep_for(tg.period() * 100 + tg.period() / 2);
    tg.stop();
    EXPECT_FALSE(tg.running());
    sleep_for(tg.period() * 5);  // nothing after stop
  });
  ASSERT_TRUE(r) << r.report;
  ASSERT_EQ(seen.size(), 100u);
  const Duration p = tg.period();
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first, i + 1);
    EXPECT_EQ(seen[i].second, t0 + p * static_cast<Duration::rep>(i + 1)) << i;  // no drift
  }
  EXPECT_TRUE(all_atomic);
  EXPECT_EQ(tg.frame_count(), 100u);
  EXPECT_EQ(tg.last_vblank(), seen.back().second);
  EXPECT_EQ(tg.overruns(), 0u);
}

TEST(Timing, RestartKeepsCountingAndRearmsFromStart) {
  SimExecutor sim;
  TimingGenerator tg(sim, "tg");
  std::vector<TimePoint> ts;
  auto r = sim.run([&] {
    ASSERT_EQ(tg.set_timings(k1080p), 0);
    tg.set_vblank_handler([&](uint64_t, TimePoint t) { ts.push_back(t); });
    tg.start();
    sleep_for(tg.period() * 3 + 1ms);
    tg.stop();
    sleep_for(100ms);
    const TimePoint t1 = now();
    tg.start();
    sleep_for(tg.period() * 2 + 1ms);
    tg.stop();
    ASSERT_EQ(ts.size(), 5u);
    EXPECT_EQ(ts[3], t1 + tg.period());
    EXPECT_EQ(tg.frame_count(), 5u);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Timing, ImmediateModeFiresOnArmOnly) {
  SimExecutor sim;
  TimingGenerator tg(sim, "tg");
  std::vector<TimePoint> ts;
  auto r = sim.run([&] {
    ASSERT_EQ(tg.set_immediate(true), 0);
    tg.set_vblank_handler([&](uint64_t, TimePoint t) { ts.push_back(t); });
    ASSERT_EQ(tg.start(), 0);  // no timings needed
    EXPECT_EQ(tg.set_immediate(false), -EBUSY);
    sleep_for(1s);
    EXPECT_TRUE(ts.empty());
    const TimePoint armed = now();
    tg.arm();
    tg.arm();  // coalesces
    tg.arm();
    sleep_for(1us);
    ASSERT_EQ(ts.size(), 1u);
    EXPECT_EQ(ts[0], armed);  // no frame wait
    tg.arm();
    sleep_for(1us);
    EXPECT_EQ(ts.size(), 2u);
    tg.stop();
    tg.arm();  // stopped: ignored
    sleep_for(1ms);
    EXPECT_EQ(ts.size(), 2u);
    EXPECT_EQ(tg.frame_count(), 2u);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Timing, DestroyedWhileRunningNeverCallsBack) {
  SimExecutor sim;
  int calls = 0;
  auto r = sim.run([&] {
    {
      TimingGenerator tg(sim, "tg");
      tg.set_timings(k1080p);
      tg.set_vblank_handler([&](uint64_t, TimePoint) { ++calls; });
      tg.start();
      sleep_for(tg.period() + 1ms);
    }
    sleep_for(1s);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(calls, 1);
}

TEST(Timing, LateCallbackCountsOverrunsOnRealThreads) {
  AsioExecutor ex(1);
  TimingGenerator tg(ex, "tg");
  ASSERT_EQ(tg.set_timings(VideoTimings{10000, 100, 100, 100, 100}), 0);  // 1 ms
  std::atomic<int> calls{0};
  std::vector<uint64_t> frames;
  tg.set_vblank_handler([&](uint64_t f, TimePoint) {
    frames.push_back(f);
    if (calls.fetch_add(1) == 0) {
      const auto until = std::chrono::steady_clock::now() + 6ms;  // hog the (only) CPU
      while (std::chrono::steady_clock::now() < until) {
      }
    }
  });
  ASSERT_EQ(tg.start(), 0);
  while (calls.load() < 3) std::this_thread::sleep_for(1ms);
  tg.stop();
  EXPECT_GE(tg.overruns(), 3u);
  ASSERT_GE(frames.size(), 2u);
  EXPECT_GE(frames[1], frames[0] + 4);  // the counter skipped the missed frames
  EXPECT_EQ(tg.frame_count(), frames.back());
}

}  // namespace
}  // namespace udrm::fakehw
