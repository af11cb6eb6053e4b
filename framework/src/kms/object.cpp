// Mode object IDs and attached properties (udrm/kms/object.h).
#include "udrm/kms/object.h"

#include <climits>
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/property.h"

namespace udrm {

int ObjectIdr::add(ModeObject* obj, uint32_t type) {
  if (int ret = reserve(obj, type)) return ret;
  std::lock_guard<Mutex> l(index_.lock());
  if (int ret = index_.insert_locked(obj->id, obj, type)) {  // -ENOMEM: the index cannot grow
    count_.fetch_sub(1, std::memory_order_relaxed);
    obj->id = 0;
    return ret;
  }
  return 0;
}

int ObjectIdr::reserve(ModeObject* obj, uint32_t type) {
  if (UDRM_WARN_ON(!obj, LogCat::kms)) return -EINVAL;
  if (UDRM_SHOULD_FAIL("kms.object_add")) return -ENOMEM;
  std::lock_guard<Mutex> l(index_.lock());
  // Cyclic and never reused; the kernel's idr stops at INT_MAX, so do we. udrm has always
  // said -ENOMEM here; the kernel's idr_alloc would say -ENOSPC (unreachable in practice: the
  // kernel reuses freed IDs).
  if (next_ == 0 || next_ > static_cast<uint32_t>(INT_MAX)) return -ENOMEM;
  obj->id = next_++;
  obj->type = type;
  count_.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

int ObjectIdr::register_object(ModeObject* obj) {
  if (UDRM_WARN_ON(!obj, LogCat::kms)) return -EINVAL;
  std::lock_guard<Mutex> l(index_.lock());
  if (UDRM_WARN_ON(obj->id == 0 || obj->id >= next_, LogCat::kms)) return -EINVAL;  // never reserved
  int ret = index_.insert_locked(obj->id, obj, obj->type);  // publishes type and the refcount hooks
  UDRM_WARN_ON(ret == -EEXIST, LogCat::kms);
  return ret;
}

void ObjectIdr::unregister(ModeObject* obj) {
  std::lock_guard<Mutex> l(index_.lock());
  if (!obj->id) return;
  index_.remove_locked(obj->id, obj);  // false if only reserved
  count_.fetch_sub(1, std::memory_order_relaxed);
  obj->id = 0;  // as drm_mode_object_unregister does
}

bool ObjectIdr::release(ModeObject* obj, const Kref& kref) {
  {
    std::lock_guard<Mutex> l(index_.lock());
    UDRM_POINT("kms.object_release");
    if (kref.read() != 0) {
      warn(LogCat::kms, "%s %u revived after its final put; not destroying it", obj->debug_name, obj->id);
      return false;
    }
    if (obj->id) {
      index_.remove_locked(obj->id, obj);
      count_.fetch_sub(1, std::memory_order_relaxed);
      obj->id = 0;
    }
  }
  index_.synchronize();  // a lookup that read the slot before the removal has left
  return true;
}

ModeObject* ObjectIdr::find(uint32_t id, uint32_t type) {
  if (!id) return nullptr;
  ModeObject* obj = nullptr;
  {
    LookupIndex::Section s = index_.read();
    LookupIndex::Hit h = index_.find(s, id);
    if (!h) return nullptr;  // absent, reserved or unregistered
    if (type != DRM_MODE_OBJECT_ANY && h.kind != type) return nullptr;
    UDRM_POINT("kms.object_find");  // a final put may run here: obj must stay readable
    obj = static_cast<ModeObject*>(h.ptr);
    if (!obj->get_unless_zero) return obj;            // static: lives as long as the device
    if (!obj->get_unless_zero(obj)) return nullptr;   // dying
    if (index_.still_published(s, h)) return obj;
  }
  // Unregistered while we took the reference: drop it outside the section (it may be the
  // final put, which waits for sections to end).
  mode_object_put(obj);
  return nullptr;
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
