// Software composition and the frame CRC (udrm/fakehw/compose.h).
#include "udrm/fakehw/compose.h"

#include <drm_fourcc.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cstring>

#include "udrm/base/errno.h"

namespace udrm::fakehw {
namespace {

constexpr uint32_t kFormats[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888, DRM_FORMAT_XBGR8888, DRM_FORMAT_ABGR8888,
                                 DRM_FORMAT_RGB565};

inline uint32_t div255(uint32_t x) {  // round(x / 255) for x ≤ 255·255
  x += 128;
  return (x + (x >> 8)) >> 8;
}

inline uint32_t swap_rb(uint32_t p) { return (p & 0xff00ff00u) | ((p >> 16) & 0xffu) | ((p & 0xffu) << 16); }

inline uint32_t rgb565(uint16_t v) {
  const uint32_t r = (v >> 11) & 0x1f, g = (v >> 5) & 0x3f, b = v & 0x1f;
  return 0xff000000u | (((r << 3) | (r >> 2)) << 16) | (((g << 2) | (g >> 4)) << 8) | ((b << 3) | (b >> 2));
}

// Convert n source pixels (columns given by xmap, or contiguous from x0 when xmap is null) to ARGB.
void convert_row(uint32_t fourcc, const uint8_t* row, const uint32_t* xmap, uint32_t x0, uint32_t n, uint32_t* out) {
  switch (fourcc) {
    case DRM_FORMAT_XRGB8888:
    case DRM_FORMAT_ARGB8888:
    case DRM_FORMAT_XBGR8888:
    case DRM_FORMAT_ABGR8888: {
      if (xmap) {
        for (uint32_t i = 0; i < n; ++i) std::memcpy(&out[i], row + size_t{xmap[i]} * 4, 4);
      } else {
        std::memcpy(out, row + size_t{x0} * 4, size_t{n} * 4);
      }
      if (fourcc == DRM_FORMAT_XRGB8888 || fourcc == DRM_FORMAT_XBGR8888)
        for (uint32_t i = 0; i < n; ++i) out[i] |= 0xff000000u;
      if (fourcc == DRM_FORMAT_XBGR8888 || fourcc == DRM_FORMAT_ABGR8888)
        for (uint32_t i = 0; i < n; ++i) out[i] = swap_rb(out[i]);
      break;
    }
    case DRM_FORMAT_RGB565: {
      for (uint32_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, row + size_t{xmap ? xmap[i] : x0 + i} * 2, 2);
        out[i] = rgb565(v);
      }
      break;
    }
    default:
      break;
  }
}

void blend_row(const uint32_t* src, uint32_t* dst, uint32_t n, BlendMode mode, uint32_t pa /*0..255*/) {
  if (pa == 255 && mode == BlendMode::none) {
    for (uint32_t i = 0; i < n; ++i) dst[i] = src[i] & 0x00ffffffu;
    return;
  }
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t s = src[i], d = dst[i];
    uint32_t a = mode == BlendMode::none ? 255 : s >> 24;
    if (a == 255 && pa == 255) {
      dst[i] = s & 0x00ffffffu;
      continue;
    }
    const uint32_t ea = div255(a * pa);  // effective alpha
    uint32_t out = 0;
    for (int sh = 0; sh <= 16; sh += 8) {
      const uint32_t sc = (s >> sh) & 0xff, dc = (d >> sh) & 0xff;
      // Pre-multiplied: the source colour already carries its alpha; plane alpha scales it.
      const uint32_t sv = mode == BlendMode::premultiplied ? div255(sc * pa) : div255(sc * ea);
      const uint32_t c = std::min<uint32_t>(255, sv + div255(dc * (255 - ea)));
      out |= c << sh;
    }
    dst[i] = out;
  }
}

}  // namespace

