// Hot-plug detect (edge + IRQ, EDID on the DDC), DSI panel sequencing, backlight, and
// Board::leaks() after a full on/off cycle of a driver using every display block.
#include <gtest/gtest.h>

#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"
#include "udrm/fakehw/board.h"
#include "udrm/fakehw/edid_builder.h"
#include "udrm/testing/warn.h"

namespace udrm::fakehw {
namespace {

using namespace std::chrono_literals;

bool contains(const std::vector<std::string>& v, const char* sub) {
  for (auto& s : v)
    if (s.find(sub) != std::string::npos) return true;
  return false;
}

TEST(Hotplug, EveryEdgeLatchesStatusAndRaisesTheIrq) {
  SimExecutor sim;
  World world(sim);
  Board board(world);
  HotplugDetect& hpd = board.add_hotplug("hdmi0");
  EXPECT_EQ(board.hotplug("hdmi0"), &hpd);
  auto edid = EdidBuilder().preferred(edid_timing_1920x1080_60()).build();
  std::vector<std::pair<uint32_t, uint32_t>> seen;  // (int status, level)
  std::vector<bool> edid_ok;
  auto r = sim.run([&] {
    Ref<Device> d = Device::create(world, "bridge");
    world.bus().add_device(*d);
    IoMem* io = devm_ioremap(*d, hpd.regs());
    ASSERT_EQ(devm_request_irq(*d, hpd.irq(), [&] {
      const uint32_t st = io->readl(hpdregs::HPD_INT_STATUS);
      io->writel(st, hpdregs::HPD_INT_STATUS);
      seen.emplace_back(st, io->readl(hpdregs::HPD_STATUS));
      return st ? IrqReturn::handled : IrqReturn::none;
    }, "hpd"), 0);
    hpd.plug(edid);  // interrupts masked: latched, no IRQ
    sleep_for(1ms);
    EXPECT_TRUE(seen.empty());
    EXPECT_EQ(io->readl(hpdregs::HPD_INT_STATUS), hpdregs::INT_PLUG);
    io->writel(hpdregs::INT_PLUG, hpdregs::HPD_INT_STATUS);
    io->writel(hpdregs::INT_PLUG | hpdregs::INT_UNPLUG, hpdregs::HPD_INT_ENABLE);
    hpd.unplug();
    sleep_for(1ms);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], std::make_pair(hpdregs::INT_UNPLUG, 0u));
    uint8_t buf[128];
    EXPECT_EQ(hpd.ddc().read_edid_block(0, buf), -ENXIO);  // unplugged: DDC NAKs
    hpd.plug(edid);
    sleep_for(1ms);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1], std::make_pair(hpdregs::INT_PLUG, hpdregs::STATUS_LEVEL));
    ASSERT_EQ(hpd.ddc().read_edid_block(0, buf), 0);
    EXPECT_TRUE(edid_checksums_ok(buf, 128));
    hpd.plug(edid);  // already plugged: no edge
    hpd.unplug();
    hpd.unplug();    // no edge
    sleep_for(1ms);
    EXPECT_EQ(seen.size(), 3u);
    EXPECT_EQ(hpd.edges(), 4u);
    EXPECT_FALSE(hpd.plugged());
    io->writel(hpdregs::CTRL_TMDS_EN, hpdregs::HDMI_CTRL);
    EXPECT_TRUE(hpd.tmds_enabled());
    auto leaks = board.leaks();
    EXPECT_TRUE(contains(leaks, "hdmi hdmi0 output (TMDS) left enabled"));
    EXPECT_TRUE(contains(leaks, "HPD_INT_ENABLE=0x3"));
    io->writel(0, hpdregs::HDMI_CTRL);
    io->writel(0, hpdregs::HPD_INT_ENABLE);
    world.bus().del_device(*d);
    EXPECT_TRUE(board.leaks().empty()) << board.leaks().front();
  });
  ASSERT_TRUE(r) << r.report;
}

struct PanelRig {
  explicit PanelRig(SimExecutor& sim, Duration delay = Duration{0})
      : world(sim), board(world), panel(board.add_panel("dsi-panel", {"vdd-panel", "panel-reset", delay})),
        bl(board.add_backlight("bl", 255)) {}
  World world;
  Board board;
  DsiPanel& panel;
  Backlight& bl;
};

