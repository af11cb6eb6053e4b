// Property blobs: refcounted, ID-published byte arrays (udrm/kms/property.h).
#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>
#include <new>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/property.h"

namespace udrm {
namespace {

bool blob_get_unless_zero(ModeObject* o) { return static_cast<PropertyBlob*>(o)->RefCounted<PropertyBlob>::get_unless_zero(); }
void blob_put(ModeObject* o) { static_cast<PropertyBlob*>(o)->RefCounted<PropertyBlob>::put(); }

}  // namespace

void PropertyBlob::kref_release() noexcept {
  // The IDR re-checks the count under its lock, unpublishes the ID and waits until no lookup
  // can still read us (object.h); only then unlink and free. An orphaned blob (dev nullptr:
  // the mode config is gone) was unpublished at the teardown.
  if (dev && dev->mode_config) {
    ModeConfig& mc = *dev->mode_config;
    if (!mc.idr.release(this, kref())) return;  // revived (WARNed): its holder's put frees it
    std::lock_guard<SpinLock> l(mc.blob_lock);
    if (is_linked()) mc.blob_list.erase(mc.blob_list.iterator_to(*this));
  }
  delete this;
}

int property_blob_create(DrmDevice& dev, const void* data, std::size_t len, Ref<PropertyBlob>* out) {
  ModeConfig* mc = dev.mode_config;
  if (UDRM_WARN_ON(!mc, LogCat::kms)) return -EINVAL;
  if (len == 0 || len > static_cast<std::size_t>(INT_MAX) - sizeof(PropertyBlob)) return -EINVAL;
  if (UDRM_SHOULD_FAIL("kms.blob_create")) return -ENOMEM;
  auto* blob = new (std::nothrow) PropertyBlob();
  if (!blob) return -ENOMEM;
  try {
    blob->data.resize(len);
  } catch (const std::bad_alloc&) {
    delete blob;
    return -ENOMEM;
  }
  if (data) std::memcpy(blob->data.data(), data, len);
  blob->dev = &dev;
  blob->ModeObject::get_unless_zero = &blob_get_unless_zero;
  blob->ModeObject::put = &blob_put;
  blob->debug_name = "blob";
  if (int ret = mc->idr.add(blob, DRM_MODE_OBJECT_BLOB)) {
    delete blob;
    return ret;
  }
  {
    std::lock_guard<SpinLock> l(mc->blob_lock);
    mc->blob_list.push_back(*blob);
  }
  *out = adopt_ref(blob);
  return 0;
}

Ref<PropertyBlob> property_blob_lookup(DrmDevice& dev, uint32_t id) {
  if (!dev.mode_config) return nullptr;
  ModeObject* o = dev.mode_config->idr.find(id, DRM_MODE_OBJECT_BLOB);
  if (!o) return nullptr;
  return adopt_ref(static_cast<PropertyBlob*>(o));  // find() took the reference
}

int property_replace_global_blob(DrmDevice& dev, Ref<PropertyBlob>* slot, const void* data, std::size_t len,
                                 ModeObject& obj, Property& prop) {
  if (UDRM_WARN_ON(!slot, LogCat::kms)) return -EINVAL;
  Ref<PropertyBlob> nb;
  if (len && data) {
    if (int ret = property_blob_create(dev, data, len, &nb)) return ret;
  }
  if (int ret = object_property_set_value(obj, prop, nb ? nb->id : 0)) return ret;  // nb dropped
  *slot = std::move(nb);  // drops the old blob's reference
  return 0;
}

int property_blob_create_user(DrmDevice& dev, DrmFile& file, const void* data, std::size_t len, uint32_t* id) {
  Ref<PropertyBlob> blob;
  if (int ret = property_blob_create(dev, data, len, &blob)) return ret;
  std::lock_guard<SpinLock> l(dev.mode_config->blob_lock);
  blob->file = &file;
  *id = blob->id;
  file.blobs.push_back(blob.detach());  // the file's reference
  return 0;
}

void property_destroy_user_blobs(DrmDevice& dev, DrmFile& file) {
  std::vector<PropertyBlob*> mine;
  if (dev.mode_config) {
    std::lock_guard<SpinLock> l(dev.mode_config->blob_lock);
    mine.swap(file.blobs);
    for (PropertyBlob* b : mine) b->file = nullptr;
  } else {
    mine.swap(file.blobs);
  }
  for (PropertyBlob* b : mine) b->RefCounted<PropertyBlob>::put();  // a state may still hold it: it lives on until then
}

int property_blob_destroy_user(DrmDevice& dev, DrmFile& file, uint32_t id) {
  Ref<PropertyBlob> blob = property_blob_lookup(dev, id);
  if (!blob) return -ENOENT;
  PropertyBlob* owned = nullptr;
  {
    std::lock_guard<SpinLock> l(dev.mode_config->blob_lock);
    auto it = std::find(file.blobs.begin(), file.blobs.end(), blob.get());
    if (it == file.blobs.end()) return -EPERM;
    owned = *it;
    file.blobs.erase(it);
    owned->file = nullptr;
  }
  owned->RefCounted<PropertyBlob>::put();  // the file's reference; ours (from the lookup) goes at return
  return 0;
}

bool property_replace_blob(Ref<PropertyBlob>* slot, PropertyBlob* blob) {
  if (slot->get() == blob) return false;
  *slot = blob;
  return true;
}

}  // namespace udrm
