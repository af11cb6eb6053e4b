// Shared pieces of the KMS ioctls: user-array stores, property lookup and value reads.
//
// Lifetime: stateless. Context: process context (callers hold the mode config mutex where the
// kernel holds modeset locks).
#pragma once
#include <cstdint>

#include "udrm/drm/ioctl.h"

namespace udrm {

class DrmDevice;
class ModeObject;
class Property;

namespace ioctl {

/// put_user of a u32 / u64 into element `idx` of a user array.
inline int put_user_u32(uint64_t base, uint32_t idx, uint32_t v) {
  return copy_to_user(base + uint64_t{idx} * sizeof(v), &v, sizeof(v));
}
inline int put_user_u64(uint64_t base, uint32_t idx, uint64_t v) {
  return copy_to_user(base + uint64_t{idx} * sizeof(v), &v, sizeof(v));
}
inline int get_user_u32(uint64_t base, uint32_t idx, uint32_t* v) {
  return copy_from_user(v, base + uint64_t{idx} * sizeof(*v), sizeof(*v));
}

/// drm_mode_obj_find_prop_id: the property `id` attached to obj, or nullptr.
Property* find_prop_id(ModeObject& obj, uint32_t id);
/// __drm_object_property_get_value: atomic drivers read mutable properties from the state.
int get_prop_value(DrmDevice& dev, ModeObject& obj, Property& prop, uint64_t* val);
/// drm_mode_object_get_properties: two-pass (ids, values); atomic properties only for
/// atomic clients.
int get_object_properties(DrmDevice& dev, ModeObject& obj, bool atomic, uint64_t props_ptr, uint64_t values_ptr,
                          uint32_t* count);

}  // namespace ioctl
}  // namespace udrm
