// Mode object IDs and attached properties (udrm/kms/object.h).
#include "udrm/kms/object.h"

#include <climits>
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/property.h"

namespace udrm {

namespace {
int alloc_id(uint32_t& next, uint32_t* out) {
  // Cyclic and never reused: the kernel's idr stops at INT_MAX, so do we.
  if (next == 0 || next > static_cast<uint32_t>(INT_MAX)) return -ENOMEM;
  *out = next++;
  return 0;
}
}  // namespace

int ObjectIdr::add(ModeObject* obj, uint32_t type) {
  int ret = reserve(obj, type);
  if (ret) return ret;
  register_object(obj);
  return 0;
}

int ObjectIdr::reserve(ModeObject* obj, uint32_t type) {
  if (UDRM_WARN_ON(!obj, LogCat::kms)) return -EINVAL;
  if (UDRM_SHOULD_FAIL("kms.object_add")) return -ENOMEM;
  std::lock_guard<Mutex> l(lock_);
  uint32_t id = 0;
  if (int ret = alloc_id(next_, &id)) return ret;
  map_.emplace(id, nullptr);
  obj->id = id;
  obj->type = type;
  return 0;
}

void ObjectIdr::register_object(ModeObject* obj) {
  std::lock_guard<Mutex> l(lock_);
  auto it = map_.find(obj->id);
  if (UDRM_WARN_ON(it == map_.end(), LogCat::kms)) return;
  it->second = obj;
}

void ObjectIdr::unregister(ModeObject* obj) {
  std::lock_guard<Mutex> l(lock_);
  if (!obj->id) return;
  auto it = map_.find(obj->id);
  if (it != map_.end() && (it->second == obj || it->second == nullptr)) map_.erase(it);
  obj->id = 0;  // as drm_mode_object_unregister does
}

ModeObject* ObjectIdr::find(uint32_t id, uint32_t type) {
  if (!id) return nullptr;
  std::lock_guard<Mutex> l(lock_);
  auto it = map_.find(id);
  if (it == map_.end()) return nullptr;
  ModeObject* obj = it->second;
  if (!obj) return nullptr;  // reserved, not published
  if (type != DRM_MODE_OBJECT_ANY && obj->type != type) return nullptr;
  if (obj->id != id) return nullptr;
  if (obj->get_unless_zero && !obj->get_unless_zero(obj)) return nullptr;  // dying
  return obj;
}

std::size_t ObjectIdr::size() const {
  std::lock_guard<Mutex> l(lock_);
  return map_.size();
}

void mode_object_put(ModeObject* obj) {
  if (obj && obj->put) obj->put(obj);
}

int object_attach_property(ModeObject& obj, Property& prop, uint64_t init_val) {
  if (UDRM_WARN_ON(!obj.properties, LogCat::kms)) return -EINVAL;
  ObjectProperties& p = *obj.properties;
  // Connectors may be added to a registered device (hot-plugged ones): the kernel checks the
  // connector's own registration there, which udrm connectors do not have.
  if (prop.dev && prop.dev->is_registered() && obj.type != DRM_MODE_OBJECT_CONNECTOR)
    warn(LogCat::kms, "attaching property '%s' to object %u after the device was registered", prop.name.c_str(), obj.id);
  for (int i = 0; i < p.count; ++i) {
    if (p.props[i] == &prop) {
      p.values[i] = init_val;
      return 0;
    }
  }
  if (p.count == ObjectProperties::kMax) {
    warn(LogCat::kms, "failed to attach property '%s' to object type 0x%x: DRM_OBJECT_MAX_PROPERTY reached",
         prop.name.c_str(), obj.type);
    return -ENOSPC;
  }
  p.props[p.count] = &prop;
  p.values[p.count] = init_val;
  ++p.count;
  return 0;
}

int object_property_set_value(ModeObject& obj, Property& prop, uint64_t val) {
  // Atomic drivers keep mutable property values in the object states; only immutable ones
  // (EDID, IN_FORMATS, non-desktop, GAMMA_LUT_SIZE...) live on the object.
  // DPMS is the one mutable non-atomic property an atomic driver still stores on the object
  // (connector->dpms in the kernel); anything else mutable is a driver bug.
  if (prop.dev && prop.dev->has_feature(DRIVER_ATOMIC) && !(prop.flags & DRM_MODE_PROP_IMMUTABLE) &&
      prop.name != "DPMS") {
    warn(LogCat::kms, "object_property_set_value on mutable property '%s' of an atomic driver", prop.name.c_str());
    return -EINVAL;
  }
  if (!obj.properties) return -EINVAL;
  ObjectProperties& p = *obj.properties;
  for (int i = 0; i < p.count; ++i) {
    if (p.props[i] == &prop) {
      p.values[i] = val;
      return 0;
    }
  }
  return -EINVAL;
}

int object_property_get_value(ModeObject& obj, Property& prop, uint64_t* val) {
  if (!obj.properties) return -EINVAL;
  ObjectProperties& p = *obj.properties;
  for (int i = 0; i < p.count; ++i) {
    if (p.props[i] == &prop) {
      *val = p.values[i];
      return 0;
    }
  }
  return -EINVAL;
}

}  // namespace udrm
