// udrm/kms/edid.h — EDID parsing into modes (drm_edid.c, the parts display prototypes need).
//
// Validates the base block (header, checksum; extension blocks counted and checksummed),
// extracts the preferred detailed timing and the other detailed timing descriptors, standard
// timings and established timings, and the monitor name and physical size.
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

}  // namespace udrm
