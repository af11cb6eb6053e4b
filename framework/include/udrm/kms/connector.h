// udrm/kms/connector.h — struct drm_connector: a display sink's port (status, modes, EDID).
//
// Probing (fill_modes, the probe helper) asks the driver's detect and get_modes hooks; EDID
// read over DDC becomes the connector's EDID blob and its mode list (edid.h). Hot-plug: the
// driver calls connector_hpd / kms_helper_hotplug_event, which bumps the device's hotplug
// counter and notifies listeners (the uevent).
//
// Lifetime: the DrmDevice (drmm). (The kernel refcounts connectors for MST hot-add; udrm's
// connectors are static.)
// Context: probe hooks in process context, may sleep, and must gate hardware with dev_enter();
// they may be called after unplug (returning "disconnected"/no modes is fine).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "udrm/base/mutex.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/mode.h"
#include "udrm/kms/object.h"

namespace udrm {

enum class ConnectorStatus : uint32_t { connected = 1, disconnected = 2, unknown = 3 };

struct ConnectorFuncs {
  void (*reset)(Connector& c) = nullptr;
  ConnectorState* (*atomic_duplicate_state)(Connector& c) = nullptr;
  void (*atomic_destroy_state)(Connector& c, ConnectorState* s) = nullptr;
  /// Connection status; nullptr: always connected (virtual connector).
  ConnectorStatus (*detect)(Connector& c, bool force) = nullptr;
  int (*atomic_set_property)(Connector& c, ConnectorState& s, Property& p, uint64_t val) = nullptr;
  int (*atomic_get_property)(Connector& c, const ConnectorState& s, Property& p, uint64_t* val) = nullptr;
};

struct ConnectorHelperFuncs {
  /// Add modes with connector_add_mode / edid_add_modes; returns the number added.
  int (*get_modes)(Connector& c) = nullptr;
  /// MODE_OK (0) or a negative status.
  int (*mode_valid)(Connector& c, const DisplayMode& m) = nullptr;
  Encoder* (*atomic_best_encoder)(Connector& c, AtomicState& state) = nullptr;
  int (*atomic_check)(Connector& c, AtomicState& state) = nullptr;
};

class Connector : public ModeObject {
 public:
  DrmDevice* dev = nullptr;
  std::string name;  // "Virtual-1", "HDMI-A-1", "DSI-1"
  unsigned index = 0;
  uint32_t connector_type = DRM_MODE_CONNECTOR_Unknown;
  uint32_t connector_type_id = 0;
  ConnectorStatus status = ConnectorStatus::unknown;
  uint32_t mm_width = 0, mm_height = 0;
  uint32_t subpixel = 1;  // DRM_MODE_SUBPIXEL_UNKNOWN (libdrm xf86drmMode.h)
  uint32_t possible_encoders = 0;  // by encoder index
  int dpms = DRM_MODE_DPMS_OFF;
  const ConnectorFuncs* funcs = nullptr;
  const ConnectorHelperFuncs* helper_private = nullptr;
  ConnectorState* state = nullptr;
  ObjectProperties props;
  Ref<PropertyBlob> edid_blob;
  std::vector<DisplayMode> modes;          // probed, validated
  std::vector<DisplayMode> probed_modes;   // scratch for get_modes
  Encoder* encoder = nullptr;              // legacy: current encoder
  /// Force (debugfs "force"): nullptr-equivalent unknown = no forcing.
  ConnectorStatus force = ConnectorStatus::unknown;

  uint32_t mask() const noexcept { return 1u << index; }
  Connector() = default;
  virtual ~Connector() = default;
};

/// drm_connector_init: ID, index, name "<type>-<n>" (n per type and device, from 1),
/// properties (EDID except on writeback connectors — udrm attaches it to virtual connectors
/// too, the kernel does not — DPMS, link-status, non-desktop; CRTC_ID for atomic drivers),
/// state reset. -EINVAL for an unknown type or more than 32 connectors, -ENOMEM.
int connector_init(DrmDevice& dev, Connector& c, const ConnectorFuncs* funcs, uint32_t connector_type);
int drmm_connector_init(DrmDevice& dev, Connector& c, const ConnectorFuncs* funcs, uint32_t connector_type);
/// drm_connector_cleanup: unregister, free the type id and index, drop the EDID blob and modes,
/// destroy the state. Idempotent.
void connector_cleanup(Connector& c);
inline void connector_helper_add(Connector& c, const ConnectorHelperFuncs* f) { c.helper_private = f; }
/// drm_connector_attach_encoder.
int connector_attach_encoder(Connector& c, Encoder& e);
/// drm_connector_update_edid_property: sets the EDID blob (nullptr/0 clears).
int connector_update_edid_property(Connector& c, const uint8_t* edid, std::size_t len);
/// drm_mode_probed_add.
void connector_add_mode(Connector& c, const DisplayMode& m);
/// drm_helper_probe_detect without the locking: funcs->detect(c, force), connected when nullptr.
ConnectorStatus connector_detect(Connector& c, bool force);
/// drm_helper_probe_single_connector_modes: status from c.force or detect; disconnected → EDID
/// cleared and no modes; else get_modes (none and connected/unknown → the 1024x768-and-below
/// DMT fallback), then probed modes are de-duplicated and validated (mode_validate_basic,
/// max_w/max_h with 0 = no limit, interlace/doublescan refused, connector mode_valid, then at
/// least one CRTC reachable through an attached encoder must accept it via mode_valid), sorted
/// (preferred first, then larger area, higher refresh, higher clock) into c.modes. Returns the
/// number of modes in c.modes. Caller holds the mode config mutex (GETCONNECTOR).
int helper_probe_single_connector_modes(Connector& c, uint32_t max_w, uint32_t max_h);
Connector* connector_find(DrmDevice& dev, uint32_t id);

}  // namespace udrm
