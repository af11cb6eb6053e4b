// udrm-soc driven through the DRM uAPI (drm_ioctl with libdrm's structs), as a KMS client would:
// GETRESOURCES, GETCONNECTOR (two-pass), CREATE_DUMB, MAP_DUMB + mmap, ADDFB2, SETCRTC,
// PAGE_FLIP with an event, read(); the CRC of the pattern drawn through the mapping; unbind
// turns the same file's ioctls into -ENODEV while the queued event stays readable.
#include <sys/mman.h>

#include "soc_test_util.h"
#include "udrm/drm/ioctl.h"
#include "udrm/kms/vblank.h"

namespace udrm::soctest {
namespace {

struct Dumb {
  uint32_t handle = 0, pitch = 0, fb_id = 0;
  uint64_t size = 0;
  void* map = nullptr;
};

Dumb make_dumb(DrmFile& f, uint32_t w, uint32_t h, uint32_t (*pixel)(uint32_t, uint32_t)) {
  Dumb d;
  drm_mode_create_dumb cd{};
  cd.width = w;
  cd.height = h;
  cd.bpp = 32;
  EXPECT_EQ(drm_ioctl(f, DRM_IOCTL_MODE_CREATE_DUMB, &cd), 0);
  d.handle = cd.handle;
  d.pitch = cd.pitch;
  d.size = cd.size;
  drm_mode_map_dumb md{};
  md.handle = d.handle;
  EXPECT_EQ(drm_ioctl(f, DRM_IOCTL_MODE_MAP_DUMB, &md), 0);
  EXPECT_EQ(f.mmap(md.offset, d.size, PROT_READ | PROT_WRITE, &d.map), 0);
  if (!d.map) return d;
  auto* px = static_cast<uint32_t*>(d.map);
  for (uint32_t y = 0; y < h; ++y)
    for (uint32_t x = 0; x < w; ++x) px[y * (d.pitch / 4) + x] = pixel(x, y);
  drm_mode_fb_cmd2 fb{};
  fb.width = w;
  fb.height = h;
  fb.pixel_format = DRM_FORMAT_XRGB8888;
  fb.handles[0] = d.handle;
  fb.pitches[0] = d.pitch;
  EXPECT_EQ(drm_ioctl(f, DRM_IOCTL_MODE_ADDFB2, &fb), 0);
  d.fb_id = fb.fb_id;
  return d;
}

uint32_t crc_of(const Dumb& d, uint32_t w, uint32_t h) {
  fakehw::PlaneDesc p;
  p.fourcc = DRM_FORMAT_XRGB8888;
  p.pixels = d.map;
  p.pitch = d.pitch;
  p.src = {0, 0, w, h};
  p.dst = {0, 0, w, h};
  fakehw::Composer c;
  EXPECT_EQ(c.compose(w, h, std::span<const fakehw::PlaneDesc>(&p, 1)), 0);
  return c.crc();
}

uint32_t stripes(uint32_t x, uint32_t y) { return ((x / 16 + y / 16) & 1) ? 0x00ff8000u : 0x000040ffu; }
uint32_t ramp(uint32_t x, uint32_t y) { return (x & 0xff) << 16 | (y & 0xff) << 8; }

TEST(SocUapi, SetCrtcPageFlipEventAndCrcThroughIoctls) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    auto disp = make_soc(world);
    ASSERT_EQ(disp->bind(), 0);
    Ref<DrmFile> f;
    ASSERT_EQ(disp->open(&f), 0);

