// DRM file handles (udrm/drm/file.h): open, release in drm_file_free's order, event reads,
// poll readiness on an eventfd, GEM handles and client mappings.
#include "udrm/drm/file.h"

#include <fcntl.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/trace_hook.h"
#include "udrm/core/module.h"
#include "udrm/drm/ioctl.h"
#include "udrm/drm/minor.h"

namespace udrm {

// KMS state a file owns (framebuffers, user blobs): file_kms.cpp.
void drm_file_release_kms(DrmFile& file);

namespace {
// obj->handle_count is shared by every file naming the object (the kernel's object_name_lock).
SpinLock g_handle_count_lock;

void free_event(PendingEvent* e) {
  if (e->destroy) {
    e->destroy(e);
  } else {
    delete e;
  }
}
}  // namespace

int DrmFile::open(DrmDevice& dev, Ref<DrmFile>* out, MinorType type) {
  UDRM_POINT("drm.open");
  if (dev.is_unplugged() || !dev.is_registered()) return -ENODEV;
  if (type == MinorType::render && !dev.has_feature(DRIVER_RENDER)) return -ENODEV;
  if (!try_module_get(dev.owner())) return -ENODEV;
  DrmFile* raw = UDRM_SHOULD_FAIL("drm.file_alloc") ? nullptr : new (std::nothrow) DrmFile();
  if (!raw) {
    module_put(dev.owner());
    return -ENOMEM;
  }
  auto f = adopt_ref(raw);
  f->dev_ = &dev;
  f->module_ = dev.owner();
  f->type_ = type;
  f->eventfd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int ret = f->eventfd_ < 0 ? -EMFILE : 0;
  {
    std::lock_guard<Mutex> l(dev.filelist_mutex);
    ++dev.open_count;
  }
  if (!ret && dev.driver().open) ret = dev.driver().open(dev, *f);
  if (ret) {
    // drm_open's error unwind: nothing of the file was published, no postclose.
    bool last;
    {
      std::lock_guard<Mutex> l(dev.filelist_mutex);
      last = --dev.open_count == 0;
    }
    if (last && dev.driver().lastclose) dev.driver().lastclose(dev);
    if (f->eventfd_ >= 0) ::close(f->eventfd_);
    f->eventfd_ = -1;
    f->closed_.store(true, std::memory_order_release);
    f->active_.store(0, std::memory_order_relaxed);
    Module* m = f->module_;
    f->module_ = nullptr;
    Ref<DrmDevice> d = std::move(f->dev_);
    d.reset();  // may be the final put: `dev` is gone after this
    module_put(m);
    return ret;
  }
  int open_count;
  {
    std::lock_guard<Mutex> l(dev.filelist_mutex);
    // drm_master_open: the first primary client without a master becomes master.
    if (type == MinorType::primary && !dev.master) {
      dev.master = f.get();
      f->was_master_ = true;
    }
    dev.filelist.push_back(f.get());
    open_count = dev.open_count;
  }
  trace_file(TraceFile::open, f.get(), dev.driver().name);
  log_dbg(LogCat::drm, "%s: open (%s), open_count %d", dev.driver().name,
          type == MinorType::render ? "render" : "primary", open_count);
  // Raced with unplug: the reference we took keeps the object, but the file must not open.
  if (dev.is_unplugged()) {
    f->close();
    return -ENODEV;
  }
  *out = std::move(f);
  return 0;
}

int DrmFile::close() {
  UDRM_POINT("drm.close");
  if (closed_.exchange(true, std::memory_order_acq_rel)) return -EBADF;
  put_active();  // the open reference: releases now unless a call() or a mapping holds it
  return 0;
}

bool DrmFile::is_master() const noexcept {
  DrmDevice* d = dev_.get();
  if (!d) return false;
  std::lock_guard<Mutex> l(d->filelist_mutex);
  return d->master == this;
}

int DrmFile::set_master() {
  DrmDevice* d = dev_.get();
  std::lock_guard<Mutex> l(d->filelist_mutex);
  if (d->master == this) return 0;
  if (d->master) return -EBUSY;
  // drm_master_check_perm: a client with CAP_SYS_ADMIN (every udrm client) may take it.
  d->master = this;
  was_master_ = true;
  return 0;
}

int DrmFile::drop_master() {
  DrmDevice* d = dev_.get();
  std::lock_guard<Mutex> l(d->filelist_mutex);
  if (d->master != this) return -EINVAL;
  d->master = nullptr;
  return 0;
}

// drm_events_release: reserved events are detached (a later send frees them), queued ones freed.
void DrmFile::release_events() {
  DrmDevice* d = dev_.get();
  EventList unread;
  uint64_t detached = 0, freed = 0;
  {
    std::lock_guard<SpinLock> l(d->event_lock);
    while (!pending_event_list.empty()) {
      PendingEvent& e = pending_event_list.front();
      pending_event_list.pop_front();
      e.file_priv = nullptr;
      trace_event(this, e.event->type, TraceEventFate::detached);
      ++detached;
    }
    unread.swap(event_list);
    update_readiness_locked();
  }
  while (!unread.empty()) {
    PendingEvent& e = unread.front();
    unread.pop_front();
    trace_event(this, e.event->type, TraceEventFate::dropped);
    free_event(&e);
    ++freed;
  }
  detail::events_closed_pending.fetch_add(detached, std::memory_order_relaxed);
  detail::events_closed_unread.fetch_add(freed, std::memory_order_relaxed);
}

void DrmFile::release_handles() {
  std::map<uint32_t, Ref<GemObject>> handles;
  {
    std::lock_guard<Mutex> l(handles_lock_);
    handles.swap(handles_);
  }
  for (auto& [h, obj] : handles) {
    std::lock_guard<SpinLock> l(g_handle_count_lock);
    --obj->handle_count_;
  }
  handles.clear();  // drops the handles' references (may free the objects)
}

// The last fput: no call() runs on this file any more and no mapping is left. drm_release +
// drm_file_free, in the kernel's order.
void DrmFile::release() {
  UDRM_POINT("drm.release");
  task_work.shutdown();  // nothing reaches a released file; run what is pending, refuse more
  DrmDevice* d = dev_.get();
  {
    std::lock_guard<Mutex> l(d->filelist_mutex);
    auto it = std::find(d->filelist.begin(), d->filelist.end(), this);
    if (it != d->filelist.end()) d->filelist.erase(it);
  }
  release_events();
  if (d->has_feature(DRIVER_MODESET)) drm_file_release_kms(*this);
  release_handles();
  {
    std::lock_guard<Mutex> l(d->filelist_mutex);
    if (d->master == this) d->master = nullptr;  // drm_master_release
  }
  if (d->driver().postclose) d->driver().postclose(*d, *this);
  bool last;
  int open_count;
  {
    std::lock_guard<Mutex> l(d->filelist_mutex);
    open_count = --d->open_count;
    last = open_count == 0;
  }
  if (last && d->driver().lastclose) d->driver().lastclose(*d);
  trace_file(last ? TraceFile::last_close : TraceFile::close, this, d->driver().name);
  UDRM_WARN_ON(!event_list.empty(), LogCat::drm);
  {
    std::lock_guard<SpinLock> l(d->event_lock);
    if (eventfd_ >= 0) ::close(eventfd_);
    eventfd_ = -1;
  }
  log_dbg(LogCat::drm, "%s: release, open_count %d", d->driver().name, open_count);
  Ref<DrmDevice> dev = std::move(dev_);
  Module* m = module_;
  module_ = nullptr;
  dev.reset();  // drm_minor_release: may be the final put
  module_put(m);
}

DrmFile::~DrmFile() {
  if (!closed_.load(std::memory_order_acquire)) close();
}

// ---- events ------------------------------------------------------------------------------------

void DrmFile::update_readiness_locked() {
  bool want = !event_list.empty();
  has_events_.store(want, std::memory_order_release);
  if (want == readable_ || eventfd_ < 0) return;
  if (want) {
    uint64_t one = 1;
    if (::write(eventfd_, &one, sizeof(one)) == static_cast<ssize_t>(sizeof(one))) readable_ = true;
  } else {
    uint64_t v;
    if (::read(eventfd_, &v, sizeof(v)) == static_cast<ssize_t>(sizeof(v)) || errno == EAGAIN) readable_ = false;
  }
}

long DrmFile::read(void* buf, std::size_t len, bool block) {
  if (!get_active()) return -EBADF;
  ActiveRef active{this};
  ReturnToUser rtu(task_work);
  DrmDevice* d = dev_.get();
  UDRM_POINT("drm.read");
  read_lock_.lock();
  long ret = 0;
  for (;;) {
    PendingEvent* e = nullptr;
    {
      std::lock_guard<SpinLock> l(d->event_lock);
      if (!event_list.empty()) {
        e = &event_list.front();
        event_list.pop_front();
        event_space_ += static_cast<int>(e->event->length);
        update_readiness_locked();
      }
    }
    if (!e) {
      if (ret) break;
      if (!block) {
        ret = -EAGAIN;
        break;
      }
      read_lock_.unlock();
      event_wait.wait_event([this] { return has_events(); });
      read_lock_.lock();
      continue;
    }
    const std::size_t length = e->event->length;
    bool put_back = length > len - static_cast<std::size_t>(ret);  // never split an event
    if (!put_back && copy_to_user(reinterpret_cast<uintptr_t>(buf) + static_cast<uintptr_t>(ret), e->event, length)) {
      if (!ret) ret = -EFAULT;
      put_back = true;  // drm_read: a fault loses nothing, a retry with a good buffer gets it
    }
    if (put_back) {
      // Back at the head, re-reserving its space, for a later (bigger, valid) read.
      std::lock_guard<SpinLock> l(d->event_lock);
      event_space_ -= static_cast<int>(length);
      event_list.push_front(*e);
      update_readiness_locked();
      break;
    }
    ret += static_cast<long>(length);
    free_event(e);
  }
  read_lock_.unlock();
  return ret;
}

unsigned DrmFile::poll() const { return has_events() ? (POLLIN | POLLRDNORM) : 0u; }

int DrmFile::event_space() const {
  DrmDevice* d = dev_.get();
  if (!d) return event_space_;
  std::lock_guard<SpinLock> l(d->event_lock);
  return event_space_;
}

// ---- GEM handles -------------------------------------------------------------------------------

int DrmFile::gem_handle_create(GemObject& obj, uint32_t* handle) {
  if (UDRM_SHOULD_FAIL("drm.gem_handle_create")) return -ENOMEM;
  std::lock_guard<Mutex> l(handles_lock_);
  uint32_t h = 1;
  for (auto& [k, v] : handles_) {
    if (k != h) break;
    ++h;
  }
  if (h == 0) return -ENOSPC;
  handles_.emplace(h, Ref<GemObject>(&obj));
  {
    std::lock_guard<SpinLock> c(g_handle_count_lock);
    ++obj.handle_count_;
  }
  *handle = h;
  return 0;
}

Ref<GemObject> DrmFile::gem_lookup(uint32_t handle) {
  std::lock_guard<Mutex> l(handles_lock_);
  auto it = handles_.find(handle);
  return it == handles_.end() ? Ref<GemObject>() : it->second;
}

int DrmFile::gem_handle_delete(uint32_t handle) {
  Ref<GemObject> obj;
  {
    std::lock_guard<Mutex> l(handles_lock_);
    auto it = handles_.find(handle);
    if (it == handles_.end()) return -EINVAL;
    obj = std::move(it->second);
    handles_.erase(it);
  }
  std::lock_guard<SpinLock> c(g_handle_count_lock);
  --obj->handle_count_;
  return 0;
}

// ---- mappings ----------------------------------------------------------------------------------

int DrmFile::mmap_checks(uint64_t offset, std::size_t len, int prot, Ref<GemObject>* out) {
  if (len == 0 || (prot & ~(PROT_READ | PROT_WRITE))) return -EINVAL;
  Ref<GemObject> obj;
  {
    std::lock_guard<Mutex> l(handles_lock_);
    for (auto& [h, o] : handles_) {
      if (o->mmap_offset() != 0 && o->mmap_offset() == offset) {
        obj = o;
        break;
      }
    }
  }
  if (!obj || len > obj->size()) return -EINVAL;
  *out = std::move(obj);
  return 0;
}

// drm_gem_mmap for both kinds of mapping: a local one (addr: mapped here) or one another process
// makes (memfd + id: the udrm-run server's client maps the memfd). Either holds the object and
// the file until it goes.
int DrmFile::add_mapping(uint64_t offset, std::size_t len, int prot, void** addr, int* memfd, uint64_t* id) {
  if (!get_active()) return -EBADF;
  ActiveRef active{this};
  DrmDevice* d = dev_.get();
  auto g = d->dev_enter();
  if (!g) return -ENODEV;
  UDRM_POINT("drm.mmap");
  Ref<GemObject> obj;
  if (int r = mmap_checks(offset, len, prot, &obj)) return r;
  Mapping m{nullptr, len, {}};
  int fd = -1;
  if (addr) {
    m.addr = ::mmap(nullptr, len, prot ? prot : PROT_NONE, MAP_SHARED, obj->memfd(), 0);
    if (m.addr == MAP_FAILED) return -ENOMEM;
  } else {
    fd = ::fcntl(obj->memfd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return -EMFILE;
  }
  m.obj = std::move(obj);
  {
    std::lock_guard<Mutex> l(maps_lock_);
    if (!addr) m.remote_id = next_remote_id_++;
    maps_.push_back(m);
  }
  active_.fetch_add(1, std::memory_order_relaxed);  // the vma holds the file ...
  get();                                              // ... and the object (munmap drops both)
  if (addr) *addr = m.addr;
  if (memfd) *memfd = fd;
  if (id) *id = m.remote_id;
  return 0;
}

int DrmFile::mmap(uint64_t offset, std::size_t len, int prot, void** out) {
  return add_mapping(offset, len, prot, out, nullptr, nullptr);
}

int DrmFile::mmap_remote(uint64_t offset, std::size_t len, int prot, int* memfd, uint64_t* id) {
  return add_mapping(offset, len, prot, nullptr, memfd, id);
}

void DrmFile::drop_mapping(Mapping& m) {
  if (m.addr) ::munmap(m.addr, m.len);
  m.obj.reset();
  put_active();  // may release the file (it was closed while mapped)
  put();         // the mapping's reference on the object; may free it
}

int DrmFile::munmap(void* addr, std::size_t len) {
  Mapping m{nullptr, 0, {}};
  {
    std::lock_guard<Mutex> l(maps_lock_);
    auto it = std::find_if(maps_.begin(), maps_.end(),
                           [&](const Mapping& x) { return x.addr && x.addr == addr && x.len == len; });
    if (it == maps_.end()) return -EINVAL;
    m = std::move(*it);
    maps_.erase(it);
  }
  drop_mapping(m);
  return 0;
}

int DrmFile::munmap_remote(uint64_t id) {
  Mapping m{nullptr, 0, {}};
  {
    std::lock_guard<Mutex> l(maps_lock_);
    auto it = std::find_if(maps_.begin(), maps_.end(),
                           [&](const Mapping& x) { return !x.addr && id && x.remote_id == id; });
    if (it == maps_.end()) return -EINVAL;
    m = std::move(*it);
    maps_.erase(it);
  }
  drop_mapping(m);
  return 0;
}

std::size_t DrmFile::mapping_count() const {
  std::lock_guard<Mutex> l(maps_lock_);
  return maps_.size();
}

// ---- GemObject::create_mmap_offset (drm_gem_create_mmap_offset) --------------------------------

namespace {
SpinLock g_offset_lock;
// DRM_FILE_PAGE_OFFSET_START on 64-bit: the fake offsets start past the first 4 GiB.
uint64_t g_next_offset = uint64_t{1} << 32;
}  // namespace

int GemObject::create_mmap_offset() {
  {
    std::lock_guard<SpinLock> l(g_offset_lock);
    if (mmap_offset_) return 0;
  }
  if (UDRM_SHOULD_FAIL("gem.mmap_offset")) return -ENOSPC;
  std::lock_guard<SpinLock> l(g_offset_lock);
  if (mmap_offset_) return 0;
  if (g_next_offset > UINT64_MAX - size_ - 4096) return -ENOSPC;
  mmap_offset_ = g_next_offset;
  g_next_offset += size_;  // sizes are page multiples
  return 0;
}

}  // namespace udrm
