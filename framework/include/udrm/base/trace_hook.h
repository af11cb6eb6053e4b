// udrm/base/trace_hook.h — one process-wide tracing hook (the framework's tracepoints).
//
// The framework fires trace events from its hot paths: fake-IRQ dispatch, vblank handling,
// the atomic commit phases, bind/unbind/unplug, every devm/drmm release, DRM file open/close
// and the fate of each DRM event. A module (or the timeline writer, udrm/trace/timeline.h)
// registers a TraceHook table; the table lives in a CallbackSlot, so firing with no hook costs
// one load and a branch, and trace_hook_unregister() returns only when no CPU still runs the
// hook: the module's code may be unloaded (dlclose) right after. Entries left null are skipped.
//
// Pointers passed to a hook (names, objects used as identities) are valid only during the call:
// a hook copies what it keeps and never dereferences the identities.
//
// Lifetime: a registered table (and the code it points to) must stay valid until
// trace_hook_unregister() has returned. Context: trace_*(): any context; the hook runs in the
// firing context (interrupt / under spinlocks for irq, vblank, event and flip_done: never
// sleep). register: any context. unregister: process context, sleeps.
#pragma once
#include <cstdint>

#include "udrm/base/callback_slot.h"

namespace udrm {

/// The phases of an atomic update, as drm_atomic_helper_commit and its tail pass them.
enum class TraceCommit : uint8_t {
  check_begin,   // atomic_check_only entered (update = the AtomicState)
  check_end,     // atomic_check_only returned `ret`
  swap,          // swap_state installed crtc's new state (per CRTC, with its CrtcCommit)
  hw_done,       // commit_hw_done: the hardware is programmed (per CRTC)
  flip_done,     // the CRTC's event was sent: the new state is on screen (update unknown: null);
                 // or, before swap, nothing to wait for (CRTC off before and after, legacy
                 // cursor: update = the AtomicState)
  cleanup_done,  // commit_cleanup_done: old buffers released, the commit is finished (per CRTC)
};
/// Device lifetime events.
enum class TraceDevice : uint8_t {
  bind,         // a driver's probe succeeded (device name)
  unbind,       // __device_release_driver starts: remove, then the devm releases
  unbind_done,  // ... and finished
  unplug,       // drm_dev_unplug (the DRM driver's name)
};
/// devm (device-managed) or drmm (DRM-device-managed) resource.
enum class TraceRelease : uint8_t { devm, drmm };
/// DRM file lifetime.
enum class TraceFile : uint8_t { open, close, last_close };
/// What became of a DRM event.
enum class TraceEventFate : uint8_t {
  delivered,  // queued on its file's readable list
  cancelled,  // reserved, then cancelled before being sent (budget returned)
  detached,   // reserved, its file closed: freed when it is sent
  dropped,    // sent, never read: freed at the file's close
};

struct TraceHook {
  /// An interrupt handler is about to run (interrupt context). name: the IRQ action's name.
  void (*irq)(const char* name) = nullptr;
  /// An atomic commit phase. update: the AtomicState (null for flip_done); commit: the
  /// CrtcCommit (null for check_*); crtc: its name (null for check_*); ret: check_end's result.
  void (*commit)(TraceCommit phase, const void* update, const void* commit, const char* crtc, int ret) = nullptr;
  /// crtc_handle_vblank counted vblank `seq` on crtc (interrupt context).
  void (*vblank)(const char* crtc, uint64_t seq) = nullptr;
  /// Bind / unbind / unplug of the device named `dev`.
  void (*device)(TraceDevice ev, const char* dev) = nullptr;
  /// A managed resource `name` of `owner` (device / DRM driver name) is being released.
  void (*release)(TraceRelease kind, const char* owner, const char* name) = nullptr;
  /// A DRM file of driver `drv` was opened / released (last_close: the device's last file).
  void (*file)(TraceFile ev, const void* file, const char* drv) = nullptr;
  /// A DRM event of `type` (DRM_EVENT_*) for file met `fate`.
  void (*event)(const void* file, uint32_t type, TraceEventFate fate) = nullptr;
};

namespace detail {
extern CallbackSlot<TraceHook> g_trace_hook;
}

/// Install h. -EBUSY if another hook is registered, -EINVAL if h is null.
int trace_hook_register(const TraceHook* h);
/// Remove h (no-op if h is not the registered hook) and wait until no CPU runs it.
void trace_hook_unregister(const TraceHook* h);

inline void trace_irq(const char* name) {
  detail::g_trace_hook.call([name](const TraceHook& h) {
    if (h.irq) h.irq(name);
  });
}
inline void trace_commit(TraceCommit phase, const void* update, const void* commit, const char* crtc, int ret = 0) {
  detail::g_trace_hook.call([&](const TraceHook& h) {
    if (h.commit) h.commit(phase, update, commit, crtc, ret);
  });
}
inline void trace_vblank(const char* crtc, uint64_t seq) {
  detail::g_trace_hook.call([&](const TraceHook& h) {
    if (h.vblank) h.vblank(crtc, seq);
  });
}
inline void trace_device(TraceDevice ev, const char* dev) {
  detail::g_trace_hook.call([&](const TraceHook& h) {
    if (h.device) h.device(ev, dev);
  });
}
inline void trace_release(TraceRelease kind, const char* owner, const char* name) {
  detail::g_trace_hook.call([&](const TraceHook& h) {
    if (h.release) h.release(kind, owner, name);
  });
}
inline void trace_file(TraceFile ev, const void* file, const char* drv) {
  detail::g_trace_hook.call([&](const TraceHook& h) {
    if (h.file) h.file(ev, file, drv);
  });
}
inline void trace_event(const void* file, uint32_t type, TraceEventFate fate) {
  detail::g_trace_hook.call([&](const TraceHook& h) {
    if (h.event) h.event(file, type, fate);
  });
}

}  // namespace udrm
