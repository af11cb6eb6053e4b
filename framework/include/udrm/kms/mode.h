// udrm/kms/mode.h — struct drm_display_mode: a display timing, and its uAPI form.
//
// DisplayMode is a value type (copyable). It converts to and from the uAPI struct
// drm_mode_modeinfo (libdrm's drm_mode.h) exactly as drm_mode_convert_to_umode /
// drm_mode_convert_umode do, including their validation.
//
// Lifetime: value. Context: any, never sleeps.
#pragma once
#include <cstdint>
#include <string>

#include <drm_mode.h>

#include "udrm/base/time.h"

namespace udrm {

struct DisplayMode {
  int clock = 0;  // kHz
  uint16_t hdisplay = 0, hsync_start = 0, hsync_end = 0, htotal = 0, hskew = 0;
  uint16_t vdisplay = 0, vsync_start = 0, vsync_end = 0, vtotal = 0, vscan = 0;
  uint32_t flags = 0;  // DRM_MODE_FLAG_*
  uint32_t type = 0;   // DRM_MODE_TYPE_*
  std::string name;    // "1024x768" when empty at conversion

  bool operator==(const DisplayMode& o) const noexcept;  // timings + flags (not type/name)
  bool empty() const noexcept { return clock == 0 && hdisplay == 0 && vdisplay == 0; }
  /// Refresh rate in Hz (rounded), 0 for an invalid mode.
  int vrefresh() const noexcept;
  /// One frame: htotal * vtotal / clock. Zero for an invalid mode.
  Duration frame_period() const noexcept;
};

/// drm_mode_convert_to_umode.
void mode_to_umode(const DisplayMode& in, drm_mode_modeinfo* out);
/// drm_mode_convert_umode: -ERANGE if clock is out of range, -EINVAL for bad timings
/// (display > sync_start > ... > total ordering, zero sizes).
int mode_from_umode(const drm_mode_modeinfo& in, DisplayMode* out);
/// drm_mode_validate_basic: 0 or -EINVAL.
int mode_validate_basic(const DisplayMode& m);
/// A CVT-like mode for w x h @ refresh (drm_cvt_mode with reduced blanking), for fake panels.
DisplayMode mode_cvt(int hdisplay, int vdisplay, int vrefresh);
/// "1920x1080" — drm_mode_set_name.
void mode_set_name(DisplayMode* m);

}  // namespace udrm
