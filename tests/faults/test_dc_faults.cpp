// Display-controller and power faults on udrm-soc (fakehw fault injection): a flip that never
// completes (kernel-semantics §5.2 rules 8-10, A5: 10 s timeouts, logged, then proceed), a
// reset that never finishes at bind, interrupt storms during a commit stream and an unbind,
// scanout underruns, regulators that fail to enable. Each ends with nothing left on, no
// violation, and a healthy device after the fault clears.
#include <gtest/gtest.h>

#include <map>

#include "udrm/base/fault.h"

#include "../../drivers/soc/soc_drv.h"
#include "../hotunplug/scenario.h"
#include "../soc/soc_test_util.h"

namespace udrm::faults {
namespace {

using namespace std::chrono_literals;
using soctest::join;
using soctest::make_soc;
using testing::KmsClient;

constexpr uint32_t kEv = DRM_MODE_PAGE_FLIP_EVENT;

/// user_data -> how many times it was delivered.
void count_events(KmsClient& c, std::map<uint64_t, int>* seen) {
  for (const auto& e : c.read_events()) ++(*seen)[e.user_data];
}

double seconds_since(TimePoint t0) { return std::chrono::duration<double>(now() - t0).count(); }

// ---- stuck flip ---------------------------------------------------------------------------------

TEST(DcFaults, StuckFlipTimesOutThenEveryEventIsDeliveredOnceAndUnbindIsBounded) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    scenario::ActiveClient ac;
    ASSERT_TRUE(scenario::open_and_modeset(*disp, 7, &ac));
    KmsClient& c = *ac.c;
    const uint32_t pipe = ac.out.crtc_index;
    fakehw::DisplayController* dc = disp->board().display("dc");
    std::map<uint64_t, int> seen;

    // A normal flip works.
    ASSERT_EQ(c.atomic_flip(ac.out.plane_id, ac.fb[1], DRM_MODE_ATOMIC_NONBLOCK | kEv, 1), 0);
    sleep_for(100ms);
    count_events(c, &seen);
    EXPECT_EQ(seen[1], 1);

    // GO never latches from now on: no FLIP_DONE, the event stays parked in the driver.
    dc->fault_stuck_flip(pipe, true);
    ASSERT_EQ(c.atomic_flip(ac.out.plane_id, ac.fb[0], DRM_MODE_ATOMIC_NONBLOCK | kEv, 2), 0);
    sleep_for(500ms);
    count_events(c, &seen);
    EXPECT_EQ(seen[2], 0) << "a stuck flip cannot complete";
    EXPECT_EQ(c.atomic_flip(ac.out.plane_id, ac.fb[1], DRM_MODE_ATOMIC_NONBLOCK | kEv, 3), -EBUSY);

    // The next (blocking) commit waits the kernel's 10 s for the previous flip — once per
    // object it shares with it (CRTC, then plane: wait_for_dependencies) — logs, and proceeds;
    // then its own flip times out too (10 s). The stuck event goes out late (the driver's
    // flush), never twice. The buffer the stuck flip was to replace stays mapped: no scanout
    // of unmapped memory (the helpers' cleanup after a timeout would release it).
    ::testing::internal::CaptureStderr();
    const TimePoint t0 = now();
    const int ret = c.atomic_flip(ac.out.plane_id, ac.fb[1], kEv, 4);
    const double waited = seconds_since(t0);
    const std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_EQ(ret, 0);
    EXPECT_GE(waited, 30.0);
    EXPECT_LE(waited, 31.0);
    EXPECT_NE(log.find("flip_done timed out"), std::string::npos) << log;
    EXPECT_NE(log.find("commit wait timed out"), std::string::npos) << log;
    count_events(c, &seen);
    EXPECT_EQ(seen[2], 1);
    EXPECT_EQ(seen[4], 0);  // still stuck: parked

    EXPECT_TRUE(world.violations().empty()) << world.violations().front().message;

    // Unbind with the fault still on: bounded (shutdown waits out the stuck flip's
    // dependencies, 2 x 10 s), the parked event is completed by the disable.
    DrmDevice* old = disp->drm();
    const TimePoint t1 = now();
    ASSERT_EQ(disp->unbind("dc"), 0);
    EXPECT_LE(seconds_since(t1), 21.0);
    EXPECT_TRUE(old->is_unplugged());
    count_events(c, &seen);
    EXPECT_EQ(seen[4], 1);
    EXPECT_EQ(seen.count(3), 0u);  // the -EBUSY one was never queued
    for (auto& [ud, n] : seen) EXPECT_EQ(n, 1) << "event " << ud;
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_TRUE(world.violations().empty());
    for (auto& b : ac.buf) c.destroy_dumb(b);
    EXPECT_EQ(c.close(), 0);
    scenario::settle();
    EXPECT_EQ(disp->live_drm_devices(), 0);

