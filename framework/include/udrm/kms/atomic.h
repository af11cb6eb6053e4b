// udrm/kms/atomic.h — atomic modesetting state: per-object states, the update (AtomicState) and
// commit tracking (struct drm_crtc_commit).
//
// Each CRTC, plane and connector has a current state (obj.state). An update duplicates the
// states it touches into an AtomicState (atomic_get_*_state), edits the copies, is checked,
// and is then swapped in (atomic_helper_swap_state): from then on the AtomicState holds the
// *old* states until it is freed. Drivers subclass states (struct my_crtc_state : CrtcState)
// and provide duplicate/destroy hooks, as in the kernel.
//
// CrtcCommit tracks one CRTC's part of one commit: hw_done, flip_done, cleanup_done. The CRTC
// keeps the list of its commits (newest first) for stalls and EBUSY decisions.
//
// Events: a new CRTC state's event (CrtcState::event) belongs to the update until it is
// swapped in; then the driver consumes it (atomic_flush / atomic_disable / fake vblank). If the
// update fails or is only checked, events still in its new states when it is cleared or freed
// are cancelled there (budget returned); a caller that cancels one itself must set
// CrtcState::event to nullptr.
//
// Lifetime: AtomicState is Ref-counted; it holds a reference on the DrmDevice (so a commit in
// flight delays the final put) and owns its states (the new ones until swap, the old ones
// after). CrtcCommit is Ref-counted: the CRTC's commit list, states, the update and the flip
// event's completion each hold one.
// Context: building/checking in process context under the mode-config mutex; states are
// read by commit_tail (worker) after swap without the mutex.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/intrusive/list.hpp>

#include "udrm/base/completion.h"
#include "udrm/base/refcount.h"
#include "udrm/base/workqueue.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/mode.h"
#include "udrm/kms/property.h"

namespace udrm {

class AtomicState;
class Connector;
class Crtc;
class DrmDevice;
class DrmFile;
class Encoder;
class Plane;
struct PendingVblankEvent;

namespace detail {
/// Live CrtcCommit / AtomicState objects in this process (tests check the balance).
inline std::atomic<long> crtc_commits_live{0};
inline std::atomic<long> atomic_states_live{0};
}  // namespace detail
inline long crtc_commit_live_count() noexcept { return detail::crtc_commits_live.load(); }
inline long atomic_state_live_count() noexcept { return detail::atomic_states_live.load(); }

class CrtcCommit;
/// flip_done knows its commit: the event's completion_release finds it from the Completion*.
class FlipDoneCompletion : public Completion {
 public:
  explicit FlipDoneCompletion(CrtcCommit* c) noexcept : Completion("flip_done"), commit(c) {}
  CrtcCommit* const commit;
};

/// struct drm_crtc_commit.
class CrtcCommit : public RefCounted<CrtcCommit>, public boost::intrusive::list_base_hook<> {
 public:
  explicit CrtcCommit(Crtc* c) : crtc(c) { ++detail::crtc_commits_live; }
  ~CrtcCommit() { --detail::crtc_commits_live; }
  CrtcCommit(const CrtcCommit&) = delete;
  CrtcCommit& operator=(const CrtcCommit&) = delete;
  Crtc* crtc;              // nullptr for a state's fake commit
  FlipDoneCompletion flip_done{this};  // the new state is on screen (the CRTC's event was sent)
  Completion hw_done{"hw_done"};            // hardware programmed; no more modeset state access
  Completion cleanup_done{"cleanup_done"};  // old buffers released; always the last
  /// The internal event setup_commit allocated (userspace asked for none); owned here until
  /// swap_state hands it to the commit (then freed when sent).
  PendingVblankEvent* event = nullptr;
  bool abort_completion = false;        // an extra ref is held for the event's completion
  uint64_t seqno = 0;                   // debug: monotonically increasing per device

  void kref_release() noexcept { delete this; }
};

/// drm_crtc_commit_wait: hw_done then flip_done, 10 s each (virtual time in the simulator).
/// -ETIMEDOUT after logging "commit wait timed out", as the kernel does.
int crtc_commit_wait(CrtcCommit* commit);

/// A pointer a state holds only while it is in flight (the CRTC event). Copying a state (the
/// helpers' duplicate_state) yields null without reading the source: the kernel's duplicate
/// resets the event anyway, and the commit worker of the state being copied may be consuming it
/// at that very moment (atomic_flush takes crtc->state->event while an unbind duplicates
/// crtc->state) — a value never used, but a data race if it were read.
template <class T>
class TransientPtr {
 public:
  TransientPtr() noexcept = default;
  TransientPtr(T* p) noexcept : p_(p) {}  // NOLINT(google-explicit-constructor)
  TransientPtr(const TransientPtr&) noexcept {}
  TransientPtr& operator=(const TransientPtr& o) noexcept = delete;
  TransientPtr& operator=(T* p) noexcept {
    p_ = p;
    return *this;
  }
  operator T*() const noexcept { return p_; }  // NOLINT(google-explicit-constructor)
  T* operator->() const noexcept { return p_; }

