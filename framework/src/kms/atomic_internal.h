// atomic_internal.h — helpers shared by the atomic core files (atomic*.cpp). Not public.
//
// Lifetime/Context: as udrm/kms/atomic.h.
#pragma once

namespace udrm {

class DrmDevice;
struct CrtcState;

/// An event of a new CRTC state that will not be committed: unhook it from its commit's
/// flip_done (dropping the reference the completion held), free it if it is the internal event
/// setup_commit allocated, and cancel a userspace event when cancel_user_event (else leave it
/// for the caller). Clears s.event whenever the event is gone.
void atomic_state_abort_crtc_event(DrmDevice& dev, CrtcState& s, bool cancel_user_event);

}  // namespace udrm