TEST(Panel, CorrectSequenceTurnsItOnAndOff) {
  SimExecutor sim;
  PanelRig rig(sim, 5ms);
  auto r = sim.run([&] {
    Ref<Device> d = Device::create(rig.world, "panel");
    rig.world.bus().add_device(*d);
    Regulator& vdd = *rig.board.regulator("vdd-panel");
    Gpio& rst = *rig.board.gpio("panel-reset");
    ASSERT_EQ(devm_regulator_get_enable(*d, vdd), 0);
    ASSERT_NE(devm_gpiod_get(*d, rst, 1), nullptr);  // held in reset
    EXPECT_EQ(rig.panel.state(), DsiPanel::State::off);
    rst.set_value(0);
    EXPECT_EQ(rig.panel.dcs_write(dcs::EXIT_SLEEP_MODE), 0);
    EXPECT_EQ(rig.panel.state(), DsiPanel::State::awake);
    sleep_for(5ms);
    EXPECT_EQ(rig.panel.dcs_write(dcs::SET_DISPLAY_ON), 0);
    EXPECT_TRUE(rig.panel.display_on());
    EXPECT_EQ(rig.bl.set_brightness(200), 0);
    EXPECT_EQ(rig.bl.set_brightness(256), -EINVAL);
    rig.bl.enable();
    EXPECT_EQ(rig.bl.brightness(), 200u);
    auto leaks = rig.board.leaks();
    EXPECT_TRUE(contains(leaks, "panel dsi-panel display left on"));
    EXPECT_TRUE(contains(leaks, "backlight bl left enabled (brightness 200)"));
    rig.bl.disable();
    EXPECT_EQ(rig.panel.dcs_write(dcs::SET_DISPLAY_OFF), 0);
    EXPECT_EQ(rig.panel.dcs_write(dcs::ENTER_SLEEP_MODE), 0);
    EXPECT_EQ(rig.panel.state(), DsiPanel::State::sleep);
    EXPECT_EQ(rig.panel.dcs_write(0x99), -EINVAL);
    rig.world.bus().del_device(*d);  // supply off, reset released
    EXPECT_EQ(rig.panel.state(), DsiPanel::State::off);
    EXPECT_TRUE(rig.board.leaks().empty()) << rig.board.leaks().front();
    EXPECT_EQ(rig.panel.command_log(), (std::vector<uint8_t>{0x11, 0x29, 0x28, 0x10, 0x99}));
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(rig.world.violations().empty());
}

TEST(Panel, WrongOrderIsRefusedAndRecorded) {
  SimExecutor sim;
  PanelRig rig(sim, 120ms);
  auto r = sim.run([&] {
    Ref<Device> d = Device::create(rig.world, "panel");
    rig.world.bus().add_device(*d);
    Regulator& vdd = *rig.board.regulator("vdd-panel");
    Gpio& rst = *rig.board.gpio("panel-reset");
    {
      testing::ExpectWarn w(1, "supply 'vdd-panel' is off");
      EXPECT_EQ(rig.panel.dcs_write(dcs::SET_DISPLAY_ON), -EIO);
    }
    ASSERT_EQ(devm_regulator_get_enable(*d, vdd), 0);
    ASSERT_NE(devm_gpiod_get(*d, rst, 1), nullptr);
    {
      testing::ExpectWarn w(1, "reset 'panel-reset' is asserted");
      EXPECT_EQ(rig.panel.dcs_write(dcs::EXIT_SLEEP_MODE), -EIO);
    }
    rst.set_value(0);
    {
      testing::ExpectWarn w(1, "before exit_sleep_mode");
      EXPECT_EQ(rig.panel.dcs_write(dcs::SET_DISPLAY_ON), -EIO);
    }
    EXPECT_EQ(rig.panel.dcs_write(dcs::EXIT_SLEEP_MODE), 0);
    sleep_for(10ms);
    {
      testing::ExpectWarn w(1, "needs 120.000 ms");
      EXPECT_EQ(rig.panel.dcs_write(dcs::SET_DISPLAY_ON), -EIO);
    }
    sleep_for(110ms);
    EXPECT_EQ(rig.panel.dcs_write(dcs::SET_DISPLAY_ON), 0);
    EXPECT_TRUE(rig.panel.display_on());
    rst.set_value(1);  // yanking reset powers the panel off
    EXPECT_FALSE(rig.panel.display_on());
    EXPECT_EQ(rig.panel.state(), DsiPanel::State::off);
    rig.world.bus().del_device(*d);
  });
  ASSERT_TRUE(r) << r.report;
  auto v = rig.world.violations();
  ASSERT_EQ(v.size(), 4u);
  for (auto& x : v) EXPECT_EQ(x.kind, "panel-sequence");
  EXPECT_NE(v[0].message.find("set_display_on"), std::string::npos) << v[0].message;
  EXPECT_NE(v[0].message.find("dsi-panel"), std::string::npos) << v[0].message;
}

// A driver using every display block the way the soc driver will: probe powers everything up,
// remove powers it down. After unbind nothing may be left on.
class FullDriver final : public Driver {
 public:
  FullDriver(Board& b, bool sloppy) : Driver("full"), b_(b), sloppy_(sloppy) {}
  int probe(Device& dev, const Bound&) override {
    DisplayController& dc = *b_.display("dc0");
    HotplugDetect& hpd = *b_.hotplug("hdmi0");
    dcio = devm_ioremap(dev, dc.regs());
    hpdio = devm_ioremap(dev, hpd.regs());
    if (!dcio || !hpdio) return -ENOMEM;
    if (int r = devm_clk_get_enabled(dev, *b_.clock("dc-core"))) return r;
    if (int r = devm_request_irq(dev, dc.irq(), [this] {
          dcio->writel(dcio->readl(dcregs::INT_STATUS), dcregs::INT_STATUS);
          return IrqReturn::handled;
        }, "dc0"))
      return r;
    if (int r = devm_request_irq(dev, hpd.irq(), [this] {
          hpdio->writel(hpdio->readl(hpdregs::HPD_INT_STATUS), hpdregs::HPD_INT_STATUS);
          return IrqReturn::handled;
        }, "hpd"))
      return r;
    if (int r = devm_regulator_get_enable(dev, *b_.regulator("vdd-panel"))) return r;
    Gpio* rst = devm_gpiod_get(dev, *b_.gpio("panel-reset"), 1);
    if (!rst) return -EBUSY;
    rst->set_value(0);
    using namespace dcregs;
    dcio->writel(0xff, INT_ENABLE);
    dcio->writel(pack(64, 80), pipe_base(0) + PIPE_HTIMING);
    dcio->writel(pack(48, 60), pipe_base(0) + PIPE_VTIMING);
    dcio->writel(288, pipe_base(0) + PIPE_CLOCK);
    dcio->writel(CTRL_ENABLE, pipe_base(0) + PIPE_CTRL);
    hpdio->writel(hpdregs::INT_PLUG | hpdregs::INT_UNPLUG, hpdregs::HPD_INT_ENABLE);
    hpdio->writel(hpdregs::CTRL_TMDS_EN, hpdregs::HDMI_CTRL);
    Backlight& bl = *b_.backlight("bl");
    DsiPanel& panel = *b_.panel("dsi-panel");
    if (int r = panel.dcs_write(dcs::EXIT_SLEEP_MODE)) return r;
    if (int r = panel.dcs_write(dcs::SET_DISPLAY_ON)) return r;
    bl.set_brightness(128);
    bl.enable();
    return 0;
  }
  void remove(Device&, const Bound&) override {
    if (sloppy_) return;
    b_.backlight("bl")->disable();
    DsiPanel& panel = *b_.panel("dsi-panel");
    panel.dcs_write(dcs::SET_DISPLAY_OFF);
    panel.dcs_write(dcs::ENTER_SLEEP_MODE);
    hpdio->writel(0, hpdregs::HDMI_CTRL);
    hpdio->writel(0, hpdregs::HPD_INT_ENABLE);
    dcio->writel(0, dcregs::pipe_base(0) + dcregs::PIPE_CTRL);
    dcio->writel(0, dcregs::INT_ENABLE);
  }
  Board& b_;
  bool sloppy_;
  IoMem* dcio = nullptr;
  IoMem* hpdio = nullptr;
};

void full_cycle(bool sloppy) {
  SimExecutor sim;
  World world(sim);
  Board board(world);
  board.add_display("dc0");
  board.add_hotplug("hdmi0");
  board.add_clock("dc-core", 200'000'000);
  board.add_panel("dsi-panel", {"vdd-panel", "panel-reset", Duration{0}});
  board.add_backlight("bl", 255);
  FullDriver drv(board, sloppy);
  std::vector<std::string> on, off;
  auto r = sim.run([&] {
    ASSERT_EQ(world.bus().register_driver(drv), 0);
    Ref<Device> d = Device::create(world, "display", nullptr, "full");
    ASSERT_EQ(world.bus().add_device(*d), 0);
    ASSERT_TRUE(d->is_bound());
    board.hotplug("hdmi0")->plug(EdidBuilder().preferred(edid_timing_640x480_60()).build());
    sleep_for(100ms);
    EXPECT_GE(board.display("dc0")->vblanks(0), 5u);
    on = board.leaks();
    world.bus().del_device(*d);
    off = board.leaks();
    world.bus().unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(contains(on, "display dc0 pipe 0 left enabled"));
  EXPECT_TRUE(contains(on, "display dc0 interrupts left enabled"));
  EXPECT_TRUE(contains(on, "hdmi hdmi0 output"));
  EXPECT_TRUE(contains(on, "panel dsi-panel display left on"));
  EXPECT_TRUE(contains(on, "backlight bl left enabled"));
  EXPECT_TRUE(contains(on, "clock dc-core enabled"));
  if (!sloppy) {
    EXPECT_TRUE(off.empty()) << off.front();
  } else {
    // devm undid clocks, IRQs, mappings, regulator and GPIO; what only remove() could undo is
    // still on. The panel lost power with the regulator, so it is off (a glitch, not a leak).
    EXPECT_TRUE(contains(off, "display dc0 pipe 0 left enabled"));
    EXPECT_TRUE(contains(off, "display dc0 interrupts left enabled"));
    EXPECT_TRUE(contains(off, "hdmi hdmi0 output"));
    EXPECT_TRUE(contains(off, "backlight bl left enabled"));
    EXPECT_FALSE(contains(off, "clock"));
    EXPECT_FALSE(contains(off, "panel"));
  }
  EXPECT_TRUE(world.violations().empty());
}

TEST(BoardLeaks, FullOnOffCycleLeavesNothingOn) { full_cycle(false); }
TEST(BoardLeaks, ForgettingToSwitchOffIsListed) { full_cycle(true); }

}  // namespace
}  // namespace udrm::fakehw
