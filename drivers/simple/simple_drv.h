// drivers/simple/simple_drv.h — internals of `udrm-simple` (the vkms_drv.h of this driver).
//
// SimpleDevice is the driver's container (struct vkms_device): it embeds the DrmDevice and every
// KMS object, so all of it is drmm (freed at the final put, after the drmm actions). The only
// hardware is the timing generator, devm-owned by the carrier device and reached only inside
// dev_enter() sections or from its own vblank callback.
//
// Lifetime: SimpleDevice from devm_drm_dev_alloc to the final put; `tg` from probe to unbind.
// Context: see each function.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "udrm/base/spinlock.h"
#include "udrm/base/workqueue.h"
#include "udrm/drm/drm_device.h"
#include "udrm/fakehw/compose.h"
#include "udrm/fakehw/timing.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/plane.h"

namespace udrm::drivers::simple {

inline constexpr const char* kDriverName = "udrm-simple";

/// What the Display shares with every SimpleDevice it ever created, including zombies that
/// outlive the Display (open files): counters only, kept alive by shared_ptr.
struct Tracker {
  std::atomic<int> live_devices{0};
  /// Timing generators currently allocated (devm) and their running state, for leaks().
  SpinLock lock;
  std::vector<fakehw::TimingGenerator*> generators;
  /// Hardware the driver left on when devm released it (remove() should have switched it off).
  std::vector<std::string> left_on;
  /// Test hook: the composer worker sleeps this long before sampling its frame range (V5).
  std::atomic<int64_t> composer_delay_ns{0};
  /// Last probe result (bind() reports it).
  std::atomic<int> last_probe_err{0};
};

/// Per-plane scanout configuration captured by plane atomic_update (vkms_frame_info).
struct FrameInfo {
  Framebuffer* fb = nullptr;  // valid while the plane state holds its reference
  fakehw::Rect src;           // integer source pixels
  fakehw::Rect dst;           // frame pixels
  uint16_t alpha = 0xffff;
};

// Duplicating a state copies the core part only (vkms allocates its frame info afresh): the
// commit worker may be filling the driver part of the current state while another commit or
// an unbind duplicates it.
struct SimplePlaneState : PlaneState {
  SimplePlaneState() = default;
  SimplePlaneState(const SimplePlaneState& o) : PlaneState(o) {}
  FrameInfo frame;
};

struct SimpleCrtcState : CrtcState {
  SimpleCrtcState() = default;
  SimpleCrtcState(const SimpleCrtcState& o) : CrtcState(o) {}
  /// The visible planes, bottom to top (vkms_crtc_state.active_planes), filled by atomic_check.
  std::vector<SimplePlaneState*> active_planes;
};

class SimpleDevice;

struct SimplePlane : Plane {};
struct SimpleCrtc : Crtc {
  SimpleDevice* sdev = nullptr;
};
struct SimpleEncoder : Encoder {};
struct SimpleConnector : Connector {
  SimpleDevice* sdev = nullptr;
};

class SimpleDevice : public DrmDevice {
 public:
  SimpleDevice(std::shared_ptr<Tracker> tracker, bool immediate_vblank);
  ~SimpleDevice() override;

  std::shared_ptr<Tracker> tracker;
  bool immediate_vblank;

  SimplePlane primary, overlay, cursor;
  SimpleCrtc crtc;
  SimpleEncoder encoder;
  SimpleConnector connector;
  std::vector<uint8_t> edid;  // the virtual monitor

  /// The fake hardware (devm): only inside dev_enter() or from its own callback.
  fakehw::TimingGenerator* tg = nullptr;
  /// Timestamp handed to the vblank callback now running (get_vblank_timestamp in irq).
  std::atomic<int64_t> irq_timestamp_ns{0};

  /// Composer (vkms_output's composer part), under composer_lock.
  SpinLock composer_lock;
  bool composer_enabled = false;     // a CRC capture is open
  bool composer_vblank_ref = false;  // set_crc_source took a vblank reference
  SimpleCrtcState* composer_state = nullptr;  // published by atomic_flush
  bool crc_pending = false;
  uint64_t frame_start = 0, frame_end = 0;
  WorkQueue* composer_wq = nullptr;  // ordered, drmm
  Work composer_work;
  fakehw::Composer composer;  // used by the ordered worker only
  std::atomic<uint64_t> frames_composed{0};
};

inline SimpleDevice& to_simple(DrmDevice& d) { return static_cast<SimpleDevice&>(d); }
inline SimpleDevice& to_simple(Crtc& c) { return *static_cast<SimpleCrtc&>(c).sdev; }

/// simple_planes.cpp: the three planes (drmm). -errno.
int simple_planes_init(SimpleDevice& s);
/// simple_crtc.cpp: the CRTC with its hooks (drmm). -errno.
int simple_crtc_init(SimpleDevice& s);
/// simple_output.cpp: encoder + virtual connector with the EDID (drmm). -errno.
int simple_output_init(SimpleDevice& s);
/// simple_composer.cpp: the ordered composer workqueue (drmm). -errno.
int simple_composer_init(SimpleDevice& s);
/// The vblank callback of the timing generator. Atomic context.
void simple_vblank_irq(SimpleDevice& s, uint64_t frame, TimePoint ts);
/// Composer on/off for CRC capture (vkms_set_composer). Process context.
void simple_set_composer(SimpleDevice& s, bool enabled);
/// The composer worker (vkms_composer_worker). Process context (ordered worker).
void simple_composer_worker(SimpleDevice& s);
/// commit_tail in the vkms shape.
void simple_atomic_commit_tail(AtomicState& old_state);
/// simple_drv.cpp: the platform driver "udrm-simple" (one per Display).
std::unique_ptr<Driver> simple_driver_create(std::shared_ptr<Tracker> tracker, bool immediate_vblank);

}  // namespace udrm::drivers::simple
