// EDID base block parsing (udrm/kms/edid.h).
#include "udrm/kms/edid.h"

#include <algorithm>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/kms/connector.h"

namespace udrm {
namespace {

constexpr std::size_t kBlock = 128;
constexpr uint32_t PH = DRM_MODE_FLAG_PHSYNC, NH = DRM_MODE_FLAG_NHSYNC;
constexpr uint32_t PV = DRM_MODE_FLAG_PVSYNC, NV = DRM_MODE_FLAG_NVSYNC;

struct Timing {
  int clock;
  uint16_t h, hss, hse, ht, v, vss, vse, vt;
  uint32_t flags;
};

DisplayMode to_mode(const Timing& t) {
  DisplayMode m;
  m.clock = t.clock;
  m.hdisplay = t.h;
  m.hsync_start = t.hss;
  m.hsync_end = t.hse;
  m.htotal = t.ht;
  m.vdisplay = t.v;
  m.vsync_start = t.vss;
  m.vsync_end = t.vse;
  m.vtotal = t.vt;
  m.flags = t.flags;
  m.type = DRM_MODE_TYPE_DRIVER;
  mode_set_name(&m);
  return m;
}

// VESA DMT timings used by established/standard timings and the no-EDID fallback.
constexpr Timing kDmt[] = {
    {25175, 640, 656, 752, 800, 480, 490, 492, 525, NH | NV},            // 640x480@60
    {30240, 640, 704, 768, 864, 480, 483, 486, 525, NH | NV},            // 640x480@67
    {31500, 640, 664, 704, 832, 480, 489, 492, 520, NH | NV},            // 640x480@72
    {31500, 640, 656, 720, 840, 480, 481, 484, 500, NH | NV},            // 640x480@75
    {28320, 720, 738, 846, 900, 400, 412, 414, 449, NH | PV},            // 720x400@70
    {35500, 720, 738, 846, 900, 400, 421, 423, 449, NH | NV},            // 720x400@88
    {36000, 800, 824, 896, 1024, 600, 601, 603, 625, PH | PV},           // 800x600@56
    {40000, 800, 840, 968, 1056, 600, 601, 605, 628, PH | PV},           // 800x600@60
    {50000, 800, 856, 976, 1040, 600, 637, 643, 666, PH | PV},           // 800x600@72
    {49500, 800, 816, 896, 1056, 600, 601, 604, 625, PH | PV},           // 800x600@75
    {57284, 832, 864, 928, 1152, 624, 625, 628, 667, NH | NV},           // 832x624@75
    {33750, 848, 864, 976, 1088, 480, 486, 494, 517, PH | PV},           // 848x480@60
    {44900, 1024, 1032, 1208, 1264, 768, 768, 776, 817, PH | PV | DRM_MODE_FLAG_INTERLACE},  // 1024x768i@43
    {65000, 1024, 1048, 1184, 1344, 768, 771, 777, 806, NH | NV},        // 1024x768@60
    {75000, 1024, 1048, 1184, 1328, 768, 771, 777, 806, NH | NV},        // 1024x768@70
    {78750, 1024, 1040, 1136, 1312, 768, 769, 772, 800, PH | PV},        // 1024x768@75
    {108000, 1152, 1216, 1344, 1600, 864, 865, 868, 900, PH | PV},       // 1152x864@75
    {100000, 1152, 1184, 1280, 1456, 870, 871, 874, 915, NH | NV},       // 1152x870@75
    {74250, 1280, 1390, 1430, 1650, 720, 725, 730, 750, PH | PV},        // 1280x720@60
    {108000, 1280, 1376, 1488, 1800, 960, 961, 964, 1000, PH | PV},      // 1280x960@60
    {108000, 1280, 1328, 1440, 1688, 1024, 1025, 1028, 1066, PH | PV},   // 1280x1024@60
    {135000, 1280, 1296, 1440, 1688, 1024, 1025, 1028, 1066, PH | PV},   // 1280x1024@75
    {146250, 1680, 1784, 1960, 2240, 1050, 1053, 1059, 1089, NH | PV},   // 1680x1050@60
    {162000, 1600, 1664, 1856, 2160, 1200, 1201, 1204, 1250, PH | PV},   // 1600x1200@60
    {148500, 1920, 2008, 2052, 2200, 1080, 1084, 1089, 1125, PH | PV},   // 1920x1080@60
};

// Established timings I-III, bit 7 of byte 35 first: indices into kDmt.
constexpr int kEstablished[17] = {4, 5, 0, 1, 2, 3, 6, 7,     // byte 35
                                  8, 9, 10, 12, 13, 14, 15, 21,  // byte 36
                                  17};                           // byte 37 bit 7

const DisplayMode* find_dmt(int h, int v, int refresh) {
  static const std::vector<DisplayMode> modes = [] {
    std::vector<DisplayMode> v;
    for (const Timing& t : kDmt) v.push_back(to_mode(t));
    return v;
  }();
  for (const DisplayMode& m : modes)
    if (m.hdisplay == h && m.vdisplay == v && m.vrefresh() == refresh && !(m.flags & DRM_MODE_FLAG_INTERLACE))
      return &m;
  return nullptr;
}

bool block_checksum_ok(const uint8_t* b) {
  uint8_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) sum = static_cast<uint8_t>(sum + b[i]);
  return sum == 0;
}

// Standard timing (2 bytes) → mode; false if unused or unusable.
bool std_timing(uint8_t a, uint8_t b, uint8_t revision, DisplayMode* out) {
  if ((a == 0x00 && b == 0x00) || (a == 0x01 && b == 0x01) || (a == 0x20 && b == 0x20)) return false;
  const int h = (a + 31) * 8;
  const int refresh = (b & 0x3f) + 60;
  int v;
  switch (b >> 6) {
    case 0: v = revision < 3 ? h : h * 10 / 16; break;
    case 1: v = h * 3 / 4; break;
    case 2: v = h * 4 / 5; break;
    default: v = h * 9 / 16; break;
  }
  if (const DisplayMode* dmt = find_dmt(h, v, refresh)) {
    *out = *dmt;
    return true;
  }
  DisplayMode m = mode_cvt(h, v, refresh);
  if (m.empty()) return false;
  *out = m;
  return true;
}

// Detailed timing descriptor (18 bytes, pixel clock non-zero) → mode.
bool detailed_timing(const uint8_t* d, DisplayMode* out) {
  const int pclk = d[0] | (d[1] << 8);
  const int hactive = d[2] | ((d[4] & 0xf0) << 4);
  const int hblank = d[3] | ((d[4] & 0x0f) << 8);
  const int vactive = d[5] | ((d[7] & 0xf0) << 4);
  const int vblank = d[6] | ((d[7] & 0x0f) << 8);
  const int hso = d[8] | ((d[11] & 0xc0) << 2);
  const int hspw = d[9] | ((d[11] & 0x30) << 4);
  const int vso = (d[10] >> 4) | ((d[11] & 0x0c) << 2);
  const int vspw = (d[10] & 0x0f) | ((d[11] & 0x03) << 4);
  const uint8_t misc = d[17];
  if (misc & 0x60) return false;                       // stereo: not supported
  if (hactive < 64 || vactive < 64) return false;      // too small to be real
  if (hspw == 0 || vspw == 0) return false;            // broken sync pulse
  DisplayMode m;
  m.clock = pclk * 10;
  int hss = hactive + hso, hse = hss + hspw, ht = hactive + hblank;
  int vss = vactive + vso, vse = vss + vspw, vt = vactive + vblank;
  if (hse > ht) ht = hse + 1;  // some sinks get the blanking wrong
  if (vse > vt) vt = vse + 1;
  m.flags |= (misc & 0x02) ? PH : NH;
  m.flags |= (misc & 0x04) ? PV : NV;
  if (misc & 0x80) {  // interlaced: the descriptor gives one field
    m.flags |= DRM_MODE_FLAG_INTERLACE;
    vss *= 2;
    vse *= 2;
    vt = vt * 2 | 1;
  }
  const int vdisp = (misc & 0x80) ? vactive * 2 : vactive;
  if (ht > 65535 || vt > 65535) return false;
  m.hdisplay = static_cast<uint16_t>(hactive);
  m.hsync_start = static_cast<uint16_t>(hss);
  m.hsync_end = static_cast<uint16_t>(hse);
  m.htotal = static_cast<uint16_t>(ht);
  m.vdisplay = static_cast<uint16_t>(vdisp);
  m.vsync_start = static_cast<uint16_t>(vss);
  m.vsync_end = static_cast<uint16_t>(vse);
  m.vtotal = static_cast<uint16_t>(vt);
  m.type = DRM_MODE_TYPE_DRIVER;
  mode_set_name(&m);
  *out = m;
  return true;
}

void add_unique(std::vector<DisplayMode>& v, const DisplayMode& m) {
  for (const DisplayMode& o : v)
    if (o == m) return;
  v.push_back(m);
}

}  // namespace

