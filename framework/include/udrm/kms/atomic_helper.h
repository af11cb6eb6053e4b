// udrm/kms/atomic_helper.h — the atomic helper library (drm_atomic_helper.c,
// drm_atomic_state_helper.c) and the legacy-on-atomic entry points.
//
// atomic_helper_commit is the kernel's commit flow (kernel-semantics §5.2): setup_commit
// (per-CRTC CrtcCommit, -EBUSY for a nonblocking commit while the previous flip is pending,
// stall on the commit two back, internal event when none was asked for), prepare_planes,
// swap_state (waits for previous hw_done), then commit_tail inline (blocking) or on the
// system unbound workqueue (nonblocking). commit_tail = wait_for_dependencies → driver
// atomic_commit_tail (default: disables → planes → enables → fake_vblank → hw_done →
// wait_for_vblanks/flip_done → cleanup_planes) → cleanup_done.
//
// Every requested event is delivered exactly once, also when the CRTC is disabled by the
// commit or the device is unplugged during it (the helpers never skip event completion;
// drivers gate hardware access only).
//
// Named points for the explorer: atomic.setup_commit, atomic.stall, atomic.swap_state,
// atomic.commit_work, atomic.hw_done, atomic.flip_done, atomic.cleanup_done; vblank.handle,
// vblank.on, vblank.off.
//
// Lifetime: a commit in flight holds the AtomicState (which holds the DrmDevice).
// Context: process context, may sleep; callable after unplug (shutdown, FB removal commits).
#pragma once
#include <cstdint>

#include "udrm/kms/atomic.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/plane.h"

