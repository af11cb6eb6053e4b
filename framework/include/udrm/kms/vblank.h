// udrm/kms/vblank.h — vblank counting, timestamps, vblank events (drm_vblank.c).
//
// drm_vblank_init(dev, n) sets up one counter per CRTC. The driver's interrupt handler (or
// timer) calls crtc_handle_vblank, which advances the count, stamps the time, and sends the
// events armed for this count. crtc_vblank_get/put reference-count the interrupt: the first
// get calls funcs->enable_vblank, the last put arms a disable after vblank_offdelay (or at once
// with vblank_disable_immediate). crtc_vblank_on/off bracket an enabled CRTC; off sends every
// armed event at once with the current count (U11, V4) and refuses later gets.
//
// Lifetime: drmm (the vblank array lives until the final put); the off-delay timer is
// cancelled at crtc_vblank_off and at cleanup.
// Context: handle_vblank, arm/send event: atomic context (interrupt). get: any (-EINVAL when
// off). on/off: process context. Callable after unplug (events must still be sent).
#pragma once
#include <cstdint>

#include <drm.h>

#include "udrm/base/time.h"
#include "udrm/drm/event.h"
#include "udrm/kms/mode.h"

namespace udrm {

class Crtc;
struct CrtcState;
class AtomicState;
class DrmDevice;
class DrmFile;

/// drm_vblank_init: -ENOMEM. drmm-managed.
int drm_vblank_init(DrmDevice& dev, unsigned num_crtcs);
/// drm_dev_has_vblank.
bool drm_dev_has_vblank(const DrmDevice& dev);

/// drm_crtc_handle_vblank: false if vblank is not enabled for this CRTC. Atomic context.
bool crtc_handle_vblank(Crtc& crtc);
/// drm_crtc_vblank_get: 0, or -EINVAL when the CRTC's vblank is off / not initialised.
int crtc_vblank_get(Crtc& crtc);
void crtc_vblank_put(Crtc& crtc);
/// drm_crtc_vblank_on / off / reset.
void crtc_vblank_on(Crtc& crtc);
void crtc_vblank_off(Crtc& crtc);
void crtc_vblank_reset(Crtc& crtc);
/// drm_crtc_vblank_count / _and_time / drm_crtc_accurate_vblank_count.
uint64_t crtc_vblank_count(Crtc& crtc);
uint64_t crtc_vblank_count_and_time(Crtc& crtc, TimePoint* t);
/// drm_crtc_wait_one_vblank: waits up to 100 ms for the next vblank; WARN on timeout.
void crtc_wait_one_vblank(Crtc& crtc);
/// Sleep until the CRTC's count differs from `last` (also woken by vblank_off); false on
/// timeout (the wait of drm_atomic_helper_wait_for_vblanks). Caller holds a vblank reference.
bool crtc_wait_vblank_count_change(Crtc& crtc, uint64_t last, Duration timeout);

/// drm_crtc_send_vblank_event: send now with the current count and time (count 0 and now()
/// without drm_vblank_init).
void crtc_send_vblank_event(Crtc& crtc, PendingVblankEvent* e);
/// drm_crtc_arm_vblank_event: send at the next vblank. Caller holds a vblank reference, which
/// the event takes over. udrm: takes dev.event_lock itself (the caller must not hold it).
void crtc_arm_vblank_event(Crtc& crtc, PendingVblankEvent* e);
/// The atomic_flush pattern (drm_crtc_vblank_atomic_flush): under the event lock, arm the new
/// state's event if crtc_vblank_get succeeds, else send it now; clear the state's event.
/// Also correct after unplug: the event is never skipped.
void crtc_vblank_atomic_flush(Crtc& crtc, AtomicState& state);

/// Vblank timing: the frame period of the CRTC's current mode (drm_calc_timestamping_constants).
void crtc_calc_timestamping_constants(Crtc& crtc, const DisplayMode& mode);

/// vblank_offdelay in milliseconds (drm.vblankoffdelay: 5000; 0 = never; <0 = immediately).
/// The vblank of every CRTC starts as the kernel's does after drm_vblank_init: gets enable
/// it; atomic drivers call crtc_vblank_reset from their CRTC reset to start "off" until
/// crtc_vblank_on.
void drm_vblank_set_offdelay(DrmDevice& dev, int ms);
/// dev->vblank_disable_immediate.
void drm_vblank_set_disable_immediate(DrmDevice& dev, bool v);

/// Ioctl backends (called by the ioctl layer with the file): WAIT_VBLANK, GET_SEQUENCE,
/// QUEUE_SEQUENCE, with drm_wait_vblank_ioctl's rules (blocking waits end at the target
/// count, when vblank is switched off, or after 3 s with -EBUSY; never -EAGAIN).
int vblank_ioctl_wait(DrmDevice& dev, DrmFile& file, drm_wait_vblank* arg);
int vblank_ioctl_get_sequence(DrmDevice& dev, DrmFile& file, drm_crtc_get_sequence* arg);
int vblank_ioctl_queue_sequence(DrmDevice& dev, DrmFile& file, drm_crtc_queue_sequence* arg);

/// Diagnostics for tests (V1–V3): is the vblank interrupt enabled, and its refcount.
bool crtc_vblank_irq_enabled(Crtc& crtc);
int crtc_vblank_refcount(Crtc& crtc);
/// Frame duration in ns for this CRTC (0 before a mode).
int64_t crtc_frame_duration_ns(Crtc& crtc);

}  // namespace udrm
