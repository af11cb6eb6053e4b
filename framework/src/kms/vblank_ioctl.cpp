// Ioctl backends of the vblank layer (udrm/kms/vblank.h): WAIT_VBLANK, CRTC_GET_SEQUENCE and
// CRTC_QUEUE_SEQUENCE with drm_vblank.c's rules. Blocking waits end at the target count, when
// vblank is switched off, or after 3 s (-EBUSY); a signal ends them with -EINTR. Never -EAGAIN.
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/signal.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/vblank.h"
#include "vblank_internal.h"

namespace udrm {

using namespace std::chrono_literals;
using namespace vblank_detail;

namespace {

uint64_t widen_32_to_64(uint32_t narrow, uint64_t near) {
  return near + static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(narrow - static_cast<uint32_t>(near))));
}

bool enabled_of(DrmDevice& dev, unsigned pipe) {
  // Read under the counters' lock through the diagnostics accessor.
  Crtc* crtc = dev.mode_config && pipe < dev.mode_config->crtcs.size() ? dev.mode_config->crtcs[pipe] : nullptr;
  return crtc && crtc_vblank_irq_enabled(*crtc);
}

void reply(DrmDevice& dev, unsigned pipe, drm_wait_vblank_reply* r) {
  TimePoint t;
  uint64_t seq = count_and_time(dev, pipe, &t);
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  r->sequence = static_cast<unsigned int>(seq);
  r->tval_sec = static_cast<long>(ns / 1000000000);
  r->tval_usec = static_cast<long>((ns % 1000000000) / 1000);
}

// drm_wait_vblank.request.type is declared enum drm_vblank_seq_type, but it is a word of flag
// bits that userspace fills freely: loading a value outside the enum's range is undefined in
// C++. Read and write it as the uint32_t it is (the kernel, in C, may read the enum).
static_assert(sizeof(drm_vblank_seq_type) == sizeof(uint32_t));
uint32_t request_type(const drm_wait_vblank* w) {
  uint32_t t;
  std::memcpy(&t, &w->request.type, sizeof t);
  return t;
}
void set_request_type(drm_wait_vblank* w, uint32_t t) { std::memcpy(&w->request.type, &t, sizeof t); }

bool is_query(const drm_wait_vblank* w, uint32_t type) {
  if (w->request.sequence) return false;
  return (type & (_DRM_VBLANK_TYPES_MASK | _DRM_VBLANK_EVENT | _DRM_VBLANK_NEXTONMISS)) == _DRM_VBLANK_RELATIVE;
}

// Queue (or send at once) an event for req_seq; consumes the caller's vblank reference on
// success (the event holds it until sent) and on failure (dropped here).
int queue_event(DrmDevice& dev, DrmFile& file, unsigned pipe, PendingVblankEvent* e, uint64_t req_seq,
                uint64_t* reply_seq) {
  int ret = event_reserve_init(dev, file, e, &e->ev.base);
  if (ret) {
    delete e;
    put(dev, pipe);
    return ret;
  }
  VblankCrtc* vb = slot(dev, pipe);
  bool send_now = false;
  bool refused = false;
  uint64_t seq = 0;
  TimePoint t{};
  {
    std::lock_guard<SpinLock> el(dev.event_lock);
    // vblank_off may have switched the interrupt off meanwhile: refuse, as the kernel does.
    if (!enabled_of(dev, pipe)) {
      refused = true;
    } else {
      seq = count_and_time(dev, pipe, &t);
      e->sequence = req_seq;
      e->pipe = pipe;
      if (passed(seq, req_seq)) {
        send_now = true;
        *reply_seq = seq;
      } else {
        arm_locked(*vb, e);  // handle_vblank drops the vblank reference when it sends
        *reply_seq = req_seq;
      }
    }
  }
  if (refused) {
    event_cancel_free(dev, e);
    put(dev, pipe);
    return -EINVAL;
  }
  if (send_now) {
    put(dev, pipe);
    send_vblank_event(dev, e, seq, t);
  }
  return 0;
}

}  // namespace

