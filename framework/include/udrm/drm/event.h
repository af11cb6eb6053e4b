// udrm/drm/event.h — struct drm_pending_event: events delivered through a DRM file.
//
// An event is reserved against a file at ioctl time (event_reserve_init: the file's 4096-byte
// event_space budget shrinks; -ENOMEM when it would go negative), later sent exactly once
// (drm_send_event: completes its completion, moves it to the file's readable queue and wakes
// pollers; if the file was closed meanwhile the event is just freed) or cancelled before being
// sent (event_cancel_free: budget returned). Drivers send unconditionally — even after unplug.
//
// Lifetime: a PendingEvent is owned by whoever holds it pending (the CRTC state, the vblank
// queue) until sent; then by the file's queue until read; freed by read, close or cancel.
// Context: send/cancel from any context including atomic (interrupt): they take the device's
// event spinlock only. reserve: process context.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include <drm.h>

#include <boost/intrusive/list.hpp>

#include "udrm/base/completion.h"
#include "udrm/base/time.h"

namespace udrm {

class DrmDevice;
class DrmFile;

struct PendingEvent {
  boost::intrusive::list_member_hook<> link;          // file->event_list (sent, unread)
  boost::intrusive::list_member_hook<> pending_link;  // file->pending_event_list (reserved)
  drm_event* event = nullptr;          // header + payload (points into the subclass)
  Completion* completion = nullptr;    // completed when sent
  void (*completion_release)(Completion*) = nullptr;
  DrmFile* file_priv = nullptr;        // nullptr once the file is closed
  void (*destroy)(PendingEvent*) = nullptr;  // default: delete (virtual dtor)

  PendingEvent() = default;
  PendingEvent(const PendingEvent&) = delete;
  virtual ~PendingEvent() = default;
};

namespace detail {
/// Events of closed files, counted at the file's release (drm_events_release): reserved but not
/// yet sent (detached: the later send frees them) and sent but never read (freed there).
inline std::atomic<uint64_t> events_closed_pending{0};
inline std::atomic<uint64_t> events_closed_unread{0};
}  // namespace detail
/// Events dropped because their file was closed, since the process started (tests balance
/// requested == read + these).
inline uint64_t events_dropped_closed_pending() noexcept { return detail::events_closed_pending.load(); }
inline uint64_t events_dropped_closed_unread() noexcept { return detail::events_closed_unread.load(); }

/// A vblank / flip-complete / CRTC-sequence event.
struct PendingVblankEvent : PendingEvent {
  unsigned pipe = 0;
  uint64_t sequence = 0;
  union {
    drm_event base;
    drm_event_vblank vbl;
    drm_event_crtc_sequence seq;
  } ev{};
  PendingVblankEvent() { event = &ev.base; }
};

/// drm_event_reserve_init(_locked): attach e to file, reserve e->event->length bytes of the
/// budget; -ENOMEM when the budget is exhausted. ev is copied into e->event's header.
int event_reserve_init(DrmDevice& dev, DrmFile& file, PendingEvent* e, const drm_event* ev);
/// drm_event_cancel_free: return the budget and free e (never sent).
void event_cancel_free(DrmDevice& dev, PendingEvent* e);
/// drm_send_event(_locked): complete, queue on the file (or free if it was closed), wake.
void send_event(DrmDevice& dev, PendingEvent* e);
/// drm_send_event_timestamp_locked: same, with the timestamp used by fences (vblank time).
void send_event_timestamp(DrmDevice& dev, PendingEvent* e, TimePoint t);

/// A PendingVblankEvent for a page-flip / atomic event (DRM_EVENT_FLIP_COMPLETE, user_data),
/// reserved against file. -ENOMEM (allocation or budget).
int create_flip_event(DrmDevice& dev, DrmFile& file, uint64_t user_data, PendingVblankEvent** out);

}  // namespace udrm
