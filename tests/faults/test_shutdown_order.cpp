// remove() orderings that really switch the outputs off (issue 3), proven on a minimal driver
// of the most common shape: a platform driver on a fakehw DisplayController whose CRTC disable
// path is guarded by dev_enter() (kernel-semantics §3.1 rule 5, §5.5).
//
//  A  remove() = unplug -> atomic_helper_shutdown: the kernel's documented order and its trap
//     (the guarded disable would skip the hardware); udrm's teardown section lets remove()'s
//     own task through, so the pipe is really off.
//  B  remove() = atomic_helper_shutdown -> unplug: off too.
//  C  remove() forgets the shutdown: the framework WARNs "still active at unbind" and the
//     board's leak check names the pipe left scanning.
//  D  a driver that switches its outputs off from a drmm action at the final put, i.e. after
//     devm released the MMIO mapping: the access is a violation naming the register.
// Plus: the teardown section is per task — an ioctl or a dev_enter() of another task while
// remove() is inside it still fails (-ENODEV).
#include <gtest/gtest.h>

#include <drm.h>
#include <drm_fourcc.h>
#include <drm_mode.h>

#include <memory>
#include <mutex>
#include <string>

#include "../hotunplug/scenario.h"
#include "udrm/base/errno.h"
#include "udrm/base/point.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/event.h"
#include "udrm/drm/file.h"
#include "udrm/fakehw/board.h"
#include "udrm/fakehw/display.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"
#include "udrm/testing/kms_client.h"
#include "udrm/testing/warn.h"

