// zoo_kms.h — a tiny atomic KMS driver for the zoo's commit entries (11, 4, 12, 10), with one
// knob per deliberate bug, and the scenario that drives it.
//
// One CRTC with a primary plane, one virtual encoder and an always-connected connector; fake
// hardware: CTRL (output enable) and SCANOUT registers through a devm_ioremap'd block, a pixel
// clock enabled while the CRTC is on. Vblank: none (the helpers' fake vblank sends events at
// commit) unless `vblank` is set, then a timer posted at the frame period while the vblank
// interrupt is on. Correct by default: every register access inside dev_enter(); remove()
// unplugs, then shuts the outputs down (atomic_helper_shutdown, inside the teardown section).
//
// Lifetime: the DRM device is devm_drm_dev_alloc'd; everything KMS is drmm (container members).
// Context: process context (commit workers on the system unbound workqueue).
#pragma once
#include <mutex>

#include "udrm/drm/event.h"
#include "udrm/fakehw/power.h"
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
#include "zoo/zoo_common.h"

namespace udrm::zoo {

/// The bugs, one knob each (all false: the correct driver).
struct KmsBugs {
  bool ungated_scanout = false;     // 11: plane update writes SCANOUT without dev_enter
  bool remove_no_shutdown = false;  // 11: remove() unplugs and returns (no atomic_helper_shutdown)
  bool disable_checks_unplugged = false;  // 4: disable skips the hardware once is_unplugged()
  bool remove_holds_hw_lock = false;      // 12: remove() holds hw_lock across unplug()
  bool disable_drops_event = false;       // 10: atomic_disable forgets the driver-held flip event
  bool vblank = false;                    // real (timer) vblank instead of the fake one
};

struct ZooKms : DrmDevice {
  Plane primary;
  Crtc crtc;
  Encoder enc;
  Connector conn;
  fakehw::IoMem* io = nullptr;
  fakehw::Clock* pixclk = nullptr;
  KmsBugs bugs;
  Mutex hw_lock{"zoo.hw_lock"};
  TimerId vbl_timer = 0;
  bool vbl_on = false;
  PendingVblankEvent* pending_event = nullptr;  // the flip event the vblank irq sends (event_lock)

