// The per-file event protocol (udrm/drm/event.h): reserve at ioctl time, send exactly once or
// cancel, under the device's event spinlock. kernel-semantics §3.5 rules 20–25.
#include "udrm/drm/event.h"

#include <mutex>
#include <new>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/trace_hook.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"

namespace udrm {
namespace {

void free_event(PendingEvent* e) {
  if (e->destroy) {
    e->destroy(e);
  } else {
    delete e;
  }
}

// Complete the waiter, then either hand the event to its file's readable queue or free it when
// the file is gone. Caller holds dev.event_lock.
void send_locked(PendingEvent* e) {
  if (e->completion) {
    Completion* c = e->completion;
    e->completion = nullptr;
    c->complete_all();
    if (e->completion_release) e->completion_release(c);
    e->completion_release = nullptr;
  }
  DrmFile* f = e->file_priv;
  if (!f) {
    free_event(e);
    return;
  }
  if (e->pending_link.is_linked()) f->pending_event_list.erase(f->pending_event_list.iterator_to(*e));
  f->event_list.push_back(*e);
  trace_event(f, e->event->type, TraceEventFate::delivered);
  f->update_readiness_locked();
  // Woken under the lock: the file's release detaches under the same lock, so the wait queue is
  // alive for as long as we can reach it.
  f->event_wait.wake_up_all();
  if (f->on_event) f->on_event(*f, f->on_event_ctx);
}

}  // namespace

int event_reserve_init(DrmDevice& dev, DrmFile& file, PendingEvent* e, const drm_event* ev) {
  UDRM_POINT("drm.event_reserve");
  if (UDRM_WARN_ON(!e || !ev || !e->event, LogCat::drm)) return -EINVAL;
  std::lock_guard<SpinLock> l(dev.event_lock);
  if (file.event_space_ < 0 || static_cast<uint32_t>(file.event_space_) < ev->length) return -ENOMEM;
  file.event_space_ -= static_cast<int>(ev->length);
  if (ev != e->event) {
    e->event->type = ev->type;
    e->event->length = ev->length;
  }
  e->file_priv = &file;
  file.pending_event_list.push_back(*e);
  return 0;
}

void event_cancel_free(DrmDevice& dev, PendingEvent* e) {
  if (!e) return;
  {
    std::lock_guard<SpinLock> l(dev.event_lock);
    if (DrmFile* f = e->file_priv) {
      trace_event(f, e->event->type, TraceEventFate::cancelled);
      f->event_space_ += static_cast<int>(e->event->length);
      if (e->pending_link.is_linked()) f->pending_event_list.erase(f->pending_event_list.iterator_to(*e));
      e->file_priv = nullptr;
    }
  }
  free_event(e);
}

void send_event(DrmDevice& dev, PendingEvent* e) {
  if (!e) return;
  UDRM_POINT("drm.send_event");
  std::lock_guard<SpinLock> l(dev.event_lock);
  send_locked(e);
}

void send_event_timestamp(DrmDevice& dev, PendingEvent* e, TimePoint) {
  // No dma-fences in udrm: the timestamp would only be handed to the fence.
  send_event(dev, e);
}

int create_flip_event(DrmDevice& dev, DrmFile& file, uint64_t user_data, PendingVblankEvent** out) {
  *out = nullptr;
  if (UDRM_SHOULD_FAIL("drm.event_alloc")) return -ENOMEM;
  auto* e = new (std::nothrow) PendingVblankEvent();
  if (!e) return -ENOMEM;
  e->ev.vbl.base.type = DRM_EVENT_FLIP_COMPLETE;
  e->ev.vbl.base.length = sizeof(e->ev.vbl);
  e->ev.vbl.user_data = user_data;
  int ret = event_reserve_init(dev, file, e, &e->ev.base);
  if (ret) {
    delete e;
    return ret;
  }
  *out = e;
  return 0;
}

}  // namespace udrm
