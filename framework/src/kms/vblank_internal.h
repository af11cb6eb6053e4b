// vblank_internal.h — the per-device vblank bookkeeping shared by vblank.cpp and
// vblank_ioctl.cpp (struct drm_vblank_crtc). Not a public header.
//
// Locks: dev.event_lock (armed events) may be taken before VblankSet::lock (counters, refcount,
// enable state), never the other way round. Driver enable/disable hooks run under
// VblankSet::lock. send_event takes dev.event_lock itself, so events are always sent after
// both locks are dropped.
//
// Lifetime: the VblankSet is shared-owned by the drmm cleanup action and by every timer that
// may still fire (off-delay timers), so a late timer finds it marked dead instead of freed.
// Context: as vblank.h.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/intrusive/list.hpp>

#include "udrm/base/executor.h"
#include "udrm/base/spinlock.h"
#include "udrm/base/waitqueue.h"
#include "udrm/drm/event.h"

namespace udrm {

class Crtc;
class DrmDevice;

using VblankEventList = boost::intrusive::list<
    PendingEvent,
    boost::intrusive::member_hook<PendingEvent, boost::intrusive::list_member_hook<>, &PendingEvent::link>>;

// Written under VblankSet::lock; count, enabled and framedur_ns may also be read without it
// (READ_ONCE in the kernel), which is what driver hooks running under the lock must do.
struct VblankCrtc {
  unsigned pipe = 0;
  std::atomic<uint64_t> count{0};
  TimePoint time{};                   // timestamp of the vblank `count` (under the lock)
  int refcount = 0;                   // users; off() holds one while the CRTC is off ("inmodeset")
  std::atomic<bool> enabled{false};   // interrupt on (driver's enable_vblank succeeded)
  bool inmodeset = false;             // between vblank_off/reset and vblank_on
  std::atomic<int64_t> framedur_ns{0};  // from the mode (crtc_calc_timestamping_constants)
  TimerId disable_timer = 0;          // armed off-delay timer (0: none)
  TimePoint disable_timer_expiry{};   // when the armed timer fires
  TimePoint disable_deadline{};       // last put + off-delay: the timer re-arms until then
  WaitQueue queue{"vblank.queue"};  // woken at every vblank and at off
  VblankEventList events;           // armed, in arming order (under dev.event_lock)
};

struct VblankSet {
  explicit VblankSet(DrmDevice& d, unsigned n) : dev(&d), crtcs(n) {
    for (unsigned i = 0; i < n; ++i) crtcs[i].pipe = i;
  }
  DrmDevice* dev;
  SpinLock lock;  // dev->vbl_lock + vblank_time_lock
  std::vector<VblankCrtc> crtcs;
  int offdelay_ms = 5000;
  bool disable_immediate = false;
  bool dead = false;  // cleaned up: timers that still fire do nothing
  std::shared_ptr<VblankSet> self;  // the owning reference (dropped at cleanup)
};

namespace vblank_detail {
/// The CRTC's vblank slot, nullptr if vblank is not initialised or the index is out of range.
VblankCrtc* slot(DrmDevice& dev, unsigned pipe);
/// drm_vblank_get / drm_vblank_put by pipe.
int get(DrmDevice& dev, unsigned pipe);
void put(DrmDevice& dev, unsigned pipe);
/// Count and timestamp (under the lock).
uint64_t count_and_time(DrmDevice& dev, unsigned pipe, TimePoint* t);
/// Fill the vblank/sequence payload and send (takes dev.event_lock; call without locks).
void send_vblank_event(DrmDevice& dev, PendingVblankEvent* e, uint64_t seq, TimePoint t);
/// drm_vblank_passed: has `seq` reached `ref`?
inline bool passed(uint64_t seq, uint64_t ref) { return seq - ref <= (1ull << 23); }
/// Arm e (target e->sequence) on pipe. Caller holds dev.event_lock and a vblank reference,
/// which the event takes over.
void arm_locked(VblankCrtc& vb, PendingVblankEvent* e);
}  // namespace vblank_detail

}  // namespace udrm
