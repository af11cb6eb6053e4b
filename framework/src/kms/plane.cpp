// Plane init/cleanup, IN_FORMATS, format checks (udrm/kms/plane.h).
#include "udrm/kms/plane.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/mode_config.h"

namespace udrm {
namespace {

// struct drm_format_modifier_blob: header, u32 formats[] padded to 8 bytes, then
// struct drm_format_modifier[] (a u64 bitmap of the formats each modifier applies to).
int create_in_formats_blob(DrmDevice& dev, Plane& plane) {
  const std::size_t nfmt = plane.formats.size(), nmod = plane.modifiers.size();
  const std::size_t formats_size = sizeof(uint32_t) * nfmt;
  const std::size_t formats_offset = sizeof(drm_format_modifier_blob);
  const std::size_t modifiers_offset = (formats_offset + formats_size + 7) & ~std::size_t{7};
  const std::size_t size = modifiers_offset + sizeof(drm_format_modifier) * nmod;
  std::vector<uint8_t> buf(size, 0);
  drm_format_modifier_blob hdr{};
  hdr.version = FORMAT_BLOB_CURRENT;
  hdr.flags = 0;
  hdr.count_formats = static_cast<uint32_t>(nfmt);
  hdr.formats_offset = static_cast<uint32_t>(formats_offset);
  hdr.count_modifiers = static_cast<uint32_t>(nmod);
  hdr.modifiers_offset = static_cast<uint32_t>(modifiers_offset);
  std::memcpy(buf.data(), &hdr, sizeof(hdr));
  std::memcpy(buf.data() + formats_offset, plane.formats.data(), formats_size);
  for (std::size_t i = 0; i < nmod; ++i) {
    drm_format_modifier m{};
    for (std::size_t j = 0; j < nfmt; ++j) {
      if (!plane.funcs || !plane.funcs->format_mod_supported ||
          plane.funcs->format_mod_supported(plane, plane.formats[j], plane.modifiers[i]))
        m.formats |= uint64_t{1} << j;
    }
    m.offset = 0;
    m.pad = 0;
    m.modifier = plane.modifiers[i];
    std::memcpy(buf.data() + modifiers_offset + i * sizeof(m), &m, sizeof(m));
  }
  if (int ret = property_blob_create(dev, buf.data(), buf.size(), &plane.in_formats_blob)) return ret;
  return object_attach_property(plane, *dev.mode_config->props.prop_in_formats, plane.in_formats_blob->id);
}

void plane_cleanup_action(DrmDevice&, Plane* p) { plane_cleanup(*p); }

}  // namespace

bool Plane::format_supported(uint32_t fourcc, uint64_t modifier) const {
  if (std::find(formats.begin(), formats.end(), fourcc) == formats.end()) return false;
  if (funcs && funcs->format_mod_supported)
    return funcs->format_mod_supported(const_cast<Plane&>(*this), fourcc, modifier);
  if (modifiers.empty()) return true;
  return std::find(modifiers.begin(), modifiers.end(), modifier) != modifiers.end();
}

int universal_plane_init(DrmDevice& dev, Plane& plane, uint32_t possible_crtcs, const PlaneFuncs* funcs,
                         const uint32_t* formats, unsigned format_count, const uint64_t* modifiers,
                         PlaneType type, const char* name) {
  ModeConfig* mc = dev.mode_config;
  if (UDRM_WARN_ON(!mc, LogCat::kms)) return -EINVAL;
  if (UDRM_WARN_ON(mc->planes.size() >= 32, LogCat::kms)) return -EINVAL;
  if (UDRM_WARN_ON(plane.dev != nullptr, LogCat::kms)) return -EINVAL;
  // IN_FORMATS encodes formats as bits of a u64: at most 64 (the kernel WARNs too).
  if (!formats || format_count == 0 || UDRM_WARN_ON(format_count > 64, LogCat::kms)) return -EINVAL;
  if (type != PlaneType::overlay && type != PlaneType::primary && type != PlaneType::cursor) return -EINVAL;

  try {
    plane.formats.assign(formats, formats + format_count);
    plane.modifiers.clear();
    if (modifiers) {
      for (const uint64_t* m = modifiers; *m != DRM_FORMAT_MOD_INVALID; ++m) {
        if (plane.modifiers.size() >= 64) return -EINVAL;  // unterminated list
        plane.modifiers.push_back(*m);
      }
    }
    if (plane.modifiers.empty()) plane.modifiers.push_back(DRM_FORMAT_MOD_LINEAR);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  plane.index = static_cast<unsigned>(mc->planes.size());
  if (name) {
    plane.name = name;
  } else {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "plane-%u", plane.index);
    plane.name = buf;
  }
  if (int ret = mc->idr.add(&plane, DRM_MODE_OBJECT_PLANE)) return ret;
  plane.dev = &dev;
  plane.funcs = funcs;
  plane.type = type;
  plane.possible_crtcs = possible_crtcs;
  plane.debug_name = plane.name.c_str();
  plane.props = ObjectProperties{};
  plane.properties = &plane.props;
  mc->planes.push_back(&plane);

  auto& p = mc->props;
  object_attach_property(plane, *p.plane_type, static_cast<uint64_t>(type));
  if (dev.has_feature(DRIVER_ATOMIC)) {
    object_attach_property(plane, *p.prop_fb_id, 0);
    object_attach_property(plane, *p.prop_crtc_id, 0);
    object_attach_property(plane, *p.prop_crtc_x, 0);
    object_attach_property(plane, *p.prop_crtc_y, 0);
    object_attach_property(plane, *p.prop_crtc_w, 0);
    object_attach_property(plane, *p.prop_crtc_h, 0);
    object_attach_property(plane, *p.prop_src_x, 0);
    object_attach_property(plane, *p.prop_src_y, 0);
    object_attach_property(plane, *p.prop_src_w, 0);
    object_attach_property(plane, *p.prop_src_h, 0);
  }
  if (int ret = create_in_formats_blob(dev, plane)) {
    plane_cleanup(plane);
    return ret;
  }
  if (funcs && funcs->reset)
    funcs->reset(plane);
  else
    atomic_helper_plane_reset(plane);
  if (!plane.state) {
    plane_cleanup(plane);
    return -ENOMEM;
  }
  return 0;
}

int drmm_universal_plane_init(DrmDevice& dev, Plane& plane, uint32_t possible_crtcs, const PlaneFuncs* funcs,
                              const uint32_t* formats, unsigned format_count, const uint64_t* modifiers,
                              PlaneType type, const char* name) {
  if (int ret = universal_plane_init(dev, plane, possible_crtcs, funcs, formats, format_count, modifiers, type, name))
    return ret;
  return drmm_add_action_or_reset(dev, &plane_cleanup_action, &plane, "drm_plane_cleanup");
}

void plane_cleanup(Plane& plane) {
  DrmDevice* dev = plane.dev;
  if (!dev) return;
  if (plane.state) {
    if (plane.funcs && plane.funcs->atomic_destroy_state)
      plane.funcs->atomic_destroy_state(plane, plane.state);
    else
      atomic_helper_plane_destroy_state(plane, plane.state);
    plane.state = nullptr;
  }
  plane.fb.reset();
  plane.crtc = nullptr;
  plane.in_formats_blob.reset();
  if (ModeConfig* mc = dev->mode_config) {
    mc->idr.unregister(&plane);
    auto it = std::find(mc->planes.begin(), mc->planes.end(), &plane);
    if (it != mc->planes.end()) mc->planes.erase(it);
  }
  plane.properties = nullptr;
  plane.dev = nullptr;
}

Plane* plane_find(DrmDevice& dev, uint32_t id) {
  if (!dev.mode_config) return nullptr;
  return static_cast<Plane*>(dev.mode_config->idr.find(id, DRM_MODE_OBJECT_PLANE));
}

bool any_plane_has_format(DrmDevice& dev, uint32_t fourcc, uint64_t modifier) {
  if (!dev.mode_config) return false;
  for (Plane* p : dev.mode_config->planes)
    if (p->format_supported(fourcc, modifier)) return true;
  return false;
}

}  // namespace udrm
