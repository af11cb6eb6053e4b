// udrm-tiny: a MIPI-DBI panel driver (drivers/gpu/drm/tiny/ style) written against udrm.
//
// Read it top to bottom like a kernel driver. Three lifetimes meet here:
//  - the binding (probe → remove): the hardware. Registers, the TE interrupt, the SPI clock and
//    the reset line are devm: released at unbind, in reverse order of acquisition.
//  - the DRM device (devm_drm_dev_alloc → last drm_dev_put): everything userspace can reach.
//    The container TinyDrm embeds the KMS objects; they are drmm (cleaned at the final put,
//    which an open file may delay long past unbind).
//  - the gate (drm_dev_enter/exit): every hardware access from a path that can run after
//    unbind (ioctls, commit workers, timers, file close) sits inside a dev_enter() section, and
//    remove() closes the gate with drm_dev_unplug before devm pulls the hardware away.
// Every UDRM_POINT below is a named scheduling point: the explorer injects unbind, unplug,
// close and rebind at each one.
#include "tinydrm.h"

#include <atomic>
#include <chrono>
#include <iterator>

#include <drm_fourcc.h>

#include "udrm/base/errno.h"
#include "udrm/base/executor.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/core/device.h"
#include "udrm/drm/drm_device.h"
#include "udrm/fakehw/board.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"

namespace udrm::examples::tiny {
namespace {

using namespace std::chrono_literals;

// struct tiny_device: the driver's container. devm_drm_dev_alloc allocates it; it is freed at
// the final drm_dev_put, after the drmm actions. So it may outlive the binding: the pointers to
// hardware below are valid only inside a dev_enter() section (or in the TE handler, see there).
struct TinyDrm : DrmDevice {
  TinyDrm(std::shared_ptr<std::atomic<int>> live_devices, TinyBugs b) : live(std::move(live_devices)), bugs(b) {
    live->fetch_add(1, std::memory_order_relaxed);
  }
  ~TinyDrm() override { live->fetch_sub(1, std::memory_order_acq_rel); }

  std::shared_ptr<std::atomic<int>> live;  // for the board's "DRM device freed?" check
  TinyBugs bugs;

  // KMS objects: drmm. Embedded here, so their memory is the container's; drmm_*_init
  // registers their cleanup as drmm actions, run LIFO at the final put.
  Plane plane;
  Crtc crtc;
  Encoder encoder;
  Connector connector;
  DisplayMode mode;  // the panel's fixed mode

