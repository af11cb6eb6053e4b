// udrm/kms/format.h — drm_format_info: what a fourcc means (planes, bytes per pixel, subsampling).
//
// The table covers the formats the fake hardware scans out (RGB 8888/2101010/565, C8 and the
// common YUV layouts); lookups of anything else return nullptr (ADDFB2 then fails -EINVAL, as
// drm_get_format_info does in the kernel).
//
// Lifetime: static. Context: any, never sleeps.
#pragma once
#include <cstdint>

#include <drm_fourcc.h>

namespace udrm {

struct FormatInfo {
  uint32_t format = 0;
  uint8_t num_planes = 1;
  uint8_t cpp[4] = {0, 0, 0, 0};  // bytes per pixel, per plane
  uint8_t hsub = 1, vsub = 1;
  bool has_alpha = false;
  bool is_yuv = false;
};

const FormatInfo* format_info(uint32_t fourcc) noexcept;
/// The legacy ADDFB (bpp, depth) → fourcc mapping (drm_mode_legacy_fb_format); 0 if none.
uint32_t legacy_fb_format(uint32_t bpp, uint32_t depth) noexcept;
/// Minimum pitch of plane `plane` for a line of `width` pixels *of that plane* (already divided
/// by hsub for planes > 0), as drm_format_info_min_pitch.
uint64_t format_min_pitch(const FormatInfo& info, int plane, uint32_t width) noexcept;
/// "XR24" — for logs.
const char* format_name(uint32_t fourcc, char buf[5]) noexcept;

}  // namespace udrm
