// udrm/kms/mode_config.h — struct drm_mode_config: the device's KMS object lists, limits,
// standard properties and the commit entry points.
//
// Created with drmm_mode_config_init(dev) (cleanup at the final put: framebuffers left by
// the driver are WARNed about and freed; objects cleaned up). One modeset mutex per device
// (udrm simplification of the kernel's ww-mutex set, documented in docs/kms.md): every ioctl
// that reads or changes modeset state takes it; nonblocking commit_tail runs without it.
//
// Lifetime: the DrmDevice (drmm). Context: process context.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include <boost/intrusive/list.hpp>

#include "udrm/base/mutex.h"
#include "udrm/base/spinlock.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/object.h"
#include "udrm/kms/property.h"

namespace udrm {

class AtomicState;
class Connector;
class Crtc;
class DrmDevice;
class DrmFile;
class Encoder;
class Plane;

struct ModeConfigFuncs {
  /// ADDFB/ADDFB2 → framebuffer. nullptr: gem_fb_create.
  int (*fb_create)(DrmDevice& dev, DrmFile& file, const drm_mode_fb_cmd2& cmd, Ref<Framebuffer>* out) = nullptr;
  /// nullptr: atomic_helper_check.
  int (*atomic_check)(DrmDevice& dev, AtomicState& state) = nullptr;
  /// nullptr: atomic_helper_commit.
  int (*atomic_commit)(DrmDevice& dev, AtomicState& state, bool nonblock) = nullptr;
};

struct ModeConfigHelperFuncs {
  /// nullptr: atomic_helper_commit_tail.
  void (*atomic_commit_tail)(AtomicState& state) = nullptr;
  int (*atomic_commit_setup)(AtomicState& state) = nullptr;
};

class ModeConfig {
 public:
  explicit ModeConfig(DrmDevice& dev);
  ~ModeConfig();

  DrmDevice& dev;
  Mutex mutex{"mode_config"};      // the modeset lock (see above)
  ObjectIdr idr;
  uint32_t min_width = 0, min_height = 0, max_width = 8192, max_height = 8192;
  uint32_t cursor_width = 64, cursor_height = 64;
  uint32_t preferred_depth = 24;
  bool prefer_shadow = false;
  bool async_page_flip = false;
  bool normalize_zpos = false;
  const ModeConfigFuncs* funcs = nullptr;
  const ModeConfigHelperFuncs* helper_private = nullptr;

  std::vector<Crtc*> crtcs;  // by index
  std::vector<Plane*> planes;
  std::vector<Encoder*> encoders;
  std::vector<Connector*> connectors;

  SpinLock fb_lock;
  boost::intrusive::list<Framebuffer> fb_list;
  SpinLock blob_lock;
  boost::intrusive::list<PropertyBlob> blob_list;

  /// The current legacy/atomic acquire context of a blocking ioctl (legacy helpers).
  AtomicState* acquire_state = nullptr;

  /// Standard properties (created at init).
  struct {
    Property* crtc_active = nullptr;      // "ACTIVE"
    Property* crtc_mode_id = nullptr;     // "MODE_ID" (blob)
    Property* gamma_lut = nullptr;        // "GAMMA_LUT" (blob)
    Property* gamma_lut_size = nullptr;   // "GAMMA_LUT_SIZE" (immutable range)
    Property* plane_type = nullptr;       // "type" (immutable enum)
    Property* prop_fb_id = nullptr;       // "FB_ID" (object)
    Property* prop_crtc_id = nullptr;     // "CRTC_ID" (object) — planes and connectors
    Property* prop_src_x = nullptr, *prop_src_y = nullptr, *prop_src_w = nullptr, *prop_src_h = nullptr;
    Property* prop_crtc_x = nullptr, *prop_crtc_y = nullptr, *prop_crtc_w = nullptr, *prop_crtc_h = nullptr;
    Property* prop_in_formats = nullptr;  // "IN_FORMATS" (immutable blob)
    Property* edid = nullptr;             // "EDID" (immutable blob)
    Property* dpms = nullptr;             // "DPMS" (enum, non-atomic)
    Property* link_status = nullptr;      // "link-status" (enum)
    Property* non_desktop = nullptr;      // "non-desktop" (immutable bool)
  } props;

  /// Hot-plug: bumped by kms_helper_hotplug_event; listeners (the uevent) called after.
  uint64_t hotplug_count = 0;
  std::vector<std::function<void()>> hotplug_listeners;
  /// Sequence number for commits (debug).
  uint64_t commit_seqno = 0;

  /// Per connector type, the connector_type_ids in use (bit n = id n + 1), for names such as
  /// "HDMI-A-2" (the kernel's per-type ida, kept per device here).
  uint64_t connector_type_ida[32] = {};
};

/// drmm_mode_config_init: allocate dev's ModeConfig with standard properties; cleanup is a
/// drmm action (drm_mode_config_cleanup): objects still registered (non-drmm CRTCs, planes,
/// encoders, connectors embedded in the container) are cleaned up, blobs still referenced are
/// orphaned, and framebuffers still alive are WARNed about ("leaked framebuffer") and freed, as
/// the kernel does. -ENOMEM; -EBUSY (WARN) if called twice.
int drmm_mode_config_init(DrmDevice& dev);
/// drm_mode_config_reset: reset every plane, CRTC and connector state (funcs->reset, or the
/// atomic state helper when nullptr) — called before register and at resume.
void mode_config_reset(DrmDevice& dev);
/// The device's mode config (nullptr before drmm_mode_config_init).
ModeConfig* mode_config(DrmDevice& dev);
/// drm_kms_helper_hotplug_event: bump hotplug_count, call listeners. Process context.
void kms_helper_hotplug_event(DrmDevice& dev);
/// drm_helper_hpd_irq_event: re-detect every connector; send a hotplug event if any status
/// changed. Returns whether one changed. Process context (from a driver's HPD work).
bool helper_hpd_irq_event(DrmDevice& dev);

}  // namespace udrm
