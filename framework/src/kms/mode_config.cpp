// The device's mode config: standard properties, teardown, reset, hot-plug (udrm/kms/mode_config.h).
#include "udrm/kms/mode_config.h"

#include <climits>
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/plane.h"

namespace udrm {

ModeConfig::ModeConfig(DrmDevice& d) : dev(d) {}

ModeConfig::~ModeConfig() {
  if (dev.mode_config == this) dev.mode_config = nullptr;
}

namespace {

int create_standard_properties(DrmDevice& dev, ModeConfig& mc) {
  auto& p = mc.props;
  constexpr uint32_t A = DRM_MODE_PROP_ATOMIC, I = DRM_MODE_PROP_IMMUTABLE;
  p.plane_type = property_create_enum(dev, I, "type", {{0, "Overlay"}, {1, "Primary"}, {2, "Cursor"}});
  p.prop_src_x = property_create_range(dev, A, "SRC_X", 0, UINT_MAX);
  p.prop_src_y = property_create_range(dev, A, "SRC_Y", 0, UINT_MAX);
  p.prop_src_w = property_create_range(dev, A, "SRC_W", 0, UINT_MAX);
  p.prop_src_h = property_create_range(dev, A, "SRC_H", 0, UINT_MAX);
  p.prop_crtc_x = property_create_signed_range(dev, A, "CRTC_X", INT_MIN, INT_MAX);
  p.prop_crtc_y = property_create_signed_range(dev, A, "CRTC_Y", INT_MIN, INT_MAX);
  p.prop_crtc_w = property_create_range(dev, A, "CRTC_W", 0, INT_MAX);
  p.prop_crtc_h = property_create_range(dev, A, "CRTC_H", 0, INT_MAX);
  p.prop_fb_id = property_create_object(dev, A, "FB_ID", DRM_MODE_OBJECT_FB);
  p.prop_crtc_id = property_create_object(dev, A, "CRTC_ID", DRM_MODE_OBJECT_CRTC);
  p.crtc_active = property_create_bool(dev, A, "ACTIVE");
  p.crtc_mode_id = property_create_blob(dev, A, "MODE_ID");
  p.gamma_lut = property_create_blob(dev, 0, "GAMMA_LUT");
  p.gamma_lut_size = property_create_range(dev, I, "GAMMA_LUT_SIZE", 0, UINT_MAX);
  p.prop_in_formats = property_create_blob(dev, I, "IN_FORMATS");
  p.edid = property_create_blob(dev, I, "EDID");
  p.dpms = property_create_enum(dev, 0, "DPMS",
                                {{DRM_MODE_DPMS_ON, "On"},
                                 {DRM_MODE_DPMS_STANDBY, "Standby"},
                                 {DRM_MODE_DPMS_SUSPEND, "Suspend"},
                                 {DRM_MODE_DPMS_OFF, "Off"}});
  p.link_status = property_create_enum(dev, 0, "link-status",
                                       {{DRM_MODE_LINK_STATUS_GOOD, "Good"}, {DRM_MODE_LINK_STATUS_BAD, "Bad"}});
  p.non_desktop = property_create_bool(dev, I, "non-desktop");
  Property* all[] = {p.plane_type,  p.prop_src_x,  p.prop_src_y,    p.prop_src_w,     p.prop_src_h,
                     p.prop_crtc_x, p.prop_crtc_y, p.prop_crtc_w,   p.prop_crtc_h,    p.prop_fb_id,
                     p.prop_crtc_id, p.crtc_active, p.crtc_mode_id, p.gamma_lut,      p.gamma_lut_size,
                     p.prop_in_formats, p.edid,    p.dpms,          p.link_status,    p.non_desktop};
  for (Property* q : all)
    if (!q) return -ENOMEM;
  return 0;
}

void mode_config_cleanup(DrmDevice& dev, ModeConfig* mc) {
  // Objects a driver initialised without the drmm variants and never cleaned up (their memory
  // is the container's, which outlives every drmm action).
  while (!mc->connectors.empty()) connector_cleanup(*mc->connectors.back());
  while (!mc->encoders.empty()) encoder_cleanup(*mc->encoders.back());
  while (!mc->planes.empty()) plane_cleanup(*mc->planes.back());
  while (!mc->crtcs.empty()) crtc_cleanup(*mc->crtcs.back());

  // Blobs still referenced by someone who outlives the device: unpublish and detach them so
  // their last put frees only the blob.
  std::vector<PropertyBlob*> blobs;
  {
    std::lock_guard<SpinLock> l(mc->blob_lock);
    while (!mc->blob_list.empty()) {
      PropertyBlob& b = mc->blob_list.front();
      mc->blob_list.pop_front();
      blobs.push_back(&b);
    }
  }
  for (PropertyBlob* b : blobs) {
    log_dbg(LogCat::kms, "%s: blob %u outlives the mode config", dev.driver().name, b->id);
    mc->idr.unregister(b);
    b->dev = nullptr;
  }

  // Framebuffers still alive now are a driver leak (drm_mode_config_cleanup WARNs and frees).
  std::vector<Framebuffer*> fbs;
  {
    std::lock_guard<SpinLock> l(mc->fb_lock);
    for (Framebuffer& fb : mc->fb_list) fbs.push_back(&fb);
  }
  if (!fbs.empty()) {
    warn(LogCat::kms, "%s: %zu leaked framebuffer(s) at mode config cleanup (first: FB %u, %ux%u)",
         dev.driver().name, fbs.size(), fbs.front()->id, fbs.front()->width, fbs.front()->height);
    for (Framebuffer* fb : fbs) detail::framebuffer_force_free(*fb);
  }
}

}  // namespace

int drmm_mode_config_init(DrmDevice& dev) {
  if (dev.mode_config) {
    warn(LogCat::kms, "%s: drmm_mode_config_init called twice", dev.driver().name);
    return -EBUSY;
  }
  ModeConfig* mc = drmm_new<ModeConfig>(dev, "drm_mode_config", dev);
  if (!mc) return -ENOMEM;
  dev.mode_config = mc;
  // Registered after the allocation (so it runs before the ModeConfig is destroyed) and before
  // the standard properties (which are unpublished before it runs).
  if (int ret = drmm_add_action_or_reset(dev, &mode_config_cleanup, mc, "drm_mode_config_cleanup")) return ret;
  return create_standard_properties(dev, *mc);
}

ModeConfig* mode_config(DrmDevice& dev) { return dev.mode_config; }

void mode_config_reset(DrmDevice& dev) {
  ModeConfig* mc = dev.mode_config;
  if (UDRM_WARN_ON(!mc, LogCat::kms)) return;
  for (Plane* p : mc->planes) {
    if (p->funcs && p->funcs->reset)
      p->funcs->reset(*p);
    else
      atomic_helper_plane_reset(*p);
  }
  for (Crtc* c : mc->crtcs) {
    if (c->funcs && c->funcs->reset)
      c->funcs->reset(*c);
    else
      atomic_helper_crtc_reset(*c);
  }
  for (Encoder* e : mc->encoders) e->crtc = nullptr;
  for (Connector* c : mc->connectors) {
    if (c->funcs && c->funcs->reset)
      c->funcs->reset(*c);
    else
      atomic_helper_connector_reset(*c);
  }
}

void kms_helper_hotplug_event(DrmDevice& dev) {
  ModeConfig* mc = dev.mode_config;
  if (!mc) return;
  ++mc->hotplug_count;
  log_dbg(LogCat::kms, "%s: hotplug event %llu", dev.driver().name, static_cast<unsigned long long>(mc->hotplug_count));
  auto listeners = mc->hotplug_listeners;  // a listener may add or remove listeners
  for (auto& l : listeners)
    if (l) l();
}

bool helper_hpd_irq_event(DrmDevice& dev) {
  ModeConfig* mc = dev.mode_config;
  if (!mc) return false;
  bool changed = false;
  {
    std::lock_guard<Mutex> l(mc->mutex);
    for (Connector* c : mc->connectors) {
      ConnectorStatus old = c->status;
      c->status = connector_detect(*c, false);
      if (old != c->status) {
        log_dbg(LogCat::kms, "[CONNECTOR:%u:%s] status changed %u -> %u", c->id, c->name.c_str(),
                static_cast<unsigned>(old), static_cast<unsigned>(c->status));
        changed = true;
      }
    }
  }
  if (changed) kms_helper_hotplug_event(dev);
  return changed;
}

}  // namespace udrm
