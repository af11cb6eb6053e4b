// Connector init/cleanup, EDID property, probed modes (udrm/kms/connector.h).
#include "udrm/kms/connector.h"

#include <algorithm>
#include <cstdio>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/edid.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"

namespace udrm {
namespace {

const char* connector_type_name(uint32_t type) {
  static const char* const kNames[] = {"Unknown", "VGA",  "DVI-I",  "DVI-D", "DVI-A",   "Composite", "SVIDEO",
                                       "LVDS",    "Component", "DIN", "DP",  "HDMI-A",  "HDMI-B",    "TV",
                                       "eDP",     "Virtual", "DSI", "DPI",   "Writeback", "SPI",     "USB"};
  return type < sizeof(kNames) / sizeof(kNames[0]) ? kNames[type] : nullptr;
}

void connector_cleanup_action(DrmDevice&, Connector* c) { connector_cleanup(*c); }

}  // namespace

int connector_init(DrmDevice& dev, Connector& c, const ConnectorFuncs* funcs, uint32_t connector_type) {
  ModeConfig* mc = dev.mode_config;
  if (UDRM_WARN_ON(!mc, LogCat::kms)) return -EINVAL;
  if (UDRM_WARN_ON(c.dev != nullptr, LogCat::kms)) return -EINVAL;
  const char* tname = connector_type_name(connector_type);
  if (!tname) return -EINVAL;
  // Lowest free index (the kernel's connector_ida) and per-type id from 1.
  uint32_t used = 0;
  for (Connector* o : mc->connectors) used |= o->index < 32 ? 1u << o->index : 0;
  if (used == 0xffffffffu) return -EINVAL;
  unsigned index = static_cast<unsigned>(__builtin_ctz(~used));
  uint64_t& ida = mc->connector_type_ida[connector_type];
  if (ida == ~uint64_t{0}) return -ENOMEM;
  unsigned type_bit = static_cast<unsigned>(__builtin_ctzll(~ida));

  if (int ret = mc->idr.add(&c, DRM_MODE_OBJECT_CONNECTOR)) return ret;
  ida |= uint64_t{1} << type_bit;
  c.dev = &dev;
  c.funcs = funcs;
  c.connector_type = connector_type;
  c.connector_type_id = type_bit + 1;
  c.index = index;
  c.status = ConnectorStatus::unknown;
  c.dpms = DRM_MODE_DPMS_OFF;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%s-%u", tname, c.connector_type_id);
  c.name = buf;
  c.debug_name = c.name.c_str();
  c.props = ObjectProperties{};
  c.properties = &c.props;
  mc->connectors.push_back(&c);

  auto& p = mc->props;
  if (connector_type != DRM_MODE_CONNECTOR_WRITEBACK) object_attach_property(c, *p.edid, 0);
  object_attach_property(c, *p.dpms, DRM_MODE_DPMS_OFF);
  object_attach_property(c, *p.link_status, DRM_MODE_LINK_STATUS_GOOD);
  object_attach_property(c, *p.non_desktop, 0);
  if (dev.has_feature(DRIVER_ATOMIC)) object_attach_property(c, *p.prop_crtc_id, 0);

  if (funcs && funcs->reset)
    funcs->reset(c);
  else
    atomic_helper_connector_reset(c);
  if (!c.state) {
    connector_cleanup(c);
    return -ENOMEM;
  }
  return 0;
}

int drmm_connector_init(DrmDevice& dev, Connector& c, const ConnectorFuncs* funcs, uint32_t connector_type) {
  if (int ret = connector_init(dev, c, funcs, connector_type)) return ret;
  return drmm_add_action_or_reset(dev, &connector_cleanup_action, &c, "drm_connector_cleanup");
}

void connector_cleanup(Connector& c) {
  DrmDevice* dev = c.dev;
  if (!dev) return;
  if (c.state) {
    if (c.funcs && c.funcs->atomic_destroy_state)
      c.funcs->atomic_destroy_state(c, c.state);
    else
      atomic_helper_connector_destroy_state(c, c.state);
    c.state = nullptr;
  }
  c.edid_blob.reset();
  c.modes.clear();
  c.probed_modes.clear();
  c.encoder = nullptr;
  if (ModeConfig* mc = dev->mode_config) {
    if (c.connector_type < 32 && c.connector_type_id >= 1 && c.connector_type_id <= 64)
      mc->connector_type_ida[c.connector_type] &= ~(uint64_t{1} << (c.connector_type_id - 1));
    mc->idr.unregister(&c);
    auto it = std::find(mc->connectors.begin(), mc->connectors.end(), &c);
    if (it != mc->connectors.end()) mc->connectors.erase(it);
  }
  c.properties = nullptr;
  c.dev = nullptr;
}

int connector_attach_encoder(Connector& c, Encoder& e) {
  if (UDRM_WARN_ON(c.encoder != nullptr, LogCat::kms)) return -EINVAL;
  if (e.index >= 32) return -EINVAL;
  c.possible_encoders |= e.mask();
  return 0;
}

int connector_update_edid_property(Connector& c, const uint8_t* edid, std::size_t len) {
  if (UDRM_WARN_ON(!c.dev || !c.dev->mode_config, LogCat::kms)) return -EINVAL;
  DrmDevice& dev = *c.dev;
  std::size_t size = 0;
  if (edid && len >= 128) {
    // The blob is the base block plus the extensions it announces (bounded by what we got).
    size = std::min<std::size_t>(len, std::size_t{128} * (1 + edid[126]));
    EdidInfo info;
    if (edid_parse(edid, size, &info) == 0) {
      c.mm_width = info.width_mm;
      c.mm_height = info.height_mm;
    }
  } else {
    edid = nullptr;
    c.mm_width = c.mm_height = 0;
  }
  object_property_set_value(c, *dev.mode_config->props.non_desktop, 0);
  return property_replace_global_blob(dev, &c.edid_blob, edid, size, c, *dev.mode_config->props.edid);
}

void connector_add_mode(Connector& c, const DisplayMode& m) { c.probed_modes.push_back(m); }

Connector* connector_find(DrmDevice& dev, uint32_t id) {
  if (!dev.mode_config) return nullptr;
  return static_cast<Connector*>(dev.mode_config->idr.find(id, DRM_MODE_OBJECT_CONNECTOR));
}

}  // namespace udrm
