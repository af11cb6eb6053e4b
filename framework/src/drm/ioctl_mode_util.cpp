// Shared pieces of the KMS ioctls (ioctl_mode_util.h; drm_mode_object.c).
#include "ioctl_mode_util.h"

#include "udrm/base/errno.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/object.h"
#include "udrm/kms/property.h"

namespace udrm::ioctl {

Property* find_prop_id(ModeObject& obj, uint32_t id) {
  if (!obj.properties) return nullptr;
  for (int i = 0; i < obj.properties->count; ++i) {
    Property* p = obj.properties->props[i];
    if (p && p->id == id) return p;
  }
  return nullptr;
}

int get_prop_value(DrmDevice& dev, ModeObject& obj, Property& prop, uint64_t* val) {
  if (dev.has_feature(DRIVER_ATOMIC) && !(prop.flags & DRM_MODE_PROP_IMMUTABLE)) return atomic_get_property(obj, prop, val);
  return object_property_get_value(obj, prop, val);
}

int get_object_properties(DrmDevice& dev, ModeObject& obj, bool atomic, uint64_t props_ptr, uint64_t values_ptr,
                          uint32_t* count) {
  uint32_t n = 0;
  if (obj.properties) {
    for (int i = 0; i < obj.properties->count; ++i) {
      Property* p = obj.properties->props[i];
      if (!p || (p->is_atomic() && !atomic)) continue;
      if (*count > n) {
        uint64_t v = 0;
        if (int ret = get_prop_value(dev, obj, *p, &v)) return ret;
        if (put_user_u32(props_ptr, n, p->id)) return -EFAULT;
        if (put_user_u64(values_ptr, n, v)) return -EFAULT;
      }
      ++n;
    }
  }
  *count = n;
  return 0;
}

}  // namespace udrm::ioctl