  static ZooKms& of(DrmDevice* d) { return *static_cast<ZooKms*>(d); }
};

inline DisplayMode zoo_mode() {
  DisplayMode m;
  m.clock = 20000;  // 640x480, 800x500 total: 50 Hz
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

inline void zoo_vbl_arm(ZooKms& d);
inline void zoo_vbl_tick(ZooKms& d) {
  d.vbl_timer = 0;
  if (!d.vbl_on) return;
  UDRM_POINT("zoo.kms.vblank");
  // The handler reads and acks the status register, so it runs inside the gate: after unplug
  // it is IRQ_NONE, and no vblank (nor the flip event it would send) comes again.
  auto g = d.dev_enter();
  if (!g) return;
  crtc_handle_vblank(d.crtc);
  PendingVblankEvent* e = nullptr;
  {
    std::lock_guard<SpinLock> l(d.event_lock);
    std::swap(e, d.pending_event);
  }
  if (e) {
    crtc_send_vblank_event(d.crtc, e);
    crtc_vblank_put(d.crtc);
  }
  if (d.vbl_on && !d.vbl_timer) zoo_vbl_arm(d);
}
inline void zoo_vbl_arm(ZooKms& d) {
  Executor& ex = d.world().executor();
  ZooKms* dp = &d;
  d.vbl_timer = ex.post_at(ex.now() + std::chrono::milliseconds(20), [dp] { zoo_vbl_tick(*dp); }, "zoo.vblank");
}
inline int zoo_enable_vblank(Crtc& c) {
  ZooKms& d = ZooKms::of(c.dev);
  if (auto g = d.dev_enter()) {
    d.vbl_on = true;
    if (!d.vbl_timer) zoo_vbl_arm(d);
    return 0;
  }
  return -ENODEV;
}
inline void zoo_disable_vblank(Crtc& c) {
  ZooKms& d = ZooKms::of(c.dev);
  d.vbl_on = false;
  if (d.vbl_timer) d.world().executor().cancel(d.vbl_timer);
  d.vbl_timer = 0;
}

inline void zoo_crtc_enable(Crtc& c, AtomicState&) {
  ZooKms& d = ZooKms::of(c.dev);
  UDRM_POINT("zoo.kms.crtc_enable");
  if (auto g = d.dev_enter()) {
    if (d.pixclk->prepare_enable() == 0) d.io->writel(1, kCtrl);
  }
  if (d.bugs.vblank) crtc_vblank_on(c);
}

inline void zoo_crtc_disable(Crtc& c, AtomicState& state) {
  ZooKms& d = ZooKms::of(c.dev);
  UDRM_POINT("zoo.kms.crtc_disable");
  if (d.bugs.vblank) crtc_vblank_off(c);
  auto hw_off = [&] {
    d.io->writel(0, kCtrl);
    d.pixclk->disable_unprepare();
  };
  if (d.bugs.disable_checks_unplugged) {
    if (!d.is_unplugged()) hw_off();  // the bug: after unplug (remove) this skips the hardware
  } else if (auto g = d.dev_enter()) {
    hw_off();
  }
  CrtcState* ns = atomic_get_new_crtc_state(state, c);
  PendingVblankEvent* e = nullptr;
  PendingVblankEvent* held = nullptr;
  {
    std::lock_guard<SpinLock> l(d.event_lock);
    if (ns && !ns->active) {
      e = ns->event;
      ns->event = nullptr;
    }
    std::swap(held, d.pending_event);
  }
  if (e) crtc_send_vblank_event(c, e);
  if (held && d.bugs.disable_drops_event) return;  // the bug: the flip in flight loses its event
  if (held) {
    crtc_send_vblank_event(c, held);  // the vblank irq is off: complete the flip now
    crtc_vblank_put(c);
  }
}

// With vblank: the driver keeps the flip's event and its vblank irq sends it (the
// pending_event pattern of many drivers), holding a vblank reference meanwhile.
inline void zoo_crtc_flush(Crtc& c, AtomicState& state) {
  ZooKms& d = ZooKms::of(c.dev);
  if (!d.bugs.vblank) return;
  CrtcState* ns = atomic_get_new_crtc_state(state, c);
  if (!ns || !ns->event) return;
  if (ns->active && crtc_vblank_get(c) == 0) {
    std::lock_guard<SpinLock> l(d.event_lock);
    d.pending_event = ns->event;
    ns->event = nullptr;
  } else {
    crtc_vblank_atomic_flush(c, state);  // vblank off: the helper sends it now
  }
}

inline int zoo_plane_check(Plane& p, AtomicState& state) {
  PlaneState* ps = atomic_get_new_plane_state(state, p);
  if (!ps) return 0;
  CrtcState* cs = ps->crtc ? atomic_get_new_crtc_state(state, *ps->crtc) : nullptr;
  if (ps->crtc && !cs) cs = atomic_get_crtc_state(state, *ps->crtc);
  return atomic_helper_check_plane_state(*ps, cs, kPlaneNoScaling, kPlaneNoScaling, false, true);
}

inline void zoo_plane_update(Plane& p, AtomicState& state) {
  ZooKms& d = ZooKms::of(p.dev);
  PlaneState* ps = atomic_get_new_plane_state(state, p);
  const uint32_t fb = ps && ps->fb ? ps->fb->id : 0;
  UDRM_POINT("zoo.kms.plane_update");
  if (d.bugs.ungated_scanout) {
    d.io->writel(fb, kScanout);  // the bug: "remove() flushes commits" — it does not
    return;
  }
  if (auto g = d.dev_enter()) {
    UDRM_POINT("zoo.kms.plane_update.hw");
    std::lock_guard<Mutex> l(d.hw_lock);
    d.io->writel(fb, kScanout);
  }
}

inline const CrtcFuncs kZooCrtcFuncs = [] {
  CrtcFuncs f;
  f.enable_vblank = &zoo_enable_vblank;
  f.disable_vblank = &zoo_disable_vblank;
  return f;
}();
inline const CrtcHelperFuncs kZooCrtcHelpers = [] {
  CrtcHelperFuncs f;
  f.atomic_enable = &zoo_crtc_enable;
  f.atomic_disable = &zoo_crtc_disable;
  f.atomic_flush = &zoo_crtc_flush;
  return f;
}();
inline const PlaneFuncs kZooPlaneFuncs{};
inline const PlaneHelperFuncs kZooPlaneHelpers = [] {
  PlaneHelperFuncs f;
  f.atomic_check = &zoo_plane_check;
  f.atomic_update = &zoo_plane_update;
  return f;
}();
inline const ConnectorFuncs kZooConnFuncs{};
// With vblank: the commit tail of drivers that send flip events from their irq — it waits for
// flip_done (a timeout is an error line, not a WARN), not for a vblank count.
inline void zoo_commit_tail(AtomicState& old_state) {
  DrmDevice& dev = old_state.dev();
  atomic_helper_commit_modeset_disables(dev, old_state);
  atomic_helper_commit_planes(dev, old_state, 0);
  atomic_helper_commit_modeset_enables(dev, old_state);
  atomic_helper_commit_hw_done(old_state);
  atomic_helper_wait_for_flip_done(dev, old_state);
  atomic_helper_cleanup_planes(dev, old_state);
}
inline const ModeConfigHelperFuncs kZooModeConfigHelpers = [] {
  ModeConfigHelperFuncs f;
  f.atomic_commit_tail = &zoo_commit_tail;
  return f;
}();
inline const ModeConfigFuncs kZooModeConfigFuncs = [] {
  ModeConfigFuncs f;
  f.atomic_check = atomic_helper_check;
  f.atomic_commit = atomic_helper_commit;
  return f;
}();
inline const DrmDriver kZooKmsDriver = [] {
  DrmDriver d;
  d.name = "zoo-kms";
  d.features = DRIVER_MODESET | DRIVER_ATOMIC;
  return d;
}();

class ZooKmsDriver final : public Driver {
 public:
  ZooKmsDriver(fakehw::RegisterBlock& regs, fakehw::Clock& clk, KmsBugs bugs)
      : Driver("zoo-kms"), regs_(regs), clk_(clk), bugs_(bugs) {}

  int probe(Device& dev, const Bound&) override {
    static const uint32_t formats[] = {DRM_FORMAT_XRGB8888};
    int ret = 0;
    auto* d = devm_drm_dev_alloc<ZooKms>(dev, kZooKmsDriver, &ret);
    if (!d) return ret;
    d->bugs = bugs_;
    d->pixclk = &clk_;
    if (!(d->io = fakehw::devm_ioremap(dev, regs_))) return -ENOMEM;
    if ((ret = drmm_mode_config_init(*d))) return ret;
    ModeConfig* mc = mode_config(*d);
    mc->min_width = mc->min_height = 1;
    mc->max_width = mc->max_height = 4096;
    mc->funcs = &kZooModeConfigFuncs;
    if (bugs_.vblank) mc->helper_private = &kZooModeConfigHelpers;
    if (bugs_.vblank && (ret = drm_vblank_init(*d, 1))) return ret;
    if ((ret = drmm_universal_plane_init(*d, d->primary, 1, &kZooPlaneFuncs, formats, 1, nullptr, PlaneType::primary)))
      return ret;
    plane_helper_add(d->primary, &kZooPlaneHelpers);
    if ((ret = drmm_crtc_init_with_planes(*d, d->crtc, &d->primary, nullptr, &kZooCrtcFuncs))) return ret;
    crtc_helper_add(d->crtc, &kZooCrtcHelpers);
    if ((ret = drmm_encoder_init(*d, d->enc, DRM_MODE_ENCODER_VIRTUAL))) return ret;
    d->enc.possible_crtcs = 1;
    if ((ret = drmm_connector_init(*d, d->conn, &kZooConnFuncs, DRM_MODE_CONNECTOR_VIRTUAL))) return ret;
    if ((ret = connector_attach_encoder(d->conn, d->enc))) return ret;
    mode_config_reset(*d);
    dev.set_drvdata(d);
    if ((ret = d->register_device())) dev.set_drvdata(nullptr);
    return ret;
  }

  void remove(Device& dev, const Bound&) override {
    auto* d = dev.drvdata<ZooKms>();
    if (!d) return;
    UDRM_POINT("zoo.kms.remove");
    if (d->bugs.remove_holds_hw_lock) {
      std::lock_guard<Mutex> l(d->hw_lock);  // the bug: unplug waits for readers that need it
      d->unplug();
    } else {
      d->unplug();
    }
    if (!d->bugs.remove_no_shutdown) {
      auto teardown = d->teardown_scope();
      atomic_helper_shutdown(*d);
    }
    dev.set_drvdata(nullptr);
  }

 private:
  fakehw::RegisterBlock& regs_;
  fakehw::Clock& clk_;
  KmsBugs bugs_;
};

/// The commit scenario on ZooKms: setup modesets (blocking); body does a nonblocking flip with
/// an event (inside a read section, as the ioctl is), waits for the event, closes.
class ZooKmsScenario : public ZooScenario {
 public:
  ZooKmsScenario(std::string name, std::string line, KmsBugs bugs) : ZooScenario(std::move(name), std::move(line)), bugs_(bugs) {}

  int setup(explore::Run& run) override {
    requested_ = delivered_ = 0;
    closed_by_event_ = false;
    fb_[0].reset();
    fb_[1].reset();
    clk_ = std::make_unique<fakehw::Clock>(name_ + ".pixclk", 20'000'000);
    if (int r = ZooScenario::setup(run)) return r;
    ZooKms& d = ZooKms::of(dev_->drvdata<DrmDevice>());
    for (auto& fb : fb_) {
      auto* f = new Framebuffer();
      f->format = format_info(DRM_FORMAT_XRGB8888);
      f->width = 640;
      f->height = 480;
      f->pitches[0] = 640 * 4;
      if (int r = framebuffer_init(d, *f, nullptr)) {
        delete f;
        return r;
      }
      fb = adopt_ref(f);
    }
    return commit(d, fb_[0].get(), false, true);
  }

  int close(explore::Run& run) override {
    closed_by_event_ = true;
    return ZooScenario::close(run);
  }

  void body(explore::Run&) override {
    if (!file_ || !file_->is_open()) return;
    DrmDevice* drm = file_->opened_device();
    ZooKms& d = ZooKms::of(drm);
    UDRM_POINT("zoo.client.flip");
    if (file_->is_open() && flip(d) == 0) ++requested_;
    // Long enough for a flip whose vblank never comes to be completed by the disable that
    // follows the commit timeouts (10 s each, virtual time).
    wait_events(bugs_.vblank ? 25'000 : 100);
    // Like the client's RMFB before exit: drop the framebuffers before the last close (the
    // final put's mode config cleanup frees whatever is left).
    fb_[0].reset();
    fb_[1].reset();
    UDRM_POINT("zoo.client.close");
    if (file_->is_open()) file_->close();
  }

  void teardown(explore::Run& run) override {
    fb_[0].reset();
    fb_[1].reset();
    ZooScenario::teardown(run);
    clk_.reset();
  }

 protected:
  std::unique_ptr<Driver> make_driver() override { return std::make_unique<ZooKmsDriver>(regs(), *clk_, bugs_); }

  /// A nonblocking flip with an event, as the atomic ioctl does it: -ENODEV once unplugged.
  int flip(ZooKms& d) {
    auto g = d.dev_enter();
    if (!g) return -ENODEV;
    PendingVblankEvent* ev = nullptr;
    if (int r = create_flip_event(d, *file_, 1, &ev)) return r;
    std::lock_guard<Mutex> l(mode_config(d)->mutex);
    Ref<AtomicState> st = atomic_state_alloc(d);
    CrtcState* cs = st ? atomic_get_crtc_state(*st, d.crtc) : nullptr;
    PlaneState* ps = cs ? atomic_get_plane_state(*st, d.primary) : nullptr;
    if (!ps) {
      event_cancel_free(d, ev);
      return -ENOMEM;
    }
    cs->event = ev;
    atomic_set_fb_for_plane(*ps, fb_[1].get());
    return atomic_nonblocking_commit(*st);
  }

  int commit(ZooKms& d, Framebuffer* fb, bool nonblock, bool modeset) {
    std::lock_guard<Mutex> l(mode_config(d)->mutex);
    Ref<AtomicState> st = atomic_state_alloc(d);
    if (!st) return -ENOMEM;
    CrtcState* cs = atomic_get_crtc_state(*st, d.crtc);
    if (!cs) return -ENOMEM;
    const DisplayMode m = zoo_mode();
    if (modeset) {
      if (int r = atomic_set_mode_for_crtc(*cs, &m)) return r;
      cs->active = true;
      ConnectorState* conn = atomic_get_connector_state(*st, d.conn);
      if (!conn) return -ENOMEM;
      if (int r = atomic_set_crtc_for_connector(*conn, &d.crtc)) return r;
      st->allow_modeset = true;
    }
    PlaneState* ps = atomic_get_plane_state(*st, d.primary);
    if (!ps) return -ENOMEM;
    if (int r = atomic_set_crtc_for_plane(*ps, &d.crtc)) return r;
    atomic_set_fb_for_plane(*ps, fb);
    ps->crtc_x = ps->crtc_y = 0;
    ps->crtc_w = m.hdisplay;
    ps->crtc_h = m.vdisplay;
    ps->src_x = ps->src_y = 0;
    ps->src_w = static_cast<uint32_t>(m.hdisplay) << 16;
    ps->src_h = static_cast<uint32_t>(m.vdisplay) << 16;
    return nonblock ? atomic_nonblocking_commit(*st) : atomic_commit(*st);
  }

  /// Read flip events for up to `ms` of virtual time until every requested one arrived.
  void wait_events(int ms) {
    alignas(8) char buf[1024];
    for (int waited = 0;; waited += 2) {
      if (!file_->is_open()) return;
      for (;;) {
        long n = file_->read(buf, sizeof buf, false);
        if (n <= 0) break;
        for (long off = 0; off < n;) {
          auto* hdr = reinterpret_cast<drm_event*>(buf + off);
          if (hdr->type == DRM_EVENT_FLIP_COMPLETE) ++delivered_;
          off += hdr->length;
        }
      }
      if (delivered_ >= requested_ || waited >= ms) return;
      sleep_for(std::chrono::milliseconds(2));
      // Past the first frames, poll once per 100 ms (a flip stuck until a 10 s timeout costs
      // ~100 polls, not 5000).
      if (waited >= 100) {
        sleep_for(std::chrono::milliseconds(98));
        waited += 98;
      }
    }
  }

  /// After the unbind and the last close: the output is off (clock, CTRL) and every flip event
  /// the client was promised arrived.
  void end_checks(explore::Run& run) override {
    run.check(!clk_->enabled(), "leak",
              "clock '" + clk_->name() + "' left enabled after unbind (enable count " +
                  std::to_string(clk_->enable_count()) + ")");
    run.check(!(regs().hw_get(kCtrl) & 1), "leak", "output left on after unbind: CTRL.ENABLE of block '" +
                                                       regs().name() + "' still set");
    run.check(closed_by_event_ || delivered_ == requested_, "event",
              "flip event requested (the flip returned 0) " + std::to_string(requested_) + " time(s), delivered " +
                  std::to_string(delivered_) + " time(s)");
  }

  KmsBugs bugs_;
  std::unique_ptr<fakehw::Clock> clk_;
  Ref<Framebuffer> fb_[2];
  int requested_ = 0, delivered_ = 0;
  bool closed_by_event_ = false;  // the injected close dropped the file (its events with it)
};

}  // namespace udrm::zoo
