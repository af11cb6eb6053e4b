// Display modes and their uAPI form (udrm/kms/mode.h).
#include "udrm/kms/mode.h"

#include <climits>
#include <cstdio>
#include <cstring>

#include "udrm/base/errno.h"

namespace udrm {

bool DisplayMode::operator==(const DisplayMode& o) const noexcept {
  return clock == o.clock && hdisplay == o.hdisplay && hsync_start == o.hsync_start && hsync_end == o.hsync_end &&
         htotal == o.htotal && hskew == o.hskew && vdisplay == o.vdisplay && vsync_start == o.vsync_start &&
         vsync_end == o.vsync_end && vtotal == o.vtotal && vscan == o.vscan && flags == o.flags;
}

int DisplayMode::vrefresh() const noexcept {
  if (htotal == 0 || vtotal == 0 || clock <= 0) return 0;
  uint64_t num = uint64_t(clock) * 1000;
  uint64_t den = uint64_t(htotal) * vtotal;
  if (flags & DRM_MODE_FLAG_INTERLACE) num *= 2;
  if (flags & DRM_MODE_FLAG_DBLSCAN) den *= 2;
  if (vscan > 1) den *= vscan;
  return static_cast<int>((num + den / 2) / den);
}

Duration DisplayMode::frame_period() const noexcept {
  if (htotal == 0 || vtotal == 0 || clock <= 0) return Duration::zero();
  // clock is in kHz: one frame = htotal * vtotal / (clock * 1000) s.
  uint64_t num = uint64_t(htotal) * vtotal * 1000000;
  uint64_t den = uint64_t(clock);
  if (flags & DRM_MODE_FLAG_INTERLACE) den *= 2;
  if (flags & DRM_MODE_FLAG_DBLSCAN) num *= 2;
  if (vscan > 1) num *= vscan;
  return Duration(static_cast<int64_t>(num / den));
}

void mode_set_name(DisplayMode* m) {
  char buf[DRM_DISPLAY_MODE_LEN];
  std::snprintf(buf, sizeof(buf), "%dx%d%s", m->hdisplay, m->vdisplay,
                (m->flags & DRM_MODE_FLAG_INTERLACE) ? "i" : "");
  m->name = buf;
}

void mode_to_umode(const DisplayMode& in, drm_mode_modeinfo* out) {
  std::memset(out, 0, sizeof(*out));
  out->clock = in.clock > 0 ? static_cast<uint32_t>(in.clock) : 0;
  out->hdisplay = in.hdisplay;
  out->hsync_start = in.hsync_start;
  out->hsync_end = in.hsync_end;
  out->htotal = in.htotal;
  out->hskew = in.hskew;
  out->vdisplay = in.vdisplay;
  out->vsync_start = in.vsync_start;
  out->vsync_end = in.vsync_end;
  out->vtotal = in.vtotal;
  out->vscan = in.vscan;
  out->vrefresh = static_cast<uint32_t>(in.vrefresh());
  out->flags = in.flags;
  out->type = in.type;
  if (in.name.empty()) {
    DisplayMode named = in;
    mode_set_name(&named);
    std::strncpy(out->name, named.name.c_str(), DRM_DISPLAY_MODE_LEN - 1);
  } else {
    std::strncpy(out->name, in.name.c_str(), DRM_DISPLAY_MODE_LEN - 1);
  }
}

int mode_validate_basic(const DisplayMode& m) {
  if (m.type & ~DRM_MODE_TYPE_ALL) return -EINVAL;
  const uint32_t flags = m.flags & ~DRM_MODE_FLAG_PIC_AR_MASK;  // aspect ratio is validated apart
  if (flags & ~DRM_MODE_FLAG_ALL) return -EINVAL;
  if ((flags & DRM_MODE_FLAG_3D_MASK) > DRM_MODE_FLAG_3D_SIDE_BY_SIDE_HALF) return -EINVAL;
  if (m.clock <= 0) return -EINVAL;
  if (m.hdisplay == 0 || m.hsync_start < m.hdisplay || m.hsync_end < m.hsync_start || m.htotal < m.hsync_end)
    return -EINVAL;
  if (m.vdisplay == 0 || m.vsync_start < m.vdisplay || m.vsync_end < m.vsync_start || m.vtotal < m.vsync_end)
    return -EINVAL;
  return 0;
}

int mode_from_umode(const drm_mode_modeinfo& in, DisplayMode* out) {
  if (in.clock > static_cast<uint32_t>(INT_MAX) || in.vrefresh > static_cast<uint32_t>(INT_MAX)) return -ERANGE;
  DisplayMode m;
  m.clock = static_cast<int>(in.clock);
  m.hdisplay = in.hdisplay;
  m.hsync_start = in.hsync_start;
  m.hsync_end = in.hsync_end;
  m.htotal = in.htotal;
  m.hskew = in.hskew;
  m.vdisplay = in.vdisplay;
  m.vsync_start = in.vsync_start;
  m.vsync_end = in.vsync_end;
  m.vtotal = in.vtotal;
  m.vscan = in.vscan;
  m.flags = in.flags;
  m.type = in.type;
  switch (in.flags & DRM_MODE_FLAG_PIC_AR_MASK) {
    case DRM_MODE_FLAG_PIC_AR_NONE:
    case DRM_MODE_FLAG_PIC_AR_4_3:
    case DRM_MODE_FLAG_PIC_AR_16_9:
    case DRM_MODE_FLAG_PIC_AR_64_27:
    case DRM_MODE_FLAG_PIC_AR_256_135:
      break;
    default:
      return -EINVAL;
  }
  if (mode_validate_basic(m)) return -EINVAL;
  char name[DRM_DISPLAY_MODE_LEN + 1] = {};
  std::memcpy(name, in.name, DRM_DISPLAY_MODE_LEN);  // the user's name need not be terminated
  name[DRM_DISPLAY_MODE_LEN - 1] = '\0';
  m.name = name;
  if (m.name.empty()) mode_set_name(&m);
  *out = std::move(m);
  return 0;
}

DisplayMode mode_cvt(int hdisplay, int vdisplay, int vrefresh) {
  // CVT reduced blanking (v1): fixed horizontal blank of 160 pixels (sync 32, back porch 80),
  // vertical blank covering at least 460 us with a 3-line front porch, a sync of 4..10 lines
  // depending on the aspect ratio and at least 6 back-porch lines; pixel clock in 250 kHz steps.
  DisplayMode m;
  if (hdisplay <= 0 || vdisplay <= 0 || vrefresh <= 0 || hdisplay > 32768 || vdisplay > 32768 || vrefresh > 1000)
    return m;
  const int h = hdisplay - hdisplay % 8;
  if (h <= 0) return m;
  int vsync = 10;
  if (vdisplay * 4 % 3 == 0 && vdisplay * 4 / 3 == h) vsync = 4;
  else if (vdisplay * 16 % 9 == 0 && vdisplay * 16 / 9 == h) vsync = 5;
  else if (vdisplay * 16 % 10 == 0 && vdisplay * 16 / 10 == h) vsync = 6;
  else if (vdisplay * 5 % 4 == 0 && vdisplay * 5 / 4 == h) vsync = 7;
  else if (vdisplay * 15 % 9 == 0 && vdisplay * 15 / 9 == h) vsync = 7;
  constexpr int kMinVblankUs = 460, kVfp = 3, kMinVbp = 6;
  constexpr int kHblank = 160, kHsync = 32, kHbp = 80;
  // Estimated line period in ns: (frame time - min vblank) / active lines.
  const int64_t frame_ns = 1000000000LL / vrefresh;
  int64_t line_ns = (frame_ns - kMinVblankUs * 1000LL) / vdisplay;
  if (line_ns <= 0) return m;
  int vbi = static_cast<int>(kMinVblankUs * 1000LL / line_ns) + 1;
  if (vbi < kVfp + vsync + kMinVbp) vbi = kVfp + vsync + kMinVbp;
  const int vtotal = vdisplay + vbi;
  const int htotal = h + kHblank;
  if (htotal > 65535 || vtotal > 65535) return m;
  int64_t clock = int64_t(vrefresh) * htotal * vtotal / 1000;  // kHz
  clock -= clock % 250;
  if (clock <= 0 || clock > INT_MAX) return m;
  m.clock = static_cast<int>(clock);
  m.hdisplay = static_cast<uint16_t>(h);
  m.hsync_start = static_cast<uint16_t>(htotal - kHbp - kHsync);
  m.hsync_end = static_cast<uint16_t>(htotal - kHbp);
  m.htotal = static_cast<uint16_t>(htotal);
  m.vdisplay = static_cast<uint16_t>(vdisplay);
  m.vsync_start = static_cast<uint16_t>(vdisplay + kVfp);
  m.vsync_end = static_cast<uint16_t>(vdisplay + kVfp + vsync);
  m.vtotal = static_cast<uint16_t>(vtotal);
  m.flags = DRM_MODE_FLAG_PHSYNC | DRM_MODE_FLAG_NVSYNC;
  m.type = DRM_MODE_TYPE_DRIVER;
  mode_set_name(&m);
  return m;
}

}  // namespace udrm
