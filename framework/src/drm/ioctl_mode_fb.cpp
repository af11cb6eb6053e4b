// Framebuffer ioctls: ADDFB, ADDFB2, RMFB, GETFB, DIRTYFB (drm_framebuffer.c).
#include <drm_fourcc.h>
#include <drm_mode.h>

#include <vector>

#include "udrm/base/errno.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/kms/format.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/mode_config.h"
#include "ioctl_internal.h"

namespace udrm::ioctl {
namespace {

// drm_format_info.depth for the legacy formats (0 for the rest, as in the kernel's table).
uint32_t format_depth(uint32_t fourcc) {
  switch (fourcc) {
    case DRM_FORMAT_C8: return 8;
    case DRM_FORMAT_XRGB1555: case DRM_FORMAT_ARGB1555: return 15;
    case DRM_FORMAT_RGB565: return 16;
    case DRM_FORMAT_RGB888: case DRM_FORMAT_XRGB8888: case DRM_FORMAT_XBGR8888: return 24;
    case DRM_FORMAT_XRGB2101010: case DRM_FORMAT_XBGR2101010: return 30;
    case DRM_FORMAT_ARGB8888: case DRM_FORMAT_ABGR8888: return 32;
    default: return 0;
  }
}

}  // namespace

int mode_addfb2(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_fb_cmd2*>(data);
  if (!kms(dev)) return -EOPNOTSUPP;
  return framebuffer_addfb2(dev, file, *r);
}

int mode_addfb(DrmDevice& dev, void* data, DrmFile& file) {
  auto* o = static_cast<drm_mode_fb_cmd*>(data);
  if (!kms(dev)) return -EOPNOTSUPP;
  drm_mode_fb_cmd2 r{};
  r.pixel_format = legacy_fb_format(o->bpp, o->depth);
  if (!r.pixel_format) return -EINVAL;
  r.fb_id = o->fb_id;
  r.width = o->width;
  r.height = o->height;
  r.pitches[0] = o->pitch;
  r.handles[0] = o->handle;
  if (int ret = framebuffer_addfb2(dev, file, r)) return ret;
  o->fb_id = r.fb_id;
  return 0;
}

int mode_rmfb(DrmDevice& dev, void* data, DrmFile& file) {
  auto* id = static_cast<uint32_t*>(data);
  if (!kms(dev)) return -EOPNOTSUPP;
  return framebuffer_rmfb(dev, file, *id);  // takes the mode config mutex for its commit
}

int mode_getfb(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_fb_cmd*>(data);
  if (!kms(dev)) return -EOPNOTSUPP;
  Ref<Framebuffer> fb = framebuffer_lookup(dev, r->fb_id);
  if (!fb) return -ENOENT;
  if (!fb->format || fb->format->num_planes > 1) return -EINVAL;  // multi-planar: GETFB2
  if (!fb->obj[0]) return -ENODEV;                                // no create_handle
  r->height = fb->height;
  r->width = fb->width;
  r->depth = format_depth(fb->format->format);
  r->bpp = fb->format->cpp[0] * 8u;
  r->pitch = fb->pitches[0];
  // Non-masters without CAP_SYS_ADMIN get handle 0; every udrm client has CAP_SYS_ADMIN.
  return file.gem_handle_create(*fb->obj[0], &r->handle);
}

int mode_dirtyfb(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_fb_dirty_cmd*>(data);
  if (!kms(dev)) return -EOPNOTSUPP;
  Ref<Framebuffer> fb = framebuffer_lookup(dev, r->fb_id);
  if (!fb) return -ENOENT;
  const uint32_t num_clips = r->num_clips;
  if (!num_clips != !r->clips_ptr) return -EINVAL;
  const uint32_t flags = r->flags & DRM_MODE_FB_DIRTY_FLAGS;
  if ((flags & DRM_MODE_FB_DIRTY_ANNOTATE_COPY) && (num_clips % 2)) return -EINVAL;
  std::vector<drm_clip_rect> clips;
  if (num_clips) {
    if (num_clips > DRM_MODE_FB_DIRTY_MAX_CLIPS) return -EINVAL;
    clips.resize(num_clips);
    if (copy_from_user(clips.data(), r->clips_ptr, num_clips * sizeof(drm_clip_rect))) return -EFAULT;
  }
  if (!fb->funcs || !fb->funcs->dirty) return -ENOSYS;
  return fb->funcs->dirty(*fb, &file, flags, r->color, clips.empty() ? nullptr : clips.data(), num_clips);
}

}  // namespace udrm::ioctl
