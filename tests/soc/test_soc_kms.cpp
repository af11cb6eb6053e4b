// udrm-soc KMS behaviour on the fake silicon: HDMI modeset + CRC of a drawn pattern, flip events
// at the flip-done vblank, the DSI panel power sequence, HDMI hot-unplug, and unbind with
// outputs on (everything off afterwards, pending flip events still delivered).
#include "soc_test_util.h"
#include "udrm/fakehw/display.h"
#include "udrm/fakehw/edid_builder.h"
#include "udrm/fakehw/panel.h"
#include "udrm/kms/vblank.h"

namespace udrm::soctest {
namespace {

uint32_t pattern_a(uint32_t x, uint32_t y) { return fakehw::argb(0, uint8_t(x), uint8_t(y), uint8_t(x ^ y)); }
uint32_t pattern_b(uint32_t x, uint32_t y) { return fakehw::argb(0, uint8_t(y * 3), uint8_t(x * 5), 0x40); }

TEST(SocKms, HdmiModesetCrcMatchesThePatternAndFlipEventsArriveAtTheFlip) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    DrmDevice& d = *disp->drm();
    Ref<DrmFile> f;
    ASSERT_EQ(disp->open(&f), 0);
    Connector* hdmi = find_connector(d, "HDMI-A-1");
    ASSERT_NE(hdmi, nullptr);
    ASSERT_EQ(probe_connector(d, *hdmi), 3);
    EXPECT_EQ(hdmi->status, ConnectorStatus::connected);
    ASSERT_FALSE(hdmi->modes.empty());
    EXPECT_EQ(hdmi->modes[0].hdisplay, 1920);  // preferred first
    EXPECT_TRUE(hdmi->modes[0].type & DRM_MODE_TYPE_PREFERRED);
    EXPECT_TRUE(find_mode(*hdmi, 1280, 720));
    auto mode = find_mode(*hdmi, 1024, 768);
    ASSERT_TRUE(mode);
    EXPECT_TRUE(hdmi->edid_blob);

