// Atomic property access (udrm/kms/atomic.h: atomic_set_property / atomic_get_property),
// modelled on drm_atomic_uapi.c: the standard CRTC, plane and connector properties, then the
// driver's own through its funcs.
#include <cstring>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"

namespace udrm {

namespace {

// drm_property_change_valid_get without keeping the reference: immutable properties, values
// outside the property's range/enum, and object/blob ids naming nothing are refused.
bool change_valid(DrmDevice& dev, Property& prop, uint64_t value) {
  if (prop.flags & DRM_MODE_PROP_IMMUTABLE) return false;
  const uint32_t type = prop.type();
  if (type == DRM_MODE_PROP_OBJECT) {
    if (value == 0) return true;
    ModeConfig* mc = mode_config(dev);
    if (!mc || value > UINT32_MAX || prop.values.empty()) return false;
    ModeObject* o = mc->idr.find(static_cast<uint32_t>(value), static_cast<uint32_t>(prop.values[0]));
    if (!o) return false;
    mode_object_put(o);
    return true;
  }
  if (type == DRM_MODE_PROP_BLOB) {
    if (value == 0) return true;
    return value <= UINT32_MAX && property_blob_lookup(dev, static_cast<uint32_t>(value)) != nullptr;
  }
  return prop.value_valid(value);
}

// drm_atomic_replace_property_blob_from_id.
int replace_blob_from_id(DrmDevice& dev, Ref<PropertyBlob>* slot, uint64_t id, std::size_t elem_size, bool* replaced) {
  Ref<PropertyBlob> blob;
  if (id != 0) {
    blob = id <= UINT32_MAX ? property_blob_lookup(dev, static_cast<uint32_t>(id)) : nullptr;
    if (!blob) {
      log_dbg(LogCat::atomic, "cannot find blob ID %llu", static_cast<unsigned long long>(id));
      return -EINVAL;
    }
    if (elem_size && blob->data.size() % elem_size != 0) {
      log_dbg(LogCat::atomic, "blob ID %llu has size %zu, not a multiple of %zu", static_cast<unsigned long long>(id),
              blob->data.size(), elem_size);
      return -EINVAL;
    }
  }
  *replaced |= property_replace_blob(slot, blob.get());
  return 0;
}

int crtc_set_property(DrmDevice& dev, Crtc& crtc, CrtcState& s, Property& prop, uint64_t val) {
  auto& P = mode_config(dev)->props;
  if (&prop == P.crtc_active) {
    s.active = val != 0;
  } else if (&prop == P.crtc_mode_id) {
    Ref<PropertyBlob> blob = val && val <= UINT32_MAX ? property_blob_lookup(dev, static_cast<uint32_t>(val)) : nullptr;
    if (val && !blob) return -EINVAL;
    return atomic_set_mode_prop_for_crtc(s, blob.get());
  } else if (P.gamma_lut && &prop == P.gamma_lut) {
    bool replaced = false;
    int ret = replace_blob_from_id(dev, &s.gamma_lut, val, sizeof(drm_color_lut), &replaced);
    s.color_mgmt_changed |= replaced;
    return ret;
  } else if (crtc.funcs && crtc.funcs->atomic_set_property) {
    return crtc.funcs->atomic_set_property(crtc, s, prop, val);
  } else {
    log_dbg(LogCat::atomic, "[CRTC:%u:%s] unknown property [PROP:%u:%s]", crtc.id, crtc.name.c_str(), prop.id,
            prop.name.c_str());
    return -EINVAL;
  }
  return 0;
}

int plane_set_property(DrmDevice& dev, Plane& plane, PlaneState& s, Property& prop, uint64_t val) {
  auto& P = mode_config(dev)->props;
  if (&prop == P.prop_fb_id) {
    Ref<Framebuffer> fb = val && val <= UINT32_MAX ? framebuffer_lookup(dev, static_cast<uint32_t>(val)) : nullptr;
    if (val && !fb) return -EINVAL;
    atomic_set_fb_for_plane(s, fb.get());
  } else if (&prop == P.prop_crtc_id) {
    Crtc* crtc = val && val <= UINT32_MAX ? crtc_find(dev, static_cast<uint32_t>(val)) : nullptr;
    if (val && !crtc) return -EACCES;  // only reachable for CRTCs hidden from the file (leases)
    return atomic_set_crtc_for_plane(s, crtc);
  } else if (&prop == P.prop_crtc_x) {
    s.crtc_x = static_cast<int32_t>(static_cast<int64_t>(val));
  } else if (&prop == P.prop_crtc_y) {
    s.crtc_y = static_cast<int32_t>(static_cast<int64_t>(val));
  } else if (&prop == P.prop_crtc_w) {
    s.crtc_w = static_cast<uint32_t>(val);
  } else if (&prop == P.prop_crtc_h) {
    s.crtc_h = static_cast<uint32_t>(val);
  } else if (&prop == P.prop_src_x) {
    s.src_x = static_cast<uint32_t>(val);
  } else if (&prop == P.prop_src_y) {
    s.src_y = static_cast<uint32_t>(val);
  } else if (&prop == P.prop_src_w) {
    s.src_w = static_cast<uint32_t>(val);
  } else if (&prop == P.prop_src_h) {
    s.src_h = static_cast<uint32_t>(val);
  } else if (plane.funcs && plane.funcs->atomic_set_property) {
    return plane.funcs->atomic_set_property(plane, s, prop, val);
  } else {
    log_dbg(LogCat::atomic, "[PLANE:%u:%s] unknown property [PROP:%u:%s]", plane.id, plane.name.c_str(), prop.id,
            prop.name.c_str());
    return -EINVAL;
  }
  return 0;
}

int connector_set_property(DrmDevice& dev, Connector& c, ConnectorState& s, Property& prop, uint64_t val) {
  auto& P = mode_config(dev)->props;
  if (&prop == P.prop_crtc_id) {
    Crtc* crtc = val && val <= UINT32_MAX ? crtc_find(dev, static_cast<uint32_t>(val)) : nullptr;
    if (val && !crtc) return -EACCES;
    return atomic_set_crtc_for_connector(s, crtc);
  } else if (P.dpms && &prop == P.dpms) {
    // DPMS needs the legacy semantics (atomic_helper_connector_dpms); not settable atomically.
    return -EINVAL;
  } else if (P.link_status && &prop == P.link_status) {
    // Userspace may only restore GOOD; udrm links never go BAD, so there is nothing to store.
    return 0;
  } else if (c.funcs && c.funcs->atomic_set_property) {
    return c.funcs->atomic_set_property(c, s, prop, val);
  }
  log_dbg(LogCat::atomic, "[CONNECTOR:%u:%s] unknown property [PROP:%u:%s]", c.id, c.name.c_str(), prop.id,
          prop.name.c_str());
  return -EINVAL;
}

}  // namespace

int atomic_set_property(AtomicState& state, DrmFile* /*file*/, ModeObject& obj, Property& prop, uint64_t value) {
  DrmDevice& dev = state.dev();
  if (!mode_config(dev)) return -EINVAL;
  if (!change_valid(dev, prop, value)) {
    log_dbg(LogCat::atomic, "[PROP:%u:%s] value %llu not accepted", prop.id, prop.name.c_str(),
            static_cast<unsigned long long>(value));
    return -EINVAL;
  }
  switch (obj.type) {
    case DRM_MODE_OBJECT_CONNECTOR: {
      auto& c = static_cast<Connector&>(obj);
      ConnectorState* s = atomic_get_connector_state(state, c);
      if (!s) return -ENOMEM;
      return connector_set_property(dev, c, *s, prop, value);
    }
    case DRM_MODE_OBJECT_CRTC: {
      auto& c = static_cast<Crtc&>(obj);
      CrtcState* s = atomic_get_crtc_state(state, c);
      if (!s) return -ENOMEM;
      return crtc_set_property(dev, c, *s, prop, value);
    }
    case DRM_MODE_OBJECT_PLANE: {
      auto& p = static_cast<Plane&>(obj);
      PlaneState* s = atomic_get_plane_state(state, p);
      if (!s) return -ENOMEM;
      return plane_set_property(dev, p, *s, prop, value);
    }
    default:
      log_dbg(LogCat::atomic, "[OBJECT:%u] has no atomic properties", obj.id);
      return -EINVAL;
  }
}

int atomic_get_property(ModeObject& obj, Property& prop, uint64_t* val) {
  DrmDevice* dev = prop.dev;
  ModeConfig* mc = dev ? mode_config(*dev) : nullptr;
  if (!mc) return -EINVAL;
  auto& P = mc->props;
  switch (obj.type) {
    case DRM_MODE_OBJECT_CRTC: {
      auto& c = static_cast<Crtc&>(obj);
      const CrtcState* s = c.state;
      if (!s) return -EINVAL;
      if (&prop == P.crtc_active) {
        *val = s->active;
      } else if (&prop == P.crtc_mode_id) {
        *val = s->mode_blob ? s->mode_blob->id : 0;
      } else if (P.gamma_lut && &prop == P.gamma_lut) {
        *val = s->gamma_lut ? s->gamma_lut->id : 0;
      } else if (c.funcs && c.funcs->atomic_get_property) {
        return c.funcs->atomic_get_property(c, *s, prop, val);
      } else {
        return -EINVAL;
      }
      return 0;
    }
    case DRM_MODE_OBJECT_PLANE: {
      auto& p = static_cast<Plane&>(obj);
      const PlaneState* s = p.state;
      if (!s) return -EINVAL;
      if (&prop == P.prop_fb_id) {
        *val = s->fb ? s->fb->id : 0;
      } else if (&prop == P.prop_crtc_id) {
        *val = s->crtc ? s->crtc->id : 0;
      } else if (&prop == P.prop_crtc_x) {
        *val = static_cast<uint64_t>(static_cast<int64_t>(s->crtc_x));
      } else if (&prop == P.prop_crtc_y) {
        *val = static_cast<uint64_t>(static_cast<int64_t>(s->crtc_y));
      } else if (&prop == P.prop_crtc_w) {
        *val = s->crtc_w;
      } else if (&prop == P.prop_crtc_h) {
        *val = s->crtc_h;
      } else if (&prop == P.prop_src_x) {
        *val = s->src_x;
      } else if (&prop == P.prop_src_y) {
        *val = s->src_y;
      } else if (&prop == P.prop_src_w) {
        *val = s->src_w;
      } else if (&prop == P.prop_src_h) {
        *val = s->src_h;
      } else if (p.funcs && p.funcs->atomic_get_property) {
        return p.funcs->atomic_get_property(p, *s, prop, val);
      } else {
        return -EINVAL;
      }
      return 0;
    }
    case DRM_MODE_OBJECT_CONNECTOR: {
      auto& c = static_cast<Connector&>(obj);
      const ConnectorState* s = c.state;
      if (!s) return -EINVAL;
      if (&prop == P.prop_crtc_id) {
        *val = s->crtc ? s->crtc->id : 0;
      } else if (P.dpms && &prop == P.dpms) {
        *val = static_cast<uint64_t>(c.dpms);
      } else if (P.link_status && &prop == P.link_status) {
        *val = DRM_MODE_LINK_STATUS_GOOD;
      } else if (c.funcs && c.funcs->atomic_get_property) {
        return c.funcs->atomic_get_property(c, *s, prop, val);
      } else {
        return -EINVAL;
      }
      return 0;
    }
    default:
      return -EINVAL;
  }
}

}  // namespace udrm