int edid_validate(const uint8_t* edid, std::size_t len) {
  static constexpr uint8_t kHeader[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
  if (!edid || len < kBlock) return -EINVAL;
  if (!std::equal(kHeader, kHeader + 8, edid)) return -EINVAL;
  if (!block_checksum_ok(edid)) return -EINVAL;
  if (edid[18] != 1) return -EINVAL;  // EDID major version
  const std::size_t blocks = 1 + std::size_t{edid[126]};
  if (len < blocks * kBlock) return -EINVAL;  // truncated
  for (std::size_t i = 1; i < blocks; ++i)
    if (!block_checksum_ok(edid + i * kBlock)) return -EINVAL;
  return 0;
}

int edid_parse(const uint8_t* edid, std::size_t len, EdidInfo* out) {
  if (int ret = edid_validate(edid, len)) return ret;
  EdidInfo info;
  const uint8_t revision = edid[19];
  info.width_mm = edid[21] * 10u;
  info.height_mm = edid[22] * 10u;
  const bool first_preferred = revision >= 4 || (edid[24] & 0x02);

  std::vector<DisplayMode> modes;
  std::vector<DisplayMode> std_modes;
  for (int i = 0; i < 4; ++i) {
    const uint8_t* d = edid + 54 + 18 * i;
    if (d[0] || d[1]) {
      DisplayMode m;
      if (!detailed_timing(d, &m)) continue;
      if (i == 0 && first_preferred) m.type |= DRM_MODE_TYPE_PREFERRED;
      add_unique(modes, m);
      continue;
    }
    // Display descriptor: tag at byte 3.
    if (d[3] == 0xfc) {
      std::string name;
      for (int k = 5; k < 18 && d[k] != 0x0a; ++k) name.push_back(static_cast<char>(d[k]));
      while (!name.empty() && name.back() == ' ') name.pop_back();
      info.monitor_name = name;
    } else if (d[3] == 0xfa) {  // six more standard timings
      for (int k = 0; k < 6; ++k) {
        DisplayMode m;
        if (std_timing(d[5 + 2 * k], d[6 + 2 * k], revision, &m)) std_modes.push_back(m);
      }
    }
  }
  for (int k = 0; k < 8; ++k) {
    DisplayMode m;
    if (std_timing(edid[38 + 2 * k], edid[39 + 2 * k], revision, &m)) add_unique(modes, m);
  }
  for (const DisplayMode& m : std_modes) add_unique(modes, m);
  const uint32_t est = (uint32_t{edid[35]} << 9) | (uint32_t{edid[36]} << 1) | (edid[37] >> 7);
  for (int bit = 0; bit < 17; ++bit)
    if (est & (1u << (16 - bit))) add_unique(modes, to_mode(kDmt[kEstablished[bit]]));

  // Preferred first (only a detailed timing can be preferred, and it came first anyway).
  for (const DisplayMode& m : modes)
    if (m.type & DRM_MODE_TYPE_PREFERRED) info.modes.push_back(m);
  for (const DisplayMode& m : modes)
    if (!(m.type & DRM_MODE_TYPE_PREFERRED)) info.modes.push_back(m);
  *out = std::move(info);
  return 0;
}

int connector_add_edid_modes(Connector& c, const uint8_t* edid, std::size_t len) {
  EdidInfo info;
  if (edid_parse(edid, len, &info) != 0) {
    log_dbg(LogCat::kms, "[CONNECTOR:%u:%s] invalid EDID (%zu bytes)", c.id, c.name.c_str(), len);
    connector_update_edid_property(c, nullptr, 0);
    return 0;
  }
  connector_update_edid_property(c, edid, len);
  for (const DisplayMode& m : info.modes) connector_add_mode(c, m);
  return static_cast<int>(info.modes.size());
}

int connector_add_modes_noedid(Connector& c, int hdisplay, int vdisplay) {
  if (hdisplay < 0) hdisplay = 0;
  if (vdisplay < 0) vdisplay = 0;
  int n = 0;
  for (const Timing& t : kDmt) {
    DisplayMode m = to_mode(t);
    if (m.hdisplay > hdisplay || m.vdisplay > vdisplay) continue;
    if (m.vrefresh() > 61) continue;
    connector_add_mode(c, m);
    ++n;
  }
  return n;
}

}  // namespace udrm
