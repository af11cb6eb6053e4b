// udrm-soc: the aggregate comes up in every probe order, any member's unbind tears it down
// (open files keep the zombie, -ENODEV), rebind gives a new instance and minor, remove/rescan,
// a failing regulator fails the probe cleanly, an IRQ storm during unbind is harmless.
#include <algorithm>

#include "soc_test_util.h"

namespace udrm::soctest {
namespace {

TEST(SocBind, EveryProbeOrderBindsTheAggregate) {
  std::vector<std::string> order{"dc", "hdmi", "panel"};
  std::sort(order.begin(), order.end());
  int permutations = 0;
  do {
    SimExecutor sim;
    World world(sim);
    auto r = sim.run([&] {
      DisplayOptions o;
      o.probe_order = order;
      auto disp = make_soc(world, o);
      ASSERT_EQ(disp->bind(), 0) << order[0] << "," << order[1] << "," << order[2];
      DrmDevice* d = disp->drm();
      ASSERT_NE(d, nullptr);
      EXPECT_STREQ(d->driver().name, "udrm-soc");
      EXPECT_TRUE(d->is_registered());
      ModeConfig* mc = mode_config(*d);
      ASSERT_NE(mc, nullptr);
      EXPECT_EQ(mc->crtcs.size(), 2u);
      EXPECT_EQ(mc->planes.size(), 6u);
      EXPECT_EQ(mc->encoders.size(), 2u);
      ASSERT_EQ(mc->connectors.size(), 2u);
      EXPECT_NE(find_connector(*d, "HDMI-A-1"), nullptr);
      EXPECT_NE(find_connector(*d, "DSI-1"), nullptr);
      for (const std::string& n : disp->device_names()) EXPECT_TRUE(disp->device(n)->is_bound()) << n;
      EXPECT_EQ(disp->live_drm_devices(), 1);
      Ref<DrmFile> f;
      ASSERT_EQ(disp->open(&f), 0);
      EXPECT_EQ(f->close(), 0);
      disp.reset();
      EXPECT_EQ(world.violations().size(), 0u);
    });
    ASSERT_TRUE(r) << r.report;
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 6);
}

TEST(SocBind, PanelDefersUntilTheDsiHostExists) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    DisplayOptions o;
    o.probe_order = {"panel", "hdmi", "dc"};
    auto disp = make_soc(world, o);
    ASSERT_EQ(disp->bind(), 0);
    EXPECT_TRUE(disp->device("panel")->is_bound());
    EXPECT_TRUE(world.bus().deferred_devices().empty());
    // Without the dc, the panel cannot probe at all: unbind dc, then panel, rebind panel.
    ASSERT_EQ(disp->unbind("dc"), 0);
    ASSERT_EQ(disp->unbind("panel"), 0);
    EXPECT_EQ(disp->rebind("panel"), -EPROBE_DEFER);
    EXPECT_FALSE(disp->device("panel")->is_bound());
    ASSERT_EQ(disp->rebind("dc"), 0);  // the dc's bind retries the panel: the aggregate is back
    EXPECT_TRUE(disp->device("panel")->is_bound());
    EXPECT_NE(disp->drm(), nullptr);
    disp.reset();
  });
  ASSERT_TRUE(r) << r.report;
}

class SocUnbindMember : public ::testing::TestWithParam<const char*> {};

TEST_P(SocUnbindMember, TearsDownAndRebindsANewInstanceWhileTheOldFileIsOpen) {
  const std::string member = GetParam();
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    DrmDevice* old = disp->drm();
    const int old_minor = old->minor_primary;
    Ref<DrmFile> f;
    ASSERT_EQ(disp->open(&f), 0);
    EXPECT_EQ(f->call([](DrmDevice&) { return 0; }), 0);

    ASSERT_EQ(disp->unbind(member), 0);
    EXPECT_EQ(disp->drm(), nullptr);
    EXPECT_TRUE(old->is_unplugged());
    EXPECT_FALSE(old->is_registered());
    EXPECT_EQ(f->call([](DrmDevice&) { return 0; }), -ENODEV);  // every ioctl
    EXPECT_EQ(disp->live_drm_devices(), 1);                      // the file keeps the zombie
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    Ref<DrmFile> none;
    EXPECT_EQ(disp->open(&none), -ENODEV);

    ASSERT_EQ(disp->rebind(member), 0);
    DrmDevice* fresh = disp->drm();
    ASSERT_NE(fresh, nullptr);
    EXPECT_NE(fresh, old);
    EXPECT_NE(fresh->minor_primary, old_minor);  // the old index stays reserved by the file
    EXPECT_EQ(disp->live_drm_devices(), 2);
    Ref<DrmFile> f2;
    ASSERT_EQ(disp->open(&f2), 0);
    EXPECT_EQ(f2->call([](DrmDevice&) { return 0; }), 0);

    EXPECT_EQ(f->close(), 0);  // the final put of the old instance
    EXPECT_EQ(disp->live_drm_devices(), 1);
    EXPECT_EQ(f2->call([](DrmDevice&) { return 0; }), 0);  // the new one is undisturbed
    EXPECT_EQ(f2->close(), 0);
    disp.reset();
    EXPECT_EQ(world.violations().size(), 0u);
  });
  ASSERT_TRUE(r) << r.report;
}

