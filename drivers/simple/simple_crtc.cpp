// udrm-simple CRTC (vkms_crtc.c): vblank from the fake timing generator, the >1000 Hz rule,
// event hand-off in atomic_flush / atomic_disable, composer state publication, CRC source.
#include <cstring>
#include <new>
#include <mutex>

#include "simple_drv.h"
#include "udrm/base/context.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/vblank.h"

namespace udrm::drivers::simple {
namespace {

using namespace std::chrono_literals;

/// vkms' 2026 rule: a mode faster than 1000 Hz would turn the vblank timer into a storm.
bool mode_too_fast(const DisplayMode& m) {
  Duration p = m.frame_period();
  return p > Duration::zero() && p < 1ms;
}

void crtc_reset(Crtc& crtc) {
  if (crtc.state) {
    atomic_helper_crtc_destroy_state(crtc, crtc.state);
    crtc.state = nullptr;
  }
  auto* s = new SimpleCrtcState();
  s->crtc = &crtc;
  crtc.state = s;
}

CrtcState* crtc_duplicate_state(Crtc& crtc) {
  if (!crtc.state) return nullptr;
  auto* s = new (std::nothrow) SimpleCrtcState(*static_cast<SimpleCrtcState*>(crtc.state));
  if (!s) return nullptr;
  atomic_helper_crtc_duplicate_state_reset(*s);
  s->active_planes.clear();
  return s;
}

// Context: atomic (vblank lock). The timer is hardware: only inside the gate.
int crtc_enable_vblank(Crtc& crtc) {
  SimpleDevice& s = to_simple(crtc);
  if (auto g = s.dev_enter()) return s.tg->start();
  return -ENODEV;
}

void crtc_disable_vblank(Crtc& crtc) {
  SimpleDevice& s = to_simple(crtc);
  if (auto g = s.dev_enter()) {
    AtomicSection atomic;  // documented context: cancel only, never wait for the callback
    s.tg->stop();
  }
}

bool crtc_get_vblank_timestamp(Crtc& crtc, int* max_error, TimePoint* vblank_time, bool in_vblank_irq) {
  SimpleDevice& s = to_simple(crtc);
  // Immediate mode (benchmarks) has no frame period: vblanks come whenever a flip is armed, so
  // a timestamp-based count would call most of them "redundant" (closer than half a frame)
  // and drop their events. Without a precise timestamp the core counts one per interrupt.
  if (s.immediate_vblank) return false;
  TimePoint t{};
  if (in_vblank_irq) {
    t = TimePoint(Duration(s.irq_timestamp_ns.load(std::memory_order_relaxed)));
  } else if (auto g = s.dev_enter()) {
    // A stopped generator knows no current vblank: let the core count from the next irq.
    if (s.tg->running()) t = s.tg->last_vblank();
  }
  if (t == TimePoint{}) return false;
  if (max_error) *max_error = 0;
  *vblank_time = t;
  return true;
}

int crtc_set_crc_source(Crtc& crtc, const char* source) {
  bool enable = source && std::strcmp(source, "auto") == 0;
  if (source && !enable && std::strcmp(source, "none") != 0) return -EINVAL;
  simple_set_composer(to_simple(crtc), enable);
  return 0;
}

int crtc_mode_valid(Crtc&, const DisplayMode& mode) { return mode_too_fast(mode) ? -EINVAL : 0; }

int crtc_atomic_check(Crtc& crtc, AtomicState& state) {
  auto* cs = static_cast<SimpleCrtcState*>(atomic_get_new_crtc_state(state, crtc));
  if (!cs) return 0;
  if (cs->enable && mode_too_fast(cs->mode)) return -EINVAL;
  // Gather the visible planes, bottom to top (vkms_crtc_atomic_check).
  if (int ret = atomic_add_affected_planes(state, crtc)) return ret;
  cs->active_planes.clear();
  if (!cs->active) return 0;
  for (Plane* p : mode_config(*crtc.dev)->planes) {
    if (!(cs->plane_mask & p->mask())) continue;
    PlaneState* ps = atomic_get_new_plane_state(state, *p);
    if (!ps || !ps->visible) continue;
    cs->active_planes.push_back(static_cast<SimplePlaneState*>(ps));
  }
  return 0;
}

void crtc_atomic_begin(Crtc&, AtomicState&) { UDRM_POINT("simple.atomic_begin"); }

void crtc_atomic_flush(Crtc& crtc, AtomicState& state) {
  SimpleDevice& s = to_simple(crtc);
  CrtcState* ns = atomic_get_new_crtc_state(state, crtc);
  UDRM_POINT("simple.atomic_flush");
  const bool had_event = ns && ns->event;
  crtc_vblank_atomic_flush(crtc, state);  // arm, or send now if vblank cannot be enabled
  if (had_event && s.immediate_vblank) {
    if (auto g = s.dev_enter()) s.tg->arm();
  }
  std::lock_guard<SpinLock> l(s.composer_lock);
  s.composer_state = static_cast<SimpleCrtcState*>(crtc.state);
}

void crtc_atomic_enable(Crtc& crtc, AtomicState&) {
  SimpleDevice& s = to_simple(crtc);
  const DisplayMode& m = crtc.state->mode;
  UDRM_POINT("simple.atomic_enable");
  crtc_calc_timestamping_constants(crtc, m);
  if (auto g = s.dev_enter()) {
    fakehw::VideoTimings t;
    t.clock_khz = static_cast<uint32_t>(m.clock);
    t.hdisplay = m.hdisplay;
    t.htotal = m.htotal;
    t.vdisplay = m.vdisplay;
    t.vtotal = m.vtotal;
    if (int ret = s.tg->set_timings(t)) log_err(LogCat::driver, "udrm-simple: timing generator refused the mode (%d)", ret);
  }
  crtc_vblank_on(crtc);
}

void crtc_atomic_disable(Crtc& crtc, AtomicState& state) {
  UDRM_POINT("simple.atomic_disable");
  crtc_vblank_off(crtc);  // stops the timer (gated) and sends every armed event
  CrtcState* ns = atomic_get_new_crtc_state(state, crtc);
  if (ns && ns->event && !ns->active) {
    crtc_send_vblank_event(crtc, ns->event);
    ns->event = nullptr;
  }
}

const CrtcFuncs kCrtcFuncs = [] {
  CrtcFuncs f;
  f.reset = crtc_reset;
  f.atomic_duplicate_state = crtc_duplicate_state;
  f.enable_vblank = crtc_enable_vblank;
  f.disable_vblank = crtc_disable_vblank;
  f.get_vblank_timestamp = crtc_get_vblank_timestamp;
  f.set_crc_source = crtc_set_crc_source;
  return f;
}();

const CrtcHelperFuncs kCrtcHelperFuncs = [] {
  CrtcHelperFuncs f;
  f.mode_valid = crtc_mode_valid;
  f.atomic_check = crtc_atomic_check;
  f.atomic_begin = crtc_atomic_begin;
  f.atomic_flush = crtc_atomic_flush;
  f.atomic_enable = crtc_atomic_enable;
  f.atomic_disable = crtc_atomic_disable;
  return f;
}();

}  // namespace

int simple_crtc_init(SimpleDevice& s) {
  s.crtc.sdev = &s;
  int ret = drmm_crtc_init_with_planes(s, s.crtc, &s.primary, &s.cursor, &kCrtcFuncs, nullptr);
  if (ret) return ret;
  crtc_helper_add(s.crtc, &kCrtcHelperFuncs);
  return 0;
}

void simple_vblank_irq(SimpleDevice& s, uint64_t /*frame*/, TimePoint ts) {
  UDRM_POINT("simple.vblank");
  s.irq_timestamp_ns.store(ts.time_since_epoch().count(), std::memory_order_relaxed);
  if (!crtc_handle_vblank(s.crtc)) return;  // vblank already off: a late timer
  const uint64_t frame = crtc_vblank_count(s.crtc);
  bool queue = false;
  {
    std::lock_guard<SpinLock> l(s.composer_lock);
    if (s.composer_enabled && s.composer_state && s.composer_state->active) {
      // frame_start moves only once the worker has sampled the previous range (V5).
      if (!s.crc_pending) s.frame_start = frame;
      s.frame_end = frame;
      s.crc_pending = true;
      queue = true;
    }
  }
  if (queue) s.composer_wq->queue(s.composer_work);
}

}  // namespace udrm::drivers::simple
