// Property ioctls: GETPROPERTY, SETPROPERTY, OBJ_GETPROPERTIES, OBJ_SETPROPERTY, GETPROPBLOB,
// CREATEPROPBLOB, DESTROYPROPBLOB (drm_property.c, drm_mode_object.c, drm_connector.c).
#include <drm_mode.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/object.h"
#include "udrm/kms/property.h"
#include "ioctl_internal.h"
#include "ioctl_mode_util.h"

namespace udrm::ioctl {
namespace {

// A looked-up mode object; refcounted ones (FB, blob) are put when this goes.
struct ObjRef {
  ModeObject* obj = nullptr;
  ~ObjRef() {
    if (obj) mode_object_put(obj);
  }
};

// set_property_atomic / set_property_legacy. Caller holds the mode config mutex.
int set_property(DrmDevice& dev, DrmFile& file, ModeObject& obj, Property& prop, uint64_t value) {
  ModeConfig* mc = dev.mode_config;
  if (!dev.has_feature(DRIVER_ATOMIC)) return object_property_set_value(obj, prop, value);
  if (&prop == mc->props.dpms) {
    if (obj.type != DRM_MODE_OBJECT_CONNECTOR) return -EINVAL;
    return atomic_helper_connector_dpms(static_cast<Connector&>(obj), static_cast<int>(value));
  }
  Ref<AtomicState> state = atomic_state_alloc(dev);
  if (!state) return -ENOMEM;
  state->file = &file;
  // Legacy property sets may modeset: drm_atomic_state_init sets allow_modeset and only the
  // ATOMIC ioctl clears it.
  state->allow_modeset = true;
  if (int ret = atomic_set_property(*state, &file, obj, prop, value)) return ret;
  return atomic_commit(*state);
}

}  // namespace

int mode_getproperty(DrmDevice& dev, void* data, DrmFile&) {
  auto* r = static_cast<drm_mode_get_property*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  ModeObject* o = mc->idr.find(r->prop_id, DRM_MODE_OBJECT_PROPERTY);
  if (!o) return -ENOENT;
  auto& p = static_cast<Property&>(*o);
  std::memset(r->name, 0, sizeof(r->name));
  std::strncpy(r->name, p.name.c_str(), sizeof(r->name) - 1);
  r->flags = p.flags;
  const auto nvalues = static_cast<uint32_t>(p.values.size());
  for (uint32_t i = 0; i < nvalues; ++i) {
    if (i < r->count_values && put_user_u64(r->values_ptr, i, p.values[i])) return -EFAULT;
  }
  r->count_values = nvalues;
  const uint32_t type = p.type();
  if (type == DRM_MODE_PROP_ENUM || type == DRM_MODE_PROP_BITMASK) {
    uint32_t count = 0, copied = 0;
    for (const Property::Enum& e : p.enums) {
      ++count;
      if (r->count_enum_blobs < count) continue;
      drm_mode_property_enum ue{};
      ue.value = e.value;
      std::strncpy(ue.name, e.name.c_str(), sizeof(ue.name) - 1);
      if (copy_to_user(r->enum_blob_ptr + uint64_t{copied} * sizeof(ue), &ue, sizeof(ue))) return -EFAULT;
      ++copied;
    }
    r->count_enum_blobs = count;
  }
  // Blob properties never listed their blobs here: GETPROPBLOB reads them.
  if (type == DRM_MODE_PROP_BLOB) r->count_enum_blobs = 0;
  return 0;
}

int mode_obj_getproperties(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_obj_get_properties*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  std::lock_guard<Mutex> l(mc->mutex);
  ObjRef o{mc->idr.find(r->obj_id, r->obj_type)};
  if (!o.obj) return -ENOENT;
  if (!o.obj->properties) return -EINVAL;
  return get_object_properties(dev, *o.obj, file.atomic, r->props_ptr, r->prop_values_ptr, &r->count_props);
}

int mode_obj_setproperty(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_obj_set_property*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  std::lock_guard<Mutex> l(mc->mutex);
  ObjRef o{mc->idr.find(r->obj_id, r->obj_type)};
  if (!o.obj) return -ENOENT;
  if (!o.obj->properties) return -EINVAL;
  Property* p = find_prop_id(*o.obj, r->prop_id);
  if (!p) return -EINVAL;
  return set_property(dev, file, *o.obj, *p, r->value);
}

// The connector-only legacy form, routed through OBJ_SETPROPERTY.
int mode_setproperty(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_connector_set_property*>(data);
  drm_mode_obj_set_property o{};
  o.value = r->value;
  o.prop_id = r->prop_id;
  o.obj_id = r->connector_id;
  o.obj_type = DRM_MODE_OBJECT_CONNECTOR;
  return mode_obj_setproperty(dev, &o, file);
}

int mode_getpropblob(DrmDevice& dev, void* data, DrmFile&) {
  auto* r = static_cast<drm_mode_get_blob*>(data);
  if (!kms(dev)) return -EOPNOTSUPP;
  Ref<PropertyBlob> blob = property_blob_lookup(dev, r->blob_id);
  if (!blob) return -ENOENT;
  const auto len = static_cast<uint32_t>(blob->data.size());
  // Copied only when the caller's length is exactly the blob's.
  if (r->length == len) {
    if (copy_to_user(r->data, blob->data.data(), len)) return -EFAULT;
  }
  r->length = len;
  return 0;
}

int mode_createpropblob(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_create_blob*>(data);
  if (!kms(dev)) return -EOPNOTSUPP;
  // drm_property_create_blob's limits first, so a huge length never allocates.
  if (r->length == 0 || r->length > uint32_t{INT32_MAX} - 256) return -EINVAL;
  std::vector<uint8_t> buf;
  try {
    buf.resize(r->length);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  if (copy_from_user(buf.data(), r->data, r->length)) return -EFAULT;
  return property_blob_create_user(dev, file, buf.data(), buf.size(), &r->blob_id);
}

int mode_destroypropblob(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_destroy_blob*>(data);
  if (!kms(dev)) return -EOPNOTSUPP;
  return property_blob_destroy_user(dev, file, r->blob_id);
}

}  // namespace udrm::ioctl