int vblank_ioctl_wait(DrmDevice& dev, DrmFile& file, drm_wait_vblank* w) {
  if (!drm_dev_has_vblank(dev)) return -EOPNOTSUPP;
  const uint32_t type = request_type(w);
  if (type & _DRM_VBLANK_SIGNAL) return -EINVAL;
  if (type & ~static_cast<unsigned>(_DRM_VBLANK_TYPES_MASK | _DRM_VBLANK_FLAGS_MASK | _DRM_VBLANK_HIGH_CRTC_MASK))
    return -EINVAL;
  const unsigned flags = type & _DRM_VBLANK_FLAGS_MASK;
  const unsigned high = type & _DRM_VBLANK_HIGH_CRTC_MASK;
  const unsigned pipe = high ? high >> _DRM_VBLANK_HIGH_CRTC_SHIFT : ((flags & _DRM_VBLANK_SECONDARY) ? 1 : 0);
  VblankCrtc* vb = slot(dev, pipe);
  if (!vb) return -EINVAL;

  VblankSet* vs = dev.vblank;
  bool immediate;
  {
    std::lock_guard<SpinLock> l(vs->lock);
    immediate = vs->disable_immediate;
  }
  // Counter enabled and accurate: a pure query answers from the cached last vblank.
  if (immediate && is_query(w, type) && enabled_of(dev, pipe)) {
    reply(dev, pipe, &w->reply);
    return 0;
  }
  int ret = get(dev, pipe);
  if (ret) {
    log_dbg(LogCat::vblank, "crtc %u failed to acquire vblank counter, %d", pipe, ret);
    return ret;
  }
  const uint64_t seq = count_and_time(dev, pipe, nullptr);
  uint64_t req_seq;
  switch (type & _DRM_VBLANK_TYPES_MASK) {
    case _DRM_VBLANK_RELATIVE:
      req_seq = seq + w->request.sequence;
      w->request.sequence = static_cast<unsigned int>(req_seq);
      set_request_type(w, request_type(w) & ~uint32_t{_DRM_VBLANK_RELATIVE});
      break;
    case _DRM_VBLANK_ABSOLUTE:
      req_seq = widen_32_to_64(w->request.sequence, seq);
      break;
    default:
      put(dev, pipe);
      return -EINVAL;
  }
  if ((flags & _DRM_VBLANK_NEXTONMISS) && passed(seq, req_seq)) {
    req_seq = seq + 1;
    set_request_type(w, request_type(w) & ~uint32_t{_DRM_VBLANK_NEXTONMISS});
    w->request.sequence = static_cast<unsigned int>(req_seq);
  }

  if (flags & _DRM_VBLANK_EVENT) {
    if (UDRM_SHOULD_FAIL("kms.vblank_event_alloc")) {
      put(dev, pipe);
      return -ENOMEM;
    }
    auto* e = new (std::nothrow) PendingVblankEvent();
    if (!e) {
      put(dev, pipe);
      return -ENOMEM;
    }
    e->ev.vbl.base.type = DRM_EVENT_VBLANK;
    e->ev.vbl.base.length = sizeof(e->ev.vbl);
    e->ev.vbl.user_data = w->request.signal;
    if (Crtc* c = dev.mode_config && pipe < dev.mode_config->crtcs.size() ? dev.mode_config->crtcs[pipe] : nullptr)
      e->ev.vbl.crtc_id = c->id;
    uint64_t reply_seq = 0;
    ret = queue_event(dev, file, pipe, e, req_seq, &reply_seq);
    if (ret == 0) w->reply.sequence = static_cast<unsigned int>(reply_seq);
    return ret;
  }

  if (req_seq != seq) {
    log_dbg(LogCat::vblank, "waiting on vblank count %llu, crtc %u", static_cast<unsigned long long>(req_seq), pipe);
    UDRM_POINT("vblank.wait_ioctl");
    int wait = wait_event_interruptible_timeout(
        vb->queue,
        [&] { return passed(count_and_time(dev, pipe, nullptr), req_seq) || !enabled_of(dev, pipe); }, 3000ms);
    if (wait == 0) {
      ret = -EBUSY;
    } else if (wait == -ERESTARTSYS) {
      ret = -EINTR;
    }
  }
  if (ret != -EINTR) {
    reply(dev, pipe, &w->reply);
  } else {
    log_dbg(LogCat::vblank, "crtc %u vblank wait interrupted by signal", pipe);
  }
  put(dev, pipe);
  return ret;
}

