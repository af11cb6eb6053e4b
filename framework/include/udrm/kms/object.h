// udrm/kms/object.h — struct drm_mode_object: an ID that userspace can name, plus properties.
//
// Every CRTC, plane, encoder, connector, framebuffer, property and blob is a ModeObject with a
// device-unique non-zero ID allocated from the device's ObjectIdr (drm_mode_object_add). Static
// objects (CRTC, plane, encoder, connector, property) live as long as the DRM device (drmm);
// framebuffers and blobs are refcounted and can be destroyed by userspace.
//
// Lookup (drm_mode_object_find) reads the IDR without its lock, inside a read-side section of
// the IDR's LookupIndex (base/lookup.h), and takes a reference on refcounted objects with
// get-unless-zero, so a lookup racing the final put of a framebuffer or blob never returns a
// dying object. The final put is the one destructor (release()): under the IDR lock it
// re-checks that the count is still zero and tombstones the ID, then waits a grace period, so
// a lookup that read the slot before the removal never touches freed memory. A lookup that
// took its reference while an unregister (RMFB, close) tombstoned the ID drops it again and
// says "not found": once unregister() returns, no lookup hands the object out, as under the
// kernel's idr_mutex (drm_framebuffer_remove relies on it).
//
// IDs: one ID space for every object type, allocated cyclically from 1 and never reused while
// the device lives. The kernel's drm_mode_object_add uses idr_alloc(.., 1, 0, ..), which hands
// out the lowest free ID, so the kernel does reuse the IDs of destroyed framebuffers and blobs;
// udrm deliberately does not (a stale ID names nothing rather than a newer object). Both
// stop at INT_MAX.
//
// Lifetime: owned by the containing KMS object; the IDR never owns. Static objects (no
// get_unless_zero) must not be freed while lookups can run (the device's last file is gone):
// a lookup returns them without a reference, as the kernel does. Context: lookup: any
// context, never sleeps — except that losing a race with unregister() drops the reference it
// took, which may be the final put. Registration, unregister and a refcounted object's final
// put: process context (they take the IDR mutex; the final put waits a grace period).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include <drm_mode.h>

#include "udrm/base/lookup.h"
#include "udrm/base/refcount.h"

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

/// The device's ID space (mode_config.object_idr): cyclic, never reused (see above).
class ObjectIdr {
 public:
  /// drm_mode_object_add: allocates an ID and publishes obj under it. -ENOMEM on exhaustion or
  /// injected failure (fault site "kms.object_add").
  int add(ModeObject* obj, uint32_t type);
  /// Reserve an ID without publishing it yet (drm_mode_object_add with register=false);
  /// publish later with register_object().
  int reserve(ModeObject* obj, uint32_t type);
  /// drm_mode_object_register. -EINVAL (WARN) if obj holds no reserved ID, -EEXIST if it is
  /// already published, -ENOMEM if the index cannot grow.
  int register_object(ModeObject* obj);
  /// drm_mode_object_unregister: the ID disappears from lookups (the object stays valid) and
  /// obj->id becomes 0. Once this returns, no lookup hands out a new reference to obj.
  void unregister(ModeObject* obj);
  /// drm_mode_object_find: nullptr if absent, of another type (type DRM_MODE_OBJECT_ANY
  /// matches all), or dying. A refcounted result carries a reference: release it with
  /// mode_object_put().
  ModeObject* find(uint32_t id, uint32_t type);
  /// The IDR half of a refcounted object's final put (drm_mode_object_put -> free_cb): under
  /// the lock, re-check that `kref` (the object's count) is still zero and unpublish its ID;
  /// then wait until no lookup can still read obj. true: the caller destroys obj. false: the
  /// object was revived (a WARN — only a plain get on a zero count can do that); leave it.
  bool release(ModeObject* obj, const Kref& kref);
  /// Wait until every lookup that began before this call has ended (for frees that bypass
  /// release(), such as the mode config's forced free of leaked framebuffers).
  void synchronize() { index_.synchronize(); }
  /// Reserved + published IDs.
  std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  LookupIndex index_{"mode_config.idr"};
  uint32_t next_ = 1;                  // under index_.lock()
  std::atomic<std::size_t> count_{0};  // written under index_.lock()
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
