// udrm/kms/property.h — struct drm_property and struct drm_property_blob.
//
// Properties are static mode objects (created at init, drmm-managed, freed at the final put).
// Blobs are refcounted mode objects: created by the driver (EDID, IN_FORMATS) or by userspace
// (CREATEPROPBLOB, owned by the creating file and destroyed at its close), referenced by states
// (MODE_ID, GAMMA_LUT) so a destroyed blob lives until no state uses it.
//
// Lifetime: Property: the DrmDevice (drmm). PropertyBlob: Ref<PropertyBlob>; as in the kernel
// the ID stays published until the final put (a MODE_ID blob destroyed by its creator while a
// state still uses it can still be read with GETPROPBLOB); the final put unpublishes it and
// waits a grace period before the memory goes, so a lock-free lookup racing it never reads
// freed memory (see object.h). A blob still referenced when the mode config is torn down is
// orphaned (unpublished, dev = nullptr) and freed by its last holder.
// Context: process context (allocation, and a put that may be the final one: it takes the IDR
// mutex and waits a grace period); blob lookup and get from any context.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <boost/intrusive/list.hpp>

#include "udrm/base/refcount.h"
#include "udrm/kms/object.h"

namespace udrm {

class Property : public ModeObject {
 public:
  struct Enum {
    uint64_t value;
    std::string name;
  };
  DrmDevice* dev = nullptr;
  uint32_t flags = 0;  // DRM_MODE_PROP_* (legacy type bits or extended type) | IMMUTABLE | ATOMIC
  std::string name;
  std::vector<uint64_t> values;  // range: {min, max}; object: {object type}; enum: values
  std::vector<Enum> enums;       // enum / bitmask entries

  /// Type bits: DRM_MODE_PROP_RANGE, _ENUM, _BLOB, _BITMASK, DRM_MODE_PROP_SIGNED_RANGE, _OBJECT.
  uint32_t type() const noexcept;
  bool is_atomic() const noexcept { return flags & DRM_MODE_PROP_ATOMIC; }
  /// drm_property_change_valid_get without the reference part: is `value` acceptable?
  /// false for immutable properties; blob/object values must name an existing object of the
  /// right type (0 = none is valid).
  bool value_valid(uint64_t value) const noexcept;
};

/// Creation helpers (drm_property_create_*): drmm-managed, nullptr on failure.
Property* property_create_range(DrmDevice& dev, uint32_t flags, const char* name, uint64_t min, uint64_t max);
Property* property_create_signed_range(DrmDevice& dev, uint32_t flags, const char* name, int64_t min, int64_t max);
Property* property_create_enum(DrmDevice& dev, uint32_t flags, const char* name, std::vector<Property::Enum> list);
Property* property_create_bitmask(DrmDevice& dev, uint32_t flags, const char* name, std::vector<Property::Enum> list);
Property* property_create_object(DrmDevice& dev, uint32_t flags, const char* name, uint32_t type);
Property* property_create_blob(DrmDevice& dev, uint32_t flags, const char* name);
Property* property_create_bool(DrmDevice& dev, uint32_t flags, const char* name);

class PropertyBlob : public ModeObject, public RefCounted<PropertyBlob>, public boost::intrusive::list_base_hook<> {
 public:
  DrmDevice* dev = nullptr;
  DrmFile* file = nullptr;  // creator for user blobs (CREATEPROPBLOB), else nullptr
  std::vector<uint8_t> data;

  void kref_release() noexcept;
};

/// drm_property_create_blob: -EINVAL for length 0 or > INT_MAX - header (the kernel's limit),
/// -ENOMEM when allocation fails (fault site "kms.blob_create").
int property_blob_create(DrmDevice& dev, const void* data, std::size_t len, Ref<PropertyBlob>* out);
/// drm_property_lookup_blob: a reference or nullptr.
Ref<PropertyBlob> property_blob_lookup(DrmDevice& dev, uint32_t id);
/// drm_property_replace_global_blob: replace the blob a (non-atomic) property of obj points to,
/// e.g. the connector's EDID. len 0 / data nullptr removes it.
int property_replace_global_blob(DrmDevice& dev, Ref<PropertyBlob>* slot, const void* data, std::size_t len,
                                 ModeObject& obj, Property& prop);
/// drm_property_destroy_user_blobs: at file close, drop the file's CREATEPROPBLOB blobs.
void property_destroy_user_blobs(DrmDevice& dev, DrmFile& file);
/// CREATEPROPBLOB: create a blob (data may be nullptr: zero-filled, for the ioctl to copy in),
/// owned by `file` (its reference is dropped at DESTROYPROPBLOB or at close). Errors as
/// property_blob_create.
int property_blob_create_user(DrmDevice& dev, DrmFile& file, const void* data, std::size_t len, uint32_t* id);
/// DESTROYPROPBLOB: -ENOENT if no such blob, -EPERM if the blob is not the file's (both as
/// drm_mode_destroyblob_ioctl). Drops the file's reference; a state using it keeps it alive.
int property_blob_destroy_user(DrmDevice& dev, DrmFile& file, uint32_t id);
/// drm_property_replace_blob: slot = blob; true if it changed.
bool property_replace_blob(Ref<PropertyBlob>* slot, PropertyBlob* blob);

}  // namespace udrm