INSTANTIATE_TEST_SUITE_P(Members, SocUnbindMember, ::testing::Values("dc", "hdmi", "panel"));

TEST(SocBind, RemoveAndRescan) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    Ref<DrmFile> f;
    ASSERT_EQ(disp->open(&f), 0);
    DrmDevice* old = disp->drm();
    disp->remove();
    EXPECT_EQ(disp->drm(), nullptr);
    EXPECT_TRUE(old->is_unplugged());
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_EQ(world.bus().find_device("dc"), nullptr);
    ASSERT_EQ(disp->rescan(), 0);
    ASSERT_NE(disp->drm(), nullptr);
    EXPECT_NE(disp->drm(), old);
    EXPECT_EQ(disp->live_drm_devices(), 2);
    EXPECT_EQ(f->close(), 0);
    EXPECT_EQ(disp->live_drm_devices(), 1);
    disp.reset();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(SocBind, FailingHdmiSupplyFailsTheProbeCleanly) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    disp->board().regulator("hdmi-5v")->fail_next_enable(-EIO);
    EXPECT_EQ(disp->bind(), -EIO);
    EXPECT_EQ(disp->drm(), nullptr);
    EXPECT_EQ(disp->live_drm_devices(), 0);  // devm rollback freed the DRM device
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_EQ(disp->board().regulator("hdmi-5v")->enable_count(), 0);
    EXPECT_EQ(disp->board().mmio("dc")->live_mappings(), 0);
    // The fault was one-shot: binding again brings the display up.
    ASSERT_EQ(disp->bind(), 0);
    EXPECT_NE(disp->drm(), nullptr);
    EXPECT_EQ(disp->board().regulator("hdmi-5v")->enable_count(), 1);
    disp.reset();
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(SocBind, IrqStormDuringUnbindIsHarmless) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    DrmDevice& d = *disp->drm();
    Ref<DrmFile> f;
    ASSERT_EQ(disp->open(&f), 0);
    Connector* hdmi = find_connector(d, "HDMI-A-1");
    ASSERT_GT(probe_connector(d, *hdmi), 0);
    auto mode = find_mode(*hdmi, 1024, 768);
    ASSERT_TRUE(mode);
    Fb fb = make_fb(d, *f, 1024, 768, [](uint32_t x, uint32_t) { return x; });
    ASSERT_EQ(commit(*f, {.crtc = mode_config(d)->crtcs[0], .conn = hdmi, .mode = &*mode, .fb = fb.fb.get()}), 0);
    fakehw::DisplayController* dc = disp->board().display("dc");
    fakehw::IrqLine* line = disp->board().irq("dc");
    bool stop = false, stopped = false;
    world.executor().post([&] {
      while (!stop) {
        dc->fault_irq_storm(64);
        disp->board().hotplug("hdmi")->irq().storm(16);
        sleep_for(50us);
      }
      stopped = true;
    }, "irq-storm");
    sleep_for(1ms);
    ASSERT_EQ(disp->unbind("dc"), 0);
    const uint64_t handled = line->handled();
    sleep_for(1ms);
    stop = true;
    EXPECT_EQ(line->handled(), handled);  // freed: no handler ran after the unbind
    EXPECT_FALSE(line->requested());
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_TRUE(world.violations().empty());
    fb = Fb{};
    EXPECT_EQ(f->close(), 0);
    EXPECT_EQ(disp->live_drm_devices(), 0);
    while (!stopped) sleep_for(10us);  // the storm task touches the board: let it finish first
    disp.reset();
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::soctest
