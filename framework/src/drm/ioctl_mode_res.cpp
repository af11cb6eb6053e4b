// KMS resource queries: GETRESOURCES, GETCRTC, GETENCODER, GETCONNECTOR, GETPLANERESOURCES,
// GETPLANE (drm_mode_config.c, drm_crtc.c, drm_encoder.c, drm_connector.c, drm_plane.c).
// Two-pass protocol: copy min(user count, actual) entries, always report the actual count.
#include <drm_mode.h>

#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "ioctl_internal.h"
#include "ioctl_mode_util.h"

namespace udrm::ioctl {

int mode_getresources(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_card_res*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  uint32_t count = 0;
  {
    std::lock_guard<Mutex> l(file.fbs_lock);
    for (Framebuffer* fb : file.fbs) {
      if (count < r->count_fbs && put_user_u32(r->fb_id_ptr, count, fb->id)) return -EFAULT;
      ++count;
    }
  }
  r->count_fbs = count;
  std::lock_guard<Mutex> l(mc->mutex);
  r->max_height = mc->max_height;
  r->min_height = mc->min_height;
  r->max_width = mc->max_width;
  r->min_width = mc->min_width;
  count = 0;
  for (Crtc* c : mc->crtcs) {
    if (count < r->count_crtcs && put_user_u32(r->crtc_id_ptr, count, c->id)) return -EFAULT;
    ++count;
  }
  r->count_crtcs = count;
  count = 0;
  for (Encoder* e : mc->encoders) {
    if (count < r->count_encoders && put_user_u32(r->encoder_id_ptr, count, e->id)) return -EFAULT;
    ++count;
  }
  r->count_encoders = count;
  count = 0;
  for (Connector* c : mc->connectors) {
    if (c->connector_type == DRM_MODE_CONNECTOR_WRITEBACK && !file.writeback_connectors) continue;
    if (count < r->count_connectors && put_user_u32(r->connector_id_ptr, count, c->id)) return -EFAULT;
    ++count;
  }
  r->count_connectors = count;
  return 0;
}

int mode_getcrtc(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_crtc*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  Crtc* crtc = crtc_find(dev, r->crtc_id);
  if (!crtc) return -ENOENT;
  std::lock_guard<Mutex> l(mc->mutex);
  r->gamma_size = crtc->gamma_size;
  Plane* primary = crtc->primary;
  r->fb_id = 0;
  if (primary && primary->state) {
    if (primary->state->fb) r->fb_id = primary->state->fb->id;
    r->x = primary->state->src_x >> 16;
    r->y = primary->state->src_y >> 16;
  } else if (primary && primary->fb) {
    r->fb_id = primary->fb->id;
  }
  if (crtc->state) {
    if (crtc->state->enable) {
      mode_to_umode(crtc->state->mode, &r->mode);
      if (!file.aspect_ratio_allowed) r->mode.flags &= ~DRM_MODE_FLAG_PIC_AR_MASK;
      r->mode_valid = 1;
    } else {
      r->mode_valid = 0;
    }
  }
  return 0;
}

int mode_getencoder(DrmDevice& dev, void* data, DrmFile&) {
  auto* r = static_cast<drm_mode_get_encoder*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  Encoder* enc = encoder_find(dev, r->encoder_id);
  if (!enc) return -ENOENT;
  std::lock_guard<Mutex> l(mc->mutex);
  // drm_encoder_get_crtc: the CRTC of the connector whose current state routes through it.
  Crtc* crtc = nullptr;
  bool uses_atomic = dev.has_feature(DRIVER_ATOMIC);
  if (uses_atomic) {
    for (Connector* c : mc->connectors) {
      if (c->state && c->state->best_encoder == enc && c->state->crtc) {
        crtc = c->state->crtc;
        break;
      }
    }
  } else {
    crtc = enc->crtc;
  }
  r->crtc_id = crtc ? crtc->id : 0;
  r->encoder_type = enc->encoder_type;
  r->encoder_id = enc->id;
  r->possible_crtcs = enc->possible_crtcs;
  r->possible_clones = enc->possible_clones;
  return 0;
}

int mode_getconnector(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_get_connector*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  Connector* c = connector_find(dev, r->connector_id);
  if (!c) return -ENOENT;
  // Encoders: all or nothing (the kernel copies only when every one fits).
  uint32_t encoders_count = 0;
  for (Encoder* e : mc->encoders)
    if (c->possible_encoders & e->mask()) ++encoders_count;
  if (r->count_encoders >= encoders_count && encoders_count) {
    uint32_t copied = 0;
    for (Encoder* e : mc->encoders) {
      if (!(c->possible_encoders & e->mask())) continue;
      if (put_user_u32(r->encoders_ptr, copied, e->id)) return -EFAULT;
      ++copied;
    }
  }
  r->count_encoders = encoders_count;
  r->connector_id = c->id;
  r->connector_type = c->connector_type;
  r->connector_type_id = c->connector_type_id;
  const bool master = file.is_master();
  std::lock_guard<Mutex> l(mc->mutex);
  // A probe only when asked for the mode count, and only for the master (a read-only probe
  // otherwise, as current kernels demote it).
  if (r->count_modes == 0 && master) helper_probe_single_connector_modes(*c, mc->max_width, mc->max_height);
  r->mm_width = c->mm_width;
  r->mm_height = c->mm_height;
  r->subpixel = c->subpixel;
  r->connection = static_cast<uint32_t>(c->status);
  auto exposed = [&](const DisplayMode& m) { return file.stereo_allowed || !(m.flags & DRM_MODE_FLAG_3D_MASK); };
  uint32_t mode_count = 0;
  for (const DisplayMode& m : c->modes)
    if (exposed(m)) ++mode_count;
  if (r->count_modes >= mode_count && mode_count) {
    uint32_t copied = 0;
    for (const DisplayMode& m : c->modes) {
      if (!exposed(m)) continue;
      drm_mode_modeinfo u{};
      mode_to_umode(m, &u);
      if (!file.aspect_ratio_allowed) u.flags &= ~DRM_MODE_FLAG_PIC_AR_MASK;
      if (copy_to_user(r->modes_ptr + uint64_t{copied} * sizeof(u), &u, sizeof(u))) return -EFAULT;
      ++copied;
    }
  }
  r->count_modes = mode_count;
  // drm_connector_get_encoder.
  Encoder* enc = dev.has_feature(DRIVER_ATOMIC) ? (c->state ? c->state->best_encoder : nullptr) : c->encoder;
  r->encoder_id = enc ? enc->id : 0;
  // Properties after probing, so EDID and status are the fresh ones.
  return get_object_properties(dev, *c, file.atomic, r->props_ptr, r->prop_values_ptr, &r->count_props);
}

int mode_getplaneresources(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_get_plane_res*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  std::lock_guard<Mutex> l(mc->mutex);
  uint32_t count = 0;
  for (Plane* p : mc->planes) {
    // Without the universal-planes cap only overlays are advertised.
    if (p->type != PlaneType::overlay && !file.universal_planes) continue;
    if (count < r->count_planes && put_user_u32(r->plane_id_ptr, count, p->id)) return -EFAULT;
    ++count;
  }
  r->count_planes = count;
  return 0;
}

int mode_getplane(DrmDevice& dev, void* data, DrmFile&) {
  auto* r = static_cast<drm_mode_get_plane*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  Plane* p = plane_find(dev, r->plane_id);
  if (!p) return -ENOENT;
  std::lock_guard<Mutex> l(mc->mutex);
  if (p->state) {
    r->crtc_id = p->state->crtc ? p->state->crtc->id : 0;
    r->fb_id = p->state->fb ? p->state->fb->id : 0;
  } else {
    r->crtc_id = p->crtc ? p->crtc->id : 0;
    r->fb_id = p->fb ? p->fb->id : 0;
  }
  r->plane_id = p->id;
  r->possible_crtcs = p->possible_crtcs;
  r->gamma_size = 0;
  const auto n = static_cast<uint32_t>(p->formats.size());
  if (n && r->count_format_types >= n) {
    if (copy_to_user(r->format_type_ptr, p->formats.data(), n * sizeof(uint32_t))) return -EFAULT;
  }
  r->count_format_types = n;
  return 0;
}

}  // namespace udrm::ioctl
