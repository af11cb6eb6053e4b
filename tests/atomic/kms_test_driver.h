// kms_test_driver.h — a small atomic KMS driver for the atomic and vblank tests.
//
// One DRM device with two CRTCs (a primary plane each; an overlay and a cursor plane usable on
// both), two encoders and two always-connected connectors. Vblank comes from a fake timer
// posted with Executor::post_at at the mode's frame period (atomic context, like vkms'
// hrtimer) while the vblank interrupt is enabled. The CRTC hooks follow the kernel patterns:
// atomic_enable = vblank_on, atomic_flush = crtc_vblank_atomic_flush, atomic_disable =
// vblank_off then send a pending event. "Hardware" writes are counted and gated with
// dev_enter(); knobs let tests break the driver (forget the event, block cleanup_fb).
//
// Lifetime: the caller owns the initial DrmDevice reference (bare init against a parent
// Device); shut the outputs down before the final put so no vblank timer is left running.
// Context: build and commit from a simulated process-context task.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "udrm/base/completion.h"
#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/event.h"
#include "udrm/drm/file.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/format.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"

namespace udrm::kmstest {

using namespace std::chrono_literals;

/// 640x480, 800x500 total at 20 MHz: exactly 50 Hz, a 20 ms frame.
inline DisplayMode mode_50hz() {
  DisplayMode m;
  m.clock = 20000;
  m.hdisplay = 640;
  m.hsync_start = 656;
  m.hsync_end = 752;
  m.htotal = 800;
  m.vdisplay = 480;
  m.vsync_start = 490;
  m.vsync_end = 492;
  m.vtotal = 500;
  m.type = DRM_MODE_TYPE_DRIVER | DRM_MODE_TYPE_PREFERRED;
  m.name = "640x480";
  return m;
}
/// Same timings at `hz` (clock scaled).
inline DisplayMode mode_at(int hz) {
  DisplayMode m = mode_50hz();
  m.clock = 800 * 500 * hz / 1000;
  return m;
}
inline constexpr Duration kFrame = 20ms;

struct Stats {
  int enable_vblank = 0, disable_vblank = 0;
  int crtc_enable = 0, crtc_disable = 0, flush = 0, plane_update = 0, plane_disable = 0;
  int hw_writes = 0, hw_skipped = 0;  // gated "register" accesses done / skipped after unplug
  int prepare_fb = 0, cleanup_fb = 0;
};

class KmsDev : public DrmDevice {
 public:
  KmsDev() { ++live; }
  ~KmsDev() override { --live; }
  static inline int live = 0;

  Crtc crtc[2];
  Plane primary[2];
  Plane overlay, cursor;
  Encoder enc[2];
  Connector conn[2];

  struct FakeVblank {
    TimerId timer = 0;
    bool on = false;
    int64_t ticks = 0;
    std::vector<TimePoint> stamps;
  } vbl[2];
  Stats st;
  bool forget_event = false;           // A5: atomic_flush neither sends nor arms the event
  Completion* cleanup_gate = nullptr;  // A2: cleanup_fb blocks until completed
  bool no_vblank_support = false;      // skip drm_vblank_init (fake_vblank path)
  bool vblank_stalled = false;         // the timer runs but the interrupt is never handled

  static KmsDev& of(DrmDevice* d) { return *static_cast<KmsDev*>(d); }

