// Legacy modeset ioctls on the atomic helpers: SETCRTC, SETPLANE, CURSOR/CURSOR2, GETGAMMA,
// SETGAMMA, PAGE_FLIP (drm_crtc.c, drm_plane.c, drm_color_mgmt.c). Validation is the kernel's
// and happens here; the helpers build and commit the atomic update under the mode config mutex.
#include <drm_fourcc.h>
#include <drm_mode.h>

#include <climits>
#include <mutex>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "ioctl_internal.h"
#include "ioctl_mode_util.h"

namespace udrm::ioctl {
namespace {

// drm_framebuffer_check_src_coords (16.16 source rectangle inside the framebuffer).
int check_src_coords(uint32_t src_x, uint32_t src_y, uint32_t src_w, uint32_t src_h, const Framebuffer& fb) {
  const uint64_t fb_w = uint64_t{fb.width} << 16, fb_h = uint64_t{fb.height} << 16;
  if (src_w > fb_w || src_x > fb_w - src_w || src_h > fb_h || src_y > fb_h - src_h) return -ENOSPC;
  return 0;
}

// drm_crtc_check_viewport.
int check_viewport(uint32_t x, uint32_t y, const DisplayMode& mode, const Framebuffer& fb) {
  uint32_t hdisplay = mode.hdisplay, vdisplay = mode.vdisplay;
  if (mode.flags & DRM_MODE_FLAG_DBLSCAN) vdisplay *= 2;
  return check_src_coords(x << 16, y << 16, hdisplay << 16, vdisplay << 16, fb);
}

// __setplane_check.
int setplane_check(Plane& plane, Crtc& crtc, Framebuffer& fb, int32_t crtc_x, int32_t crtc_y, uint32_t crtc_w,
                   uint32_t crtc_h, uint32_t src_x, uint32_t src_y, uint32_t src_w, uint32_t src_h) {
  if (!(plane.possible_crtcs & crtc.mask())) return -EINVAL;
  if (!fb.format || !plane.format_supported(fb.format->format, fb.modifier)) return -EINVAL;
  if (crtc_w > INT_MAX || crtc_x > INT_MAX - static_cast<int32_t>(crtc_w) || crtc_h > INT_MAX ||
      crtc_y > INT_MAX - static_cast<int32_t>(crtc_h))
    return -ERANGE;
  return check_src_coords(src_x, src_y, src_w, src_h, fb);
}

int setplane_atomic(Plane& plane, Crtc* crtc, Framebuffer* fb, int32_t crtc_x, int32_t crtc_y, uint32_t crtc_w,
                    uint32_t crtc_h, uint32_t src_x, uint32_t src_y, uint32_t src_w, uint32_t src_h, bool cursor,
                    DrmFile& file) {
  if (!fb) return atomic_helper_disable_plane(plane, &file);
  if (int ret = setplane_check(plane, *crtc, *fb, crtc_x, crtc_y, crtc_w, crtc_h, src_x, src_y, src_w, src_h))
    return ret;
  return atomic_helper_update_plane(plane, *crtc, fb, crtc_x, crtc_y, crtc_w, crtc_h, src_x, src_y, src_w, src_h,
                                    cursor, &file);
}

int cursor_common(DrmDevice& dev, drm_mode_cursor2& req, DrmFile& file) {
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  if (!req.flags || (req.flags & ~uint32_t{DRM_MODE_CURSOR_FLAGS})) return -EINVAL;
  Crtc* crtc = crtc_find(dev, req.crtc_id);
  if (!crtc) return -ENOENT;
  std::lock_guard<Mutex> l(mc->mutex);
  Plane* plane = crtc->cursor;
  if (!plane) {
    // No cursor plane and no legacy cursor hooks (udrm CRTCs have none).
    if (req.flags & DRM_MODE_CURSOR_BO) return -ENXIO;
    return -EFAULT;  // MOVE without cursor_move: the kernel's answer
  }
  // drm_mode_cursor_universal.
  Ref<Framebuffer> fb;
  if (req.flags & DRM_MODE_CURSOR_BO) {
    if (req.handle) {
      drm_mode_fb_cmd2 cmd{};
      cmd.width = req.width;
      cmd.height = req.height;
      cmd.pixel_format = DRM_FORMAT_ARGB8888;
      cmd.pitches[0] = req.width * 4;
      cmd.handles[0] = req.handle;
      int ret = framebuffer_check(dev, cmd);
      if (!ret) {
        ret = (mc->funcs && mc->funcs->fb_create) ? mc->funcs->fb_create(dev, file, cmd, &fb)
                                                  : gem_fb_create(dev, file, cmd, &fb);
      }
      if (ret) return ret;
    }
  } else {
    fb = plane->state ? plane->state->fb : plane->fb;
  }
  // The position comes from the CRTC (crtc->cursor_x/y), not from the plane state, which a
  // hide (BO with handle 0) resets: a cursor shown again reappears where it was.
  int32_t crtc_x, crtc_y;
  if (req.flags & DRM_MODE_CURSOR_MOVE) {
    crtc_x = req.x;
    crtc_y = req.y;
  } else {
    crtc_x = crtc->cursor_x;
    crtc_y = crtc->cursor_y;
  }
  uint32_t w = fb ? fb->width : 0, h = fb ? fb->height : 0;
  int ret = setplane_atomic(*plane, crtc, fb.get(), crtc_x, crtc_y, w, h, 0, 0, w << 16, h << 16, true, file);
  if (ret == 0 && (req.flags & DRM_MODE_CURSOR_MOVE)) {
    crtc->cursor_x = req.x;
    crtc->cursor_y = req.y;
  }
  return ret;
}

}  // namespace

int mode_setcrtc(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_crtc*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  // Plane source offsets are 16.16.
  if ((r->x & 0xffff0000u) || (r->y & 0xffff0000u)) return -ERANGE;
  Crtc* crtc = crtc_find(dev, r->crtc_id);
  if (!crtc) return -ENOENT;
  std::lock_guard<Mutex> l(mc->mutex);
  Plane* plane = crtc->primary;
  Ref<Framebuffer> fb;
  DisplayMode mode;
  bool have_mode = false;
  if (r->mode_valid) {
    if (r->fb_id == static_cast<uint32_t>(-1)) {
      // Keep the framebuffer currently on the primary plane.
      Framebuffer* cur = plane ? (plane->state ? plane->state->fb.get() : plane->fb.get()) : nullptr;
      if (!cur) return -EINVAL;
      fb = cur;
    } else {
      fb = framebuffer_lookup(dev, r->fb_id);
      if (!fb) return -ENOENT;
    }
    if (!file.aspect_ratio_allowed && (r->mode.flags & DRM_MODE_FLAG_PIC_AR_MASK) != DRM_MODE_FLAG_PIC_AR_NONE)
      return -EINVAL;
    if (int ret = mode_from_umode(r->mode, &mode)) return ret;
    have_mode = true;
    if (plane && (!fb->format || !plane->format_supported(fb->format->format, fb->modifier))) return -EINVAL;
    if (int ret = check_viewport(r->x, r->y, mode, *fb)) return ret;
  }
  if (r->count_connectors == 0 && have_mode) return -EINVAL;
  if (r->count_connectors > 0 && (!have_mode || !fb)) return -EINVAL;
  std::vector<Connector*> connectors;
  if (r->count_connectors > 0) {
    if (r->count_connectors > mc->connectors.size()) return -EINVAL;  // no unbounded allocation
    for (uint32_t i = 0; i < r->count_connectors; ++i) {
      uint32_t id;
      if (get_user_u32(r->set_connectors_ptr, i, &id)) return -EFAULT;
      Connector* c = connector_find(dev, id);
      if (!c) return -ENOENT;
      connectors.push_back(c);
    }
  }
  return atomic_helper_set_config(*crtc, fb.get(), have_mode ? &mode : nullptr, r->x, r->y, connectors.data(),
                                  static_cast<unsigned>(connectors.size()), &file);
}

int mode_setplane(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_set_plane*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  Plane* plane = plane_find(dev, r->plane_id);
  if (!plane) return -ENOENT;
  Ref<Framebuffer> fb;
  Crtc* crtc = nullptr;
  if (r->fb_id) {
    fb = framebuffer_lookup(dev, r->fb_id);
    if (!fb) return -ENOENT;
    crtc = crtc_find(dev, r->crtc_id);
    if (!crtc) return -ENOENT;
  }
  std::lock_guard<Mutex> l(mc->mutex);
  return setplane_atomic(*plane, crtc, fb.get(), r->crtc_x, r->crtc_y, r->crtc_w, r->crtc_h, r->src_x, r->src_y,
                         r->src_w, r->src_h, false, file);
}

int mode_cursor(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_cursor*>(data);
  drm_mode_cursor2 c{};
  c.flags = r->flags;
  c.crtc_id = r->crtc_id;
  c.x = r->x;
  c.y = r->y;
  c.width = r->width;
  c.height = r->height;
  c.handle = r->handle;
  return cursor_common(dev, c, file);
}

int mode_cursor2(DrmDevice& dev, void* data, DrmFile& file) {
  return cursor_common(dev, *static_cast<drm_mode_cursor2*>(data), file);
}

int mode_getgamma(DrmDevice& dev, void* data, DrmFile&) {
  auto* r = static_cast<drm_mode_crtc_lut*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  Crtc* crtc = crtc_find(dev, r->crtc_id);
  if (!crtc) return -ENOENT;
  if (r->gamma_size != crtc->gamma_size) return -EINVAL;
  std::lock_guard<Mutex> l(mc->mutex);
  const std::size_t n = crtc->gamma_size, bytes = n * sizeof(uint16_t);
  if (crtc->gamma_store.size() < 3 * n) return -EINVAL;
  const uint16_t* base = crtc->gamma_store.data();
  if (copy_to_user(r->red, base, bytes)) return -EFAULT;
  if (copy_to_user(r->green, base + n, bytes)) return -EFAULT;
  if (copy_to_user(r->blue, base + 2 * n, bytes)) return -EFAULT;
  return 0;
}

int mode_setgamma(DrmDevice& dev, void* data, DrmFile&) {
  auto* r = static_cast<drm_mode_crtc_lut*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  Crtc* crtc = crtc_find(dev, r->crtc_id);
  if (!crtc) return -ENOENT;
  // drm_crtc_supports_legacy_gamma: a gamma size, and a gamma_set hook or a GAMMA_LUT property
  // to commit through (udrm has no DEGAMMA_LUT).
  bool has_gamma_set = crtc->gamma_size > 0 && crtc->funcs && crtc->funcs->gamma_set;
  if (crtc->gamma_size > 0 && !has_gamma_set)
    has_gamma_set = mc->props.gamma_lut && find_prop_id(*crtc, mc->props.gamma_lut->id);
  if (!has_gamma_set) return -ENOSYS;
  if (r->gamma_size != crtc->gamma_size) return -EINVAL;
  const std::size_t n = crtc->gamma_size, bytes = n * sizeof(uint16_t);
  std::vector<uint16_t> lut(3 * n);
  if (copy_from_user(lut.data(), r->red, bytes)) return -EFAULT;
  if (copy_from_user(lut.data() + n, r->green, bytes)) return -EFAULT;
  if (copy_from_user(lut.data() + 2 * n, r->blue, bytes)) return -EFAULT;
  std::lock_guard<Mutex> l(mc->mutex);
  crtc->gamma_store = lut;
  const uint16_t* base = crtc->gamma_store.data();
  if (crtc->funcs && crtc->funcs->gamma_set) return crtc->funcs->gamma_set(*crtc, base, base + n, base + 2 * n, crtc->gamma_size);
  return atomic_helper_legacy_gamma_set(*crtc, base, base + n, base + 2 * n, crtc->gamma_size);
}

int mode_page_flip(DrmDevice& dev, void* data, DrmFile& file) {
  auto* r = static_cast<drm_mode_crtc_page_flip_target*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc) return -EOPNOTSUPP;
  if (r->flags & ~uint32_t{DRM_MODE_PAGE_FLIP_FLAGS}) return -EINVAL;
  if (r->sequence != 0 && !(r->flags & DRM_MODE_PAGE_FLIP_TARGET)) return -EINVAL;
  if ((r->flags & DRM_MODE_PAGE_FLIP_TARGET) == DRM_MODE_PAGE_FLIP_TARGET) return -EINVAL;
  if ((r->flags & DRM_MODE_PAGE_FLIP_ASYNC) && !mc->async_page_flip) return -EINVAL;
  Crtc* crtc = crtc_find(dev, r->crtc_id);
  if (!crtc) return -ENOENT;
  // udrm CRTCs have page_flip (the atomic helper) but no page_flip_target.
  if (r->flags & DRM_MODE_PAGE_FLIP_TARGET) return -EINVAL;
  std::lock_guard<Mutex> l(mc->mutex);
  Plane* plane = crtc->primary;
  if (!plane) return -EINVAL;
  Framebuffer* old_fb = plane->state ? plane->state->fb.get() : plane->fb.get();
  if (!old_fb) return -EBUSY;  // unbound, e.g. by a hotplug userspace has not seen yet
  Ref<Framebuffer> fb = framebuffer_lookup(dev, r->fb_id);
  if (!fb) return -ENOENT;
  if (plane->state) {
    const PlaneState& s = *plane->state;
    if (int ret = check_src_coords(s.src_x, s.src_y, s.src_w, s.src_h, *fb)) return ret;
  }
  if (!old_fb->format || !fb->format || old_fb->format->format != fb->format->format) return -EINVAL;
  return atomic_helper_page_flip(*crtc, fb.get(), r->flags, r->user_data, &file);
}

}  // namespace udrm::ioctl
