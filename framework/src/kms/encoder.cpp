// Encoder init/cleanup and lookup (udrm/kms/encoder.h).
#include "udrm/kms/encoder.h"

#include <algorithm>
#include <cstdio>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/mode_config.h"

namespace udrm {
namespace {

const char* encoder_type_name(uint32_t type) {
  static const char* const kNames[] = {"None", "DAC", "TMDS", "LVDS", "TV", "Virtual", "DSI", "DP MST", "DPI"};
  return type < sizeof(kNames) / sizeof(kNames[0]) ? kNames[type] : nullptr;
}

void encoder_cleanup_action(DrmDevice&, Encoder* e) { encoder_cleanup(*e); }

}  // namespace

int encoder_init(DrmDevice& dev, Encoder& enc, uint32_t encoder_type, const char* name) {
  ModeConfig* mc = dev.mode_config;
  if (UDRM_WARN_ON(!mc, LogCat::kms)) return -EINVAL;
  if (UDRM_WARN_ON(mc->encoders.size() >= 32, LogCat::kms)) return -EINVAL;
  if (UDRM_WARN_ON(enc.dev != nullptr, LogCat::kms)) return -EINVAL;
  const char* tname = encoder_type_name(encoder_type);
  if (!tname) return -EINVAL;
  if (int ret = mc->idr.add(&enc, DRM_MODE_OBJECT_ENCODER)) return ret;
  enc.dev = &dev;
  enc.encoder_type = encoder_type;
  enc.index = static_cast<unsigned>(mc->encoders.size());
  if (name) {
    enc.name = name;
  } else {
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%s-%u", tname, enc.id);
    enc.name = buf;
  }
  enc.debug_name = enc.name.c_str();
  enc.properties = nullptr;  // encoders have no properties (OBJ_GETPROPERTIES: -EINVAL)
  mc->encoders.push_back(&enc);
  return 0;
}

int drmm_encoder_init(DrmDevice& dev, Encoder& enc, uint32_t encoder_type, const char* name) {
  if (int ret = encoder_init(dev, enc, encoder_type, name)) return ret;
  return drmm_add_action_or_reset(dev, &encoder_cleanup_action, &enc, "drm_encoder_cleanup");
}

void encoder_cleanup(Encoder& enc) {
  DrmDevice* dev = enc.dev;
  if (!dev) return;
  if (ModeConfig* mc = dev->mode_config) {
    mc->idr.unregister(&enc);
    auto it = std::find(mc->encoders.begin(), mc->encoders.end(), &enc);
    if (it != mc->encoders.end()) mc->encoders.erase(it);
  }
  enc.crtc = nullptr;
  enc.dev = nullptr;
}

Encoder* encoder_find(DrmDevice& dev, uint32_t id) {
  if (!dev.mode_config) return nullptr;
  return static_cast<Encoder*>(dev.mode_config->idr.find(id, DRM_MODE_OBJECT_ENCODER));
}

}  // namespace udrm