    Crtc* crtc = mode_config(d)->crtcs[0];
    Fb a = make_fb(d, *f, 1024, 768, pattern_a);
    Fb b = make_fb(d, *f, 1024, 768, pattern_b);
    ASSERT_EQ(commit(*f, {.crtc = crtc, .conn = hdmi, .mode = &*mode, .fb = a.fb.get(), .user_data = 1}), 0);
    fakehw::DisplayController* dc = disp->board().display("dc");
    EXPECT_TRUE(dc->pipe_enabled(0));
    EXPECT_FALSE(dc->pipe_enabled(1));
    EXPECT_TRUE(disp->board().hotplug("hdmi")->tmds_enabled());
    EXPECT_TRUE(disp->board().clock("dc-pix0")->enabled());
    EXPECT_EQ(disp->board().clock("dc-pix0")->rate(), uint64_t(mode->clock) * 1000);
    ASSERT_TRUE(wait_event(*f));
    auto evs = read_events(*f);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].base.type, uint32_t(DRM_EVENT_FLIP_COMPLETE));
    EXPECT_EQ(evs[0].user_data, 1u);
    EXPECT_EQ(dc->latched(0, 0).enabled, true);

    // CRC of what is on screen = the Composer's CRC of the pattern.
    ASSERT_EQ(crtc_crc_open(*crtc), 0);
    auto e = crtc_crc_wait(*crtc, crtc_vblank_count(*crtc) + 1, 200);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->crc, expected_crc(a));
    EXPECT_EQ(dc->crc(0), expected_crc(a));
    EXPECT_NE(expected_crc(a), expected_crc(b));

    // A nonblocking flip with an event: not before the flip, delivered at the vblank that latched it.
    const uint64_t flips = dc->flips(0);
    ASSERT_EQ(commit(*f, {.crtc = crtc, .fb = b.fb.get(), .user_data = 2, .nonblock = true}), 0);
    EXPECT_FALSE(f->has_events());
    ASSERT_TRUE(wait_event(*f, 100ms));
    EXPECT_EQ(dc->flips(0), flips + 1);
    evs = read_events(*f);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].user_data, 2u);
    EXPECT_EQ(evs[0].sequence, uint32_t(crtc_vblank_count(*crtc)));
    auto e2 = crtc_crc_wait(*crtc, crtc_vblank_count(*crtc) + 1, 200);
    ASSERT_TRUE(e2);
    EXPECT_EQ(e2->crc, expected_crc(b));
    crtc_crc_close(*crtc);

    // Back to back: the second nonblocking flip before the first completed is -EBUSY.
    ASSERT_EQ(commit(*f, {.crtc = crtc, .fb = a.fb.get(), .user_data = 3, .nonblock = true}), 0);
    EXPECT_EQ(commit(*f, {.crtc = crtc, .fb = b.fb.get(), .user_data = 4, .nonblock = true}), -EBUSY);
    ASSERT_TRUE(wait_event(*f));
    evs = read_events(*f);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].user_data, 3u);

    ASSERT_EQ(commit(*f, {.crtc = crtc, .disable = true}), 0);
    EXPECT_FALSE(dc->pipe_enabled(0));
    EXPECT_FALSE(disp->board().hotplug("hdmi")->tmds_enabled());
    EXPECT_FALSE(disp->board().clock("dc-pix0")->enabled());
    EXPECT_EQ(dc->dma().live_mappings(), 0u);
    a = Fb{};
    b = Fb{};
    EXPECT_EQ(f->close(), 0);
    disp.reset();
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(SocKms, DsiPanelPowerSequenceOnModesetAndOffOnDisable) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    DrmDevice& d = *disp->drm();
    Ref<DrmFile> f;
    ASSERT_EQ(disp->open(&f), 0);
    Connector* dsi = find_connector(d, "DSI-1");
    ASSERT_NE(dsi, nullptr);
    ASSERT_EQ(probe_connector(d, *dsi), 1);
    EXPECT_EQ(dsi->status, ConnectorStatus::connected);
    auto mode = find_mode(*dsi, 800, 480);
    ASSERT_TRUE(mode);
    EXPECT_EQ(mode->vrefresh(), 60);
    fakehw::DsiPanel* panel = disp->board().panel("panel");
    fakehw::Backlight* bl = disp->board().backlight("panel-backlight");
    EXPECT_FALSE(panel->powered());

    Crtc* crtc = mode_config(d)->crtcs[1];
    Fb a = make_fb(d, *f, 800, 480, pattern_a);
    ASSERT_EQ(commit(*f, {.crtc = crtc, .conn = dsi, .mode = &*mode, .fb = a.fb.get(), .user_data = 7}), 0);
    EXPECT_TRUE(panel->display_on());
    EXPECT_TRUE(bl->enabled());
    EXPECT_EQ(bl->brightness(), bl->max_brightness());
    EXPECT_EQ(panel->command_log(), (std::vector<uint8_t>{fakehw::dcs::EXIT_SLEEP_MODE, fakehw::dcs::SET_DISPLAY_ON}));
    EXPECT_TRUE(disp->board().display("dc")->pipe_enabled(1));
    ASSERT_TRUE(wait_event(*f));
    EXPECT_EQ(read_events(*f).at(0).user_data, 7u);
    ASSERT_EQ(crtc_crc_open(*crtc), 0);
    auto e = crtc_crc_wait(*crtc, crtc_vblank_count(*crtc) + 1, 200);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->crc, expected_crc(a));
    crtc_crc_close(*crtc);

    ASSERT_EQ(commit(*f, {.crtc = crtc, .disable = true, .user_data = 8}), 0);
    ASSERT_TRUE(wait_event(*f));
    EXPECT_EQ(read_events(*f).at(0).user_data, 8u);  // the disable's event, sent by atomic_disable
    EXPECT_FALSE(panel->display_on());
    EXPECT_FALSE(panel->powered());
    EXPECT_FALSE(bl->enabled());
    auto log = panel->command_log();
    ASSERT_EQ(log.size(), 4u);
    EXPECT_EQ(log[2], fakehw::dcs::SET_DISPLAY_OFF);
    EXPECT_EQ(log[3], fakehw::dcs::ENTER_SLEEP_MODE);
    EXPECT_FALSE(disp->board().display("dc")->pipe_enabled(1));
    a = Fb{};
    EXPECT_EQ(f->close(), 0);
    disp.reset();
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(SocKms, HdmiHotUnplugUpdatesStatusAndSendsHotplug) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    DrmDevice& d = *disp->drm();
    Connector* hdmi = find_connector(d, "HDMI-A-1");
    ASSERT_GT(probe_connector(d, *hdmi), 0);
    ASSERT_EQ(hdmi->status, ConnectorStatus::connected);
    ModeConfig* mc = mode_config(d);
    int uevents = 0;
    mc->hotplug_listeners.push_back([&] { ++uevents; });
    const uint64_t before = mc->hotplug_count;
    fakehw::HotplugDetect* hpd = disp->board().hotplug("hdmi");
    const uint64_t irqs = hpd->irq().handled();

    hpd->unplug();
    sleep_for(1ms);  // IRQ -> work -> helper_hpd_irq_event
    EXPECT_GT(hpd->irq().handled(), irqs);
    EXPECT_EQ(hdmi->status, ConnectorStatus::disconnected);
    EXPECT_EQ(mc->hotplug_count, before + 1);
    EXPECT_EQ(uevents, 1);
    EXPECT_EQ(probe_connector(d, *hdmi), 0);

    hpd->plug(fakehw::EdidBuilder().preferred(fakehw::edid_timing_1280x720_60()).build());
    sleep_for(1ms);
    EXPECT_EQ(hdmi->status, ConnectorStatus::connected);
    EXPECT_EQ(mc->hotplug_count, before + 2);
    EXPECT_EQ(probe_connector(d, *hdmi), 1);
    EXPECT_EQ(hdmi->modes.at(0).hdisplay, 1280);

    // After unbind the HPD interrupt is off and freed: a plug reaches nobody.
    ASSERT_EQ(disp->unbind("hdmi"), 0);
    EXPECT_FALSE(hpd->irq().requested());
    hpd->unplug();
    sleep_for(1ms);
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    disp.reset();
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

