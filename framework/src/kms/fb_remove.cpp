// Taking framebuffers off the screen: RMFB, close, drm_framebuffer_remove (udrm/kms/framebuffer.h).
// Kept apart from framebuffer.cpp because it needs the atomic API.
#include <algorithm>
#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"

namespace udrm {
namespace {

// atomic_remove_fb: one commit detaching every plane that scans fb out; if that is refused
// (-EINVAL: a primary plane cannot go alone), again with those planes' CRTCs switched off.
int atomic_remove_fb(DrmDevice& dev, Framebuffer& fb) {
  ModeConfig& mc = *dev.mode_config;
  for (bool disable_crtcs : {false, true}) {
    Ref<AtomicState> state = atomic_state_alloc(dev);
    if (!state) return -ENOMEM;
    state->allow_modeset = true;  // an in-kernel commit, as drm_atomic_state_init makes it
    int ret = 0;
    uint32_t plane_mask = 0;
    {
      std::lock_guard<Mutex> l(mc.mutex);
      for (Plane* plane : mc.planes) {
        if (!plane->state || plane->state->fb.get() != &fb) continue;
        PlaneState* ps = atomic_get_plane_state(*state, *plane);
        if (!ps) {
          ret = -ENOMEM;
          break;
        }
        if (disable_crtcs && ps->crtc && ps->crtc->primary == plane) {
          Crtc& crtc = *ps->crtc;
          CrtcState* cs = atomic_get_crtc_state(*state, crtc);
          if (!cs) {
            ret = -ENOMEM;
            break;
          }
          if ((ret = atomic_add_affected_connectors(*state, crtc))) break;
          cs->active = false;
          if ((ret = atomic_set_mode_for_crtc(*cs, nullptr))) break;
        }
        if ((ret = atomic_set_crtc_for_plane(*ps, nullptr))) break;
        atomic_set_fb_for_plane(*ps, nullptr);
        plane_mask |= plane->mask();
      }
      if (!ret && disable_crtcs) {
        for (auto& e : state->connectors) {
          if (e.new_state && (ret = atomic_set_crtc_for_connector(*e.new_state, nullptr))) break;
        }
      }
      if (!ret && plane_mask) ret = atomic_commit(*state);
    }
    if (ret == -EINVAL && !disable_crtcs) continue;
    return ret;
  }
  return 0;
}

}  // namespace

void framebuffer_remove(Ref<Framebuffer> fb) {
  if (!fb) return;
  DrmDevice* dev = fb->dev;
  UDRM_WARN_ON(fb->file != nullptr, LogCat::kms);
  if (!dev || !dev->mode_config) return;
  dev->mode_config->idr.unregister(fb.get());
  // Holding a reference ourselves, a count of 1 means nobody scans it out; it cannot go up
  // from there: a lock-free lookup that read the ID before the unregister either took its
  // reference before this read (we see 2) or revalidates, sees the ID gone and drops it.
  if (fb->refcount() > 1) {
    if (dev->has_feature(DRIVER_ATOMIC)) {
      // The kernel cannot unwind a failed removal either (it WARNs and leaves the plane
      // scanning out a buffer nobody owns): the removal's allocations do not fail here.
      ScopedNoFail nofail;
      int ret = atomic_remove_fb(*dev, *fb);
      if (ret) warn(LogCat::kms, "%s: atomic remove_fb failed with %d", dev->driver().name, ret);
    } else {
      log_err(LogCat::kms, "%s: framebuffer_remove: only atomic drivers are supported", dev->driver().name);
    }
  }
  fb.reset();
}

int framebuffer_rmfb(DrmDevice& dev, DrmFile& file, uint32_t id) {
  if (!dev.has_feature(DRIVER_MODESET)) return -EINVAL;
  Ref<Framebuffer> fb = framebuffer_lookup(dev, id);
  if (!fb) return -ENOENT;
  Framebuffer* owned = nullptr;
  {
    std::lock_guard<Mutex> l(file.fbs_lock);
    auto it = std::find(file.fbs.begin(), file.fbs.end(), fb.get());
    if (it == file.fbs.end()) return -ENOENT;
    owned = *it;
    file.fbs.erase(it);
    owned->file = nullptr;
  }
  fb.reset();                           // the lookup's reference
  framebuffer_remove(adopt_ref(owned));  // the file's
  return 0;
}

void fb_release(DrmFile& file) {
  std::vector<Framebuffer*> mine;
  {
    std::lock_guard<Mutex> l(file.fbs_lock);
    mine.swap(file.fbs);
    for (Framebuffer* fb : mine) fb->file = nullptr;
  }
  for (Framebuffer* fb : mine) framebuffer_remove(adopt_ref(fb));
}

}  // namespace udrm
