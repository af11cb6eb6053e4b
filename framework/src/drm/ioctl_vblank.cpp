// Vblank ioctls: WAIT_VBLANK, CRTC_GET_SEQUENCE, CRTC_QUEUE_SEQUENCE — the ioctl entry for the
// backends in kms/vblank.h, which implement drm_vblank.c's rules.
#include <drm.h>

#include "udrm/base/errno.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/mode.h"  // before vblank.h, which uses DisplayMode
#include "udrm/kms/vblank.h"
#include "ioctl_internal.h"

namespace udrm::ioctl {

int wait_vblank(DrmDevice& dev, void* data, DrmFile& file) {
  return vblank_ioctl_wait(dev, file, static_cast<drm_wait_vblank*>(data));
}

int crtc_get_sequence(DrmDevice& dev, void* data, DrmFile& file) {
  if (!kms(dev)) return -EOPNOTSUPP;
  return vblank_ioctl_get_sequence(dev, file, static_cast<drm_crtc_get_sequence*>(data));
}

int crtc_queue_sequence(DrmDevice& dev, void* data, DrmFile& file) {
  if (!kms(dev)) return -EOPNOTSUPP;
  return vblank_ioctl_queue_sequence(dev, file, static_cast<drm_crtc_queue_sequence*>(data));
}

}  // namespace udrm::ioctl