    drm_version ver{};
    char name[32] = {};
    ver.name = name;
    ver.name_len = sizeof name - 1;
    ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_VERSION, &ver), 0);
    EXPECT_STREQ(name, "udrm-soc");

    uint32_t crtcs[4] = {}, conns[4] = {}, encs[4] = {};
    drm_mode_card_res res{};
    ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_GETRESOURCES, &res), 0);
    ASSERT_EQ(res.count_crtcs, 2u);
    ASSERT_EQ(res.count_connectors, 2u);
    ASSERT_EQ(res.count_encoders, 2u);
    res.crtc_id_ptr = reinterpret_cast<uintptr_t>(crtcs);
    res.connector_id_ptr = reinterpret_cast<uintptr_t>(conns);
    res.encoder_id_ptr = reinterpret_cast<uintptr_t>(encs);
    res.count_fbs = 0;
    ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_GETRESOURCES, &res), 0);

    // Find the HDMI connector and its 1024x768 mode (two-pass GETCONNECTOR).
    uint32_t hdmi_id = 0;
    drm_mode_modeinfo mode{};
    for (uint32_t i = 0; i < 2 && !hdmi_id; ++i) {
      drm_mode_get_connector gc{};
      gc.connector_id = conns[i];
      ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_GETCONNECTOR, &gc), 0);
      if (gc.connector_type != DRM_MODE_CONNECTOR_HDMIA) continue;
      EXPECT_EQ(gc.connection, 1u);  // DRM_MODE_CONNECTED
      std::vector<drm_mode_modeinfo> modes(gc.count_modes);
      ASSERT_EQ(gc.count_modes, 3u);
      drm_mode_get_connector gc2{};
      gc2.connector_id = conns[i];
      gc2.count_modes = gc.count_modes;
      gc2.modes_ptr = reinterpret_cast<uintptr_t>(modes.data());
      ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_GETCONNECTOR, &gc2), 0);
      EXPECT_EQ(modes[0].hdisplay, 1920);
      for (auto& m : modes)
        if (m.hdisplay == 1024 && m.vdisplay == 768) mode = m;
      hdmi_id = conns[i];
    }
    ASSERT_NE(hdmi_id, 0u);
    ASSERT_EQ(mode.hdisplay, 1024);

    Dumb a = make_dumb(*f, 1024, 768, stripes);
    Dumb b = make_dumb(*f, 1024, 768, ramp);
    ASSERT_NE(a.fb_id, 0u);
    ASSERT_NE(b.fb_id, 0u);

    drm_mode_crtc sc{};
    sc.crtc_id = crtcs[0];
    sc.fb_id = a.fb_id;
    sc.set_connectors_ptr = reinterpret_cast<uintptr_t>(&hdmi_id);
    sc.count_connectors = 1;
    sc.mode = mode;
    sc.mode_valid = 1;
    ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_SETCRTC, &sc), 0);
    fakehw::DisplayController* dc = disp->board().display("dc");
    EXPECT_TRUE(dc->pipe_enabled(0));

    Crtc* crtc = mode_config(*disp->drm())->crtcs[0];
    ASSERT_EQ(crtc->id, crtcs[0]);
    ASSERT_EQ(crtc_crc_open(*crtc), 0);
    auto e = crtc_crc_wait(*crtc, crtc_vblank_count(*crtc) + 1, 200);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->crc, crc_of(a, 1024, 768));

    drm_mode_crtc_page_flip pf{};
    pf.crtc_id = crtcs[0];
    pf.fb_id = b.fb_id;
    pf.flags = DRM_MODE_PAGE_FLIP_EVENT;
    pf.user_data = 0x5eed;
    ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_PAGE_FLIP, &pf), 0);
    EXPECT_FALSE(f->has_events());
    ASSERT_TRUE(wait_event(*f));
    auto evs = read_events(*f);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].base.type, uint32_t(DRM_EVENT_FLIP_COMPLETE));
    EXPECT_EQ(evs[0].user_data, 0x5eedu);
    auto e2 = crtc_crc_wait(*crtc, crtc_vblank_count(*crtc) + 1, 200);
    ASSERT_TRUE(e2);
    EXPECT_EQ(e2->crc, crc_of(b, 1024, 768));
    crtc_crc_close(*crtc);

    // A flip still pending when the dc is unbound: its event is readable afterwards, every
    // ioctl of the file is -ENODEV, the hardware is off.
    pf.fb_id = a.fb_id;
    pf.user_data = 0xdead;
    ASSERT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_PAGE_FLIP, &pf), 0);
    ASSERT_EQ(disp->unbind("dc"), 0);
    ASSERT_TRUE(wait_event(*f, 10ms));
    evs = read_events(*f);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].user_data, 0xdeadu);
    EXPECT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_GETRESOURCES, &res), -ENODEV);
    EXPECT_EQ(drm_ioctl(*f, DRM_IOCTL_MODE_PAGE_FLIP, &pf), -ENODEV);
    EXPECT_TRUE(disp->leaks().empty()) << join(disp->leaks());
    EXPECT_EQ(dc->dma().live_mappings(), 0u);
    EXPECT_EQ(f->munmap(a.map, a.size), 0);
    EXPECT_EQ(f->munmap(b.map, b.size), 0);
    EXPECT_EQ(f->close(), 0);
    sleep_for(1ms);
    EXPECT_EQ(disp->live_drm_devices(), 0);
    disp.reset();
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::soctest
