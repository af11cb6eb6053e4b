// Display modes: uAPI conversion and validation, CVT, EDID parsing, the probe helper.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kms_rig.h"
#include "udrm/kms/edid.h"
#include "udrm/kms/mode.h"
#include "udrm/kms/property.h"

namespace udrm::kmstest {
namespace {

DisplayMode dmt_1024x768() {
  DisplayMode m;
  m.clock = 65000;
  m.hdisplay = 1024, m.hsync_start = 1048, m.hsync_end = 1184, m.htotal = 1344;
  m.vdisplay = 768, m.vsync_start = 771, m.vsync_end = 777, m.vtotal = 806;
  m.flags = DRM_MODE_FLAG_NHSYNC | DRM_MODE_FLAG_NVSYNC;
  m.type = DRM_MODE_TYPE_DRIVER;
  return m;
}

// ---- modes -----------------------------------------------------------------------------------

TEST(KmsMode, UmodeRoundTripAndTiming) {
  DisplayMode m = dmt_1024x768();
  EXPECT_EQ(m.vrefresh(), 60);
  EXPECT_EQ(m.frame_period(), Duration(16665600));
  drm_mode_modeinfo u;
  mode_to_umode(m, &u);
  EXPECT_STREQ(u.name, "1024x768");
  EXPECT_EQ(u.vrefresh, 60u);
  DisplayMode back;
  ASSERT_EQ(mode_from_umode(u, &back), 0);
  EXPECT_TRUE(back == m);
  EXPECT_EQ(back.name, "1024x768");
  EXPECT_EQ(back.type, m.type);

  DisplayMode i = m;
  i.flags |= DRM_MODE_FLAG_INTERLACE;
  mode_set_name(&i);
  EXPECT_EQ(i.name, "1024x768i");
  EXPECT_EQ(i.vrefresh(), 120);
  EXPECT_EQ(DisplayMode{}.vrefresh(), 0);
  EXPECT_EQ(DisplayMode{}.frame_period(), Duration::zero());
}

TEST(KmsMode, ConvertUmodeValidatesLikeTheKernel) {
  drm_mode_modeinfo good;
  mode_to_umode(dmt_1024x768(), &good);
  DisplayMode out;
  auto bad = [&](auto&& edit) {
    drm_mode_modeinfo u = good;
    edit(u);
    return mode_from_umode(u, &out);
  };
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.clock = 0x80000000u; }), -ERANGE);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.vrefresh = 0x80000000u; }), -ERANGE);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.clock = 0; }), -EINVAL);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.hdisplay = 0; }), -EINVAL);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.hsync_start = 1000; }), -EINVAL);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.htotal = 1100; }), -EINVAL);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.vsync_end = 770; }), -EINVAL);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.vtotal = 700; }), -EINVAL);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.type |= 1u << 10; }), -EINVAL);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.flags |= 1u << 30; }), -EINVAL);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.flags |= 7u << 19; }), -EINVAL) << "unknown aspect ratio";
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.flags |= DRM_MODE_FLAG_3D_MASK; }), -EINVAL);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.flags |= DRM_MODE_FLAG_PIC_AR_16_9; }), 0);
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { std::memset(u.name, 'x', sizeof(u.name)); }), 0);
  EXPECT_EQ(out.name.size(), size_t(DRM_DISPLAY_MODE_LEN - 1)) << "unterminated names are cut";
  EXPECT_EQ(bad([](drm_mode_modeinfo& u) { u.name[0] = 0; }), 0);
  EXPECT_EQ(out.name, "1024x768");
}

TEST(KmsMode, CvtReducedBlanking) {
  DisplayMode m = mode_cvt(1920, 1080, 60);
  EXPECT_EQ(m.clock, 138500);
  EXPECT_EQ(m.htotal, 2080);
  EXPECT_EQ(m.vtotal, 1111);
  EXPECT_EQ(m.vrefresh(), 60);
  EXPECT_EQ(mode_validate_basic(m), 0);
  EXPECT_EQ(m.name, "1920x1080");
  DisplayMode p = mode_cvt(800, 480, 75);
  EXPECT_EQ(p.vrefresh(), 75);
  EXPECT_EQ(mode_validate_basic(p), 0);
  EXPECT_TRUE(mode_cvt(0, 480, 60).empty());
  EXPECT_TRUE(mode_cvt(640, 480, -1).empty());
  EXPECT_TRUE(mode_cvt(100000, 480, 60).empty());
}

