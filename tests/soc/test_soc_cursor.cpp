// udrm-soc legacy cursor updates (MODE_CURSOR): unsynchronised commits whose cleanup_fb unmaps
// the old plane state's DMA mapping. Every state maps its buffer anew, so even a plain move of
// the same cursor buffer replaces the mapping the pipe is scanning; the old one may only go
// once the pipe latched the new registers (no "dma-unmap-while-scanned" on the fake silicon).
#include "soc_test_util.h"
#include "udrm/drm/ioctl.h"
#include "udrm/fakehw/display.h"

namespace udrm::soctest {
namespace {

uint32_t cursor_bo(DrmFile& f) {
  drm_mode_create_dumb cd{};
  cd.width = 64;
  cd.height = 64;
  cd.bpp = 32;
  EXPECT_EQ(drm_ioctl(f, DRM_IOCTL_MODE_CREATE_DUMB, &cd), 0);
  return cd.handle;
}

int cursor_set(DrmFile& f, uint32_t crtc_id, uint32_t handle) {
  drm_mode_cursor c{};
  c.flags = DRM_MODE_CURSOR_BO;
  c.crtc_id = crtc_id;
  c.width = handle ? 64 : 0;
  c.height = handle ? 64 : 0;
  c.handle = handle;
  return drm_ioctl(f, DRM_IOCTL_MODE_CURSOR, &c);
}

int cursor_move(DrmFile& f, uint32_t crtc_id, int32_t x, int32_t y) {
  drm_mode_cursor c{};
  c.flags = DRM_MODE_CURSOR_MOVE;
  c.crtc_id = crtc_id;
  c.x = x;
  c.y = y;
  return drm_ioctl(f, DRM_IOCTL_MODE_CURSOR, &c);
}

std::string violations(const World& w) {
  std::string s;
  for (const Violation& v : w.violations()) s += v.kind + ": " + v.message + "; ";
  return s;
}

// The shapes the fuzzer found: a cursor shown and latched, then moved (on screen, off screen,
// several times within one frame, moves straddling vblanks), hidden, shown again; the file
// closes and a new master moves the cursor the first one set. No update may unmap the mapping
// the pipe still scans; the cursor on screen afterwards is the last one asked for.
TEST(SocCursor, LegacyMovesNeverUnmapTheLatchedCursorBuffer) {
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
    auto mode = find_mode(*hdmi, 1024, 768);
    ASSERT_TRUE(mode);
    Crtc* crtc = mode_config(d)->crtcs[0];
    drm_mode_create_dumb cd{};
    cd.width = 1024;
    cd.height = 768;
    cd.bpp = 32;
    ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_CREATE_DUMB, &cd), 0);
    drm_mode_fb_cmd2 add{};
    add.width = 1024;
    add.height = 768;
    add.pixel_format = DRM_FORMAT_XRGB8888;
    add.handles[0] = cd.handle;
    add.pitches[0] = cd.pitch;
    ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_ADDFB2, &add), 0);  // owned by f: removed at its close
    ASSERT_EQ(commit(*f, {.crtc = crtc, .conn = hdmi, .mode = &*mode, .fb = framebuffer_lookup(d, add.fb_id).get()}), 0);
    fakehw::DisplayController* dc = disp->board().display("dc");
    ASSERT_TRUE(dc->pipe_enabled(0));

    const uint32_t bo = cursor_bo(*f);
    ASSERT_EQ(cursor_set(*f, crtc->id, bo), 0);
    sleep_for(40ms);  // latched: the pipe scans the cursor
    ASSERT_TRUE(dc->latched(0, 2).enabled);
    EXPECT_TRUE(world.violations().empty()) << violations(world);

    ASSERT_EQ(cursor_move(*f, crtc->id, 100, 50), 0);
    EXPECT_TRUE(world.violations().empty()) << "move after latch: " << violations(world);
    for (int i = 0; i < 8; ++i) ASSERT_EQ(cursor_move(*f, crtc->id, 100 + i, 50 + i), 0);
    EXPECT_TRUE(world.violations().empty()) << "moves within a frame: " << violations(world);
    for (int i = 0; i < 4; ++i) {
      sleep_for(9ms);  // the modetest session's pace: some moves straddle a vblank
      ASSERT_EQ(cursor_move(*f, crtc->id, 200 + i, 100), 0);
    }
    EXPECT_TRUE(world.violations().empty()) << "paced moves: " << violations(world);
    sleep_for(40ms);
    ASSERT_EQ(cursor_move(*f, crtc->id, 9216, 0), 0);  // off screen
    EXPECT_TRUE(world.violations().empty()) << "off-screen move: " << violations(world);
    sleep_for(40ms);
    EXPECT_FALSE(dc->latched(0, 2).enabled);
    ASSERT_EQ(cursor_move(*f, crtc->id, 300, 200), 0);
    sleep_for(40ms);
    ASSERT_TRUE(dc->latched(0, 2).enabled);
    EXPECT_EQ(dc->latched(0, 2).dst.x, 300);
    ASSERT_EQ(cursor_set(*f, crtc->id, 0), 0);  // hide
    EXPECT_TRUE(world.violations().empty()) << "hide: " << violations(world);
    sleep_for(40ms);
    EXPECT_FALSE(dc->latched(0, 2).enabled);
    ASSERT_EQ(cursor_set(*f, crtc->id, bo), 0);  // shown again where it was
    sleep_for(40ms);
    EXPECT_EQ(dc->latched(0, 2).dst.x, 300);

    // The fuzzer's first input: the master closes (its framebuffer goes), a new master moves
    // the cursor it left behind, at once and then off screen.
    ASSERT_EQ(f->close(), 0);
    sleep_for(40ms);
    EXPECT_FALSE(dc->latched(0, 0).enabled);  // its framebuffer went with it
    EXPECT_TRUE(dc->latched(0, 2).enabled);
    Ref<DrmFile> g;
    ASSERT_EQ(disp->open(&g), 0);
    ASSERT_EQ(cursor_move(*g, crtc->id, 10, 10), 0);
    ASSERT_EQ(cursor_move(*g, crtc->id, 9216, 0), 0);
    EXPECT_TRUE(world.violations().empty()) << "new master's moves: " << violations(world);
    sleep_for(40ms);
    ASSERT_EQ(cursor_move(*g, crtc->id, 20, 20), 0);
    EXPECT_TRUE(world.violations().empty()) << "new master's moves: " << violations(world);

    ASSERT_EQ(g->close(), 0);
    ASSERT_EQ(disp->unbind("dc"), 0);
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_EQ(dc->dma().live_mappings(), 0u);
    sleep_for(1ms);
    disp.reset();
    EXPECT_TRUE(world.violations().empty()) << violations(world);
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::soctest