namespace udrm::faults {
namespace {

using namespace std::chrono_literals;
using namespace fakehw::dcregs;

enum class Order { unplug_then_shutdown, shutdown_then_unplug, no_shutdown, shutdown_at_final_put };

constexpr const char* kTdName = "udrm-faults-td";

/// 640x480, 800x500 total at 20 MHz: 50 Hz.
DisplayMode td_mode() {
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
  mode_set_name(&m);
  return m;
}

/// The binding's hardware (devm on the platform device).
struct TdHw {
  fakehw::IoMem* regs = nullptr;
};

/// What the test reads after the device is gone.
struct TdStats {
  int disable_hw = 0;       // disable path reached the hardware
  int disable_skipped = 0;  // disable path found the gate closed
  int final_put_shutdowns = 0;
};

struct TdDrm : DrmDevice {
  Crtc crtc;
  Plane primary;
  Encoder enc;
  Connector conn;
  TdHw* hw = nullptr;  // gated: only inside dev_enter()
  // The mapping handle, kept like many drivers keep `void __iomem *base` next to their drm
  // state: the handle object outlives the unmap (fakehw keeps it), so a stale use is a
  // reported violation rather than a crash.
  fakehw::IoMem* regs = nullptr;
  TdStats* stats = nullptr;
};

TdDrm& td(DrmDevice& d) { return static_cast<TdDrm&>(d); }

// ---- the driver's hooks -----------------------------------------------------------------------

void td_crtc_enable(Crtc& crtc, AtomicState& state) {
  TdDrm& d = td(*crtc.dev);
  CrtcState* cs = atomic_get_new_crtc_state(state, crtc);
  const DisplayMode m = cs ? cs->mode : crtc.state->mode;
  if (auto g = d.dev_enter()) {
    d.regs->writel(pack(m.hdisplay, m.htotal), pipe_base(0) + PIPE_HTIMING);
    d.regs->writel(pack(m.vdisplay, m.vtotal), pipe_base(0) + PIPE_VTIMING);
    d.regs->writel(static_cast<uint32_t>(m.clock), pipe_base(0) + PIPE_CLOCK);
    d.regs->writel(CTRL_ENABLE, pipe_base(0) + PIPE_CTRL);
  }
}

// The pipe-off sequence, guarded like most drivers' disable paths.
void td_pipe_off(TdDrm& d) {
  UDRM_POINT("td.pipe_off");
  if (auto g = d.dev_enter()) {
    d.regs->writel(0, pipe_base(0) + PIPE_CTRL);
    ++d.stats->disable_hw;
  } else {
    ++d.stats->disable_skipped;
  }
}

void td_crtc_disable(Crtc& crtc, AtomicState& state) {
  TdDrm& d = td(*crtc.dev);
  td_pipe_off(d);
  CrtcState* ns = atomic_get_new_crtc_state(state, crtc);
  PendingVblankEvent* e = nullptr;
  if (ns && !ns->active) {
    std::lock_guard<SpinLock> l(d.event_lock);
    e = ns->event;
    ns->event = nullptr;
  }
  if (e) crtc_send_vblank_event(crtc, e);
}

// No vblank interrupt in this driver: the flip is "done" when the registers are written.
void td_crtc_flush(Crtc& crtc, AtomicState& state) {
  CrtcState* ns = atomic_get_new_crtc_state(state, crtc);
  PendingVblankEvent* e = nullptr;
  if (ns) {
    std::lock_guard<SpinLock> l(crtc.dev->event_lock);
    e = ns->event;
    ns->event = nullptr;
  }
  if (e) crtc_send_vblank_event(crtc, e);
}

void td_commit_tail(AtomicState& old_state) {
  DrmDevice& dev = old_state.dev();
  atomic_helper_commit_modeset_disables(dev, old_state);
  atomic_helper_commit_planes(dev, old_state, 0);
  atomic_helper_commit_modeset_enables(dev, old_state);
  atomic_helper_commit_hw_done(old_state);
  atomic_helper_wait_for_flip_done(dev, old_state);
  atomic_helper_cleanup_planes(dev, old_state);
}

const CrtcFuncs kTdCrtcFuncs{};
const CrtcHelperFuncs kTdCrtcHelpers = [] {
  CrtcHelperFuncs f;
  f.atomic_enable = td_crtc_enable;
  f.atomic_disable = td_crtc_disable;
  f.atomic_flush = td_crtc_flush;
  return f;
}();
const PlaneFuncs kTdPlaneFuncs{};
const ConnectorFuncs kTdConnFuncs{};
const ModeConfigHelperFuncs kTdModeConfigHelpers = [] {
  ModeConfigHelperFuncs f;
  f.atomic_commit_tail = td_commit_tail;
  return f;
}();

const DrmDriver kTdDrmDriver = [] {
  DrmDriver d;
  d.name = kTdName;
  d.features = DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC;
  return d;
}();

// Variant D's hand-rolled shutdown, run as a drmm action: at the final put. It even opens the
// teardown section ("shutdown needs it after unplug"), so the gate lets it through — to an MMIO
// mapping devm released at unbind. (atomic_helper_shutdown itself cannot run there at all: a
// commit takes a device reference, an addition on 0.)
void td_final_put_shutdown(DrmDevice& dev, TdDrm*) {
  TdDrm& d = td(dev);
  ++d.stats->final_put_shutdowns;
  auto teardown = d.teardown_scope();
  td_pipe_off(d);
}

class TdDriver final : public Driver {
 public:
  TdDriver(fakehw::DisplayController& dc, Order o, TdStats* st) : Driver(kTdName), dc_(dc), order_(o), stats_(st) {}

