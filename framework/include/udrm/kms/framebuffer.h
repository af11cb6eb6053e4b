// udrm/kms/framebuffer.h — struct drm_framebuffer.
//
// A framebuffer names up to four GEM objects with a format, size, pitches and offsets. It is
// refcounted: the creating file holds the "userspace" reference (dropped by RMFB or at close),
// every plane state that scans it out holds another, so memory stays valid while the hardware
// reads it. RMFB / close of a framebuffer still in use takes it off every plane with a commit
// first (drm_framebuffer_remove), as the kernel does.
//
// Lookups (framebuffer_lookup: GETFB, SETPLANE, atomic FB_ID) are lock-free reads of the
// device's ObjectIdr with get-unless-zero; the final put unpublishes the ID under the IDR lock,
// re-checking the count, and frees only after a grace period (see kms/object.h).
//
// Lifetime: Ref<Framebuffer>; ID unregistered at RMFB/close (or the final put). Holds a
// reference on each GEM object. Context: process context (create/remove, and a put that may
// be the final one: IDR mutex + grace period); lookup and get from any context.
#pragma once
#include <cstdint>

#include <boost/intrusive/list.hpp>

#include "udrm/base/refcount.h"
#include "udrm/kms/format.h"
#include "udrm/kms/gem.h"
#include "udrm/kms/object.h"

namespace udrm {

class Framebuffer;

struct FramebufferFuncs {
  /// drm_framebuffer_funcs.destroy, called at the final put after the ID is unregistered and the
  /// FB unlinked from mode_config.fb_list; default (nullptr) drops the GEM references and
  /// deletes the Framebuffer (which must then come from `new`).
  void (*destroy)(Framebuffer& fb) = nullptr;
  /// .dirty (DIRTYFB); nullptr: DIRTYFB returns -ENOSYS, as drm_mode_dirtyfb_ioctl does.
  int (*dirty)(Framebuffer& fb, DrmFile* file, uint32_t flags, uint32_t color, const drm_clip_rect* clips,
               unsigned num_clips) = nullptr;
};

class Framebuffer : public ModeObject, public RefCounted<Framebuffer>, public boost::intrusive::list_base_hook<> {
 public:
  DrmDevice* dev = nullptr;
  const FormatInfo* format = nullptr;
  uint32_t width = 0, height = 0;
  uint32_t pitches[4] = {};
  uint32_t offsets[4] = {};
  uint64_t modifier = 0;  // DRM_FORMAT_MOD_LINEAR
  uint32_t flags = 0;     // DRM_MODE_FB_*
  Ref<GemObject> obj[4];
  const FramebufferFuncs* funcs = nullptr;
  DrmFile* file = nullptr;  // the owning file (filp_head), nullptr for driver-internal FBs

  /// The byte at (x, y) of plane `plane` in the device's mapping.
  const uint8_t* pixel_ptr(int plane, uint32_t x, uint32_t y) const noexcept;

  void kref_release() noexcept;
};

/// drm_framebuffer_init: publish fb (fields filled by the caller) with an ID. -ENOMEM / -EINVAL.
int framebuffer_init(DrmDevice& dev, Framebuffer& fb, const FramebufferFuncs* funcs);
/// The standard .fb_create for GEM drivers (drm_gem_fb_create): checks the ADDFB2 request
/// against format/size/pitch/offset/object sizes (-EINVAL, -ENOENT for a bad handle) and
/// creates a framebuffer. On success *out holds the only reference.
int gem_fb_create(DrmDevice& dev, DrmFile& file, const drm_mode_fb_cmd2& cmd, Ref<Framebuffer>* out);
/// drm_framebuffer_lookup: a reference, or nullptr if no framebuffer has that ID or it is
/// dying or being removed.
Ref<Framebuffer> framebuffer_lookup(DrmDevice& dev, uint32_t id);
/// drm_framebuffer_remove: unregister its ID; if anyone but the caller still holds it, take it
/// off every plane (one commit disabling the planes, retried with their CRTCs disabled when a
/// plane cannot go alone — atomic_remove_fb; run even after unplug — driver HW paths are
/// gated); drop the caller's reference. Takes the mode config mutex: the caller must not hold
/// it. Context: process context, may sleep.
void framebuffer_remove(Ref<Framebuffer> fb);
/// drm_fb_release: at file close, remove every framebuffer the file still owns (those in use
/// are taken off the screen by framebuffer_remove). Process context.
void fb_release(DrmFile& file);

/// drm_internal_framebuffer_create's checks + framebuffer_check: flags, width/height within
/// mode_config limits and non-zero, format known and (atomic drivers) scanned out by some
/// plane, per plane: handle present, pitch >= minimum, width*cpp and height*pitch+offset fit in
/// 32 bits (-ERANGE), modifiers only with DRM_MODE_FB_MODIFIERS and all equal, unused planes
/// clear. 0 or -EINVAL / -ERANGE.
int framebuffer_check(DrmDevice& dev, const drm_mode_fb_cmd2& cmd);
/// ADDFB2 without the copy: framebuffer_check, mode_config.funcs->fb_create (gem_fb_create when
/// nullptr), then the file takes the userspace reference (DrmFile::fbs) and cmd.fb_id is set.
int framebuffer_addfb2(DrmDevice& dev, DrmFile& file, drm_mode_fb_cmd2& cmd);
/// RMFB (drm_mode_rmfb): -ENOENT unless `id` is a framebuffer of this file; removes it from
/// the file and calls framebuffer_remove when still in use (else drops it).
int framebuffer_rmfb(DrmDevice& dev, DrmFile& file, uint32_t id);

namespace detail {
/// mode config teardown: free a leaked framebuffer regardless of its refcount (kernel
/// drm_mode_config_cleanup); WARNed by the caller.
void framebuffer_force_free(Framebuffer& fb);
}  // namespace detail

}  // namespace udrm
