// Vblank counting, timestamps and vblank events (udrm/kms/vblank.h), modelled on drm_vblank.c:
// kernel-semantics §3.5 rule 25 and §6.2.
#include "udrm/kms/vblank.h"

#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/trace_hook.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/managed.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/mode_config.h"
#include "vblank_internal.h"

namespace udrm {

using namespace std::chrono_literals;

namespace {

VblankSet* set_of(const DrmDevice& dev) { return dev.vblank; }

Crtc* crtc_of(DrmDevice& dev, unsigned pipe) {
  ModeConfig* mc = dev.mode_config;
  if (!mc || pipe >= mc->crtcs.size()) return nullptr;
  return mc->crtcs[pipe];
}

// drm_update_vblank_count: with a precise timestamp from the driver, the number of frames since
// the last stored one; otherwise one per interrupt and none outside of it. Caller holds vs.lock.
void update_count_locked(VblankSet& vs, VblankCrtc& vb, bool in_irq) {
  TimePoint t{};
  bool precise = false;
  Crtc* crtc = crtc_of(*vs.dev, vb.pipe);
  if (crtc && crtc->funcs && crtc->funcs->get_vblank_timestamp) {
    int max_error = 0;
    precise = crtc->funcs->get_vblank_timestamp(*crtc, &max_error, &t, in_irq);
  }
  if (!precise) t = now();
  uint64_t diff;
  const int64_t framedur = vb.framedur_ns.load(std::memory_order_relaxed);
  if (precise && framedur > 0 && vb.time != TimePoint{}) {
    int64_t dns = (t - vb.time).count();
    diff = dns <= 0 ? 0 : static_cast<uint64_t>((dns + framedur / 2) / framedur);
    if (diff == 0 && in_irq) log_dbg(LogCat::vblank, "crtc %u: redundant vblank irq ignored", vb.pipe);
  } else {
    diff = in_irq ? 1 : 0;
  }
  vb.count += diff;
  vb.time = t;
}

int enable_locked(VblankSet& vs, VblankCrtc& vb) {
  if (vb.enabled) return 0;
  Crtc* crtc = crtc_of(*vs.dev, vb.pipe);
  int ret = -EINVAL;
  if (crtc && crtc->funcs && crtc->funcs->enable_vblank) {
    AtomicSection atomic;  // the hook runs under the vblank spinlock
    ret = crtc->funcs->enable_vblank(*crtc);
  }
  if (ret == 0) {
    update_count_locked(vs, vb, false);
    vb.enabled = true;
  }
  return ret;
}

// drm_vblank_disable_and_save: the count keeps the appearance of having ticked all along.
void disable_and_save_locked(VblankSet& vs, VblankCrtc& vb) {
  if (!vb.enabled) return;
  update_count_locked(vs, vb, false);
  Crtc* crtc = crtc_of(*vs.dev, vb.pipe);
  if (crtc && crtc->funcs && crtc->funcs->disable_vblank) {
    AtomicSection atomic;
    crtc->funcs->disable_vblank(*crtc);
  }
  vb.enabled = false;
}

// vblank_disable_fn: the off-delay expired (or immediate disable).
void disable_fn(VblankSet& vs, unsigned pipe) {
  std::lock_guard<SpinLock> l(vs.lock);
  if (vs.dead) return;
  VblankCrtc& vb = vs.crtcs[pipe];
  if (vb.refcount == 0 && vb.enabled) {
    log_dbg(LogCat::vblank, "disabling vblank on crtc %u", pipe);
    disable_and_save_locked(vs, vb);
  }
}

// mod_timer(&vblank->disable_timer, now + offdelay), lazily: a put only moves the deadline, and
// an armed timer that fires before it re-arms itself for the rest. A get never cancels it
// (disable_fn re-checks the refcount), so a steady flip loop costs no timer traffic at all.
void start_disable_timer_locked(VblankSet& vs, VblankCrtc& vb, TimePoint when) {
  Executor& ex = vs.dev->world().executor();
  std::shared_ptr<VblankSet> keep = vs.self;
  unsigned pipe = vb.pipe;
  vb.disable_timer_expiry = when;
  vb.disable_timer = ex.post_at(
      when,
      [keep, pipe] {
        {
          std::lock_guard<SpinLock> l(keep->lock);
          if (keep->dead) return;
          VblankCrtc& v = keep->crtcs[pipe];
          v.disable_timer = 0;
          if (v.disable_deadline > v.disable_timer_expiry) {
            start_disable_timer_locked(*keep, v, v.disable_deadline);
            return;
          }
        }
        disable_fn(*keep, pipe);
      },
      "vblank.disable_timer");
}

void arm_disable_timer_locked(VblankSet& vs, VblankCrtc& vb) {
  Executor& ex = vs.dev->world().executor();
  vb.disable_deadline = ex.now() + std::chrono::milliseconds(vs.offdelay_ms);
  if (vb.disable_timer) {
    if (vb.disable_timer_expiry <= vb.disable_deadline) return;  // fires first, then re-arms
    ex.cancel(vb.disable_timer);                                    // off-delay was shortened
  }
  start_disable_timer_locked(vs, vb, vb.disable_deadline);
}

void vblank_release(DrmDevice& dev, VblankSet* vs) {
  std::shared_ptr<VblankSet> keep;
  {
    std::lock_guard<SpinLock> l(vs->lock);
    for (VblankCrtc& vb : vs->crtcs) {
      if (vb.enabled && dev.has_feature(DRIVER_MODESET))
        warn(LogCat::vblank, "vblank of crtc %u still enabled at cleanup (driver forgot crtc_vblank_off)", vb.pipe);
      if (vb.disable_timer) dev.world().executor().cancel(vb.disable_timer);
      vb.disable_timer = 0;
    }
    vs->dead = true;
    keep = std::move(vs->self);
  }
  dev.vblank = nullptr;
  // keep goes here; timers still holding a copy keep the memory until they run.
}

}  // namespace

// ---- internal API shared with vblank_ioctl.cpp ---------------------------------------------------

namespace vblank_detail {

VblankCrtc* slot(DrmDevice& dev, unsigned pipe) {
  VblankSet* vs = set_of(dev);
  if (!vs || pipe >= vs->crtcs.size()) return nullptr;
  return &vs->crtcs[pipe];
}

int get(DrmDevice& dev, unsigned pipe) {
  VblankSet* vs = set_of(dev);
  if (!vs) return -EINVAL;
  if (UDRM_WARN_ON(pipe >= vs->crtcs.size(), LogCat::vblank)) return -EINVAL;
  std::lock_guard<SpinLock> l(vs->lock);
  VblankCrtc& vb = vs->crtcs[pipe];
  if (vs->dead) return -EINVAL;
  if (++vb.refcount == 1) {
    int ret = enable_locked(*vs, vb);
    if (ret) --vb.refcount;
    return ret;
  }
  if (!vb.enabled) {
    --vb.refcount;
    return -EINVAL;
  }
  return 0;
}

void put(DrmDevice& dev, unsigned pipe) {
  VblankSet* vs = set_of(dev);
  if (!vs || UDRM_WARN_ON(pipe >= vs->crtcs.size(), LogCat::vblank)) return;
  std::lock_guard<SpinLock> l(vs->lock);
  VblankCrtc& vb = vs->crtcs[pipe];
  if (UDRM_WARN_ON(vb.refcount == 0, LogCat::vblank)) return;
  if (--vb.refcount != 0 || vs->dead) return;
  if (vs->offdelay_ms == 0) return;
  if (vs->offdelay_ms < 0) {
    disable_and_save_locked(*vs, vb);
  } else if (!vs->disable_immediate) {
    arm_disable_timer_locked(*vs, vb);
  }
}

uint64_t count_and_time(DrmDevice& dev, unsigned pipe, TimePoint* t) {
  VblankSet* vs = set_of(dev);
  if (!vs || pipe >= vs->crtcs.size()) {
    if (t) *t = now();
    return 0;
  }
  std::lock_guard<SpinLock> l(vs->lock);
  if (t) *t = vs->crtcs[pipe].time;
  return vs->crtcs[pipe].count;
}

void send_vblank_event(DrmDevice& dev, PendingVblankEvent* e, uint64_t seq, TimePoint t) {
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  switch (e->ev.base.type) {
    case DRM_EVENT_VBLANK:
    case DRM_EVENT_FLIP_COMPLETE:
      e->ev.vbl.sequence = static_cast<uint32_t>(seq);
      e->ev.vbl.tv_sec = static_cast<uint32_t>(ns / 1000000000);
      e->ev.vbl.tv_usec = static_cast<uint32_t>((ns % 1000000000) / 1000);
      if (e->ev.vbl.crtc_id == 0)
        if (Crtc* c = crtc_of(dev, e->pipe)) e->ev.vbl.crtc_id = c->id;
      break;
    case DRM_EVENT_CRTC_SEQUENCE:
      if (seq) e->ev.seq.sequence = seq;
      e->ev.seq.time_ns = ns;
      break;
    default:
      break;
  }
  send_event_timestamp(dev, e, t);
}

void arm_locked(VblankCrtc& vb, PendingVblankEvent* e) {
  e->pipe = vb.pipe;
  vb.events.push_back(*e);
}

}  // namespace vblank_detail

using namespace vblank_detail;

// ---- setup -----------------------------------------------------------------------------------------

int drm_vblank_init(DrmDevice& dev, unsigned num_crtcs) {
  if (UDRM_WARN_ON(dev.vblank != nullptr, LogCat::vblank)) return -EINVAL;
  if (UDRM_SHOULD_FAIL("kms.vblank_init")) return -ENOMEM;
  std::shared_ptr<VblankSet> vs;
  try {
    vs = std::make_shared<VblankSet>(dev, num_crtcs);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  vs->self = vs;
  dev.vblank = vs.get();
  return drmm_add_action_or_reset(dev, &vblank_release, vs.get(), "drm_vblank_init_release");
}

bool drm_dev_has_vblank(const DrmDevice& dev) { return dev.vblank != nullptr; }

void drm_vblank_set_offdelay(DrmDevice& dev, int ms) {
  if (VblankSet* vs = set_of(dev)) {
    std::lock_guard<SpinLock> l(vs->lock);
    vs->offdelay_ms = ms;
  }
}

void drm_vblank_set_disable_immediate(DrmDevice& dev, bool v) {
  if (VblankSet* vs = set_of(dev)) {
    std::lock_guard<SpinLock> l(vs->lock);
    vs->disable_immediate = v;
  }
}

void crtc_calc_timestamping_constants(Crtc& crtc, const DisplayMode& mode) {
  VblankSet* vs = set_of(*crtc.dev);
  if (!vs || crtc.index >= vs->crtcs.size()) return;
  int64_t framedur = 0;
  if (mode.clock > 0) {
    framedur = static_cast<int64_t>(mode.htotal) * mode.vtotal * 1000000 / mode.clock;
    if (mode.flags & DRM_MODE_FLAG_INTERLACE) framedur /= 2;  // field duration
  } else {
    log_err(LogCat::vblank, "crtc %u: invalid mode clock, no timestamping constants", crtc.index);
  }
  vs->crtcs[crtc.index].framedur_ns.store(framedur, std::memory_order_relaxed);
}

// ---- counting --------------------------------------------------------------------------------------

bool crtc_handle_vblank(Crtc& crtc) {
  DrmDevice& dev = *crtc.dev;
  VblankSet* vs = set_of(dev);
  if (!vs || crtc.index >= vs->crtcs.size()) return false;
  VblankCrtc& vb = vs->crtcs[crtc.index];
  UDRM_POINT("vblank.handle");
  VblankEventList due;
  uint64_t seq;
  TimePoint t;
  {
    std::lock_guard<SpinLock> el(dev.event_lock);
    {
      std::lock_guard<SpinLock> l(vs->lock);
      if (vs->dead || !vb.enabled) return false;
      update_count_locked(*vs, vb, true);
      seq = vb.count;
      t = vb.time;
    }
    vb.queue.wake_up_all();
    for (auto it = vb.events.begin(); it != vb.events.end();) {
      auto* e = static_cast<PendingVblankEvent*>(&*it);
      if (passed(seq, e->sequence)) {
        it = vb.events.erase(it);
        due.push_back(*e);
      } else {
        ++it;
      }
    }
  }
  trace_vblank(crtc.name.c_str(), seq);
  while (!due.empty()) {
    auto* e = static_cast<PendingVblankEvent*>(&due.front());
    due.pop_front();
    put(dev, crtc.index);
    send_vblank_event(dev, e, seq, t);
  }
  bool disable_now;
  {
    std::lock_guard<SpinLock> l(vs->lock);
    disable_now = vs->disable_immediate && vs->offdelay_ms > 0 && vb.refcount == 0 && vb.enabled;
  }
  if (disable_now) disable_fn(*vs, crtc.index);
  return true;
}

int crtc_vblank_get(Crtc& crtc) { return get(*crtc.dev, crtc.index); }
void crtc_vblank_put(Crtc& crtc) { put(*crtc.dev, crtc.index); }

uint64_t crtc_vblank_count(Crtc& crtc) {
  VblankCrtc* vb = slot(*crtc.dev, crtc.index);
  return vb ? vb->count.load(std::memory_order_acquire) : 0;
}
uint64_t crtc_vblank_count_and_time(Crtc& crtc, TimePoint* t) { return count_and_time(*crtc.dev, crtc.index, t); }

void crtc_vblank_on(Crtc& crtc) {
  VblankSet* vs = set_of(*crtc.dev);
  if (!vs || UDRM_WARN_ON(crtc.index >= vs->crtcs.size(), LogCat::vblank)) return;
  UDRM_POINT("vblank.on");
  std::lock_guard<SpinLock> l(vs->lock);
  VblankCrtc& vb = vs->crtcs[crtc.index];
  if (vb.inmodeset) {
    --vb.refcount;
    vb.inmodeset = false;
  }
  // drm_reset_vblank_timestamp: +1 so userspace never sees the same count across a modeset;
  // the timestamp is the driver's precise one or unknown (set at the next interrupt).
  TimePoint t{};
  Crtc* c = crtc_of(*vs->dev, vb.pipe);
  if (c && c->funcs && c->funcs->get_vblank_timestamp) {
    int max_error = 0;
    if (!c->funcs->get_vblank_timestamp(*c, &max_error, &t, false)) t = TimePoint{};
  }
  vb.count += 1;
  vb.time = t;
  if (vb.refcount != 0 || vs->offdelay_ms == 0) {
    int ret = enable_locked(*vs, vb);
    UDRM_WARN_ON(ret != 0, LogCat::vblank);
  }
}

void crtc_vblank_off(Crtc& crtc) {
  DrmDevice& dev = *crtc.dev;
  VblankSet* vs = set_of(dev);
  if (!vs || UDRM_WARN_ON(crtc.index >= vs->crtcs.size(), LogCat::vblank)) return;
  VblankCrtc& vb = vs->crtcs[crtc.index];
  UDRM_POINT("vblank.off");
  VblankEventList flush;
  uint64_t seq;
  TimePoint t;
  {
    std::lock_guard<SpinLock> el(dev.event_lock);
    {
      std::lock_guard<SpinLock> l(vs->lock);
      disable_and_save_locked(*vs, vb);
      // Hold a reference while off so later gets cannot re-enable the interrupt.
      if (!vb.inmodeset) {
        ++vb.refcount;
        vb.inmodeset = true;
      }
      seq = vb.count;
      t = vb.time;
    }
    vb.queue.wake_up_all();
    flush.splice(flush.end(), vb.events);
  }
  // Every armed event goes out now with the current count, in arming order (U11, V4).
  while (!flush.empty()) {
    auto* e = static_cast<PendingVblankEvent*>(&flush.front());
    flush.pop_front();
    log_dbg(LogCat::vblank, "sending premature vblank event on disable: wanted %llu, current %llu",
            static_cast<unsigned long long>(e->sequence), static_cast<unsigned long long>(seq));
    put(dev, crtc.index);
    send_vblank_event(dev, e, seq, t);
  }
}

void crtc_vblank_reset(Crtc& crtc) {
  DrmDevice& dev = *crtc.dev;
  VblankSet* vs = set_of(dev);
  if (!vs || crtc.index >= vs->crtcs.size()) return;
  VblankCrtc& vb = vs->crtcs[crtc.index];
  {
    std::lock_guard<SpinLock> l(vs->lock);
    if (!vb.inmodeset) {
      ++vb.refcount;
      vb.inmodeset = true;
    }
  }
  std::lock_guard<SpinLock> el(dev.event_lock);
  UDRM_WARN_ON(!vb.events.empty(), LogCat::vblank);
}

bool crtc_wait_vblank_count_change(Crtc& crtc, uint64_t last, Duration timeout) {
  VblankCrtc* vb = slot(*crtc.dev, crtc.index);
  if (!vb) return false;
  return vb->queue.wait_event_timeout([&] { return crtc_vblank_count(crtc) != last; }, timeout);
}

void crtc_wait_one_vblank(Crtc& crtc) {
  int ret = crtc_vblank_get(crtc);
  if (ret) {
    warn(LogCat::vblank, "vblank not available on crtc %u, ret=%d", crtc.index, ret);
    return;
  }
  uint64_t last = crtc_vblank_count(crtc);
  if (!crtc_wait_vblank_count_change(crtc, last, 100ms))
    warn(LogCat::vblank, "vblank wait timed out on crtc %u", crtc.index);
  crtc_vblank_put(crtc);
}

// ---- events ----------------------------------------------------------------------------------------

void crtc_send_vblank_event(Crtc& crtc, PendingVblankEvent* e) {
  if (!e) return;
  DrmDevice& dev = *crtc.dev;
  TimePoint t;
  uint64_t seq = 0;
  if (drm_dev_has_vblank(dev)) {
    seq = count_and_time(dev, crtc.index, &t);
  } else {
    t = now();
  }
  e->pipe = crtc.index;
  if (e->ev.base.type == DRM_EVENT_VBLANK || e->ev.base.type == DRM_EVENT_FLIP_COMPLETE) e->ev.vbl.crtc_id = crtc.id;
  send_vblank_event(dev, e, seq, t);
}

void crtc_arm_vblank_event(Crtc& crtc, PendingVblankEvent* e) {
  DrmDevice& dev = *crtc.dev;
  VblankCrtc* vb = slot(dev, crtc.index);
  if (UDRM_WARN_ON(!vb, LogCat::vblank)) {
    crtc_send_vblank_event(crtc, e);
    return;
  }
  if (e->ev.base.type == DRM_EVENT_VBLANK || e->ev.base.type == DRM_EVENT_FLIP_COMPLETE) e->ev.vbl.crtc_id = crtc.id;
  std::lock_guard<SpinLock> el(dev.event_lock);
  e->sequence = crtc_vblank_count(crtc) + 1;
  arm_locked(*vb, e);
}

void crtc_vblank_atomic_flush(Crtc& crtc, AtomicState& state) {
  DrmDevice& dev = *crtc.dev;
  CrtcState* cs = atomic_get_new_crtc_state(state, crtc);
  if (!cs) cs = crtc.state;
  if (!cs) return;
  PendingVblankEvent* send_now = nullptr;
  {
    std::lock_guard<SpinLock> el(dev.event_lock);
    PendingVblankEvent* e = cs->event;
    cs->event = nullptr;
    if (e) {
      VblankCrtc* vb = slot(dev, crtc.index);
      if (vb && crtc_vblank_get(crtc) == 0) {
        if (e->ev.base.type == DRM_EVENT_VBLANK || e->ev.base.type == DRM_EVENT_FLIP_COMPLETE)
          e->ev.vbl.crtc_id = crtc.id;
        e->sequence = crtc_vblank_count(crtc) + 1;
        arm_locked(*vb, e);
      } else {
        send_now = e;
      }
    }
  }
  if (send_now) crtc_send_vblank_event(crtc, send_now);
}

// ---- diagnostics -----------------------------------------------------------------------------------

bool crtc_vblank_irq_enabled(Crtc& crtc) {
  VblankCrtc* vb = slot(*crtc.dev, crtc.index);
  return vb && vb->enabled.load(std::memory_order_acquire);
}

int crtc_vblank_refcount(Crtc& crtc) {
  VblankSet* vs = set_of(*crtc.dev);
  if (!vs || crtc.index >= vs->crtcs.size()) return 0;
  std::lock_guard<SpinLock> l(vs->lock);
  const VblankCrtc& vb = vs->crtcs[crtc.index];
  return vb.refcount - (vb.inmodeset ? 1 : 0);
}

int64_t crtc_frame_duration_ns(Crtc& crtc) {
  VblankCrtc* vb = slot(*crtc.dev, crtc.index);
  return vb ? vb->framedur_ns.load(std::memory_order_relaxed) : 0;
}

}  // namespace udrm
