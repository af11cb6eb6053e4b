// udrm/drm/file.h — struct drm_file: an open file handle on a DRM device.
//
// An open file holds a reference to the DrmDevice (so the object and all drmm state outlive
// an unbind while the file is open) and pins the driver's module. After unplug the file turns
// inert: every call on it fails with -ENODEV, close() still works and may perform the final
// release. (The ioctl table, events and mmap arrive with the KMS core.)
//
// Lifetime: from open() to close(); the Ref<DrmFile> handle may outlive close() (inert).
// Context: process context; callable after unplug.
#pragma once
#include "udrm/base/mutex.h"
#include "udrm/base/refcount.h"
#include "udrm/drm/drm_device.h"

namespace udrm {

class DrmFile : public RefCounted<DrmFile> {
 public:
  /// drm_open: -ENODEV if the device is unplugged or not registered, or its driver's module is
  /// going away.
  static int open(DrmDevice& dev, Ref<DrmFile>* out);

  /// drm_release: drops the device reference (possibly the final put). Always 0; a second
  /// close is -EBADF.
  int close();

  /// Run f() inside the device's gate: returns f's int result, or -ENODEV after unplug,
  /// -EBADF after close. The shape every ioctl takes.
  template <class F>
  int call(F&& f) {
    DrmDevice* d = dev_.get();
    if (!d) return -EBADF;
    if (auto g = d->dev_enter()) return f(*d);
    return -ENODEV;
  }

  /// The device (nullptr after close).
  DrmDevice* device() const noexcept { return dev_.get(); }
  bool is_open() const noexcept { return dev_ != nullptr; }

  void kref_release() noexcept { delete this; }

 private:
  DrmFile() = default;
  ~DrmFile();
  Ref<DrmDevice> dev_;
  Module* module_ = nullptr;
};

}  // namespace udrm