class SocUnbindLive : public ::testing::TestWithParam<const char*> {};

// Both outputs on, a nonblocking flip with an event in flight, then a member is unbound: the
// event still arrives, every block is off (pipes, TMDS, panel, backlight, clocks, supplies,
// IRQs, mappings, GPIO), no DMA mapping survives, nothing touched released hardware.
TEST_P(SocUnbindLive, EverythingOffAndPendingEventDelivered) {
  const std::string member = GetParam();
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    DrmDevice& d = *disp->drm();
    Ref<DrmFile> f;
    ASSERT_EQ(disp->open(&f), 0);
    Connector* hdmi = find_connector(d, "HDMI-A-1");
    Connector* dsi = find_connector(d, "DSI-1");
    ASSERT_GT(probe_connector(d, *hdmi), 0);
    ASSERT_GT(probe_connector(d, *dsi), 0);
    auto hm = find_mode(*hdmi, 1024, 768);
    auto pm = find_mode(*dsi, 800, 480);
    ASSERT_TRUE(hm && pm);
    Crtc* c0 = mode_config(d)->crtcs[0];
    Crtc* c1 = mode_config(d)->crtcs[1];
    Fb a = make_fb(d, *f, 1024, 768, pattern_a);
    Fb b = make_fb(d, *f, 1024, 768, pattern_b);
    Fb p = make_fb(d, *f, 800, 480, pattern_b);
    ASSERT_EQ(commit(*f, {.crtc = c0, .conn = hdmi, .mode = &*hm, .fb = a.fb.get()}), 0);
    ASSERT_EQ(commit(*f, {.crtc = c1, .conn = dsi, .mode = &*pm, .fb = p.fb.get()}), 0);
    fakehw::DisplayController* dc = disp->board().display("dc");
    ASSERT_TRUE(dc->pipe_enabled(0) && dc->pipe_enabled(1));
    ASSERT_TRUE(disp->board().panel("panel")->display_on());
    ASSERT_EQ(commit(*f, {.crtc = c0, .fb = b.fb.get(), .user_data = 42, .nonblock = true}), 0);

    ASSERT_EQ(disp->unbind(member), 0);
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_FALSE(dc->pipe_enabled(0));
    EXPECT_FALSE(dc->pipe_enabled(1));
    EXPECT_FALSE(disp->board().panel("panel")->display_on());
    EXPECT_FALSE(disp->board().backlight("panel-backlight")->enabled());
    EXPECT_EQ(dc->dma().live_mappings(), 0u);
    ASSERT_TRUE(wait_event(*f, 10ms));
    auto evs = read_events(*f);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].user_data, 42u);
    EXPECT_EQ(commit(*f, {.crtc = c0, .fb = a.fb.get()}), -ENODEV);
    EXPECT_TRUE(world.violations().empty());
    a = b = p = Fb{};
    EXPECT_EQ(f->close(), 0);
    // The nonblocking commit's worker drops its state (and device) reference right after
    // cleanup_done: let it run, then the zombie is gone.
    sleep_for(1ms);
    EXPECT_EQ(disp->live_drm_devices(), 0);
    EXPECT_EQ(disp->rebind(member), 0);
    disp.reset();
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

INSTANTIATE_TEST_SUITE_P(Members, SocUnbindLive, ::testing::Values("dc", "hdmi", "panel"));

TEST(SocKms, ImmediateVblankFlipsWithoutFrameWait) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    DisplayOptions o;
    o.immediate_vblank = true;
    auto disp = make_soc(world, o);
    ASSERT_EQ(disp->bind(), 0);
    DrmDevice& d = *disp->drm();
    Ref<DrmFile> f;
    ASSERT_EQ(disp->open(&f), 0);
    Connector* hdmi = find_connector(d, "HDMI-A-1");
    ASSERT_GT(probe_connector(d, *hdmi), 0);
    auto mode = find_mode(*hdmi, 1024, 768);
    Crtc* crtc = mode_config(d)->crtcs[0];
    Fb a = make_fb(d, *f, 1024, 768, pattern_a);
    Fb b = make_fb(d, *f, 1024, 768, pattern_b);
    ASSERT_EQ(commit(*f, {.crtc = crtc, .conn = hdmi, .mode = &*mode, .fb = a.fb.get()}), 0);
    const TimePoint t0 = now();
    for (uint64_t i = 1; i <= 20; ++i) {
      ASSERT_EQ(commit(*f, {.crtc = crtc, .fb = (i & 1 ? b : a).fb.get(), .user_data = i, .nonblock = true}), 0);
      ASSERT_TRUE(wait_event(*f, 5ms)) << i;
      auto evs = read_events(*f);
      ASSERT_EQ(evs.size(), 1u);
      EXPECT_EQ(evs[0].user_data, i);
    }
    EXPECT_LT(now() - t0, 16ms * 20);  // no frame periods waited
    a = b = Fb{};
    EXPECT_EQ(f->close(), 0);
    disp.reset();
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::soctest
