// udrm/kms/edid.h — EDID parsing into modes (drm_edid.c, the parts display prototypes need).
//
// Validates the base block (header, checksum, major version 1; extension blocks counted and
// checksummed — any bad block rejects the EDID), extracts the detailed timing descriptors (the
// first is preferred for EDID 1.4, or 1.3 with the preferred-timing feature bit), standard
// timings (VESA DMT when listed, else a CVT reduced-blanking mode) and established timings,
// and the monitor name and physical size. Extension contents (CEA) are not parsed.
//
// Lifetime: values. Context: any, never sleeps.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "udrm/kms/mode.h"

namespace udrm {

class Connector;

struct EdidInfo {
  std::string monitor_name;
  uint32_t width_mm = 0, height_mm = 0;
  std::vector<DisplayMode> modes;  // DRM_MODE_TYPE_DRIVER, preferred first (TYPE_PREFERRED)
};

/// drm_edid_block_valid over every block: 0, or -EINVAL (bad header, checksum, truncated).
int edid_validate(const uint8_t* edid, std::size_t len);
/// Parse; -EINVAL if invalid.
int edid_parse(const uint8_t* edid, std::size_t len, EdidInfo* out);
/// drm_add_edid_modes + drm_connector_update_edid_property: returns the number of modes added
/// (0 and the EDID property cleared for an invalid EDID).
int connector_add_edid_modes(Connector& c, const uint8_t* edid, std::size_t len);
/// drm_add_modes_noedid: add the DMT modes up to hdisplay x vdisplay at <= 61 Hz (the probe
/// helper's fallback for a connected sink without modes). Returns the number added.
int connector_add_modes_noedid(Connector& c, int hdisplay, int vdisplay);

}  // namespace udrm