 private:
  T* p_ = nullptr;
};

struct CrtcState {
  Crtc* crtc = nullptr;
  AtomicState* state = nullptr;  // backpointer while part of an update

  bool enable = false;   // has a mode (resources assigned)
  bool active = false;   // ACTIVE property (DPMS on)
  bool planes_changed = false, mode_changed = false, active_changed = false;
  bool connectors_changed = false, zpos_changed = false, color_mgmt_changed = false;
  bool no_vblank = false;  // the helpers send the event before hw_done (fake vblank)
  uint32_t plane_mask = 0, connector_mask = 0, encoder_mask = 0;  // by drm index
  DisplayMode mode;
  Ref<PropertyBlob> mode_blob;  // MODE_ID
  Ref<PropertyBlob> gamma_lut;  // GAMMA_LUT (struct drm_color_lut[])
  TransientPtr<PendingVblankEvent> event;  // consumed by the driver's atomic_flush / disable
  Ref<CrtcCommit> commit;
  uint32_t target_vblank = 0;
  bool async_flip = false;

  CrtcState() = default;
  CrtcState(const CrtcState&) = default;  // duplicate_state copies then resets transient fields
  virtual ~CrtcState() = default;
  bool needs_modeset() const noexcept { return mode_changed || active_changed || connectors_changed; }
};

struct PlaneState {
  Plane* plane = nullptr;
  AtomicState* state = nullptr;
  Crtc* crtc = nullptr;
  Ref<Framebuffer> fb;
  int32_t crtc_x = 0, crtc_y = 0;
  uint32_t crtc_w = 0, crtc_h = 0;
  uint32_t src_x = 0, src_y = 0, src_w = 0, src_h = 0;  // 16.16 fixed point
  uint16_t alpha = 0xffff;
  unsigned rotation = 1;  // DRM_MODE_ROTATE_0
  unsigned zpos = 0, normalized_zpos = 0;
  // Computed by atomic_helper_check_plane_state:
  bool visible = false;
  struct Rect { int32_t x1 = 0, y1 = 0, x2 = 0, y2 = 0; } src, dst;  // src in 16.16
  Ref<CrtcCommit> commit;

  PlaneState() = default;
  PlaneState(const PlaneState&) = default;
  virtual ~PlaneState() = default;
};

struct ConnectorState {
  Connector* connector = nullptr;
  AtomicState* state = nullptr;
  Crtc* crtc = nullptr;
  Encoder* best_encoder = nullptr;
  Ref<CrtcCommit> commit;

  ConnectorState() = default;
  ConnectorState(const ConnectorState&) = default;
  virtual ~ConnectorState() = default;
};

/// struct drm_atomic_state.
class AtomicState : public RefCounted<AtomicState> {
 public:
  template <class Obj, class S>
  struct Entry {
    Obj* ptr = nullptr;
    S* old_state = nullptr;  // before swap: the current state; after swap: what was replaced
    S* new_state = nullptr;
    /// CRTC only: the vblank count wait_for_vblanks waits to change (struct __drm_crtcs_state).
    uint64_t last_vblank_count = 0;
    /// CRTC only: this update's commit for the CRTC (set by setup_commit).
    Ref<CrtcCommit> commit;
    /// CRTC only: the commit that installed old_state (its worker may still read that state;
    /// clear() frees old_state only after that commit's cleanup).
    Ref<CrtcCommit> prev_commit;
  };

  explicit AtomicState(DrmDevice& dev);
  ~AtomicState();

  DrmDevice& dev() const noexcept { return *dev_; }
  bool allow_modeset = false;
  bool legacy_cursor_update = false;
  bool async_update = false;
  bool duplicated = false;  // built by atomic_helper_duplicate_state (suspend/shutdown)
  /// The file of the ioctl that built this state (events are reserved against it), or nullptr.
  DrmFile* file = nullptr;

