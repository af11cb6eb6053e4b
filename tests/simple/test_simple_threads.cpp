// udrm-simple on real threads (Asio executor) in immediate-vblank mode, the configuration the
// commit round-trip benchmark uses: every nonblocking flip's event arrives, none is dropped as
// a "redundant" vblank (the regression: timestamp-based counting of on-demand vblanks).
#include <gtest/gtest.h>

#include <drm_fourcc.h>

#include <cstring>

#include "udrm/base/asio_executor.h"
#include "udrm/core/world.h"
#include "udrm/drivers/simple.h"
#include "udrm/testing/kms_client.h"

namespace udrm {
namespace {

TEST(SimpleThreads, ImmediateVblankFlipRoundTripsOnAsio) {
  AsioExecutor ex(2);
  {
    World world(ex);
    drivers::DisplayOptions opts;
    opts.immediate_vblank = true;
    auto d = drivers::create_simple_display(world, opts);
    ASSERT_EQ(d->bind(), 0);
    Ref<DrmFile> f;
    ASSERT_EQ(d->open(&f), 0);
    testing::KmsClient c(f);
    ASSERT_EQ(c.enable_atomic(), 0);
    testing::KmsClient::Resources res;
    ASSERT_EQ(c.get_resources(&res), 0);
    testing::KmsClient::Connector conn;
    ASSERT_EQ(c.get_connector(res.connectors[0], &conn), 0);
    const drm_mode_modeinfo& mode = conn.modes.back();
    uint32_t plane = c.find_plane(0, 1);
    ASSERT_NE(plane, 0u);
    testing::KmsClient::Dumb b[2];
    uint32_t fb[2];
    for (int i = 0; i < 2; ++i) {
      ASSERT_EQ(c.create_dumb(mode.hdisplay, mode.vdisplay, 32, &b[i]), 0);
      ASSERT_EQ(c.add_fb(b[i], DRM_FORMAT_XRGB8888, &fb[i]), 0);
    }
    ASSERT_EQ(c.atomic_modeset(res.crtcs[0], conn.id, plane, fb[0], mode, DRM_MODE_ATOMIC_ALLOW_MODESET), 0);
    c.read_events();
    for (uint64_t i = 1; i <= 200; ++i) {
      ASSERT_EQ(c.atomic_flip(plane, fb[i & 1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, i), 0) << i;
      alignas(8) char buf[64];
      ASSERT_EQ(f->read(buf, sizeof(buf), true), static_cast<long>(sizeof(drm_event_vblank))) << i;
      drm_event_vblank ev;
      std::memcpy(&ev, buf, sizeof(ev));
      EXPECT_EQ(ev.user_data, i);
    }
    for (auto& x : b) c.destroy_dumb(x);
    EXPECT_EQ(c.close(), 0);
    EXPECT_EQ(d->unbind(), 0);
    d.reset();
  }
  ex.shutdown();
}

}  // namespace
}  // namespace udrm
