// Framebuffers: init, checks, GEM-backed creation, lookup (udrm/kms/framebuffer.h).
#include "udrm/kms/framebuffer.h"

#include <climits>
#include <mutex>
#include <new>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"

namespace udrm {
namespace {

bool fb_get_unless_zero(ModeObject* o) { return static_cast<Framebuffer*>(o)->RefCounted<Framebuffer>::get_unless_zero(); }
void fb_put(ModeObject* o) { static_cast<Framebuffer*>(o)->RefCounted<Framebuffer>::put(); }

void fb_unlink(Framebuffer& fb, ModeConfig& mc) {
  std::lock_guard<SpinLock> l(mc.fb_lock);
  if (fb.is_linked()) mc.fb_list.erase(mc.fb_list.iterator_to(fb));
}

void fb_destroy(Framebuffer& fb) {
  if (fb.funcs && fb.funcs->destroy) {
    fb.funcs->destroy(fb);
    return;
  }
  for (auto& o : fb.obj) o.reset();
  delete &fb;
}

uint32_t plane_dim(uint32_t v, int plane, uint8_t sub) { return plane == 0 ? v : (v + sub - 1) / sub; }

}  // namespace

void Framebuffer::kref_release() noexcept {
  // drm_framebuffer_free: the IDR re-checks the count under its lock, unpublishes the ID and
  // waits until no lookup can still read us (object.h); only then unlink and free.
  if (ModeConfig* mc = dev ? dev->mode_config : nullptr) {
    if (!mc->idr.release(this, kref())) return;  // revived (WARNed): its holder's put frees it
    fb_unlink(*this, *mc);
  }
  fb_destroy(*this);
}

void detail::framebuffer_force_free(Framebuffer& fb) {
  if (ModeConfig* mc = fb.dev ? fb.dev->mode_config : nullptr) {
    mc->idr.unregister(&fb);
    fb_unlink(fb, *mc);
    mc->idr.synchronize();  // lookups that read the slot before the unregister have left
  }
  fb_destroy(fb);
}

const uint8_t* Framebuffer::pixel_ptr(int plane, uint32_t x, uint32_t y) const noexcept {
  if (!format || plane < 0 || plane >= format->num_planes || !obj[plane]) return nullptr;
  const uint32_t w = plane == 0 ? width : width / format->hsub;
  const uint32_t h = plane == 0 ? height : height / format->vsub;
  if (x >= w || y >= h) return nullptr;
  const uint64_t off = uint64_t{offsets[plane]} + uint64_t{y} * pitches[plane] + uint64_t{x} * format->cpp[plane];
  if (off >= obj[plane]->size()) return nullptr;
  return obj[plane]->vaddr() + off;
}

int framebuffer_init(DrmDevice& dev, Framebuffer& fb, const FramebufferFuncs* funcs) {
  ModeConfig* mc = dev.mode_config;
  if (UDRM_WARN_ON(!mc, LogCat::kms)) return -EINVAL;
  if (UDRM_WARN_ON(!fb.format, LogCat::kms)) return -EINVAL;
  if (UDRM_WARN_ON(fb.dev && fb.dev != &dev, LogCat::kms)) return -EINVAL;
  fb.dev = &dev;
  fb.funcs = funcs;
  fb.ModeObject::get_unless_zero = &fb_get_unless_zero;
  fb.ModeObject::put = &fb_put;
  fb.debug_name = "fb";
  if (int ret = mc->idr.reserve(&fb, DRM_MODE_OBJECT_FB)) return ret;
  {
    std::lock_guard<SpinLock> l(mc->fb_lock);
    mc->fb_list.push_back(fb);
  }
  if (int ret = mc->idr.register_object(&fb)) {
    mc->idr.unregister(&fb);
    fb_unlink(fb, *mc);
    return ret;
  }
  return 0;
}

int framebuffer_check(DrmDevice& dev, const drm_mode_fb_cmd2& r) {
  ModeConfig* mc = dev.mode_config;
  if (!mc) return -EINVAL;
  if (r.flags & ~(DRM_MODE_FB_INTERLACED | DRM_MODE_FB_MODIFIERS)) return -EINVAL;
  if (r.width < mc->min_width || r.width > mc->max_width) return -EINVAL;
  if (r.height < mc->min_height || r.height > mc->max_height) return -EINVAL;
  const FormatInfo* info = format_info(r.pixel_format);
  if (!info) return -EINVAL;
  if (r.width == 0 || r.height == 0) return -EINVAL;
  const bool mods = r.flags & DRM_MODE_FB_MODIFIERS;
  for (int i = 0; i < info->num_planes; ++i) {
    const uint32_t w = plane_dim(r.width, i, info->hsub);
    const uint32_t h = plane_dim(r.height, i, info->vsub);
    const uint64_t min_pitch = format_min_pitch(*info, i, w);
    if (!r.handles[i]) return -EINVAL;
    if (min_pitch > UINT_MAX) return -ERANGE;
    if (uint64_t{h} * r.pitches[i] + r.offsets[i] > UINT_MAX) return -ERANGE;
    if (r.pitches[i] < min_pitch) return -EINVAL;
    if (r.modifier[i] && !mods) return -EINVAL;
    if (mods && r.modifier[i] != r.modifier[0]) return -EINVAL;
  }
  for (int i = info->num_planes; i < 4; ++i) {
    if (r.modifier[i]) return -EINVAL;
    if (!mods) continue;  // pre-modifier userspace did not clear the unused entries
    if (r.handles[i] || r.pitches[i] || r.offsets[i]) return -EINVAL;
  }
  return 0;
}

int gem_fb_create(DrmDevice& dev, DrmFile& file, const drm_mode_fb_cmd2& cmd, Ref<Framebuffer>* out) {
  if (int ret = framebuffer_check(dev, cmd)) return ret;
  const FormatInfo* info = format_info(cmd.pixel_format);
  if (dev.has_feature(DRIVER_ATOMIC) && !any_plane_has_format(dev, cmd.pixel_format, cmd.modifier[0]))
    return -EINVAL;
  Ref<GemObject> objs[4];
  for (int i = 0; i < info->num_planes; ++i) {
    const uint32_t w = cmd.width / (i ? info->hsub : 1);
    const uint32_t h = cmd.height / (i ? info->vsub : 1);
    objs[i] = file.gem_lookup(cmd.handles[i]);
    if (!objs[i]) return -ENOENT;
    const uint64_t min_size =
        uint64_t{h ? h - 1 : 0} * cmd.pitches[i] + format_min_pitch(*info, i, w) + cmd.offsets[i];
    if (objs[i]->size() < min_size) return -EINVAL;
  }
  if (UDRM_SHOULD_FAIL("kms.fb_create")) return -ENOMEM;
  auto* fb = new (std::nothrow) Framebuffer();
  if (!fb) return -ENOMEM;
  fb->format = info;
  fb->width = cmd.width;
  fb->height = cmd.height;
  for (int i = 0; i < 4; ++i) {
    fb->pitches[i] = i < info->num_planes ? cmd.pitches[i] : 0;
    fb->offsets[i] = i < info->num_planes ? cmd.offsets[i] : 0;
    fb->obj[i] = std::move(objs[i]);
  }
  fb->modifier = (cmd.flags & DRM_MODE_FB_MODIFIERS) ? cmd.modifier[0] : DRM_FORMAT_MOD_LINEAR;
  fb->flags = cmd.flags;
  if (int ret = framebuffer_init(dev, *fb, nullptr)) {
    delete fb;
    return ret;
  }
  *out = adopt_ref(fb);
  return 0;
}

int framebuffer_addfb2(DrmDevice& dev, DrmFile& file, drm_mode_fb_cmd2& cmd) {
  if (!dev.has_feature(DRIVER_MODESET) || !dev.mode_config) return -EINVAL;
  if (int ret = framebuffer_check(dev, cmd)) return ret;
  ModeConfig* mc = dev.mode_config;
  Ref<Framebuffer> fb;
  int ret = (mc->funcs && mc->funcs->fb_create) ? mc->funcs->fb_create(dev, file, cmd, &fb)
                                                 : gem_fb_create(dev, file, cmd, &fb);
  if (ret) return ret;
  if (UDRM_WARN_ON(!fb, LogCat::kms)) return -EINVAL;
  cmd.fb_id = fb->id;
  std::lock_guard<Mutex> l(file.fbs_lock);
  fb->file = &file;
  file.fbs.push_back(fb.detach());  // the file's ("userspace") reference
  return 0;
}

Ref<Framebuffer> framebuffer_lookup(DrmDevice& dev, uint32_t id) {
  if (!dev.mode_config) return nullptr;
  ModeObject* o = dev.mode_config->idr.find(id, DRM_MODE_OBJECT_FB);
  if (!o) return nullptr;
  return adopt_ref(static_cast<Framebuffer*>(o));
}

}  // namespace udrm