  // A register write: only inside the gate (after unplug the hardware is gone).
  void hw_write() {
    if (auto g = dev_enter()) {
      ++st.hw_writes;
    } else {
      ++st.hw_skipped;
    }
  }
};

// ---- fake vblank timer ------------------------------------------------------------------------

inline void vbl_arm(KmsDev& d, unsigned i);
inline void vbl_tick(KmsDev& d, unsigned i) {
  auto& v = d.vbl[i];
  v.timer = 0;
  if (!v.on) return;
  ++v.ticks;
  v.stamps.push_back(now());
  if (!d.vblank_stalled) crtc_handle_vblank(d.crtc[i]);
  if (v.on && !v.timer) vbl_arm(d, i);
}
inline void vbl_arm(KmsDev& d, unsigned i) {
  int64_t period = crtc_frame_duration_ns(d.crtc[i]);
  if (period <= 0) period = std::chrono::duration_cast<std::chrono::nanoseconds>(kFrame).count();
  Executor& ex = d.world().executor();
  KmsDev* dp = &d;
  d.vbl[i].timer = ex.post_at(ex.now() + Duration(period), [dp, i] { vbl_tick(*dp, i); }, "fake_vblank");
}

// ---- hooks --------------------------------------------------------------------------------------

inline int t_enable_vblank(Crtc& c) {
  KmsDev& d = KmsDev::of(c.dev);
  ++d.st.enable_vblank;
  d.vbl[c.index].on = true;
  if (!d.vbl[c.index].timer) vbl_arm(d, c.index);
  return 0;
}
inline void t_disable_vblank(Crtc& c) {
  KmsDev& d = KmsDev::of(c.dev);
  ++d.st.disable_vblank;
  auto& v = d.vbl[c.index];
  v.on = false;
  if (v.timer) d.world().executor().cancel(v.timer);
  v.timer = 0;
}
inline int t_mode_valid(Crtc&, const DisplayMode& m) { return crtc_mode_valid_max_vrefresh(m, 1000); }
inline void t_crtc_enable(Crtc& c, AtomicState&) {
  KmsDev& d = KmsDev::of(c.dev);
  ++d.st.crtc_enable;
  d.hw_write();
  crtc_vblank_on(c);
}
inline void t_crtc_disable(Crtc& c, AtomicState& state) {
  KmsDev& d = KmsDev::of(c.dev);
  ++d.st.crtc_disable;
  crtc_vblank_off(c);
  d.hw_write();
  // An event of a CRTC that goes off is sent now (sun4i pattern).
  CrtcState* ns = atomic_get_new_crtc_state(state, c);
  PendingVblankEvent* e = nullptr;
  if (ns && !ns->active) {
    std::lock_guard<SpinLock> l(d.event_lock);
    e = ns->event;
    ns->event = nullptr;
  }
  if (e) crtc_send_vblank_event(c, e);
}
inline void t_crtc_flush(Crtc& c, AtomicState& state) {
  KmsDev& d = KmsDev::of(c.dev);
  ++d.st.flush;
  if (d.forget_event) return;  // the event stays in the state: the helpers WARN at hw_done
  d.hw_write();
  crtc_vblank_atomic_flush(c, state);
}
inline int t_plane_check(Plane& p, AtomicState& state) {
  PlaneState* ps = atomic_get_new_plane_state(state, p);
  if (!ps) return 0;
  CrtcState* cs = ps->crtc ? atomic_get_new_crtc_state(state, *ps->crtc) : nullptr;
  if (ps->crtc && !cs) cs = atomic_get_crtc_state(state, *ps->crtc);
  return atomic_helper_check_plane_state(*ps, cs, 1, INT32_MAX, true, true);
}
inline void t_plane_update(Plane& p, AtomicState&) {
  KmsDev& d = KmsDev::of(p.dev);
  ++d.st.plane_update;
  d.hw_write();
}
inline void t_plane_disable(Plane& p, AtomicState&) {
  KmsDev& d = KmsDev::of(p.dev);
  ++d.st.plane_disable;
  d.hw_write();
}
inline int t_prepare_fb(Plane& p, PlaneState&) {
  ++KmsDev::of(p.dev).st.prepare_fb;
  return 0;
}
inline void t_cleanup_fb(Plane& p, PlaneState&) {
  KmsDev& d = KmsDev::of(p.dev);
  ++d.st.cleanup_fb;
  if (d.cleanup_gate) d.cleanup_gate->wait();
}

inline const CrtcFuncs kCrtcFuncs = [] {
  CrtcFuncs f;
  f.enable_vblank = &t_enable_vblank;
  f.disable_vblank = &t_disable_vblank;
  return f;
}();
inline const CrtcHelperFuncs kCrtcHelpers = [] {
  CrtcHelperFuncs f;
  f.mode_valid = &t_mode_valid;
  f.atomic_flush = &t_crtc_flush;
  f.atomic_enable = &t_crtc_enable;
  f.atomic_disable = &t_crtc_disable;
  return f;
}();
inline const PlaneFuncs kPlaneFuncs{};
inline const PlaneHelperFuncs kPlaneHelpers = [] {
  PlaneHelperFuncs f;
  f.prepare_fb = &t_prepare_fb;
  f.cleanup_fb = &t_cleanup_fb;
  f.atomic_check = &t_plane_check;
  f.atomic_update = &t_plane_update;
  f.atomic_disable = &t_plane_disable;
  return f;
}();
inline const ConnectorFuncs kConnFuncs{};

inline DrmDriver kms_driver() {
  DrmDriver d;
  d.name = "kmstest";
  d.features = DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC;
  return d;
}
inline const DrmDriver kDriver = kms_driver();

/// Build the device (not registered unless `reg`). nullptr on failure (test assertion fails).
inline KmsDev* make_kms(Device& parent, bool reg = true, bool with_vblank = true) {
  static const uint32_t formats[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888};
  auto* d = new KmsDev();
  d->no_vblank_support = !with_vblank;
  int ret = d->init(kDriver, parent);
  EXPECT_EQ(ret, 0);
  if (ret) return nullptr;
  EXPECT_EQ(drmm_mode_config_init(*d), 0);
  if (with_vblank) {
    EXPECT_EQ(drm_vblank_init(*d, 2), 0);
  }
  for (unsigned i = 0; i < 2; ++i) {
    EXPECT_EQ(drmm_universal_plane_init(*d, d->primary[i], 1u << i, &kPlaneFuncs, formats, 2, nullptr,
                                        PlaneType::primary),
              0);
    plane_helper_add(d->primary[i], &kPlaneHelpers);
  }
  EXPECT_EQ(drmm_universal_plane_init(*d, d->overlay, 3, &kPlaneFuncs, formats, 2, nullptr, PlaneType::overlay), 0);
  plane_helper_add(d->overlay, &kPlaneHelpers);
  EXPECT_EQ(drmm_universal_plane_init(*d, d->cursor, 3, &kPlaneFuncs, formats, 2, nullptr, PlaneType::cursor), 0);
  plane_helper_add(d->cursor, &kPlaneHelpers);
  for (unsigned i = 0; i < 2; ++i) {
    EXPECT_EQ(drmm_crtc_init_with_planes(*d, d->crtc[i], &d->primary[i], i == 0 ? &d->cursor : nullptr, &kCrtcFuncs),
              0);
    crtc_helper_add(d->crtc[i], &kCrtcHelpers);
    EXPECT_EQ(drmm_encoder_init(*d, d->enc[i], DRM_MODE_ENCODER_VIRTUAL), 0);
    d->enc[i].possible_crtcs = 1u << i;
    EXPECT_EQ(drmm_connector_init(*d, d->conn[i], &kConnFuncs, DRM_MODE_CONNECTOR_VIRTUAL), 0);
    EXPECT_EQ(connector_attach_encoder(d->conn[i], d->enc[i]), 0);
  }
  mode_config_reset(*d);
  if (reg) {
    EXPECT_EQ(d->register_device(), 0);
  }
  return d;
}

/// A driver-internal XRGB8888 framebuffer (no GEM memory: nothing here scans out).
inline Ref<Framebuffer> make_fb(DrmDevice& dev, uint32_t w = 640, uint32_t h = 480) {
  auto* fb = new Framebuffer();
  fb->format = format_info(DRM_FORMAT_XRGB8888);
  fb->width = w;
  fb->height = h;
  fb->pitches[0] = w * 4;
  EXPECT_EQ(framebuffer_init(dev, *fb, nullptr), 0);
  return adopt_ref(fb);
}

/// Everything needed to light CRTC i: mode, primary plane with fb, connector i.
inline int build_modeset(AtomicState& st, KmsDev& d, unsigned i, Framebuffer* fb, const DisplayMode& m) {
  CrtcState* cs = atomic_get_crtc_state(st, d.crtc[i]);
  if (!cs) return -ENOMEM;
  if (int ret = atomic_set_mode_for_crtc(*cs, &m)) return ret;
  cs->active = true;
  PlaneState* ps = atomic_get_plane_state(st, d.primary[i]);
  if (!ps) return -ENOMEM;
  if (int ret = atomic_set_crtc_for_plane(*ps, &d.crtc[i])) return ret;
  atomic_set_fb_for_plane(*ps, fb);
  ps->crtc_x = ps->crtc_y = 0;
  ps->crtc_w = m.hdisplay;
  ps->crtc_h = m.vdisplay;
  ps->src_x = ps->src_y = 0;
  ps->src_w = static_cast<uint32_t>(m.hdisplay) << 16;
  ps->src_h = static_cast<uint32_t>(m.vdisplay) << 16;
  ConnectorState* conn = atomic_get_connector_state(st, d.conn[i]);
  if (!conn) return -ENOMEM;
  if (int ret = atomic_set_crtc_for_connector(*conn, &d.crtc[i])) return ret;
  st.allow_modeset = true;
  return 0;
}

inline int modeset(KmsDev& d, unsigned i, Framebuffer* fb, const DisplayMode& m = mode_50hz()) {
  std::lock_guard<Mutex> l(mode_config(d)->mutex);
  Ref<AtomicState> st = atomic_state_alloc(d);
  if (!st) return -ENOMEM;
  if (int ret = build_modeset(*st, d, i, fb, m)) return ret;
  return atomic_commit(*st);
}

/// A page flip of CRTC i's primary plane to fb, optionally with an event.
inline int flip(KmsDev& d, unsigned i, Framebuffer* fb, bool nonblock, PendingVblankEvent* ev = nullptr) {
  std::lock_guard<Mutex> l(mode_config(d)->mutex);
  Ref<AtomicState> st = atomic_state_alloc(d);
  CrtcState* cs = st ? atomic_get_crtc_state(*st, d.crtc[i]) : nullptr;
  if (!cs) {
    if (ev) event_cancel_free(d, ev);
    return -ENOMEM;
  }
  cs->event = ev;
  PlaneState* ps = atomic_get_plane_state(*st, d.primary[i]);
  if (!ps) return -ENOMEM;
  atomic_set_fb_for_plane(*ps, fb);
  return nonblock ? atomic_nonblocking_commit(*st) : atomic_commit(*st);
}

/// Flip event reserved against file with user_data.
inline PendingVblankEvent* flip_event(DrmDevice& d, DrmFile& f, uint64_t user_data) {
  PendingVblankEvent* e = nullptr;
  EXPECT_EQ(create_flip_event(d, f, user_data, &e), 0);
  return e;
}

/// Read every queued event of f (nonblocking): (type, user_data, sequence).
struct ReadEvent {
  uint32_t type;
  uint64_t user_data;
  uint32_t sequence;
  uint32_t crtc_id;
};
inline std::vector<ReadEvent> read_events(DrmFile& f) {
  std::vector<ReadEvent> out;
  alignas(8) char buf[4096];
  for (;;) {
    long n = f.read(buf, sizeof buf, false);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* hdr = reinterpret_cast<drm_event*>(buf + off);
      if (hdr->type == DRM_EVENT_VBLANK || hdr->type == DRM_EVENT_FLIP_COMPLETE) {
        auto* v = reinterpret_cast<drm_event_vblank*>(hdr);
        out.push_back({hdr->type, v->user_data, v->sequence, v->crtc_id});
      } else if (hdr->type == DRM_EVENT_CRTC_SEQUENCE) {
        auto* s = reinterpret_cast<drm_event_crtc_sequence*>(hdr);
        out.push_back({hdr->type, s->user_data, static_cast<uint32_t>(s->sequence), 0});
      }
      off += hdr->length;
    }
  }
  return out;
}

/// The world every test runs in: a simulated executor, a parent device, the KMS device and an
/// open file. tear_down() switches everything off and drops the device.
/// The World is the caller's and must outlive the simulated run: commits may drop the last
/// device reference from a task that runs after the test body returned.
struct Rig {
  explicit Rig(World& w, bool with_vblank = true) : world(w) {
    parent = Device::create(world, "kms-parent");
    dev = make_kms(*parent, true, with_vblank);
    if (dev) {
      EXPECT_EQ(DrmFile::open(*dev, &file), 0);
    }
  }
  void tear_down() {
    if (file) {
      file->close();
      file.reset();
    }
    if (dev) {
      atomic_helper_shutdown(*dev);
      dev->put();
      dev = nullptr;
    }
    system_unbound_wq_flush();
  }
  void system_unbound_wq_flush();
  World& world;
  Ref<Device> parent;
  KmsDev* dev = nullptr;
  Ref<DrmFile> file;
};

}  // namespace udrm::kmstest

#include "udrm/core/system_wq.h"
inline void udrm::kmstest::Rig::system_unbound_wq_flush() { udrm::system_unbound_wq(world).flush(); }