// ---- EDID ------------------------------------------------------------------------------------

// A test-only EDID 1.4 builder.
struct EdidBuilder {
  std::vector<uint8_t> b = std::vector<uint8_t>(128, 0);
  EdidBuilder() {
    const uint8_t hdr[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
    std::memcpy(b.data(), hdr, 8);
    b[18] = 1;
    b[19] = 4;
    b[21] = 52;  // cm
    b[22] = 29;
    for (int i = 0; i < 8; ++i) b[38 + 2 * i] = b[39 + 2 * i] = 0x01;  // unused standard timings
  }
  void dtd(int slot, int clock_khz, int ha, int hb, int hso, int hsw, int va, int vb, int vso, int vsw, uint8_t misc) {
    uint8_t* d = b.data() + 54 + 18 * slot;
    const int pc = clock_khz / 10;
    d[0] = pc & 0xff, d[1] = pc >> 8;
    d[2] = ha & 0xff, d[3] = hb & 0xff, d[4] = uint8_t(((ha >> 8) << 4) | (hb >> 8));
    d[5] = va & 0xff, d[6] = vb & 0xff, d[7] = uint8_t(((va >> 8) << 4) | (vb >> 8));
    d[8] = hso & 0xff, d[9] = hsw & 0xff, d[10] = uint8_t(((vso & 0xf) << 4) | (vsw & 0xf));
    d[11] = uint8_t(((hso >> 8) << 6) | ((hsw >> 8) << 4) | ((vso >> 4) << 2) | (vsw >> 4));
    d[17] = misc;
  }
  void name(int slot, const char* n) {
    uint8_t* d = b.data() + 54 + 18 * slot;
    d[3] = 0xfc;
    int i = 0;
    for (; n[i] && i < 13; ++i) d[5 + i] = static_cast<uint8_t>(n[i]);
    if (i < 13) d[5 + i++] = 0x0a;
    for (; i < 13; ++i) d[5 + i] = 0x20;
  }
  std::vector<uint8_t> build(int extensions = 0) {
    b.resize(128);
    b[126] = static_cast<uint8_t>(extensions);
    for (int e = 0; e < extensions; ++e) {
      std::vector<uint8_t> ext(128, 0);
      ext[0] = 0x02;
      ext[1] = 0x03;
      fix(ext.data());
      b.insert(b.end(), ext.begin(), ext.end());
    }
    fix(b.data());
    return b;
  }
  static void fix(uint8_t* blk) {
    uint8_t sum = 0;
    for (int i = 0; i < 127; ++i) sum = uint8_t(sum + blk[i]);
    blk[127] = uint8_t(0x100 - sum);
  }
};

std::vector<uint8_t> sample_edid(int extensions = 0) {
  EdidBuilder e;
  // 1920x1080@60 CEA: 148.5 MHz, hblank 280 (fp 88, sync 44), vblank 45 (fp 4, sync 5), +h +v.
  e.dtd(0, 148500, 1920, 280, 88, 44, 1080, 45, 4, 5, 0x18 | 0x06);
  e.name(1, "UDRM TEST");
  e.b[35] = 0x20;  // 640x480@60
  e.b[36] = 0x08;  // 1024x768@60
  e.b[38] = 129;   // 1280x1024@60 (5:4)
  e.b[39] = 0x80;
  return e.build(extensions);
}

TEST(KmsEdid, ParsesDetailedStandardEstablishedNameAndSize) {
  std::vector<uint8_t> edid = sample_edid();
  EdidInfo info;
  ASSERT_EQ(edid_parse(edid.data(), edid.size(), &info), 0);
  EXPECT_EQ(info.monitor_name, "UDRM TEST");
  EXPECT_EQ(info.width_mm, 520u);
  EXPECT_EQ(info.height_mm, 290u);
  ASSERT_EQ(info.modes.size(), 4u);
  const DisplayMode& p = info.modes[0];
  EXPECT_EQ(p.hdisplay, 1920);
  EXPECT_EQ(p.vdisplay, 1080);
  EXPECT_EQ(p.clock, 148500);
  EXPECT_EQ(p.hsync_start, 2008);
  EXPECT_EQ(p.hsync_end, 2052);
  EXPECT_EQ(p.htotal, 2200);
  EXPECT_EQ(p.vsync_start, 1084);
  EXPECT_EQ(p.vsync_end, 1089);
  EXPECT_EQ(p.vtotal, 1125);
  EXPECT_EQ(p.flags, uint32_t(DRM_MODE_FLAG_PHSYNC | DRM_MODE_FLAG_PVSYNC));
  EXPECT_EQ(p.type, uint32_t(DRM_MODE_TYPE_DRIVER | DRM_MODE_TYPE_PREFERRED));
  EXPECT_EQ(p.vrefresh(), 60);
  EXPECT_EQ(info.modes[1].hdisplay, 1280);
  EXPECT_EQ(info.modes[1].vdisplay, 1024);
  EXPECT_EQ(info.modes[1].clock, 108000) << "standard timing found in DMT";
  EXPECT_TRUE(info.modes[3] == dmt_1024x768()) << "established timing";
  EXPECT_EQ(info.modes[2].hdisplay, 640);
  for (std::size_t i = 1; i < info.modes.size(); ++i)
    EXPECT_FALSE(info.modes[i].type & DRM_MODE_TYPE_PREFERRED);
}

TEST(KmsEdid, RejectsBadChecksumHeaderVersionAndTruncation) {
  std::vector<uint8_t> edid = sample_edid();
  EXPECT_EQ(edid_validate(edid.data(), edid.size()), 0);
  EXPECT_EQ(edid_validate(nullptr, 128), -EINVAL);
  EXPECT_EQ(edid_validate(edid.data(), 127), -EINVAL);
  auto flip = [&](std::size_t i) {
    std::vector<uint8_t> e = edid;
    e[i] ^= 0x01;
    return edid_validate(e.data(), e.size());
  };
  EXPECT_EQ(flip(60), -EINVAL) << "checksum";
  EXPECT_EQ(flip(1), -EINVAL) << "header";
  std::vector<uint8_t> v2 = edid;
  v2[18] = 2;
  EdidBuilder::fix(v2.data());
  EXPECT_EQ(edid_validate(v2.data(), v2.size()), -EINVAL) << "major version";

  std::vector<uint8_t> ext = sample_edid(1);
  EXPECT_EQ(edid_validate(ext.data(), ext.size()), 0);
  EXPECT_EQ(edid_validate(ext.data(), 128), -EINVAL) << "extension announced but missing";
  ext[200] ^= 0xff;
  EXPECT_EQ(edid_validate(ext.data(), ext.size()), -EINVAL) << "extension checksum";
  EdidInfo info;
  EXPECT_EQ(edid_parse(ext.data(), ext.size(), &info), -EINVAL);
}

// ---- the probe helper ------------------------------------------------------------------------

struct ProbeState {
  ConnectorStatus status = ConnectorStatus::connected;
  std::vector<uint8_t> edid;
  bool extra = true;
  int get_modes_calls = 0;
};
ProbeState g_probe;

TEST(KmsProbe, ModesFromEdidFilteredAndOrdered) {
  run_sim([](SimExecutor& sim) {
    g_probe = ProbeState{};
    g_probe.edid = sample_edid();
    static const ConnectorFuncs funcs = {.detect = [](Connector&, bool) { return g_probe.status; }};
    static const ConnectorHelperFuncs helpers = {
        .get_modes =
            [](Connector& c) {
              ++g_probe.get_modes_calls;
              int n = connector_add_edid_modes(c, g_probe.edid.data(), g_probe.edid.size());
              if (g_probe.extra) {
                DisplayMode small = mode_cvt(800, 600, 60);
                small.type |= DRM_MODE_TYPE_PREFERRED;  // merged into an existing-looking list
                connector_add_mode(c, small);
                connector_add_mode(c, small);  // duplicate
                DisplayMode il = dmt_1024x768();
                il.flags |= DRM_MODE_FLAG_INTERLACE;
                connector_add_mode(c, il);                          // interlace not allowed
                DisplayMode fast = dmt_1024x768();
                fast.clock *= 20;                                   // 1200 Hz
                connector_add_mode(c, fast);                        // rejected by the CRTC
                connector_add_mode(c, mode_cvt(1366, 768, 60));     // rejected by the connector
                DisplayMode broken = dmt_1024x768();
                broken.htotal = 10;
                connector_add_mode(c, broken);                      // invalid timings
                n += 6;
              }
              return n;
            },
        .mode_valid = [](Connector&, const DisplayMode& m) { return m.hdisplay == 1360 ? -1 : 0; },
    };
    static const CrtcHelperFuncs crtc_helpers = {
        .mode_valid = [](Crtc&, const DisplayMode& m) { return m.vrefresh() > 1000 ? -EINVAL : 0; },
    };
    Connector hdmi;
    KmsRig rig(sim, DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC, [&](KDrm& d) {
      crtc_helper_add(d.crtc, &crtc_helpers);
      if (int r = drmm_connector_init(d, hdmi, &funcs, DRM_MODE_CONNECTOR_HDMIA)) return r;
      connector_helper_add(hdmi, &helpers);
      return connector_attach_encoder(hdmi, d.encoder);
    });
    KDrm& d = rig.drm();
    int n = helper_probe_single_connector_modes(hdmi, 0, 0);
    EXPECT_EQ(hdmi.status, ConnectorStatus::connected);
    std::vector<std::string> names;
    for (auto& m : hdmi.modes) names.push_back(m.name + "@" + std::to_string(m.vrefresh()));
    EXPECT_EQ(names, (std::vector<std::string>{"1920x1080@60", "800x600@60", "1280x1024@60", "1024x768@60",
                                               "640x480@60"}));
    EXPECT_EQ(n, 5);
    EXPECT_TRUE(hdmi.modes[0].type & DRM_MODE_TYPE_PREFERRED);
    EXPECT_TRUE(hdmi.modes[1].type & DRM_MODE_TYPE_PREFERRED);
    EXPECT_EQ(hdmi.mm_width, 520u);
    bool has_edid = false;
    uint64_t edid_id = 0;
    for (int i = 0; i < hdmi.props.count; ++i)
      if (hdmi.props.props[i] == d.mc().props.edid) edid_id = hdmi.props.values[i], has_edid = true;
    ASSERT_TRUE(has_edid);
    Ref<PropertyBlob> blob = property_blob_lookup(d, static_cast<uint32_t>(edid_id));
    ASSERT_TRUE(blob);
    EXPECT_EQ(blob->data, g_probe.edid);

    // Size limits (0 = none) prune.
    helper_probe_single_connector_modes(hdmi, 1280, 1024);
    EXPECT_EQ(hdmi.modes.size(), 4u);
    EXPECT_EQ(hdmi.modes[0].name, "800x600");

    // Disconnected: no modes, EDID property cleared, get_modes not asked.
    g_probe.status = ConnectorStatus::disconnected;
    const int calls = g_probe.get_modes_calls;
    EXPECT_EQ(helper_probe_single_connector_modes(hdmi, 0, 0), 0);
    EXPECT_TRUE(hdmi.modes.empty());
    EXPECT_EQ(g_probe.get_modes_calls, calls);
    EXPECT_FALSE(hdmi.edid_blob);

    // Forced on: detect is not consulted.
    hdmi.force = ConnectorStatus::connected;
    g_probe.extra = false;
    EXPECT_EQ(helper_probe_single_connector_modes(hdmi, 0, 0), 4);
    EXPECT_EQ(hdmi.status, ConnectorStatus::connected);

    // A bad EDID: no EDID modes → the 1024x768-and-below fallback, interlaced pruned.
    g_probe.edid[60] ^= 0xff;
    EXPECT_EQ(helper_probe_single_connector_modes(hdmi, 0, 0), 5);
    names.clear();
    for (auto& m : hdmi.modes) names.push_back(m.name + "@" + std::to_string(m.vrefresh()));
    EXPECT_EQ(names, (std::vector<std::string>{"1024x768@60", "800x600@60", "800x600@56", "848x480@60",
                                               "640x480@60"}));
    EXPECT_FALSE(hdmi.edid_blob);
    hdmi.force = ConnectorStatus::unknown;
  });
}

}  // namespace
}  // namespace udrm::kmstest
