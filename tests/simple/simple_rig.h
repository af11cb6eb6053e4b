// Shared fixture of the udrm-simple tests: a simulated world with one simple Display, a
// libdrm-like client (udrm::testing::KmsClient) and the helpers every test needs (modeset,
// event wait, the expected CRC of a pattern computed independently of the driver).
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include <drm.h>
#include <drm_fourcc.h>
#include <drm_mode.h>

#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"
#include "udrm/core/world.h"
#include "udrm/drivers/simple.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/fakehw/compose.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"
#include "udrm/testing/kms_client.h"

namespace udrm::drivers::simple_test {

using namespace std::chrono_literals;
using testing::KmsClient;

/// "type" property values (xf86drmMode.h DRM_PLANE_TYPE_*).
inline constexpr uint64_t kOverlay = static_cast<uint64_t>(PlaneType::overlay);
inline constexpr uint64_t kPrimary = static_cast<uint64_t>(PlaneType::primary);
inline constexpr uint64_t kCursor = static_cast<uint64_t>(PlaneType::cursor);

/// 1024x768@60 (VESA DMT): 65 MHz, 1344 x 806 → 16.6656 ms.
inline constexpr Duration kPeriod1024 = Duration(16'665'600);

/// Run body as the main task of a fresh simulated world; assert the run ended cleanly.
inline void run_sim(const std::function<void(World&)>& body) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] { body(world); });
  ASSERT_TRUE(r) << r.report;
}

/// A client with the display's resources looked up and a mode set.
struct Screen {
  std::unique_ptr<KmsClient> client;
  uint32_t crtc = 0, conn = 0, primary = 0, overlay = 0, cursor = 0;
  drm_mode_modeinfo mode{};
  KmsClient::Dumb buf[2];
  uint32_t fb[2] = {0, 0};

  KmsClient& c() { return *client; }
};

/// Open, enable atomic, look everything up, create two patterned buffers of `mode`.
inline void open_screen(Display& d, Screen* s, const char* want_mode = "1024x768") {
  Ref<DrmFile> f;
  ASSERT_EQ(d.open(&f), 0);
  s->client = std::make_unique<KmsClient>(f);
  KmsClient& c = s->c();
  ASSERT_EQ(c.enable_atomic(), 0);
  KmsClient::Resources res;
  ASSERT_EQ(c.get_resources(&res), 0);
  ASSERT_EQ(res.crtcs.size(), 1u);
  ASSERT_EQ(res.connectors.size(), 1u);
  s->crtc = res.crtcs[0];
  s->conn = res.connectors[0];
  KmsClient::Connector conn;
  ASSERT_EQ(c.get_connector(s->conn, &conn), 0);
  bool found = false;
  for (auto& m : conn.modes)
    if (std::strcmp(m.name, want_mode) == 0 && !found) {
      s->mode = m;
      found = true;
    }
  ASSERT_TRUE(found) << "no mode " << want_mode;
  s->primary = c.find_plane(0, kPrimary);
  s->overlay = c.find_plane(0, kOverlay);
  s->cursor = c.find_plane(0, kCursor);
  ASSERT_NE(s->primary, 0u);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(c.create_dumb(s->mode.hdisplay, s->mode.vdisplay, 32, &s->buf[i]), 0);
    testing::fill_pattern(s->buf[i], 100 + i);
    ASSERT_EQ(c.add_fb(s->buf[i], DRM_FORMAT_XRGB8888, &s->fb[i]), 0);
  }
}

/// open_screen + a blocking modeset showing buf[0].
inline void modeset_screen(Display& d, Screen* s, const char* want_mode = "1024x768") {
  ASSERT_NO_FATAL_FAILURE(open_screen(d, s, want_mode));
  ASSERT_EQ(s->c().atomic_modeset(s->crtc, s->conn, s->primary, s->fb[0], s->mode, DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
}

/// Unmap the buffers (a mapping holds the file, like a vma) and close: the file's release.
inline int close_screen(Screen* s) {
  for (auto& b : s->buf)
    if (b.map) {
      EXPECT_EQ(s->c().file().munmap(b.map, b.size), 0);
      b.map = nullptr;
    }
  return s->c().close();
}

/// Block until one event is readable and return it.
inline drm_event_vblank wait_event(KmsClient& c) {
  alignas(8) char buf[sizeof(drm_event_vblank)];
  long n = c.file().read(buf, sizeof(buf), true);
  drm_event_vblank v{};
  EXPECT_EQ(n, static_cast<long>(sizeof(v)));
  if (n == static_cast<long>(sizeof(v))) std::memcpy(&v, buf, sizeof(v));
  return v;
}

/// The CRC of an XRGB8888 buffer shown full screen, computed two ways without the driver:
/// fakehw's Composer, and CRC-32 over the pixels with the X byte cleared.
inline uint32_t expected_crc(const KmsClient::Dumb& b, uint32_t w, uint32_t h) {
  fakehw::Composer comp;
  fakehw::PlaneDesc p;
  p.fourcc = DRM_FORMAT_XRGB8888;
  p.pixels = b.map;
  p.pitch = b.pitch;
  p.src = {0, 0, w, h};
  p.dst = {0, 0, w, h};
  EXPECT_EQ(comp.compose(w, h, {&p, 1}), 0);
  std::vector<uint32_t> px(size_t{w} * h);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) {
      uint32_t v;
      std::memcpy(&v, b.map + size_t{y} * b.pitch + size_t{x} * 4, 4);
      px[size_t{y} * w + x] = v & 0x00ffffffu;
    }
  EXPECT_EQ(comp.crc(), fakehw::frame_crc(px.data(), px.size() * 4));
  return comp.crc();
}

inline Crtc& drm_crtc0(Display& d) { return *mode_config(*d.drm())->crtcs.at(0); }

/// The health check of igt's core_hotunplug, on the current binding: reopen, modeset, flip
/// with an event, CRC of the shown pattern matches.
inline void health_check(Display& d) {
  Screen s;
  ASSERT_NO_FATAL_FAILURE(modeset_screen(d, &s));
  ASSERT_EQ(s.c().page_flip(s.crtc, s.fb[1], DRM_MODE_PAGE_FLIP_EVENT, 0x4ea1), 0);
  drm_event_vblank ev = wait_event(s.c());
  EXPECT_EQ(ev.base.type, static_cast<uint32_t>(DRM_EVENT_FLIP_COMPLETE));
  EXPECT_EQ(ev.user_data, 0x4ea1u);
  Crtc& crtc = drm_crtc0(d);
  ASSERT_EQ(crtc_crc_open(crtc), 0);
  uint64_t now_frame = crtc_vblank_count(crtc);
  auto e = crtc_crc_wait(crtc, now_frame + 1, 1000);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->crc, expected_crc(s.buf[1], s.mode.hdisplay, s.mode.vdisplay));
  crtc_crc_close(crtc);
  EXPECT_EQ(close_screen(&s), 0);
}

}  // namespace udrm::drivers::simple_test
