// udrm/drm/file.h — struct drm_file: an open file handle on a DRM device.
//
// An open file holds a reference to the DrmDevice (so the object and all drmm state outlive
// an unbind while the file is open) and pins the driver's module. It carries the client's
// capabilities (UNIVERSAL_PLANES, ATOMIC, ...), master status, its GEM handles, framebuffers
// and user blobs, and its event queue: a 4096-byte budget (event_space) reserved at ioctl time,
// whole-event reads, and readiness mirrored on a real pollable file descriptor (an eventfd that
// is readable exactly while events are queued) for poll()/select()/epoll.
//
// After unplug the file turns inert for ioctls and mmap (-ENODEV) while read() of queued events
// and poll() keep working (no POLLHUP, ever) and close() always succeeds and may perform the
// final release (kernel-semantics §3.3–3.5, kernel-observed.md).
//
// close() may race with calls in flight on other tasks (userspace closing an fd while another
// thread is in an ioctl on it): as with the VFS's last fput, the release (framebuffers taken
// off the screen, handles closed, device reference dropped — possibly the final put — and the
// module pin) happens when the last of those calls returns, or the last mapping goes, never
// under a running call. close() itself returns at once.
//
// Lifetime: from open() to close(); the Ref<DrmFile> handle may outlive close() (inert).
// Context: process context; callable after unplug. read() with block=true may sleep forever
// if nothing is ever sent (the kernel's behaviour).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include <boost/intrusive/list.hpp>

#include "udrm/base/mutex.h"
#include "udrm/base/refcount.h"
#include "udrm/base/waitqueue.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/event.h"
#include "udrm/drm/minor.h"
#include "udrm/kms/gem.h"
#include "udrm/perf/task_work.h"

namespace udrm {

class Framebuffer;
class PropertyBlob;

class DrmFile : public RefCounted<DrmFile> {
 public:
  static constexpr int kEventSpace = 4096;

  /// drm_open on a device: -ENODEV if the device is unplugged or not registered, or its
  /// driver's module is going away; the driver's open hook may fail it. type: the node opened.
  static int open(DrmDevice& dev, Ref<DrmFile>* out, MinorType type = MinorType::primary);

  /// drm_release. Always 0; a second close is -EBADF.
  int close();

  /// Run f(dev) inside the device's gate: returns f's int result, or -ENODEV after unplug,
  /// -EBADF after close. The shape every ioctl takes.
  template <class F>
  int call(F&& f) {
    if (!get_active()) return -EBADF;
    ActiveRef active{this};
    DrmDevice* d = dev_.get();
    if (auto g = d->dev_enter()) return f(*d);
    return -ENODEV;
  }

  /// drm_read: copies whole events only; returns bytes copied (possibly 0 when the first event
  /// does not fit), -EAGAIN when empty and !block, -EFAULT only if nothing was copied, -EBADF
  /// after close. No unplug check.
  long read(void* buf, std::size_t len, bool block);
  /// drm_poll: POLLIN|POLLRDNORM iff events are queued; never POLLHUP/POLLERR.
  unsigned poll() const;
  /// A real fd, readable (POLLIN) exactly while events are queued. Owned by the file; valid
  /// until the file is released. Do not read it: read() above is the event read.
  int poll_fd() const noexcept { return eventfd_; }
  /// Bytes of budget left (event_space).
  int event_space() const;

  /// mmap of a GEM object by its fake offset (drm_gem_mmap): -ENODEV after unplug, -EBADF
  /// after close, -EINVAL for a zero length, an offset that is not the start of an object this
  /// file holds a handle to, or a length past the object. The mapping (MAP_SHARED of the
  /// object's memfd) holds the object and the file (the file's release waits for munmap, as a
  /// vma holds the struct file). munmap: -EINVAL unless (addr, len) is a live mapping.
  int mmap(uint64_t offset, std::size_t len, int prot, void** out);
  int munmap(void* addr, std::size_t len);
  /// The same for a mapping made in another process (the udrm-run server's client): checks as
  /// mmap(), then returns a new fd of the object's memfd (the caller sends it and closes it; the
  /// client maps it at offset 0) and an id. The record holds the object and the file like a
  /// local mapping until munmap_remote(id) (-EINVAL for an unknown id).
  int mmap_remote(uint64_t offset, std::size_t len, int prot, int* memfd, uint64_t* id);
  int munmap_remote(uint64_t id);

  /// GEM handles (drm_gem_handle_create / lookup / delete). Handles are the lowest free
  /// number >= 1, as the kernel's idr gives them.
  int gem_handle_create(GemObject& obj, uint32_t* handle);
  Ref<GemObject> gem_lookup(uint32_t handle);
  int gem_handle_delete(uint32_t handle);  // -EINVAL for an unknown handle

