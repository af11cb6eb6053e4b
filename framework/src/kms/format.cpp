// Pixel format descriptions (udrm/kms/format.h).
#include "udrm/kms/format.h"

namespace udrm {
namespace {

constexpr FormatInfo rgb(uint32_t f, uint8_t cpp, bool alpha) {
  FormatInfo i;
  i.format = f;
  i.num_planes = 1;
  i.cpp[0] = cpp;
  i.has_alpha = alpha;
  return i;
}
constexpr FormatInfo yuv(uint32_t f, uint8_t planes, uint8_t c0, uint8_t c1, uint8_t c2, uint8_t hsub,
                         uint8_t vsub) {
  FormatInfo i;
  i.format = f;
  i.num_planes = planes;
  i.cpp[0] = c0;
  i.cpp[1] = c1;
  i.cpp[2] = c2;
  i.hsub = hsub;
  i.vsub = vsub;
  i.is_yuv = true;
  return i;
}

constexpr FormatInfo kFormats[] = {
    rgb(DRM_FORMAT_C8, 1, false),          rgb(DRM_FORMAT_R8, 1, false),
    rgb(DRM_FORMAT_RGB565, 2, false),      rgb(DRM_FORMAT_BGR565, 2, false),
    rgb(DRM_FORMAT_XRGB1555, 2, false),    rgb(DRM_FORMAT_ARGB1555, 2, true),
    rgb(DRM_FORMAT_RGB888, 3, false),      rgb(DRM_FORMAT_BGR888, 3, false),
    rgb(DRM_FORMAT_XRGB8888, 4, false),    rgb(DRM_FORMAT_ARGB8888, 4, true),
    rgb(DRM_FORMAT_XBGR8888, 4, false),    rgb(DRM_FORMAT_ABGR8888, 4, true),
    rgb(DRM_FORMAT_RGBX8888, 4, false),    rgb(DRM_FORMAT_RGBA8888, 4, true),
    rgb(DRM_FORMAT_BGRX8888, 4, false),    rgb(DRM_FORMAT_BGRA8888, 4, true),
    rgb(DRM_FORMAT_XRGB2101010, 4, false), rgb(DRM_FORMAT_ARGB2101010, 4, true),
    rgb(DRM_FORMAT_XBGR2101010, 4, false), rgb(DRM_FORMAT_ABGR2101010, 4, true),
    yuv(DRM_FORMAT_YUYV, 1, 2, 0, 0, 2, 1), yuv(DRM_FORMAT_YVYU, 1, 2, 0, 0, 2, 1),
    yuv(DRM_FORMAT_UYVY, 1, 2, 0, 0, 2, 1), yuv(DRM_FORMAT_VYUY, 1, 2, 0, 0, 2, 1),
    yuv(DRM_FORMAT_NV12, 2, 1, 2, 0, 2, 2), yuv(DRM_FORMAT_NV21, 2, 1, 2, 0, 2, 2),
    yuv(DRM_FORMAT_NV16, 2, 1, 2, 0, 2, 1), yuv(DRM_FORMAT_NV61, 2, 1, 2, 0, 2, 1),
    yuv(DRM_FORMAT_YUV420, 3, 1, 1, 1, 2, 2), yuv(DRM_FORMAT_YVU420, 3, 1, 1, 1, 2, 2),
    yuv(DRM_FORMAT_YUV422, 3, 1, 1, 1, 2, 1), yuv(DRM_FORMAT_YVU422, 3, 1, 1, 1, 2, 1),
};

}  // namespace

const FormatInfo* format_info(uint32_t fourcc) noexcept {
  for (const FormatInfo& f : kFormats)
    if (f.format == fourcc) return &f;
  return nullptr;
}

uint32_t legacy_fb_format(uint32_t bpp, uint32_t depth) noexcept {
  switch (bpp) {
    case 8:
      return depth == 8 ? DRM_FORMAT_C8 : 0;
    case 16:
      if (depth == 15) return DRM_FORMAT_XRGB1555;
      if (depth == 16) return DRM_FORMAT_RGB565;
      return 0;
    case 24:
      return depth == 24 ? DRM_FORMAT_RGB888 : 0;
    case 32:
      if (depth == 24) return DRM_FORMAT_XRGB8888;
      if (depth == 30) return DRM_FORMAT_XRGB2101010;
      if (depth == 32) return DRM_FORMAT_ARGB8888;
      return 0;
    default:
      return 0;
  }
}

uint64_t format_min_pitch(const FormatInfo& info, int plane, uint32_t width) noexcept {
  if (plane < 0 || plane >= info.num_planes) return 0;
  return uint64_t{width} * info.cpp[plane];
}

const char* format_name(uint32_t fourcc, char buf[5]) noexcept {
  for (int i = 0; i < 4; ++i) {
    char c = static_cast<char>((fourcc >> (8 * i)) & 0xff);
    buf[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  buf[4] = '\0';
  return buf;
}

}  // namespace udrm
