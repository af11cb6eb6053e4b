// The KMS part of a file's release (drm_file_free): framebuffers, then user property blobs.
#include "udrm/drm/file.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/property.h"

namespace udrm {

void drm_file_release_kms(DrmFile& file) {
  DrmDevice* dev = file.opened_device();
  // drm_fb_release takes still-scanned-out framebuffers off the screen with a commit (which
  // runs even after unplug), then the file's blobs go.
  fb_release(file);
  if (dev) property_destroy_user_blobs(*dev, file);
}

}  // namespace udrm