  std::vector<Entry<Crtc, CrtcState>> crtcs;
  std::vector<Entry<Plane, PlaneState>> planes;
  std::vector<Entry<Connector, ConnectorState>> connectors;
  Ref<CrtcCommit> fake_commit;  // for planes/connectors without a CRTC

  /// The nonblocking commit's work item (commit_work); queued on the system unbound queue.
  /// It runs commit_work_func (set by the commit helper), which drops the queued reference.
  Work commit_work;
  /// The queue commit_work went to (nullptr for a commit that never queued one); it keeps the
  /// queue alive for the deferred free (see kref_release).
  std::shared_ptr<WorkQueue> commit_wq;
  void (*commit_work_func)(AtomicState& state) = nullptr;
  /// Set by atomic_helper_swap_state: from then on the old states are the ones owned here.
  bool swapped = false;

  /// drm_atomic_state_clear: drop all object states (for -EDEADLK backoff and reuse).
  void clear();
  void kref_release() noexcept;

 private:
  Ref<DrmDevice> dev_;
};

/// drm_atomic_state_alloc. nullptr on -ENOMEM (fault site "kms.atomic_state_alloc").
Ref<AtomicState> atomic_state_alloc(DrmDevice& dev);

/// drm_atomic_get_{crtc,plane,connector}_state: add the object to the update (duplicating its
/// current state) or return the state already there. nullptr on -ENOMEM.
CrtcState* atomic_get_crtc_state(AtomicState& state, Crtc& crtc);
PlaneState* atomic_get_plane_state(AtomicState& state, Plane& plane);
ConnectorState* atomic_get_connector_state(AtomicState& state, Connector& connector);
/// The states already in the update (nullptr if the object is not part of it).
CrtcState* atomic_get_new_crtc_state(const AtomicState& state, const Crtc& crtc);
CrtcState* atomic_get_old_crtc_state(const AtomicState& state, const Crtc& crtc);
PlaneState* atomic_get_new_plane_state(const AtomicState& state, const Plane& plane);
PlaneState* atomic_get_old_plane_state(const AtomicState& state, const Plane& plane);
ConnectorState* atomic_get_new_connector_state(const AtomicState& state, const Connector& conn);
ConnectorState* atomic_get_old_connector_state(const AtomicState& state, const Connector& conn);
/// drm_atomic_add_affected_{connectors,planes}: pull in everything attached to crtc.
int atomic_add_affected_connectors(AtomicState& state, Crtc& crtc);
int atomic_add_affected_planes(AtomicState& state, Crtc& crtc);

/// drm_atomic_set_mode_for_crtc / _prop_for_crtc, set_crtc_for_plane, set_fb_for_plane,
/// set_crtc_for_connector.
int atomic_set_mode_for_crtc(CrtcState& s, const DisplayMode* mode);
int atomic_set_mode_prop_for_crtc(CrtcState& s, PropertyBlob* blob);
int atomic_set_crtc_for_plane(PlaneState& s, Crtc* crtc);
void atomic_set_fb_for_plane(PlaneState& s, Framebuffer* fb);
int atomic_set_crtc_for_connector(ConnectorState& s, Crtc* crtc);

/// Property access on states (drm_atomic_set_property / drm_atomic_get_property). set: the
/// object's state joins the update; -EINVAL for an unknown or immutable property, a value the
/// property does not take, or an object/blob property naming a missing object or blob (the
/// kernel's drm_property_change_valid_get answers -EINVAL there, also for FB_ID and CRTC_ID);
/// -EINVAL for DPMS (legacy only), a MODE_ID blob that is not one drm_mode_modeinfo or holds
/// an invalid mode, a GAMMA_LUT blob whose size is not a multiple of drm_color_lut.
/// get: from the object's current state; -EINVAL for a property the object does not have.
int atomic_set_property(AtomicState& state, DrmFile* file, ModeObject& obj, Property& prop, uint64_t value);
int atomic_get_property(ModeObject& obj, Property& prop, uint64_t* value);

/// drm_atomic_check_only: plane/CRTC sanity (-EINVAL, -ERANGE, -ENOSPC), an event on a CRTC
/// that is off and stays off (-EINVAL), the driver's check (mode_config funcs->atomic_check or
/// atomic_helper_check), then a modeset without allow_modeset is -EINVAL.
/// drm_atomic_commit / drm_atomic_nonblocking_commit: check_only, then mode_config
/// funcs->atomic_commit (default atomic_helper_commit). Caller holds mode_config->mutex.
int atomic_check_only(AtomicState& state);
int atomic_commit(AtomicState& state);
int atomic_nonblocking_commit(AtomicState& state);

}  // namespace udrm