    dc->fault_stuck_flip(pipe, false);
    ASSERT_EQ(disp->rebind("dc"), 0);
    EXPECT_TRUE(scenario::health_check(*disp, 8));
    disp.reset();
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

// ---- stuck BUSY at bind -------------------------------------------------------------------------

TEST(DcFaults, StuckBusyAtBindFailsCleanlyAndRebindsAfterTheFaultClears) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    fakehw::DisplayController* dc = disp->board().display("dc");
    dc->fault_stuck_busy(true);
    EXPECT_EQ(disp->bind(), -ETIMEDOUT);
    EXPECT_EQ(disp->drm(), nullptr);
    EXPECT_EQ(disp->live_drm_devices(), 0);  // devm rollback dropped the DRM device
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_EQ(disp->board().mmio("dc")->live_mappings(), 0);
    EXPECT_EQ(disp->board().clock("dc-bus")->enable_count(), 0);
    EXPECT_FALSE(disp->board().irq("dc")->requested());
    EXPECT_TRUE(world.violations().empty());

    dc->fault_stuck_busy(false);
    ASSERT_EQ(disp->bind(), 0);
    EXPECT_TRUE(scenario::health_check(*disp, 3));
    disp.reset();
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

// ---- interrupt storms ----------------------------------------------------------------------------

TEST(DcFaults, IrqStormDuringACommitStreamAndItsUnbindIsHarmless) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    scenario::ActiveClient ac;
    ASSERT_TRUE(scenario::open_and_modeset(*disp, 11, &ac));
    fakehw::DisplayController* dc = disp->board().display("dc");
    fakehw::IrqLine* line = disp->board().irq("dc");
    bool stop_storm = false;
    int storms = 0;
    world.executor().post(
        [&] {
          while (!stop_storm) {
            dc->fault_irq_storm(64);
            disp->board().hotplug("hdmi")->irq().storm(8);
            ++storms;
            sleep_for(200us);
          }
        },
        "irq-storm");
    const uint64_t handled0 = line->handled();
    scenario::Load load;
    world.executor().post([&] { scenario::run_flip_load(ac, &load); }, "flip-load");
    sleep_for(300ms);
    load.stop = true;
    while (!load.done) sleep_for(1ms);
    sleep_for(100ms);  // the last flip completes
    load.delivered += static_cast<int>(ac.c->read_events().size());
    EXPECT_GT(load.requested, 10);
    EXPECT_EQ(load.delivered, load.requested);  // every flip completed once, storm or not
    EXPECT_GT(storms, 100);
    EXPECT_GT(line->handled(), handled0);

    // Now unbind while the storm goes on and a flip is in flight.
    ASSERT_EQ(ac.c->atomic_flip(ac.out.plane_id, ac.fb[0], DRM_MODE_ATOMIC_NONBLOCK | kEv, 999), 0);
    ASSERT_EQ(disp->unbind("dc"), 0);
    const uint64_t handled = line->handled();
    sleep_for(2ms);
    stop_storm = true;
    EXPECT_EQ(line->handled(), handled);  // freed: no handler after the unbind
    auto evs = ac.c->read_events();
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].user_data, 999u);
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_TRUE(world.violations().empty());
    for (auto& b : ac.buf) ac.c->destroy_dumb(b);  // a mapping keeps the device alive
    EXPECT_EQ(ac.c->close(), 0);
    scenario::settle();
    EXPECT_EQ(disp->live_drm_devices(), 0);
    ASSERT_EQ(disp->rebind("dc"), 0);
    EXPECT_TRUE(scenario::health_check(*disp, 12));
    disp.reset();
  });
  ASSERT_TRUE(r) << r.report;
}

// ---- underrun ------------------------------------------------------------------------------------

TEST(DcFaults, UnderrunsAreCountedAndScanoutContinues) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    scenario::ActiveClient ac;
    ASSERT_TRUE(scenario::open_and_modeset(*disp, 21, &ac));
    const uint32_t pipe = ac.out.crtc_index;
    fakehw::DisplayController* dc = disp->board().display("dc");
    auto* hw = disp->device("dc")->drvdata<drivers::soc::DcHw>();
    ASSERT_NE(hw, nullptr);
    const uint64_t before = hw->underruns.load();
    dc->fault_underrun(pipe, 5);
    sleep_for(200ms);  // 12 frames at 60 Hz
    EXPECT_EQ(dc->underruns(pipe), 5u);
    EXPECT_EQ(hw->underruns.load() - before, 5u);  // the driver saw each one
    EXPECT_TRUE(dc->pipe_enabled(pipe));           // no crash, still scanning
    // Flips keep working.
    ASSERT_EQ(ac.c->atomic_flip(ac.out.plane_id, ac.fb[1], DRM_MODE_ATOMIC_NONBLOCK | kEv, 5), 0);
    sleep_for(100ms);
    auto evs = ac.c->read_events();
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].user_data, 5u);
    for (auto& b : ac.buf) ac.c->destroy_dumb(b);
    EXPECT_EQ(ac.c->close(), 0);
    ASSERT_EQ(disp->unbind("dc"), 0);
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_TRUE(world.violations().empty());
    disp.reset();
  });
  ASSERT_TRUE(r) << r.report;
}

