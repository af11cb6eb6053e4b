// Properties: creation and value validation (udrm/kms/property.h).
#include "udrm/kms/property.h"

#include <climits>
#include <cstring>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/mode_config.h"

namespace udrm {
namespace {

constexpr uint32_t kTypeMask = DRM_MODE_PROP_LEGACY_TYPE | DRM_MODE_PROP_EXTENDED_TYPE;

/// The drmm-owned property: unpublished when the device's managed state is released.
struct ManagedProperty final : Property {
  ~ManagedProperty() {
    if (dev && dev->mode_config && id) dev->mode_config->idr.unregister(this);
  }
};

bool flags_valid(uint32_t flags) {
  const uint32_t legacy = flags & DRM_MODE_PROP_LEGACY_TYPE;
  const uint32_t ext = flags & DRM_MODE_PROP_EXTENDED_TYPE;
  if (flags & ~(kTypeMask | DRM_MODE_PROP_PENDING | DRM_MODE_PROP_IMMUTABLE | DRM_MODE_PROP_ATOMIC)) return false;
  if (ext && legacy) return false;
  if (ext) return ext == DRM_MODE_PROP_OBJECT || ext == DRM_MODE_PROP_SIGNED_RANGE;
  // Exactly one legacy type bit.
  return legacy && (legacy & (legacy - 1)) == 0;
}

Property* property_create(DrmDevice& dev, uint32_t flags, const char* name) {
  ModeConfig* mc = dev.mode_config;
  if (UDRM_WARN_ON(!mc, LogCat::kms)) return nullptr;
  if (!name || std::strlen(name) >= DRM_PROP_NAME_LEN) {
    warn(LogCat::kms, "property name '%s' too long or missing", name ? name : "(null)");
    return nullptr;
  }
  if (!flags_valid(flags)) {
    warn(LogCat::kms, "invalid property flags 0x%x for '%s'", flags, name);
    return nullptr;
  }
  if (UDRM_SHOULD_FAIL("kms.property_create")) return nullptr;
  ManagedProperty* p = drmm_new<ManagedProperty>(dev, "drm_property");
  if (!p) return nullptr;
  p->dev = &dev;
  p->flags = flags;
  p->name = name;
  p->debug_name = p->name.c_str();
  if (mc->idr.add(p, DRM_MODE_OBJECT_PROPERTY)) {
    drmm_kfree(dev, p);  // runs the destructor (nothing registered)
    return nullptr;
  }
  return p;
}

}  // namespace

uint32_t Property::type() const noexcept { return flags & kTypeMask; }

bool Property::value_valid(uint64_t value) const noexcept {
  if (flags & DRM_MODE_PROP_IMMUTABLE) return false;
  switch (type()) {
    case DRM_MODE_PROP_RANGE:
      return values.size() >= 2 && value >= values[0] && value <= values[1];
    case DRM_MODE_PROP_SIGNED_RANGE: {
      if (values.size() < 2) return false;
      const auto sv = static_cast<int64_t>(value);
      return sv >= static_cast<int64_t>(values[0]) && sv <= static_cast<int64_t>(values[1]);
    }
    case DRM_MODE_PROP_BITMASK: {
      uint64_t mask = 0;
      for (uint64_t bit : values) mask |= uint64_t{1} << bit;
      return !(value & ~mask);
    }
    case DRM_MODE_PROP_BLOB: {
      if (value == 0) return true;
      if (!dev || value > UINT32_MAX) return false;
      return property_blob_lookup(*dev, static_cast<uint32_t>(value)) != nullptr;
    }
    case DRM_MODE_PROP_OBJECT: {
      if (value == 0) return true;
      if (!dev || !dev->mode_config || value > UINT32_MAX || values.empty()) return false;
      ModeObject* obj = dev->mode_config->idr.find(static_cast<uint32_t>(value), static_cast<uint32_t>(values[0]));
      if (!obj) return false;
      mode_object_put(obj);
      return true;
    }
    case DRM_MODE_PROP_ENUM:
      for (uint64_t v : values)
        if (v == value) return true;
      return false;
    default:
      return false;
  }
}

Property* property_create_range(DrmDevice& dev, uint32_t flags, const char* name, uint64_t min, uint64_t max) {
  Property* p = property_create(dev, flags | DRM_MODE_PROP_RANGE, name);
  if (p) p->values = {min, max};
  return p;
}

Property* property_create_signed_range(DrmDevice& dev, uint32_t flags, const char* name, int64_t min, int64_t max) {
  Property* p = property_create(dev, flags | DRM_MODE_PROP_SIGNED_RANGE, name);
  if (p) p->values = {static_cast<uint64_t>(min), static_cast<uint64_t>(max)};
  return p;
}

Property* property_create_enum(DrmDevice& dev, uint32_t flags, const char* name, std::vector<Property::Enum> list) {
  for (auto& e : list) {
    if (e.name.size() >= DRM_PROP_NAME_LEN) {
      warn(LogCat::kms, "enum name '%s' of property '%s' too long", e.name.c_str(), name ? name : "");
      return nullptr;
    }
  }
  Property* p = property_create(dev, flags | DRM_MODE_PROP_ENUM, name);
  if (!p) return nullptr;
  for (auto& e : list) p->values.push_back(e.value);
  p->enums = std::move(list);
  return p;
}

Property* property_create_bitmask(DrmDevice& dev, uint32_t flags, const char* name,
                                  std::vector<Property::Enum> list) {
  for (auto& e : list) {
    if (e.value > 63) {
      warn(LogCat::kms, "bitmask property '%s': bit %llu out of range", name ? name : "",
           static_cast<unsigned long long>(e.value));
      return nullptr;
    }
    if (e.name.size() >= DRM_PROP_NAME_LEN) return nullptr;
  }
  Property* p = property_create(dev, flags | DRM_MODE_PROP_BITMASK, name);
  if (!p) return nullptr;
  for (auto& e : list) p->values.push_back(e.value);  // bit positions, as the kernel stores them
  p->enums = std::move(list);
  return p;
}

Property* property_create_object(DrmDevice& dev, uint32_t flags, const char* name, uint32_t type) {
  Property* p = property_create(dev, flags | DRM_MODE_PROP_OBJECT, name);
  if (p) p->values = {type};
  return p;
}

Property* property_create_blob(DrmDevice& dev, uint32_t flags, const char* name) {
  return property_create(dev, flags | DRM_MODE_PROP_BLOB, name);
}

Property* property_create_bool(DrmDevice& dev, uint32_t flags, const char* name) {
  return property_create_range(dev, flags, name, 0, 1);
}

}  // namespace udrm