  // Hardware. devm: gone at unbind. Only inside dev_enter().
  fakehw::IoMem* dbi = nullptr;     // devm_ioremap
  fakehw::Gpio* reset = nullptr;    // devm_gpiod_get
  fakehw::Regulator* vcc = nullptr; // the board's (regulator_get would be devm too)
  /// The panel was powered up by the last enable (its supply enable can fail). Only the commit
  /// tail touches it, and commits on the one CRTC are serialised.
  bool panel_on = false;
};

TinyDrm& to_tiny(DrmDevice& d) { return static_cast<TinyDrm&>(d); }
TinyDrm& to_tiny(Crtc& c) { return to_tiny(*c.dev); }

DisplayMode panel_mode() {
  DisplayMode m;
  m.clock = kClockKhz;
  m.hdisplay = kWidth;
  m.hsync_start = kWidth + 20;
  m.hsync_end = kWidth + 40;
  m.htotal = kHtotal;
  m.vdisplay = kHeight;
  m.vsync_start = kHeight + 4;
  m.vsync_end = kHeight + 6;
  m.vtotal = kVtotal;
  m.type = DRM_MODE_TYPE_DRIVER | DRM_MODE_TYPE_PREFERRED;
  m.name = "320x240";
  return m;
}

// ---- the DBI host -----------------------------------------------------------------------

// mipi_dbi_command: one DCS command over the bus. Caller is inside dev_enter(). Process context
// (a bus transfer).
int tiny_dcs(TinyDrm& t, uint8_t cmd) {
  t.dbi->writel(cmd, kRegCmd);
  if (t.dbi->readl(kRegStatus) & kStatusErr) {
    t.dbi->writel(kStatusErr, kRegStatus);
    log_err(LogCat::driver, "udrm-tiny: panel refused DCS 0x%02x", cmd);
    return -EIO;
  }
  return 0;
}

// ---- CRTC: panel power and the TE interrupt as vblank ------------------------------------

// Power up the panel (mipi_dbi_poweron_reset + display on). Process context, sleeps.
void tiny_crtc_enable(Crtc& crtc, AtomicState&) {
  TinyDrm& t = to_tiny(crtc);
  UDRM_POINT("tiny.crtc_enable");
  crtc_calc_timestamping_constants(crtc, crtc.state->mode);
  // The gate: a nonblocking modeset's worker may run after unplug. Then we skip the hardware;
  // the vblank core below still works (it is drmm, not hardware).
  if (auto g = t.dev_enter()) {
    // A sleeping section is fine: remove()'s unplug waits for it, and it is bounded.
    if (int ret = t.vcc->enable()) {
      // atomic_enable cannot fail: the CRTC is "on" without a panel. Remember it, so the
      // disable below does not talk to an unpowered panel (the explorer's fail-nth at
      // regulator.enable found exactly that in this driver's first draft).
      log_err(LogCat::driver, "udrm-tiny: panel supply enable failed (%d)", ret);
    } else {
      t.reset->set_value(0);  // out of reset
      tiny_dcs(t, fakehw::dcs::EXIT_SLEEP_MODE);
      sleep_for(5ms);  // the panel's sleep-out time
      tiny_dcs(t, fakehw::dcs::SET_DISPLAY_ON);
      t.dbi->writel(kCtrlEnable, kRegCtrl);
      t.panel_on = true;
    }
  }
  crtc_vblank_on(crtc);
}

// Power down. Also the path of remove()'s shutdown commit, which runs after unplug: inside
// the teardown section dev_enter() still succeeds (for that task only), so the panel, its
// supply and TE are really switched off before devm releases them.
void tiny_crtc_disable(Crtc& crtc, AtomicState& state) {
  TinyDrm& t = to_tiny(crtc);
  UDRM_POINT("tiny.crtc_disable");
  crtc_vblank_off(crtc);  // TE off (disable_vblank), armed events sent
  if (auto g = t.dev_enter(); g && t.panel_on) {
    t.dbi->writel(0, kRegCtrl);
    tiny_dcs(t, fakehw::dcs::SET_DISPLAY_OFF);
    tiny_dcs(t, fakehw::dcs::ENTER_SLEEP_MODE);
    t.reset->set_value(1);
    t.vcc->disable();
    t.panel_on = false;
  }
  // An event of a commit that switches the CRTC off has no vblank to wait for: send it now.
  CrtcState* ns = atomic_get_new_crtc_state(state, crtc);
  if (ns && ns->event && !ns->active) {
    crtc_send_vblank_event(crtc, ns->event);
    ns->event = nullptr;
  }
}

// Arm the flip's event for the next TE (or send it now if vblank is off).
void tiny_crtc_flush(Crtc& crtc, AtomicState& state) {
  UDRM_POINT("tiny.crtc_flush");
  crtc_vblank_atomic_flush(crtc, state);
}

// Atomic context (vblank lock held): registers only, no sleeping. Called from ioctls, the
// vblank off-delay timer and commits, any of which can come after unplug: gated.
int tiny_enable_vblank(Crtc& crtc) {
  TinyDrm& t = to_tiny(crtc);
  if (auto g = t.dev_enter()) {
    t.dbi->writel(kIrqTe, kRegIrqStatus);  // drop a stale TE
    t.dbi->writel(kTeEnable, kRegTeCtrl);
    return 0;
  }
  return -ENODEV;
}

void tiny_disable_vblank(Crtc& crtc) {
  TinyDrm& t = to_tiny(crtc);
  if (auto g = t.dev_enter()) t.dbi->writel(0, kRegTeCtrl);
}

// The TE interrupt handler. No dev_enter() here, on purpose: the IRQ was requested after the
// registers were mapped, so devm frees it (waiting for a running handler) before it unmaps
// them. The handler's whole lifetime sits inside the mapping's. Atomic context.
fakehw::IrqReturn tiny_te_irq(TinyDrm& t) {
  const uint32_t st = t.dbi->readl(kRegIrqStatus);
  if (!(st & kIrqTe)) return fakehw::IrqReturn::none;
  t.dbi->writel(kIrqTe, kRegIrqStatus);
  UDRM_POINT("tiny.te_irq");
  crtc_handle_vblank(t.crtc);  // counts, stamps and sends the armed flip event
  return fakehw::IrqReturn::handled;
}

const CrtcFuncs kCrtcFuncs = [] {
  CrtcFuncs f;
  f.enable_vblank = tiny_enable_vblank;
  f.disable_vblank = tiny_disable_vblank;
  return f;
}();

const CrtcHelperFuncs kCrtcHelpers = [] {
  CrtcHelperFuncs f;
  f.atomic_enable = tiny_crtc_enable;
  f.atomic_disable = tiny_crtc_disable;
  f.atomic_flush = tiny_crtc_flush;
  return f;
}();

// ---- the plane: upload the framebuffer ----------------------------------------------------

int tiny_plane_check(Plane& plane, AtomicState& state) {
  PlaneState* ps = atomic_get_new_plane_state(state, plane);
  if (!ps) return 0;
  CrtcState* cs = ps->crtc ? atomic_get_crtc_state(state, *ps->crtc) : nullptr;
  if (ps->crtc && !cs) return -ENOMEM;
  // Full screen only: the panel has no scaler and no plane position.
  return atomic_helper_check_plane_state(*ps, cs, kPlaneNoScaling, kPlaneNoScaling, false, true);
}

// mipi_dbi's fb_dirty: send the frame to the panel's memory. Process context (commit tail).
void tiny_plane_update(Plane& plane, AtomicState& state) {
  TinyDrm& t = to_tiny(*plane.dev);
  PlaneState* ps = atomic_get_new_plane_state(state, plane);
  if (!ps || !ps->visible || !ps->fb) return;
  UDRM_POINT("tiny.plane_update");
  if (auto g = t.dev_enter()) {
    t.dbi->writel((kWidth - 1) << 16, kRegWinX);
    t.dbi->writel((kHeight - 1) << 16, kRegWinY);
    t.dbi->writel(ps->fb->id, kRegMemWr);  // the host DMAs the buffer to the panel
  }
}

const PlaneFuncs kPlaneFuncs{};
const PlaneHelperFuncs kPlaneHelpers = [] {
  PlaneHelperFuncs f;
  f.atomic_check = tiny_plane_check;
  f.atomic_update = tiny_plane_update;
  return f;
}();

// ---- connector: the panel's one mode ----------------------------------------------------

int tiny_get_modes(Connector& c) {
  connector_add_mode(c, to_tiny(*c.dev).mode);
  return 1;
}

const ConnectorFuncs kConnectorFuncs{};  // always connected
const ConnectorHelperFuncs kConnectorHelpers = [] {
  ConnectorHelperFuncs f;
  f.get_modes = tiny_get_modes;
  return f;
}();

// ---- commit_tail and the driver ----------------------------------------------------------

// The panel must be awake before it takes pixels: enables before the plane upload (the order
// of drm_atomic_helper_commit_tail_rpm), then hw_done, then wait for the TE that completes the
// flip. Runs on the commit worker for nonblocking commits: after unplug its hardware steps are
// skipped by the gates above, and remove()'s shutdown commit waits for it.
void tiny_commit_tail(AtomicState& old_state) {
  DrmDevice& dev = old_state.dev();
  UDRM_POINT("tiny.commit_tail");
  atomic_helper_commit_modeset_disables(dev, old_state);
  atomic_helper_commit_modeset_enables(dev, old_state);
  atomic_helper_commit_planes(dev, old_state, 0);
  atomic_helper_commit_hw_done(old_state);
  atomic_helper_wait_for_flip_done(dev, old_state);
  UDRM_POINT("tiny.commit_tail.cleanup");
  atomic_helper_cleanup_planes(dev, old_state);
}

// drm_driver.lastclose: forget the partial-update window, so the next client's first upload
// is a full frame. The last close can come long after unbind (a file outlives the binding):
// the DRM device is still here (drmm), the registers are not (devm). Hence the gate.
void tiny_lastclose(DrmDevice& d) {
  TinyDrm& t = to_tiny(d);
  UDRM_POINT("tiny.lastclose");
  if (t.bugs.lastclose_outside_gate) {  // BUG (TinyBugs): no dev_enter
    t.dbi->writel((kWidth - 1) << 16, kRegWinX);
    return;
  }
  if (auto g = t.dev_enter()) {
    t.dbi->writel((kWidth - 1) << 16, kRegWinX);
    t.dbi->writel((kHeight - 1) << 16, kRegWinY);
  }
}

const DrmDriver kTinyDrmDriver = [] {
  DrmDriver d;
  d.name = kDriverName;
  d.desc = "udrm example: MIPI-DBI panel";
  d.features = DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC;
  d.lastclose = tiny_lastclose;
  return d;
}();

const ModeConfigFuncs kModeConfigFuncs = [] {
  ModeConfigFuncs f;
  f.fb_create = gem_fb_create;
  f.atomic_check = atomic_helper_check;
  f.atomic_commit = atomic_helper_commit;
  return f;
}();

const ModeConfigHelperFuncs kModeConfigHelpers = [] {
  ModeConfigHelperFuncs f;
  f.atomic_commit_tail = tiny_commit_tail;
  return f;
}();

// The KMS side: all drmm, so it lives as long as the DRM device, not the binding.
int tiny_modeset_init(TinyDrm& t) {
  static constexpr uint32_t kFormats[] = {DRM_FORMAT_XRGB8888};
  int ret = drmm_mode_config_init(t);
  if (ret) return ret;
  ModeConfig* mc = mode_config(t);
  mc->min_width = mc->max_width = kWidth;
  mc->min_height = mc->max_height = kHeight;
  mc->preferred_depth = 24;
  mc->funcs = &kModeConfigFuncs;
  mc->helper_private = &kModeConfigHelpers;

  if ((ret = drmm_universal_plane_init(t, t.plane, 1u, &kPlaneFuncs, kFormats, std::size(kFormats), nullptr,
                                       PlaneType::primary, "primary")))
    return ret;
  plane_helper_add(t.plane, &kPlaneHelpers);
  if ((ret = drmm_crtc_init_with_planes(t, t.crtc, &t.plane, nullptr, &kCrtcFuncs))) return ret;
  crtc_helper_add(t.crtc, &kCrtcHelpers);
  if ((ret = drmm_encoder_init(t, t.encoder, DRM_MODE_ENCODER_NONE))) return ret;
  t.encoder.possible_crtcs = t.crtc.mask();
  if ((ret = drmm_connector_init(t, t.connector, &kConnectorFuncs, DRM_MODE_CONNECTOR_SPI))) return ret;
  connector_helper_add(t.connector, &kConnectorHelpers);
  return connector_attach_encoder(t.connector, t.encoder);
}

class TinyDriver final : public Driver {
 public:
  TinyDriver(fakehw::Board& board, std::shared_ptr<std::atomic<int>> live, TinyBugs bugs)
      : Driver(kDriverName), board_(board), live_(std::move(live)), bugs_(bugs) {}