// ---- a pixel clock that fails to enable ----------------------------------------------------------

// atomic_enable cannot return an error: the modeset "succeeds" on a dark pipe. Flips keep
// completing (events at once); the next commit that allows a modeset retries the enable
// (regression: the CRTC stayed dark for good, a same-mode modeset needing no modeset).
TEST(DcFaults, PixelClockFailureLeavesTheCrtcDarkUntilTheNextModesetRetries) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    fakehw::DisplayController* dc = disp->board().display("dc");
    scenario::ActiveClient ac;
    {
      FailNth inj(1, "clk.enable");
      ScopedFaultInjector scope(inj);
      ASSERT_TRUE(scenario::open_and_modeset(*disp, 51, &ac));
      EXPECT_TRUE(inj.fired());
    }
    const uint32_t pipe = ac.out.crtc_index;
    EXPECT_FALSE(dc->pipe_enabled(pipe));
    EXPECT_FALSE(disp->board().clock(pipe == 0 ? "dc-pix0" : "dc-pix1")->enabled());
    ASSERT_EQ(ac.c->atomic_flip(ac.out.plane_id, ac.fb[1], DRM_MODE_ATOMIC_NONBLOCK | kEv, 6), 0);
    sleep_for(50ms);
    auto evs = ac.c->read_events();
    ASSERT_EQ(evs.size(), 1u);  // nothing to wait for on a dark pipe: sent at once
    EXPECT_FALSE(dc->pipe_enabled(pipe));
    // The same mode again, with ALLOW_MODESET: the driver retries the enable.
    ASSERT_EQ(ac.c->atomic_modeset(ac.out.crtc_id, ac.out.conn_id, ac.out.plane_id, ac.fb[0], ac.out.mode,
                                   DRM_MODE_ATOMIC_ALLOW_MODESET),
              0);
    EXPECT_TRUE(dc->pipe_enabled(pipe));
    for (auto& b : ac.buf) ac.c->destroy_dumb(b);
    EXPECT_EQ(ac.c->close(), 0);
    EXPECT_TRUE(scenario::health_check(*disp, 52));
    ASSERT_EQ(disp->unbind("dc"), 0);
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_TRUE(world.violations().empty());
    disp.reset();
  });
  ASSERT_TRUE(r) << r.report;
}

// ---- regulators ----------------------------------------------------------------------------------

TEST(DcFaults, Hdmi5vThatFailsToEnableFailsTheBindCleanly) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    disp->board().regulator("hdmi-5v")->fail_next_enable(-EREMOTEIO);
    EXPECT_EQ(disp->bind(), -EREMOTEIO);
    EXPECT_EQ(disp->drm(), nullptr);
    EXPECT_EQ(disp->live_drm_devices(), 0);
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_TRUE(world.violations().empty());
    ASSERT_EQ(disp->bind(), 0);
    EXPECT_TRUE(scenario::health_check(*disp, 31));
    disp.reset();
  });
  ASSERT_TRUE(r) << r.report;
}

// The panel supply is switched in the encoder's enable (a commit), not at bind: the enable
// fails quietly (void hook, logged), nothing is left half on, the next enable works.
TEST(DcFaults, PanelSupplyThatFailsToEnableLeavesNothingOnAndTheNextEnableWorks) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    fakehw::Regulator* vdd = disp->board().regulator("panel-vdd");
    fakehw::DsiPanel* panel = disp->board().panel("panel");
    fakehw::Backlight* bl = disp->board().backlight("panel-backlight");
    vdd->fail_next_enable(-EIO);
    scenario::ActiveClient ac;
    ASSERT_TRUE(scenario::open_and_modeset(*disp, 41, &ac));  // the smallest mode: the DSI panel
    EXPECT_EQ(vdd->enable_count(), 0);
    EXPECT_FALSE(panel->powered());
    EXPECT_FALSE(panel->display_on());
    EXPECT_FALSE(bl->enabled());
    // Off, then on again: the fault was one-shot.
    ASSERT_EQ(ac.c->atomic_disable(ac.out.crtc_id, ac.out.conn_id, ac.out.plane_id, DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
    ASSERT_EQ(ac.c->atomic_modeset(ac.out.crtc_id, ac.out.conn_id, ac.out.plane_id, ac.fb[0], ac.out.mode,
                                   DRM_MODE_ATOMIC_ALLOW_MODESET),
              0);
    EXPECT_EQ(vdd->enable_count(), 1);
    EXPECT_TRUE(panel->display_on());
    EXPECT_TRUE(bl->enabled());
    for (auto& b : ac.buf) ac.c->destroy_dumb(b);
    EXPECT_EQ(ac.c->close(), 0);
    ASSERT_EQ(disp->unbind("dc"), 0);
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_EQ(vdd->enable_count(), 0);
    EXPECT_TRUE(world.violations().empty());
    ASSERT_EQ(disp->rebind("dc"), 0);
    EXPECT_TRUE(scenario::health_check(*disp, 42));
    disp.reset();
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::faults