  /// The device (nullptr once closed).
  DrmDevice* device() const noexcept { return is_open() ? dev_.get() : nullptr; }
  /// The device the file was opened on, valid until the release has finished: for the
  /// close-time hooks (fb_release, property_destroy_user_blobs) that run after close().
  DrmDevice* opened_device() const noexcept { return dev_.get(); }
  bool is_open() const noexcept { return !closed_.load(std::memory_order_acquire); }
  /// drm_is_current_master: this file is the device's master right now.
  bool is_master() const noexcept;
  MinorType minor_type() const noexcept { return type_; }
  /// Number of live client mappings (mmap'ed and not yet munmap'ed).
  std::size_t mapping_count() const;
  /// drm_setmaster / drm_dropmaster (the ioctls): 0, -EBUSY (another master), -EINVAL.
  int set_master();
  int drop_master();

  // Client caps (drm_file bits), set by SET_CLIENT_CAP.
  /// drm_file.authenticated: udrm clients run with CAP_SYS_ADMIN, so every file is.
  bool authenticated = true;
  bool universal_planes = false;
  bool atomic = false;
  bool stereo_allowed = false;
  bool aspect_ratio_allowed = false;
  bool writeback_connectors = false;
  /// SET_VERSION asked for interface 1.1+: GET_UNIQUE reports the bus id (else it is empty).
  bool unique_set = false;
  /// GET_MAGIC's token (0 until asked).
  uint32_t magic = 0;

  /// Framebuffers and user blobs owned by this file (fbs under fbs_lock, blobs under the
  /// mode config's blob_lock) — released at close by fb_release / blob release.
  Mutex fbs_lock{"drm_file.fbs"};
  std::vector<Framebuffer*> fbs;
  std::vector<PropertyBlob*> blobs;

  /// Event lists, under dev.event_lock (drm/event.h implements the protocol).
  using EventList = boost::intrusive::list<
      PendingEvent, boost::intrusive::member_hook<PendingEvent, boost::intrusive::list_member_hook<>,
                                                  &PendingEvent::link>>;
  using PendingList = boost::intrusive::list<
      PendingEvent, boost::intrusive::member_hook<PendingEvent, boost::intrusive::list_member_hook<>,
                                                  &PendingEvent::pending_link>>;
  EventList event_list;
  PendingList pending_event_list;
  int event_space_ = kEventSpace;
  WaitQueue event_wait;
  /// Deferred work for this client (task_work): interrupt-context code that must hand
  /// something to the client in process context queues it here; it runs when the client's
  /// current (or next) ioctl or read returns, on the client's thread. Shut down at release.
  TaskWorkList task_work;
  /// Called (under event_lock, any context) whenever an event is queued: transports (the
  /// libdrm shim, udrm-run) hook here. Must not sleep.
  void (*on_event)(DrmFile&, void* ctx) = nullptr;
  void* on_event_ctx = nullptr;
  /// Keep the eventfd in step with event_list (called under event_lock).
  void update_readiness_locked();
  /// Lock-free mirror of !event_list.empty() (what poll() and a blocking read() look at).
  bool has_events() const noexcept { return has_events_.load(std::memory_order_acquire); }

  void kref_release() noexcept { delete this; }

 private:
  DrmFile() = default;
  ~DrmFile();

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
  void release_events();
  void release_handles();

  struct Mapping {
    void* addr;  // nullptr for a remote mapping
    std::size_t len;
    Ref<GemObject> obj;
    uint64_t remote_id = 0;
  };
  int mmap_checks(uint64_t offset, std::size_t len, int prot, Ref<GemObject>* obj);
  int add_mapping(uint64_t offset, std::size_t len, int prot, void** addr, int* memfd, uint64_t* id);
  void drop_mapping(Mapping& m);

  Ref<DrmDevice> dev_;
  Module* module_ = nullptr;
  MinorType type_ = MinorType::primary;
  std::atomic<bool> closed_{false};
  std::atomic<long> active_{1};
  int eventfd_ = -1;
  bool readable_ = false;  // the eventfd's counter is non-zero (under event_lock)
  std::atomic<bool> has_events_{false};
  bool was_master_ = false;
  Mutex read_lock_{"drm_file.event_read"};  // event_read_lock: one reader at a time
  mutable Mutex maps_lock_{"drm_file.maps"};
  std::vector<Mapping> maps_;
  uint64_t next_remote_id_ = 1;
  Mutex handles_lock_{"drm_file.handles"};
  std::map<uint32_t, Ref<GemObject>> handles_;
};

}  // namespace udrm