  // Any failure returns: devm undoes what probe acquired (LIFO), and the devm action of
  // devm_drm_dev_alloc drops the DRM device, whose drmm actions clean the KMS objects.
  int probe(Device& dev, const Bound&) override {
    fakehw::RegisterBlock* regs = board_.mmio(kDbiName);
    fakehw::IrqLine* te = board_.irq(kTeIrqName);
    fakehw::Clock* spi = board_.clock(kSpiClockName);
    fakehw::Regulator* vcc = board_.regulator(kVccName);
    fakehw::Gpio* reset = board_.gpio(kResetName);
    if (!regs || !te || !spi || !vcc || !reset) return -ENODEV;  // not this board

    int ret = 0;
    // 1. The DRM device first: the earliest devm entry, so its reference is dropped last.
    auto* t = devm_drm_dev_alloc<TinyDrm>(dev, kTinyDrmDriver, &ret, live_, bugs_);
    if (!t) return ret;
    t->mode = panel_mode();
    t->vcc = vcc;
    // 2. Hardware, devm: the bus clock, the registers, the reset line (held in reset).
    if ((ret = fakehw::devm_clk_get_enabled(dev, *spi))) return ret;
    if (!(t->dbi = fakehw::devm_ioremap(dev, *regs))) return -ENOMEM;
    if (!(t->reset = fakehw::devm_gpiod_get(dev, *reset, 1))) return -EBUSY;
    // 3. KMS, drmm.
    if ((ret = drm_vblank_init(*t, 1))) return ret;
    if ((ret = tiny_modeset_init(*t))) return ret;
    // 4. The interrupt last: after the mapping it reads and the vblank state it feeds, so devm
    // frees it first at unbind.
    if ((ret = fakehw::devm_request_irq(dev, *te, [t] { return tiny_te_irq(*t); }, "tiny-te"))) return ret;

    mode_config_reset(*t);
    dev.set_drvdata(t);
    // 5. Publish: from here userspace can open the device.
    if ((ret = t->register_device())) dev.set_drvdata(nullptr);
    return ret;
  }

  // Order matters: unplug (no new ioctls, in-flight ones drained), then switch the outputs off
  // (the shutdown commit waits for any commit in flight and runs in the teardown section), then
  // return and let devm free the IRQ, unmap, release the reset line and the clock, and drop the
  // DRM device's reference. Open files keep the DRM device (and the drmm KMS objects) alive.
  void remove(Device& dev, const Bound&) override {
    auto* t = dev.drvdata<TinyDrm>();
    if (!t) return;
    UDRM_POINT("tiny.remove");
    t->unplug();
    if (!bugs_.remove_without_shutdown) {  // BUG (TinyBugs) when skipped
      auto teardown = t->teardown_scope();
      atomic_helper_shutdown(*t);
    }
    dev.set_drvdata(nullptr);
  }

 private:
  fakehw::Board& board_;
  std::shared_ptr<std::atomic<int>> live_;
  TinyBugs bugs_;
};

}  // namespace

std::unique_ptr<Driver> tiny_driver_create(fakehw::Board& board, std::shared_ptr<std::atomic<int>> live_devices,
                                           TinyBugs bugs) {
  return std::make_unique<TinyDriver>(board, std::move(live_devices), bugs);
}

}  // namespace udrm::examples::tiny
