// udrm/drm/file.h — struct drm_file: an open file handle on a DRM device.
//
// An open file holds a reference to the DrmDevice (so the object and all drmm state outlive
// an unbind while the file is open) and pins the driver's module. After unplug the file turns
// inert: every call on it fails with -ENODEV, close() still works and may perform the final
// release. (The ioctl table, events and mmap arrive with the KMS core.)
//
// close() may race with call()s in flight on other tasks (userspace closing an fd while another
// thread is in an ioctl on it): as with the VFS's last fput, the release (dropping the device
// reference, possibly the final put, and the module pin) then happens when the last of those
// calls returns, never under a running call. close() itself returns at once.
//
// Lifetime: from open() to close(); the Ref<DrmFile> handle may outlive close() (inert).
// Context: process context; callable after unplug.
#pragma once
#include <atomic>

#include "udrm/base/mutex.h"
#include "udrm/base/refcount.h"
#include "udrm/drm/drm_device.h"

namespace udrm {

class DrmFile : public RefCounted<DrmFile> {
 public:
  /// drm_open: -ENODEV if the device is unplugged or not registered, or its driver's module is
  /// going away.
  static int open(DrmDevice& dev, Ref<DrmFile>* out);

  /// drm_release: drops the device reference (possibly the final put) — once no call() is in
  /// flight on this file, else when the last of them returns. Always 0; a second close is
  /// -EBADF.
  int close();

  /// Run f() inside the device's gate: returns f's int result, or -ENODEV after unplug,
  /// -EBADF after close. The shape every ioctl takes.
  template <class F>
  int call(F&& f) {
    if (!get_active()) return -EBADF;
    ActiveRef active{this};
    DrmDevice* d = dev_.get();
    if (auto g = d->dev_enter()) return f(*d);
    return -ENODEV;
  }

  /// The device (nullptr after close).
  DrmDevice* device() const noexcept { return is_open() ? dev_.get() : nullptr; }
  bool is_open() const noexcept { return !closed_.load(std::memory_order_acquire); }

  void kref_release() noexcept { delete this; }

 private:
  DrmFile() = default;
  ~DrmFile();

  // active_: the open reference (dropped by close) plus one per call() in flight; the release
  // runs when it reaches zero.
  struct ActiveRef {
    DrmFile* f;
    ~ActiveRef() { f->put_active(); }
  };
  bool get_active() noexcept {
    if (closed_.load(std::memory_order_acquire)) return false;
    long n = active_.load(std::memory_order_relaxed);
    do {
      if (n == 0) return false;
    } while (!active_.compare_exchange_weak(n, n + 1, std::memory_order_acquire, std::memory_order_relaxed));
    return true;
  }
  void put_active() {
    if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) release();
  }
  void release();

  Ref<DrmDevice> dev_;
  Module* module_ = nullptr;
  std::atomic<bool> closed_{false};
  std::atomic<long> active_{1};
};

}  // namespace udrm