namespace udrm {

// ---- check -----------------------------------------------------------------------------------
/// drm_atomic_helper_check = check_modeset + check_planes (+ normalize zpos when enabled).
int atomic_helper_check(DrmDevice& dev, AtomicState& state);
/// drm_atomic_helper_check_modeset: mode_changed/active_changed/connectors_changed, encoder
/// routing, ALLOW_MODESET enforcement (-EINVAL from atomic_check_only when a modeset is needed
/// without it), mode_valid hooks.
int atomic_helper_check_modeset(DrmDevice& dev, AtomicState& state);
int atomic_helper_check_planes(DrmDevice& dev, AtomicState& state);
/// drm_atomic_helper_check_plane_state: clip src/dst against the CRTC mode, compute visible.
int atomic_helper_check_plane_state(PlaneState& ps, const CrtcState* cs, int min_scale, int max_scale,
                                    bool can_position, bool can_update_disabled);
constexpr int kPlaneNoScaling = 1 << 16;  // DRM_PLANE_NO_SCALING
/// For CrtcHelperFuncs::mode_valid: -EINVAL when the mode refreshes faster than max_hz (or has
/// no valid timing). vkms rejects > 1000 Hz (kernel-semantics §6.2 rule 7, V8): a faster
/// timer would storm the executor.
int crtc_mode_valid_max_vrefresh(const DisplayMode& mode, int max_hz);

// ---- commit ----------------------------------------------------------------------------------
int atomic_helper_commit(DrmDevice& dev, AtomicState& state, bool nonblock);
int atomic_helper_setup_commit(AtomicState& state, bool nonblock);
int atomic_helper_prepare_planes(DrmDevice& dev, AtomicState& state);
void atomic_helper_cleanup_planes(DrmDevice& dev, AtomicState& old_state);
/// Waits for previous hw_done (stall=true) interruptibly: -ERESTARTSYS when a signal is
/// pending for the calling task (base/signal.h), state untouched; else 0.
int atomic_helper_swap_state(AtomicState& state, bool stall);
void atomic_helper_wait_for_dependencies(AtomicState& old_state);
void atomic_helper_commit_tail(AtomicState& old_state);
void atomic_helper_commit_tail_rpm(AtomicState& old_state);
void atomic_helper_commit_modeset_disables(DrmDevice& dev, AtomicState& old_state);
void atomic_helper_commit_planes(DrmDevice& dev, AtomicState& old_state, uint32_t flags);
void atomic_helper_commit_modeset_enables(DrmDevice& dev, AtomicState& old_state);
void atomic_helper_fake_vblank(AtomicState& old_state);
void atomic_helper_commit_hw_done(AtomicState& old_state);
void atomic_helper_wait_for_flip_done(DrmDevice& dev, AtomicState& old_state);
void atomic_helper_wait_for_vblanks(DrmDevice& dev, AtomicState& old_state);
void atomic_helper_commit_cleanup_done(AtomicState& old_state);
constexpr uint32_t kCommitPlaneActiveOnly = 1u << 0;  // DRM_PLANE_COMMIT_ACTIVE_ONLY

// ---- state helpers ---------------------------------------------------------------------------
/// Destroy a state with the object's atomic_destroy_state hook, or the helper when it has none.
void crtc_destroy_state(Crtc& crtc, CrtcState* s);
void plane_destroy_state(Plane& plane, PlaneState* s);
void connector_destroy_state(Connector& c, ConnectorState* s);
void atomic_helper_crtc_reset(Crtc& crtc);
/// __drm_atomic_helper_crtc_duplicate_state: after copying, reset the transient fields.
void atomic_helper_crtc_duplicate_state_reset(CrtcState& s);
CrtcState* atomic_helper_crtc_duplicate_state(Crtc& crtc);
void atomic_helper_crtc_destroy_state(Crtc& crtc, CrtcState* s);
void atomic_helper_plane_reset(Plane& plane);
void atomic_helper_plane_duplicate_state_reset(PlaneState& s);
PlaneState* atomic_helper_plane_duplicate_state(Plane& plane);
void atomic_helper_plane_destroy_state(Plane& plane, PlaneState* s);
void atomic_helper_connector_reset(Connector& c);
void atomic_helper_connector_duplicate_state_reset(ConnectorState& s);
ConnectorState* atomic_helper_connector_duplicate_state(Connector& c);
void atomic_helper_connector_destroy_state(Connector& c, ConnectorState* s);

// ---- shutdown / suspend ----------------------------------------------------------------------
/// drm_atomic_helper_disable_all: every CRTC inactive, planes detached, one blocking commit.
/// Caller holds mode_config(dev)->mutex.
int atomic_helper_disable_all(DrmDevice& dev);
/// drm_atomic_helper_shutdown: takes mode_config(dev)->mutex, disable_all; failure is only
/// logged. Works after unplug (drivers gate their hardware access, events still go out).
void atomic_helper_shutdown(DrmDevice& dev);
/// drm_atomic_helper_duplicate_state: a copy of every object's current state.
Ref<AtomicState> atomic_helper_duplicate_state(DrmDevice& dev);

// ---- legacy on atomic (drm_atomic_helper_set_config & co.) -----------------------------------
// Callers (the ioctl layer) hold mode_config(dev)->mutex. Blocking commits except page_flip.
/// SETCRTC: fb nullptr + mode nullptr disables. connectors by pointer.
int atomic_helper_set_config(Crtc& crtc, Framebuffer* fb, const DisplayMode* mode, uint32_t x, uint32_t y,
                             Connector* const* connectors, unsigned num_connectors, DrmFile* file);
/// SETPLANE (drm_atomic_helper_update_plane / disable_plane).
int atomic_helper_update_plane(Plane& plane, Crtc& crtc, Framebuffer* fb, int32_t crtc_x, int32_t crtc_y,
                               uint32_t crtc_w, uint32_t crtc_h, uint32_t src_x, uint32_t src_y, uint32_t src_w,
                               uint32_t src_h, bool legacy_cursor, DrmFile* file);
int atomic_helper_disable_plane(Plane& plane, DrmFile* file);
/// PAGE_FLIP (drm_atomic_helper_page_flip): nonblocking, event (flags
/// DRM_MODE_PAGE_FLIP_EVENT) reserved against file with user_data; -EBUSY if a flip is pending.
int atomic_helper_page_flip(Crtc& crtc, Framebuffer* fb, uint32_t flags, uint64_t user_data, DrmFile* file);
/// GAMMA (drm_atomic_helper_legacy_gamma_set): builds a GAMMA_LUT blob.
int atomic_helper_legacy_gamma_set(Crtc& crtc, const uint16_t* r, const uint16_t* g, const uint16_t* b,
                                   uint32_t size);
/// DPMS on a connector (drm_atomic_helper_connector_dpms / set_property of "DPMS").
int atomic_helper_connector_dpms(Connector& c, int mode);

}  // namespace udrm
