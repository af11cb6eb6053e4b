// DRM file handles (udrm/drm/file.h).
#include "udrm/drm/file.h"

#include "udrm/base/log.h"
#include "udrm/core/module.h"

namespace udrm {

int DrmFile::open(DrmDevice& dev, Ref<DrmFile>* out, MinorType type) {
  UDRM_POINT("drm.open");
  if (dev.is_unplugged() || !dev.is_registered()) return -ENODEV;
  if (!try_module_get(dev.owner())) return -ENODEV;
  auto f = adopt_ref(new DrmFile());
  f->dev_ = &dev;
  f->module_ = dev.owner();
  f->type_ = type;
  // Raced with unplug: the reference we took keeps the object, but the file must not open.
  if (dev.is_unplugged()) {
    f->close();
    return -ENODEV;
  }
  *out = std::move(f);
  return 0;
}

int DrmFile::close() {
  UDRM_POINT("drm.close");
  if (closed_.exchange(true, std::memory_order_acq_rel)) return -EBADF;
  put_active();  // the open reference: releases now unless a call() is in flight
  return 0;
}

// The last fput: no call() runs on this file any more.
void DrmFile::release() {
  UDRM_POINT("drm.release");
  Ref<DrmDevice> dev = std::move(dev_);
  Module* m = module_;
  module_ = nullptr;
  dev.reset();  // may be the final put
  module_put(m);
}

DrmFile::~DrmFile() {
  if (!closed_.load(std::memory_order_acquire)) close();
}

}  // namespace udrm