int vblank_ioctl_get_sequence(DrmDevice& dev, DrmFile&, drm_crtc_get_sequence* arg) {
  if (!dev.has_feature(DRIVER_MODESET)) return -EOPNOTSUPP;
  if (!drm_dev_has_vblank(dev)) return -EOPNOTSUPP;
  Crtc* crtc = crtc_find(dev, arg->crtc_id);
  if (!crtc) return -ENOENT;
  const unsigned pipe = crtc->index;
  bool immediate;
  {
    std::lock_guard<SpinLock> l(dev.vblank->lock);
    immediate = dev.vblank->disable_immediate;
  }
  const bool vblank_enabled = immediate && enabled_of(dev, pipe);
  if (!vblank_enabled) {
    int ret = get(dev, pipe);
    if (ret) {
      log_dbg(LogCat::vblank, "crtc %u failed to acquire vblank counter, %d", pipe, ret);
      return ret;
    }
  }
  arg->active = crtc->state ? crtc->state->enable : 0;
  TimePoint t;
  arg->sequence = count_and_time(dev, pipe, &t);
  arg->sequence_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  if (!vblank_enabled) put(dev, pipe);
  return 0;
}

int vblank_ioctl_queue_sequence(DrmDevice& dev, DrmFile& file, drm_crtc_queue_sequence* arg) {
  if (!dev.has_feature(DRIVER_MODESET)) return -EOPNOTSUPP;
  if (!drm_dev_has_vblank(dev)) return -EOPNOTSUPP;
  Crtc* crtc = crtc_find(dev, arg->crtc_id);
  if (!crtc) return -ENOENT;
  const uint32_t flags = arg->flags;
  if (flags & ~(DRM_CRTC_SEQUENCE_RELATIVE | DRM_CRTC_SEQUENCE_NEXT_ON_MISS)) return -EINVAL;
  const unsigned pipe = crtc->index;
  if (UDRM_SHOULD_FAIL("kms.vblank_event_alloc")) return -ENOMEM;
  auto* e = new (std::nothrow) PendingVblankEvent();
  if (!e) return -ENOMEM;
  int ret = get(dev, pipe);
  if (ret) {
    log_dbg(LogCat::vblank, "crtc %u failed to acquire vblank counter, %d", pipe, ret);
    delete e;
    return ret;
  }
  const uint64_t seq = count_and_time(dev, pipe, nullptr);
  uint64_t req_seq = arg->sequence;
  if (flags & DRM_CRTC_SEQUENCE_RELATIVE) req_seq += seq;
  if ((flags & DRM_CRTC_SEQUENCE_NEXT_ON_MISS) && passed(seq, req_seq)) req_seq = seq + 1;
  e->ev.seq.base.type = DRM_EVENT_CRTC_SEQUENCE;
  e->ev.seq.base.length = sizeof(e->ev.seq);
  e->ev.seq.user_data = arg->user_data;
  uint64_t reply_seq = 0;
  ret = queue_event(dev, file, pipe, e, req_seq, &reply_seq);
  if (ret == 0) arg->sequence = reply_seq;
  return ret;
}

}  // namespace udrm