uint32_t compose_format_cpp(uint32_t fourcc) noexcept {
  switch (fourcc) {
    case DRM_FORMAT_XRGB8888:
    case DRM_FORMAT_ARGB8888:
    case DRM_FORMAT_XBGR8888:
    case DRM_FORMAT_ABGR8888:
      return 4;
    case DRM_FORMAT_RGB565:
      return 2;
    default:
      return 0;
  }
}

bool compose_format_supported(uint32_t fourcc) noexcept { return compose_format_cpp(fourcc) != 0; }

std::span<const uint32_t> compose_formats() noexcept { return kFormats; }

namespace {
// CRC-32/IEEE, slicing by 8. The byte table comes from Boost.CRC (the reflected CRC-32 register
// with zero init/xor after one byte), so the result is bit-identical to boost::crc_32_type
// (tests check it) at several times its speed: a 1080p frame is 8 MB per vblank.
struct CrcTables {
  uint32_t t[8][256];
  CrcTables() noexcept {
    for (uint32_t i = 0; i < 256; ++i) {
      boost::crc_optimal<32, 0x04C11DB7, 0, 0, true, true> one;
      const unsigned char b = static_cast<unsigned char>(i);
      one.process_byte(b);
      t[0][i] = one.checksum();
    }
    for (int k = 1; k < 8; ++k)
      for (uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
};
const CrcTables& crc_tables() noexcept {
  static const CrcTables tables;
  return tables;
}
}  // namespace

uint32_t frame_crc(const void* bytes, std::size_t len) noexcept {
  const auto& t = crc_tables().t;
  const uint8_t* p = static_cast<const uint8_t*>(bytes);
  uint32_t crc = 0xffffffffu;
  for (; len >= 8; len -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);  // little-endian host
    v ^= crc;
    crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^ t[4][(v >> 24) & 0xff] ^
          t[3][(v >> 32) & 0xff] ^ t[2][(v >> 40) & 0xff] ^ t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
  }
  for (; len; --len, ++p) crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return ~crc;
}

// One plane, clipped to the frame, with its source rows resolved.
struct Composer::Span {
  uint32_t cpp = 0;
  uint32_t dx0 = 0, dx1 = 0, dy0 = 0, dy1 = 0;  // clipped destination, [0, width/height)
  uint32_t sy_first = 0;                       // first source row read
  const uint8_t* base = nullptr;               // source row sy_first
  bool scaled = false;
  bool skip = false;
  bool fault = false;
};

static inline uint32_t map_coord(int64_t d, int32_t dst_origin, uint32_t dst_len, int32_t src_origin, uint32_t src_len) {
  return static_cast<uint32_t>(src_origin + ((d - dst_origin) * int64_t{src_len}) / int64_t{dst_len});
}

int Composer::prepare(const PlaneDesc& p, uint32_t width, uint32_t height, Span* sp) {
  Span& s = *sp;
  if (!p.src.w || !p.src.h || !p.dst.w || !p.dst.h) {
    s.skip = true;
    return 0;
  }
  s.cpp = compose_format_cpp(p.fourcc);
  if (!s.cpp) return -EINVAL;
  if (p.src.x < 0 || p.src.y < 0) return -EINVAL;
  if ((uint64_t{static_cast<uint32_t>(p.src.x)} + p.src.w) * s.cpp > p.pitch) return -EINVAL;
  if (!p.pixels && !p.dma) return -EINVAL;
  const int64_t x0 = std::max<int64_t>(p.dst.x, 0), x1 = std::min<int64_t>(int64_t{p.dst.x} + p.dst.w, width);
  const int64_t y0 = std::max<int64_t>(p.dst.y, 0), y1 = std::min<int64_t>(int64_t{p.dst.y} + p.dst.h, height);
  if (x0 >= x1 || y0 >= y1) {
    s.skip = true;
    return 0;
  }
  s.dx0 = static_cast<uint32_t>(x0);
  s.dx1 = static_cast<uint32_t>(x1);
  s.dy0 = static_cast<uint32_t>(y0);
  s.dy1 = static_cast<uint32_t>(y1);
  s.scaled = p.src.w != p.dst.w || p.src.h != p.dst.h;
  s.sy_first = map_coord(y0, p.dst.y, p.dst.h, p.src.y, p.src.h);
  const uint32_t sy_last = map_coord(y1 - 1, p.dst.y, p.dst.h, p.src.y, p.src.h);
  const uint32_t sx_last = map_coord(x1 - 1, p.dst.x, p.dst.w, p.src.x, p.src.w);
  const uint64_t first = uint64_t{s.sy_first} * p.pitch;
  const uint64_t len = uint64_t{sy_last - s.sy_first} * p.pitch + (uint64_t{sx_last} + 1) * s.cpp;
  if (p.pixels) {
    s.base = static_cast<const uint8_t*>(p.pixels) + first;
  } else {
    s.base = p.dma->view(p.addr + first, len, p.name);
    if (!s.base) {
      s.fault = true;
      s.skip = true;
    }
  }
  return 0;
}

uint32_t Composer::check(uint32_t width, uint32_t height, std::span<const PlaneDesc> planes) {
  faults_ = 0;
  for (const PlaneDesc& p : planes) {
    Span s;
    if (prepare(p, width, height, &s) == 0 && s.fault) ++faults_;
  }
  return faults_;
}

int Composer::compose(uint32_t width, uint32_t height, std::span<const PlaneDesc> planes) {
  faults_ = 0;
  w_ = width;
  h_ = height;
  frame_.assign(size_t{width} * height, 0u);
  int ret = width && height ? 0 : -EINVAL;
  order_.clear();
  for (const PlaneDesc& p : planes) order_.push_back(&p);
  // Stable insertion sort by zpos: a handful of planes, and no temporary buffer.
  for (size_t i = 1; i < order_.size(); ++i)
    for (size_t j = i; j > 0 && order_[j - 1]->zpos > order_[j]->zpos; --j) std::swap(order_[j - 1], order_[j]);
  for (const PlaneDesc* pp : order_) {
    if (ret) break;
    const PlaneDesc& p = *pp;
    Span s;
    if ((ret = prepare(p, width, height, &s))) break;
    if (s.fault) ++faults_;
    if (s.skip) continue;
    const uint32_t n = s.dx1 - s.dx0;
    if (row_.size() < n) row_.resize(n);
    const uint32_t* xmap = nullptr;
    uint32_t sx0 = map_coord(s.dx0, p.dst.x, p.dst.w, p.src.x, p.src.w);
    if (s.scaled) {
      if (xmap_.size() < n) xmap_.resize(n);
      for (uint32_t i = 0; i < n; ++i) xmap_[i] = map_coord(int64_t{s.dx0} + i, p.dst.x, p.dst.w, p.src.x, p.src.w);
      xmap = xmap_.data();
    }
    const bool has_alpha = p.fourcc == DRM_FORMAT_ARGB8888 || p.fourcc == DRM_FORMAT_ABGR8888;
    const BlendMode mode = has_alpha ? p.blend : BlendMode::none;
    const uint32_t pa = p.alpha >> 8;
    for (uint32_t y = s.dy0; y < s.dy1; ++y) {
      const uint32_t sy = s.scaled ? map_coord(y, p.dst.y, p.dst.h, p.src.y, p.src.h) : p.src.y + (y - p.dst.y);
      const uint8_t* row = s.base + size_t{sy - s.sy_first} * p.pitch;
      convert_row(p.fourcc, row, xmap, sx0, n, row_.data());
      blend_row(row_.data(), &frame_[size_t{y} * width + s.dx0], n, mode, pa);
    }
  }
  if (ret) std::fill(frame_.begin(), frame_.end(), 0u);
  crc_ = frame_crc(frame_.data(), frame_.size() * 4);
  return ret;
}

}  // namespace udrm::fakehw
