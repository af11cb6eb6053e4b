// udrm/kms/crtc.h — struct drm_crtc: a scanout pipe (timing generator + blending).
//
// The driver embeds Crtc in its own object (struct my_crtc : udrm::Crtc) and initialises it
// with drmm_crtc_init_with_planes (ID, properties, state reset; cleanup at the final put) or
// crtc_init_with_planes + its own cleanup. Hooks are kernel-style function tables: CrtcFuncs
// (drm_crtc_funcs) and CrtcHelperFuncs (drm_crtc_helper_funcs); a nullptr hook means the
// kernel's default.
//
// Lifetime: the DrmDevice (drmm) — userspace can name it by ID until the final put.
// Context: hooks documented per field; atomic_begin/flush/enable/disable run from commit_tail
// (process context, worker or ioctl, may sleep) and must gate hardware access with dev_enter().
#pragma once
#include <cstdint>
#include <string>

#include <boost/intrusive/list.hpp>

#include "udrm/base/mutex.h"
#include "udrm/base/spinlock.h"
#include "udrm/base/waitqueue.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/object.h"

namespace udrm {

class Plane;

struct CrtcFuncs {
  /// Reset to a default "off" state (drm_atomic_helper_crtc_reset when nullptr).
  void (*reset)(Crtc& crtc) = nullptr;
  /// duplicate/destroy (drm_atomic_helper_crtc_duplicate_state/destroy_state when nullptr).
  CrtcState* (*atomic_duplicate_state)(Crtc& crtc) = nullptr;
  void (*atomic_destroy_state)(Crtc& crtc, CrtcState* s) = nullptr;
  /// Driver-private properties.
  int (*atomic_set_property)(Crtc& crtc, CrtcState& s, Property& p, uint64_t val) = nullptr;
  int (*atomic_get_property)(Crtc& crtc, const CrtcState& s, Property& p, uint64_t* val) = nullptr;
  /// Vblank interrupt control. Context: atomic (called under the vblank lock): no sleeping.
  int (*enable_vblank)(Crtc& crtc) = nullptr;
  void (*disable_vblank)(Crtc& crtc) = nullptr;
  /// Precise vblank timestamp of the last vblank; false if not supported.
  bool (*get_vblank_timestamp)(Crtc& crtc, int* max_error, TimePoint* vblank_time, bool in_vblank_irq) = nullptr;
  /// Legacy gamma (SETGAMMA) — drm_atomic_helper_legacy_gamma_set when nullptr and gamma_size > 0.
  int (*gamma_set)(Crtc& crtc, const uint16_t* r, const uint16_t* g, const uint16_t* b, uint32_t size) = nullptr;
  /// CRC capture (debugfs crc/control): select source "auto"/"none".
  int (*set_crc_source)(Crtc& crtc, const char* source) = nullptr;
};

struct CrtcHelperFuncs {
  /// -EINVAL to reject a mode (e.g. > 1000 Hz, vkms' 2026 rule).
  int (*mode_valid)(Crtc& crtc, const DisplayMode& mode) = nullptr;
  int (*atomic_check)(Crtc& crtc, AtomicState& state) = nullptr;
  void (*atomic_begin)(Crtc& crtc, AtomicState& state) = nullptr;
  /// Arms or sends the CRTC's event (see vblank.h: crtc_vblank_atomic_flush).
  void (*atomic_flush)(Crtc& crtc, AtomicState& state) = nullptr;
  void (*atomic_enable)(Crtc& crtc, AtomicState& state) = nullptr;
  /// Must send a pending event of an inactive new state (or call crtc_vblank_off, which does).
  void (*atomic_disable)(Crtc& crtc, AtomicState& state) = nullptr;
};

class Crtc : public ModeObject {
 public:
  DrmDevice* dev = nullptr;
  std::string name;          // "crtc-0"
  unsigned index = 0;        // drm_crtc_index: position in mode_config.crtcs
  Plane* primary = nullptr;
  Plane* cursor = nullptr;
  const CrtcFuncs* funcs = nullptr;
  const CrtcHelperFuncs* helper_private = nullptr;
  CrtcState* state = nullptr;  // current state (owned)
  ObjectProperties props;
  uint32_t gamma_size = 0;
  std::vector<uint16_t> gamma_store;  // 3 * gamma_size (legacy GETGAMMA)
  /// Last legacy cursor position (drm_crtc.cursor_x/y): MODE_CURSOR without MOVE shows the
  /// cursor here, also after it was hidden. Under the mode config mutex.
  int32_t cursor_x = 0, cursor_y = 0;

  /// commit_lock + commit_list (newest first). The list holds a reference on each commit;
  /// crtc_cleanup drops the ones still linked.
  SpinLock commit_lock;
  boost::intrusive::list<CrtcCommit> commit_list;

  /// Pipe CRC capture (crc.h): a ring of kCrcEntries under lock; waiters on wq.
  struct CrcCapture {
    static constexpr unsigned kCrcEntries = 128;  // DRM_CRC_ENTRIES_NR
    SpinLock lock;
    bool opened = false;
    CrcEntry entries[kCrcEntries];
    unsigned head = 0, count = 0;  // oldest at head
    uint64_t overflows = 0;
    WaitQueue wq{"crtc.crc"};
  } crc;

  bool enabled() const noexcept { return state && state->enable; }
  /// Legacy: the mode of the current state.
  const DisplayMode& mode() const noexcept { return state->mode; }
  /// 1 << index.
  uint32_t mask() const noexcept { return 1u << index; }

  Crtc() = default;
  virtual ~Crtc() = default;
};

/// drm_crtc_init_with_planes: ID, standard properties (ACTIVE, MODE_ID, GAMMA_LUT/size when
/// gamma_size), reset state. name nullptr → "crtc-%d". -ENOMEM/-EINVAL.
int crtc_init_with_planes(DrmDevice& dev, Crtc& crtc, Plane* primary, Plane* cursor, const CrtcFuncs* funcs,
                          const char* name = nullptr);
/// drmm variant: cleanup registered as a drmm action (the only correct choice for objects
/// userspace can reach).
int drmm_crtc_init_with_planes(DrmDevice& dev, Crtc& crtc, Plane* primary, Plane* cursor, const CrtcFuncs* funcs,
                               const char* name = nullptr);
/// drm_crtc_cleanup: unregister the ID, destroy the state, drop commits still listed, unlink.
/// Idempotent (crtc.dev is nullptr afterwards).
void crtc_cleanup(Crtc& crtc);
inline void crtc_helper_add(Crtc& crtc, const CrtcHelperFuncs* f) { crtc.helper_private = f; }
/// Legacy gamma table size (drm_mode_crtc_set_gamma_size): gamma_store = linear ramp; with
/// size > 0 also attaches GAMMA_LUT (0) and GAMMA_LUT_SIZE (size) — call before register.
int mode_crtc_set_gamma_size(Crtc& crtc, uint32_t size);
Crtc* crtc_from_index(DrmDevice& dev, unsigned index);
Crtc* crtc_find(DrmDevice& dev, uint32_t id);

}  // namespace udrm