  int probe(Device& dev, const Bound&) override {
    int err = 0;
    auto* d = devm_drm_dev_alloc<TdDrm>(dev, kTdDrmDriver, &err);
    if (!d) return err;
    d->stats = stats_;
    auto* hw = devm_new<TdHw>(dev, "td_hw");
    if (!hw) return -ENOMEM;
    hw->regs = fakehw::devm_ioremap(dev, dc_.regs());
    if (!hw->regs) return -ENOMEM;
    d->hw = hw;
    d->regs = hw->regs;
    if ((err = drmm_mode_config_init(*d))) return err;
    ModeConfig* mc = mode_config(*d);
    mc->min_width = mc->min_height = 16;
    mc->max_width = mc->max_height = 4096;
    mc->helper_private = &kTdModeConfigHelpers;
    static const uint32_t formats[] = {DRM_FORMAT_XRGB8888};
    if ((err = drmm_universal_plane_init(*d, d->primary, 1, &kTdPlaneFuncs, formats, 1, nullptr, PlaneType::primary)))
      return err;
    if ((err = drmm_crtc_init_with_planes(*d, d->crtc, &d->primary, nullptr, &kTdCrtcFuncs))) return err;
    crtc_helper_add(d->crtc, &kTdCrtcHelpers);
    if ((err = drmm_encoder_init(*d, d->enc, DRM_MODE_ENCODER_VIRTUAL))) return err;
    d->enc.possible_crtcs = 1;
    if ((err = drmm_connector_init(*d, d->conn, &kTdConnFuncs, DRM_MODE_CONNECTOR_VIRTUAL))) return err;
    if ((err = connector_attach_encoder(d->conn, d->enc))) return err;
    if (order_ == Order::shutdown_at_final_put &&
        (err = drmm_add_action_or_reset<TdDrm>(*d, td_final_put_shutdown, d, "td_final_put_shutdown")))
      return err;
    mode_config_reset(*d);
    if ((err = d->register_device())) return err;
    dev.set_drvdata(d);
    return 0;
  }

  void remove(Device& dev, const Bound&) override {
    auto* d = dev.drvdata<TdDrm>();
    if (!d) return;
    UDRM_POINT("td.remove");
    switch (order_) {
      case Order::unplug_then_shutdown:
        d->unplug();
        atomic_helper_shutdown(*d);
        break;
      case Order::shutdown_then_unplug:
        atomic_helper_shutdown(*d);
        d->unplug();
        break;
      case Order::no_shutdown:
      case Order::shutdown_at_final_put:
        d->unplug();
        break;
    }
    dev.set_drvdata(nullptr);
  }

 private:
  fakehw::DisplayController& dc_;
  Order order_;
  TdStats* stats_;
};

/// A board with one single-pipe controller, the driver registered, the device bound.
struct TdRig {
  TdRig(World& w, Order o) : world(w), board(w) {
    fakehw::DisplayConfig cfg;
    cfg.pipes = 1;
    cfg.planes_per_pipe = 1;
    dc = &board.add_display("td-dc", cfg);
    drv = std::make_unique<TdDriver>(*dc, o, &stats);
    EXPECT_EQ(w.bus().register_driver(*drv), 0);
    dev = Device::create(w, "td0", nullptr, kTdName);
    EXPECT_EQ(w.bus().add_device(*dev), 0);
  }
  ~TdRig() {
    if (dev->is_registered()) world.bus().del_device(*dev);
    world.bus().unregister_driver(*drv);
  }
  TdDrm* drm() const { return dev->drvdata<TdDrm>(); }
  int unbind() { return world.bus().unbind(dev->name()); }

  World& world;
  fakehw::Board board;
  fakehw::DisplayController* dc = nullptr;
  TdStats stats;
  std::unique_ptr<TdDriver> drv;
  Ref<Device> dev;
};

/// Light the pipe: CRTC active with the mode, connector routed (blocking, in process).
int td_modeset(TdDrm& d) {
  std::lock_guard<Mutex> l(mode_config(d)->mutex);
  Ref<AtomicState> st = atomic_state_alloc(d);
  if (!st) return -ENOMEM;
  st->allow_modeset = true;
  CrtcState* cs = atomic_get_crtc_state(*st, d.crtc);
  if (!cs) return -ENOMEM;
  const DisplayMode m = td_mode();
  if (int r = atomic_set_mode_for_crtc(*cs, &m)) return r;
  cs->active = true;
  ConnectorState* conn = atomic_get_connector_state(*st, d.conn);
  if (!conn) return -ENOMEM;
  if (int r = atomic_set_crtc_for_connector(*conn, &d.crtc)) return r;
  return atomic_commit(*st);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += x + "; ";
  return s;
}

bool mentions(const std::vector<std::string>& v, const std::string& what) {
  for (auto& x : v)
    if (x.find(what) != std::string::npos) return true;
  return false;
}

// ---- A and B: both orders switch the pipe off ------------------------------------------------

class ShutdownOrder : public ::testing::TestWithParam<Order> {};

TEST_P(ShutdownOrder, RemoveSwitchesThePipeOff) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    TdRig rig(world, GetParam());
    ASSERT_NE(rig.drm(), nullptr);
    ASSERT_EQ(td_modeset(*rig.drm()), 0);
    sleep_for(50ms);
    ASSERT_TRUE(rig.dc->pipe_enabled(0));
    EXPECT_GE(rig.dc->vblanks(0), 2u);  // it really scans
    EXPECT_FALSE(rig.board.leaks().empty());  // the check sees a lit pipe

