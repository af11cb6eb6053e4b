// GEM and dumb-buffer ioctls (drm_gem.c, drm_dumb_buffers.c, drm_gem_shmem_helper.c).
#include <drm.h>
#include <drm_mode.h>

#include "udrm/base/errno.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/kms/gem.h"
#include "ioctl_internal.h"

namespace udrm::ioctl {
namespace {
// drm_driver.dumb_create: every udrm GEM+KMS driver gets the shmem helper's.
bool has_dumb(DrmDevice& dev) { return dev.has_feature(DRIVER_GEM | DRIVER_MODESET); }
}  // namespace

int gem_close(DrmDevice& dev, void* data, DrmFile& file) {
  auto* args = static_cast<drm_gem_close*>(data);
  if (!dev.has_feature(DRIVER_GEM)) return -EOPNOTSUPP;
  return file.gem_handle_delete(args->handle);
}

// No dma-buf in udrm (GET_CAP(PRIME) is 0): drm_prime_*_ioctl without the driver hooks.
int prime_handle_to_fd(DrmDevice& dev, void*, DrmFile&) { return dev.has_feature(DRIVER_GEM) ? -ENOSYS : -EOPNOTSUPP; }
int prime_fd_to_handle(DrmDevice& dev, void*, DrmFile&) { return dev.has_feature(DRIVER_GEM) ? -ENOSYS : -EOPNOTSUPP; }

int create_dumb(DrmDevice& dev, void* data, DrmFile& file) {
  auto* args = static_cast<drm_mode_create_dumb*>(data);
  int ret;
  uint32_t pitch = 0;
  uint64_t size = 0;
  if (!has_dumb(dev)) {
    ret = -ENOSYS;
  } else {
    ret = dumb_buffer_size(args->width, args->height, args->bpp, &pitch, &size);
  }
  Ref<GemObject> obj;
  if (!ret) ret = GemObject::create(dev, size, &obj);
  uint32_t handle = 0;
  if (!ret) ret = file.gem_handle_create(*obj, &handle);  // the handle now holds the object
  if (ret) {
    args->handle = 0;
    args->pitch = 0;
    args->size = 0;
    return ret;
  }
  args->handle = handle;
  args->pitch = pitch;
  args->size = obj->size();
  return 0;
}

// drm_gem_dumb_map_offset.
int map_dumb(DrmDevice& dev, void* data, DrmFile& file) {
  auto* args = static_cast<drm_mode_map_dumb*>(data);
  int ret = 0;
  if (!has_dumb(dev)) ret = -ENOSYS;
  Ref<GemObject> obj;
  if (!ret) {
    obj = file.gem_lookup(args->handle);
    if (!obj) ret = -ENOENT;
  }
  if (!ret) ret = obj->create_mmap_offset();
  args->offset = ret ? 0 : obj->mmap_offset();
  return ret;
}

int destroy_dumb(DrmDevice& dev, void* data, DrmFile& file) {
  auto* args = static_cast<drm_mode_destroy_dumb*>(data);
  if (!has_dumb(dev)) return -ENOSYS;
  return file.gem_handle_delete(args->handle);
}

}  // namespace udrm::ioctl
