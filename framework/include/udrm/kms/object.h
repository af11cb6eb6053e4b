// udrm/kms/object.h — struct drm_mode_object: an ID that userspace can name, plus properties.
//
// Every CRTC, plane, encoder, connector, framebuffer, property and blob is a ModeObject with a
// device-unique non-zero ID allocated from the device's ObjectIdr (drm_mode_object_add). Static
// objects (CRTC, plane, encoder, connector, property) live as long as the DRM device (drmm);
// framebuffers and blobs are refcounted and can be destroyed by userspace.
//
// Lookup (drm_mode_object_find) takes a reference on refcounted objects with get-unless-zero,
// so a lookup racing the final put of a framebuffer or blob never returns a dying object.
// The object stays in the IDR until its owner unregisters it; the IDR slot (not the number) is
// what a lookup reads, under the IDR lock.
//
// Final put vs lookup: a refcounted object's release first unregisters its ID (under the IDR
// lock), then frees. find() takes the reference under the same lock with get-unless-zero, so
// between "count reached zero" and "unregistered" a lookup sees the object but refuses it, and
// after the unregister it cannot see it at all: there is no window in which find() can hand out
// or even touch freed memory. IDs are allocated cyclically and never reused.
//
// Lifetime: owned by the containing KMS object; the IDR never owns. Context: process context
// for lookup and registration (the IDR lock is a udrm::Mutex, like the kernel's idr_mutex:
// get-unless-zero is a scheduling point, which must not sit under a spinlock). A refcounted
// object's final put therefore must happen in process context too (as in the kernel).
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include <drm_mode.h>

#include "udrm/base/mutex.h"

namespace udrm {

class DrmDevice;
class DrmFile;
class Property;

/// Properties attached to an object (struct drm_object_properties). For atomic properties the
/// stored value is unused: the value comes from the object's current state.
struct ObjectProperties {
  static constexpr int kMax = 64;  // DRM_OBJECT_MAX_PROPERTY
  int count = 0;
  Property* props[kMax] = {};
  uint64_t values[kMax] = {};
};

class ModeObject {
 public:
  uint32_t id = 0;
  uint32_t type = 0;  // DRM_MODE_OBJECT_*
  ObjectProperties* properties = nullptr;  // nullptr for objects without properties
  /// Refcounted objects (FB, blob): get-unless-zero / put. nullptr for static objects.
  bool (*get_unless_zero)(ModeObject*) = nullptr;
  void (*put)(ModeObject*) = nullptr;
  const char* debug_name = "";

  ModeObject() = default;
  ModeObject(const ModeObject&) = delete;
  ModeObject& operator=(const ModeObject&) = delete;
};

/// The device's ID space (mode_config.object_idr). IDs are never reused while the device lives
/// (cyclic allocation, like the kernel's idr_alloc_cyclic for objects that can be destroyed).
class ObjectIdr {
 public:
  /// drm_mode_object_add: allocates an ID and publishes obj under it. -ENOMEM on exhaustion or
  /// injected failure (fault site "kms.object_add").
  int add(ModeObject* obj, uint32_t type);
  /// Reserve an ID without publishing it yet (drm_mode_object_add with register=false);
  /// publish later with register_object().
  int reserve(ModeObject* obj, uint32_t type);
  void register_object(ModeObject* obj);
  /// drm_mode_object_unregister: the ID disappears from lookups (the object stays valid).
  void unregister(ModeObject* obj);
  /// drm_mode_object_find: nullptr if absent, of another type (type DRM_MODE_OBJECT_ANY
  /// matches all), or dying. A refcounted result carries a reference: release it with
  /// mode_object_put().
  ModeObject* find(uint32_t id, uint32_t type);
  std::size_t size() const;

 private:
  mutable Mutex lock_{"mode_config.idr"};
  std::map<uint32_t, ModeObject*> map_;  // nullptr: reserved
  uint32_t next_ = 1;
};

/// drm_mode_object_put: drops the reference a refcounted find() returned (no-op otherwise).
void mode_object_put(ModeObject* obj);

/// drm_object_attach_property: -ENOSPC when the object already has kMax properties (the kernel
/// WARNs; so do we).
int object_attach_property(ModeObject& obj, Property& prop, uint64_t init_val);
/// Non-atomic property value stored on the object (drm_object_property_set/get_value).
int object_property_set_value(ModeObject& obj, Property& prop, uint64_t val);
int object_property_get_value(ModeObject& obj, Property& prop, uint64_t* val);

}  // namespace udrm