    ASSERT_EQ(rig.unbind(), 0);
    EXPECT_FALSE(rig.dc->pipe_enabled(0));
    EXPECT_EQ(rig.stats.disable_hw, 1);
    EXPECT_EQ(rig.stats.disable_skipped, 0);
    EXPECT_TRUE(rig.board.leaks().empty()) << join(rig.board.leaks());
    const uint64_t frames = rig.dc->vblanks(0);
    sleep_for(100ms);
    EXPECT_EQ(rig.dc->vblanks(0), frames);  // the timing generator stopped
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

INSTANTIATE_TEST_SUITE_P(Faults, ShutdownOrder,
                         ::testing::Values(Order::unplug_then_shutdown, Order::shutdown_then_unplug),
                         [](const auto& info) {
                           return info.param == Order::unplug_then_shutdown ? std::string("UnplugThenShutdown")
                                                                            : std::string("ShutdownThenUnplug");
                         });

// Without the teardown section the kernel's order skips the guarded disable: prove that the
// section is what makes A work (a shutdown run outside remove()'s scope, from another task
// after unplug, reaches nothing).
TEST(ShutdownOrderTrap, GuardedDisableAfterUnplugSkipsOutsideTheTeardownSection) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    TdRig rig(world, Order::unplug_then_shutdown);
    TdDrm* d = rig.drm();
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(td_modeset(*d), 0);
    d->unplug();
    td_pipe_off(*d);  // the trap: no section, gate closed
    EXPECT_EQ(rig.stats.disable_skipped, 1);
    EXPECT_TRUE(rig.dc->pipe_enabled(0));
    {
      auto teardown = d->teardown_scope();
      td_pipe_off(*d);
    }
    EXPECT_EQ(rig.stats.disable_hw, 1);
    EXPECT_FALSE(rig.dc->pipe_enabled(0));
    ASSERT_EQ(rig.unbind(), 0);  // remove(): unplug again (idempotent) + shutdown
    EXPECT_TRUE(rig.board.leaks().empty()) << join(rig.board.leaks());
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

// ---- C: remove() forgets the shutdown ---------------------------------------------------------

TEST(ShutdownOrderForgotten, FrameworkWarnsAndTheBoardNamesThePipe) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    TdRig rig(world, Order::no_shutdown);
    ASSERT_NE(rig.drm(), nullptr);
    ASSERT_EQ(td_modeset(*rig.drm()), 0);
    {
      testing::ExpectWarn w(1, "still active at unbind");
      ASSERT_EQ(rig.unbind(), 0);
    }
    EXPECT_EQ(rig.stats.disable_hw, 0);
    EXPECT_TRUE(rig.dc->pipe_enabled(0));
    auto leaks = rig.board.leaks();
    EXPECT_TRUE(mentions(leaks, "display td-dc pipe 0 left enabled")) << join(leaks);
    EXPECT_TRUE(world.violations().empty());
    // Clean up the silicon by hand so the board goes down quietly.
    rig.dc->regs().hw_set(pipe_base(0) + PIPE_CTRL, 0);
  });
  ASSERT_TRUE(r) << r.report;
}

// ---- D: shutdown from a drmm action at the final put ------------------------------------------

