// EDID generation (udrm/fakehw/edid_builder.h).
#include "udrm/fakehw/edid_builder.h"

#include <algorithm>
#include <cstring>

namespace udrm::fakehw {
namespace {

constexpr size_t kBlock = 128;
constexpr size_t kDesc = 18;
constexpr size_t kBaseDescOffset = 54;
constexpr size_t kCtaMaxDtds = 6;  // 4 + 6·18 = 112 ≤ 127

void put_timing(uint8_t* d, const EdidTiming& t, uint32_t w_mm, uint32_t h_mm) {
  const uint32_t clk = t.clock_khz / 10;
  const uint32_t hblank = t.htotal - t.hdisplay, vblank = t.vtotal - t.vdisplay;
  const uint32_t hso = t.hsync_start - t.hdisplay, hsw = t.hsync_end - t.hsync_start;
  const uint32_t vso = t.vsync_start - t.vdisplay, vsw = t.vsync_end - t.vsync_start;
  d[0] = clk & 0xff;
  d[1] = (clk >> 8) & 0xff;
  d[2] = t.hdisplay & 0xff;
  d[3] = hblank & 0xff;
  d[4] = static_cast<uint8_t>(((t.hdisplay >> 8) & 0xf) << 4 | ((hblank >> 8) & 0xf));
  d[5] = t.vdisplay & 0xff;
  d[6] = vblank & 0xff;
  d[7] = static_cast<uint8_t>(((t.vdisplay >> 8) & 0xf) << 4 | ((vblank >> 8) & 0xf));
  d[8] = hso & 0xff;
  d[9] = hsw & 0xff;
  d[10] = static_cast<uint8_t>((vso & 0xf) << 4 | (vsw & 0xf));
  d[11] = static_cast<uint8_t>(((hso >> 8) & 3) << 6 | ((hsw >> 8) & 3) << 4 | ((vso >> 4) & 3) << 2 | ((vsw >> 4) & 3));
  d[12] = w_mm & 0xff;
  d[13] = h_mm & 0xff;
  d[14] = static_cast<uint8_t>(((w_mm >> 8) & 0xf) << 4 | ((h_mm >> 8) & 0xf));
  d[15] = 0;
  d[16] = 0;
  d[17] = static_cast<uint8_t>(0x18 | (t.vsync_positive ? 0x04 : 0) | (t.hsync_positive ? 0x02 : 0));
}

void put_name(uint8_t* d, const std::string& name) {
  std::memset(d, 0, 5);
  d[3] = 0xfc;
  std::memset(d + 5, 0x20, 13);
  const size_t n = std::min<size_t>(name.size(), 13);
  std::memcpy(d + 5, name.data(), n);
  if (n < 13) d[5 + n] = 0x0a;
}

void put_dummy(uint8_t* d) {
  std::memset(d, 0, kDesc);
  d[3] = 0x10;
}

void checksum(uint8_t* block) {
  uint8_t sum = 0;
  for (size_t i = 0; i < kBlock - 1; ++i) sum = static_cast<uint8_t>(sum + block[i]);
  block[kBlock - 1] = static_cast<uint8_t>(0x100 - sum);
}

}  // namespace

EdidTiming edid_timing_640x480_60() { return {25175, 640, 656, 752, 800, 480, 490, 492, 525, false, false}; }
EdidTiming edid_timing_1024x768_60() { return {65000, 1024, 1048, 1184, 1344, 768, 771, 777, 806, false, false}; }
EdidTiming edid_timing_1280x720_60() { return {74250, 1280, 1390, 1430, 1650, 720, 725, 730, 750, true, true}; }
EdidTiming edid_timing_1920x1080_60() { return {148500, 1920, 2008, 2052, 2200, 1080, 1084, 1089, 1125, true, true}; }

EdidBuilder& EdidBuilder::manufacturer(const char id[4]) {
  for (int i = 0; i < 3; ++i) mfg_[i] = (id[i] >= 'A' && id[i] <= 'Z') ? id[i] : 'A';
  return *this;
}
EdidBuilder& EdidBuilder::product(uint16_t code, uint32_t serial) {
  product_ = code;
  serial_ = serial;
  return *this;
}
EdidBuilder& EdidBuilder::manufactured(uint8_t week, uint16_t year) {
  week_ = week;
  year_ = std::max<uint16_t>(year, 1990);
  return *this;
}
EdidBuilder& EdidBuilder::physical_size_mm(uint32_t w, uint32_t h) {
  w_mm_ = w;
  h_mm_ = h;
  return *this;
}
EdidBuilder& EdidBuilder::preferred(const EdidTiming& t) {
  if (has_preferred_) timings_[0] = t;
  else timings_.insert(timings_.begin(), t);
  has_preferred_ = true;
  return *this;
}
EdidBuilder& EdidBuilder::add_timing(const EdidTiming& t) {
  timings_.push_back(t);
  return *this;
}
EdidBuilder& EdidBuilder::monitor_name(std::string name) {
  name_ = std::move(name);
  if (name_.size() > 13) name_.resize(13);
  return *this;
}
EdidBuilder& EdidBuilder::extension(bool allowed, bool force) {
  ext_allowed_ = allowed;
  ext_force_ = allowed && force;
  return *this;
}

std::vector<uint8_t> EdidBuilder::build() const {
  const size_t base_slots = name_.empty() ? 4 : 3;
  const size_t in_base = std::min(timings_.size(), base_slots);
  const size_t rest = timings_.size() - in_base;
  const bool ext = ext_allowed_ && (rest > 0 || ext_force_);
  std::vector<uint8_t> e(ext ? 2 * kBlock : kBlock, 0);
  uint8_t* b = e.data();
  static const uint8_t header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
  std::memcpy(b, header, 8);
  const uint16_t mfg = static_cast<uint16_t>(((mfg_[0] - 'A' + 1) & 0x1f) << 10 | ((mfg_[1] - 'A' + 1) & 0x1f) << 5 |
                                             ((mfg_[2] - 'A' + 1) & 0x1f));
  b[8] = static_cast<uint8_t>(mfg >> 8);  // big-endian
  b[9] = static_cast<uint8_t>(mfg & 0xff);
  b[10] = product_ & 0xff;
  b[11] = static_cast<uint8_t>(product_ >> 8);
  for (int i = 0; i < 4; ++i) b[12 + i] = static_cast<uint8_t>(serial_ >> (8 * i));
  b[16] = week_;
  b[17] = static_cast<uint8_t>(year_ - 1990);
  b[18] = 1;  // EDID 1.4
  b[19] = 4;
  b[20] = 0x80 | 0x20 | 0x02;  // digital, 8 bpc, HDMI-a
  b[21] = static_cast<uint8_t>(std::min<uint32_t>((w_mm_ + 5) / 10, 255));
  b[22] = static_cast<uint8_t>(std::min<uint32_t>((h_mm_ + 5) / 10, 255));
  b[23] = 120;   // gamma 2.2
  b[24] = 0x06;  // sRGB default colour space, preferred timing is native
  static const uint8_t chroma[10] = {0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54};
  std::memcpy(b + 25, chroma, 10);
  for (int i = 0; i < 8; ++i) b[38 + 2 * i] = b[39 + 2 * i] = 0x01;  // standard timings unused
  size_t slot = 0;
  for (size_t i = 0; i < in_base; ++i, ++slot) put_timing(b + kBaseDescOffset + slot * kDesc, timings_[i], w_mm_, h_mm_);
  if (!name_.empty()) put_name(b + kBaseDescOffset + (slot++) * kDesc, name_);
  for (; slot < 4; ++slot) put_dummy(b + kBaseDescOffset + slot * kDesc);
  b[126] = ext ? 1 : 0;
  checksum(b);
  if (ext) {
    uint8_t* x = b + kBlock;
    x[0] = 0x02;  // CTA-861
    x[1] = 0x03;
    x[2] = 4;     // DTDs start right after the header: no data blocks
    const size_t n = std::min(rest, kCtaMaxDtds);
    x[3] = static_cast<uint8_t>(n & 0xf);
    for (size_t i = 0; i < n; ++i) put_timing(x + 4 + i * kDesc, timings_[in_base + i], w_mm_, h_mm_);
    checksum(x);
  }
  return e;
}

bool edid_checksums_ok(const uint8_t* edid, std::size_t len) {
  if (!len || len % kBlock) return false;
  for (size_t blk = 0; blk < len; blk += kBlock) {
    uint8_t sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum = static_cast<uint8_t>(sum + edid[blk + i]);
    if (sum) return false;
  }
  return true;
}

EdidTiming edid_decode_timing(const uint8_t* d) {
  EdidTiming t;
  t.clock_khz = (uint32_t{d[0]} | uint32_t{d[1]} << 8) * 10;
  t.hdisplay = static_cast<uint16_t>(d[2] | (d[4] >> 4) << 8);
  const uint32_t hblank = d[3] | (d[4] & 0xf) << 8;
  t.vdisplay = static_cast<uint16_t>(d[5] | (d[7] >> 4) << 8);
  const uint32_t vblank = d[6] | (d[7] & 0xf) << 8;
  const uint32_t hso = d[8] | ((d[11] >> 6) & 3) << 8, hsw = d[9] | ((d[11] >> 4) & 3) << 8;
  const uint32_t vso = (d[10] >> 4) | ((d[11] >> 2) & 3) << 4, vsw = (d[10] & 0xf) | (d[11] & 3) << 4;
  t.hsync_start = static_cast<uint16_t>(t.hdisplay + hso);
  t.hsync_end = static_cast<uint16_t>(t.hsync_start + hsw);
  t.htotal = static_cast<uint16_t>(t.hdisplay + hblank);
  t.vsync_start = static_cast<uint16_t>(t.vdisplay + vso);
  t.vsync_end = static_cast<uint16_t>(t.vsync_start + vsw);
  t.vtotal = static_cast<uint16_t>(t.vdisplay + vblank);
  t.hsync_positive = d[17] & 0x02;
  t.vsync_positive = d[17] & 0x04;
  return t;
}

}  // namespace udrm::fakehw