TEST(ShutdownOrderFinalPut, MmioAfterDevmReleaseIsAViolationNamingTheRegister) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    TdRig rig(world, Order::shutdown_at_final_put);
    TdDrm* d = rig.drm();
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(td_modeset(*d), 0);
    Ref<DrmFile> f;
    ASSERT_EQ(DrmFile::open(*d, &f), 0);  // the final put comes at this file's close
    {
      testing::ExpectWarn w(1, "still active at unbind");
      ASSERT_EQ(rig.unbind(), 0);
    }
    EXPECT_EQ(rig.stats.final_put_shutdowns, 0);  // not yet: the file holds the device
    EXPECT_EQ(rig.dc->regs().live_mappings(), 0);  // devm unmapped at unbind
    {
      testing::ExpectWarn w(-1);
      EXPECT_EQ(f->close(), 0);
    }
    EXPECT_EQ(rig.stats.final_put_shutdowns, 1);
    EXPECT_EQ(rig.stats.disable_hw, 1);  // the gate let it through...
    auto v = world.violations();
    ASSERT_EQ(v.size(), 1u);  // ...to a released mapping: caught, named
    EXPECT_EQ(v[0].kind, "mmio-after-unmap");
    EXPECT_NE(v[0].message.find("PIPE0_CTRL"), std::string::npos) << v[0].message;
    EXPECT_NE(v[0].message.find("td-dc"), std::string::npos) << v[0].message;
    // The write was dropped: the pipe is still on, and the board says so.
    EXPECT_TRUE(rig.dc->pipe_enabled(0));
    EXPECT_TRUE(mentions(rig.board.leaks(), "pipe 0 left enabled"));
    rig.dc->regs().hw_set(pipe_base(0) + PIPE_CTRL, 0);
    world.clear_violations();
  });
  ASSERT_TRUE(r) << r.report;
}

// ---- the teardown section is per task ---------------------------------------------------------

TEST(ShutdownOrderTeardownSection, AnotherClientsIoctlDuringRemoveStillGetsEnodev) {
  SimExecutor sim;
  World world(sim);
  int ioctl_ret = 1, enter_ok = -1, pipe_on_at_point = -1;
  auto r = sim.run([&] {
    TdRig rig(world, Order::unplug_then_shutdown);
    TdDrm* d = rig.drm();
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(td_modeset(*d), 0);
    Ref<DrmFile> f;
    ASSERT_EQ(DrmFile::open(*d, &f), 0);
    testing::KmsClient other(f);
    testing::KmsClient::Resources res;
    ASSERT_EQ(other.get_resources(&res), 0);  // a live client
    {
      // Stop remove()'s task inside its teardown section, right before the guarded pipe-off,
      // and let the other client try.
      scenario::InjectAt at(sim, "td.pipe_off", "");
      at.arm([&] {
        testing::KmsClient::Resources r2;
        ioctl_ret = other.get_resources(&r2);
        auto g = d->dev_enter();
        enter_ok = g ? 1 : 0;
        pipe_on_at_point = rig.dc->pipe_enabled(0) ? 1 : 0;
      });
      sleep_for(1ms);  // the injector task starts and waits for the point
      ASSERT_EQ(rig.unbind(), 0);
      EXPECT_TRUE(at.fired());
      EXPECT_TRUE(at.action_done());
    }
    EXPECT_EQ(ioctl_ret, -ENODEV);
    EXPECT_EQ(enter_ok, 0);         // the section is remove()'s alone
    EXPECT_EQ(pipe_on_at_point, 1);  // it was stopped before the pipe went off...
    EXPECT_EQ(rig.stats.disable_hw, 1);  // ...and then remove()'s own task reached it
    EXPECT_FALSE(rig.dc->pipe_enabled(0));
    EXPECT_EQ(other.close(), 0);
    EXPECT_TRUE(rig.board.leaks().empty()) << join(rig.board.leaks());
    EXPECT_TRUE(world.violations().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::faults
