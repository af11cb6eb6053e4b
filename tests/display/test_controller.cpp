// Display controller: latch at vblank after GO, FLIP_DONE, CRC of the scanned frame, fault
// injection (stuck flip, stuck busy, underrun, storm), DMA violations from the scanout engine,
// immediate mode, refused modes.
#include <gtest/gtest.h>
#include <drm_fourcc.h>

#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"
#include "udrm/fakehw/board.h"
#include "udrm/testing/warn.h"

namespace udrm::fakehw {
namespace {

using namespace std::chrono_literals;
using namespace dcregs;

constexpr uint32_t W = 64, H = 48;
// 80×60 total at 288 kHz: 16.666 ms (60 Hz).
constexpr uint32_t kHTotal = 80, kVTotal = 60, kClock = 288;
const Duration kPeriod = frame_period(VideoTimings{kClock, W, kHTotal, H, kVTotal});

struct Fb {
  Fb(DmaSpace& dma, uint32_t color, const char* name) : px(W * H, color) {
    addr = dma.map(px.data(), px.size() * 4, name);
  }
  std::vector<uint32_t> px;
  dma_addr_t addr;
  uint32_t crc() const {
    Composer c;
    PlaneDesc p;
    p.fourcc = DRM_FORMAT_XRGB8888;
    p.pixels = px.data();
    p.pitch = W * 4;
    p.src = p.dst = {0, 0, W, H};
    c.compose(W, H, {&p, 1});
    return c.crc();
  }
};

// A rig: a board with a display controller, a driverless device that maps it and requests its
// IRQ (the handler records and acks status), helpers to program it as a driver would.
struct Rig {
  explicit Rig(SimExecutor& sim) : world(sim), board(world), dc(board.add_display("dc0")) {}
  void attach() {
    dev = Device::create(world, "dc-dev");
    ASSERT_EQ(world.bus().add_device(*dev), 0);
    io = devm_ioremap(*dev, dc.regs());
    ASSERT_NE(io, nullptr);
    ASSERT_EQ(devm_request_irq(*dev, dc.irq(), [this] {
      const uint32_t st = io->readl(INT_STATUS);
      if (!st) return IrqReturn::none;
      io->writel(st, INT_STATUS);
      statuses.push_back(st);
      return IrqReturn::handled;
    }, "dc0"), 0);
  }
  void detach() { world.bus().del_device(*dev); }
  void plane(uint32_t p, uint32_t k, dma_addr_t addr, uint32_t zpos = 0, uint32_t fourcc = DRM_FORMAT_XRGB8888) {
    const uint32_t b = plane_base(p, k);
    io->writel(PLANE_ENABLE | plane_zpos(zpos), b + PLANE_CTRL);
    io->writel(fourcc, b + PLANE_FORMAT);
    io->writel(static_cast<uint32_t>(addr), b + PLANE_ADDR_LO);
    io->writel(static_cast<uint32_t>(addr >> 32), b + PLANE_ADDR_HI);
    io->writel(W * 4, b + PLANE_PITCH);
    io->writel(pack(0, 0), b + PLANE_SRC_POS);
    io->writel(pack(W, H), b + PLANE_SRC_SIZE);
    io->writel(pack(0, 0), b + PLANE_DST_POS);
    io->writel(pack(W, H), b + PLANE_DST_SIZE);
  }
  void go(uint32_t p) { io->writel(io->readl(pipe_base(p) + PIPE_CTRL) | CTRL_GO, pipe_base(p) + PIPE_CTRL); }
  void enable(uint32_t p, uint32_t clock = kClock) {
    io->writel(pack(W, kHTotal), pipe_base(p) + PIPE_HTIMING);
    io->writel(pack(H, kVTotal), pipe_base(p) + PIPE_VTIMING);
    io->writel(clock, pipe_base(p) + PIPE_CLOCK);
    io->writel(CTRL_ENABLE | CTRL_CRC_EN, pipe_base(p) + PIPE_CTRL);
  }
  void disable(uint32_t p) { io->writel(0, pipe_base(p) + PIPE_CTRL); }
  bool saw(uint32_t bits) const {
    for (uint32_t s : statuses)
      if (s & bits) return true;
    return false;
  }
  World world;
  Board board;
  DisplayController& dc;
  Ref<Device> dev;
  IoMem* io = nullptr;
  std::vector<uint32_t> statuses;
};

TEST(DisplayController, RegistersLatchOnlyAtVblankAfterGo) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.attach();
    Fb red(rig.dc.dma(), 0xff0000, "fb-red"), blue(rig.dc.dma(), 0x0000ff, "fb-blue");
    EXPECT_EQ(rig.io->readl(ID), kId);
    EXPECT_EQ(rig.io->readl(NUM_PIPES), 2u);
    rig.plane(0, 0, red.addr);
    rig.go(0);  // pipe off: latches at once
    EXPECT_EQ(rig.dc.latched(0, 0).addr, red.addr);
    EXPECT_EQ(rig.io->readl(pipe_base(0) + PIPE_CTRL) & CTRL_GO, 0u);
    rig.io->writel(0xffffffff, INT_ENABLE);
    rig.enable(0);
    EXPECT_TRUE(rig.dc.pipe_enabled(0));
    EXPECT_EQ(rig.dc.timing(0).period(), kPeriod);
    const TimePoint t0 = now();
    sleep_for(kPeriod + kPeriod / 2);  // mid-frame 2
    EXPECT_EQ(rig.dc.vblanks(0), 1u);
    EXPECT_EQ(rig.dc.crc(0), red.crc());
    EXPECT_EQ(rig.io->readl(pipe_base(0) + PIPE_CRC), red.crc());
    EXPECT_TRUE(rig.saw(int_vblank(0)));
    EXPECT_FALSE(rig.saw(int_flip_done(0)));

    // Mid-frame update: nothing changes until the vblank.
    rig.plane(0, 0, blue.addr);
    rig.go(0);
    sleep_for(kPeriod / 4);
    EXPECT_EQ(rig.dc.latched(0, 0).addr, red.addr);
    EXPECT_NE(rig.io->readl(pipe_base(0) + PIPE_CTRL) & CTRL_GO, 0u);
    EXPECT_EQ(rig.dc.crc(0), red.crc());
    sleep_for(kPeriod / 2);  // past vblank 2
    EXPECT_EQ(rig.dc.timing(0).last_vblank(), t0 + kPeriod * 2);
    EXPECT_EQ(rig.dc.latched(0, 0).addr, blue.addr);
    EXPECT_EQ(rig.io->readl(pipe_base(0) + PIPE_CTRL) & CTRL_GO, 0u);  // self-cleared = flip done
    EXPECT_TRUE(rig.saw(int_flip_done(0)));
    EXPECT_EQ(rig.dc.flips(0), 1u);
    EXPECT_EQ(rig.dc.crc(0), blue.crc());  // the CRC at the FLIP_DONE vblank is the new content
    EXPECT_EQ(rig.io->readl(pipe_base(0) + PIPE_FRAME), 2u);
    EXPECT_EQ(rig.dc.frames_scanned(0), 2u);
    const auto frame = rig.dc.last_frame(0);
    ASSERT_EQ(frame.size(), size_t{W} * H);
    EXPECT_EQ(frame[0], 0x0000ffu);
    EXPECT_EQ(rig.dc.vblanks(1), 0u);  // pipe 1 untouched

    rig.disable(0);
    rig.io->writel(0, INT_ENABLE);
    EXPECT_FALSE(rig.dc.pipe_enabled(0));
    sleep_for(kPeriod * 3);
    EXPECT_EQ(rig.dc.vblanks(0), 2u);
    EXPECT_EQ(rig.dc.dma().unmap(red.addr), 0);
    EXPECT_EQ(rig.dc.dma().unmap(blue.addr), 0);
    rig.detach();
    EXPECT_TRUE(rig.board.leaks().empty()) << rig.board.leaks().front();
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(rig.world.violations().empty());
}

TEST(DisplayController, TwoPlanesComposeByZpos) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.attach();
    Fb red(rig.dc.dma(), 0xff0000, "fb-red");
    std::vector<uint32_t> cursor(4 * 4, 0xff00ff00);  // opaque green ARGB
    const dma_addr_t ca = rig.dc.dma().map(cursor.data(), cursor.size() * 4, "cursor");
    rig.plane(0, 0, red.addr, 0);
    const uint32_t b = plane_base(0, 2);
    rig.io->writel(PLANE_ENABLE | plane_zpos(2), b + PLANE_CTRL);
    rig.io->writel(DRM_FORMAT_ARGB8888, b + PLANE_FORMAT);
    rig.io->writel(static_cast<uint32_t>(ca), b + PLANE_ADDR_LO);
    rig.io->writel(static_cast<uint32_t>(ca >> 32), b + PLANE_ADDR_HI);
    rig.io->writel(16, b + PLANE_PITCH);
    rig.io->writel(pack(0, 0), b + PLANE_SRC_POS);
    rig.io->writel(pack(4, 4), b + PLANE_SRC_SIZE);
    rig.io->writel(pack(static_cast<uint16_t>(-2), 10), b + PLANE_DST_POS);  // partly off the left edge
    rig.io->writel(pack(4, 4), b + PLANE_DST_SIZE);
    rig.go(0);
    rig.enable(0);
    sleep_for(kPeriod + 1ms);
    const LatchedPlane lp = rig.dc.latched(0, 2);
    EXPECT_EQ(lp.dst, (Rect{-2, 10, 4, 4}));
    const auto f = rig.dc.last_frame(0);
    ASSERT_EQ(f.size(), size_t{W} * H);
    EXPECT_EQ(f[10 * W + 0], 0x00ff00u);
    EXPECT_EQ(f[10 * W + 1], 0x00ff00u);
    EXPECT_EQ(f[10 * W + 2], 0xff0000u);
    EXPECT_EQ(f[9 * W + 0], 0xff0000u);
    EXPECT_NE(rig.dc.crc(0), red.crc());
    rig.disable(0);
    rig.dc.dma().unmap(ca);
    rig.dc.dma().unmap(red.addr);
    rig.detach();
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(rig.world.violations().empty());
}

TEST(DisplayController, StuckFlipNeverCompletes) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.attach();
    Fb red(rig.dc.dma(), 0xff0000, "fb-red"), blue(rig.dc.dma(), 0x0000ff, "fb-blue");
    rig.plane(0, 0, red.addr);
    rig.go(0);
    rig.io->writel(0xffffffff, INT_ENABLE);
    rig.enable(0);
    rig.dc.fault_stuck_flip(0, true);
    rig.plane(0, 0, blue.addr);
    rig.go(0);
    sleep_for(kPeriod * 5 + 1ms);
    EXPECT_EQ(rig.dc.vblanks(0), 5u);  // vblanks keep coming
    EXPECT_EQ(rig.dc.flips(0), 0u);
    EXPECT_FALSE(rig.saw(int_flip_done(0)));
    EXPECT_NE(rig.io->readl(pipe_base(0) + PIPE_CTRL) & CTRL_GO, 0u);
    EXPECT_EQ(rig.dc.latched(0, 0).addr, red.addr);
    rig.dc.fault_stuck_flip(0, false);
    sleep_for(kPeriod);
    EXPECT_EQ(rig.dc.flips(0), 1u);
    EXPECT_TRUE(rig.saw(int_flip_done(0)));
    rig.disable(0);
    rig.io->writel(0, INT_ENABLE);
    rig.dc.dma().unmap(red.addr);
    rig.dc.dma().unmap(blue.addr);
    rig.detach();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(DisplayController, ResetBusyAndStuckBusy) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.attach();
    rig.io->writel(0x3, INT_ENABLE);
    rig.enable(0);
    EXPECT_TRUE(rig.dc.pipe_enabled(0));
    rig.io->writel(RESET_GO, RESET);
    EXPECT_NE(rig.io->readl(STATUS) & STATUS_BUSY, 0u);
    EXPECT_FALSE(rig.dc.pipe_enabled(0));  // reset turns every pipe off
    EXPECT_EQ(rig.io->readl(INT_ENABLE), 0u);
    EXPECT_EQ(rig.io->readl(RESET), 0u);
    sleep_for(std::chrono::microseconds(20));
    EXPECT_EQ(rig.io->readl(STATUS) & STATUS_BUSY, 0u);

    rig.dc.fault_stuck_busy(true);
    rig.io->writel(RESET_GO, RESET);
    sleep_for(100ms);
    EXPECT_NE(rig.io->readl(STATUS) & STATUS_BUSY, 0u);  // never finishes
    rig.dc.fault_stuck_busy(false);
    EXPECT_EQ(rig.io->readl(STATUS) & STATUS_BUSY, 0u);
    rig.detach();
    EXPECT_TRUE(rig.board.leaks().empty());
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(DisplayController, RefusesModesAbove1000Hz) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.attach();
    rig.enable(0, /*clock kHz*/ 100000);  // 80×60 at 100 MHz: 20 kHz refresh
    EXPECT_EQ(rig.io->readl(pipe_base(0) + PIPE_CTRL) & CTRL_ENABLE, 0u);
    EXPECT_FALSE(rig.dc.pipe_enabled(0));
    sleep_for(10ms);
    EXPECT_EQ(rig.dc.vblanks(0), 0u);
    rig.detach();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(DisplayController, FreeingAScannedOutBufferIsCaughtAndUnderruns) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.attach();
    auto* red = new Fb(rig.dc.dma(), 0xff0000, "fb-red");
    rig.plane(0, 0, red->addr);
    rig.go(0);
    rig.io->writel(0xffffffff, INT_ENABLE);
    rig.enable(0);
    sleep_for(kPeriod + 1ms);
    EXPECT_EQ(rig.dc.underruns(0), 0u);
    {
      testing::ExpectWarn warn(2, "fb-red");
      // The classic bug: the driver frees the framebuffer while the pipe still scans it out.
      rig.dc.dma().unmap(red->addr, "drm_gem_dma_free");
      delete red;
      sleep_for(kPeriod);  // the next scanout reads freed memory: caught, reads as zeros
    }
    auto v = rig.world.violations();
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].kind, "dma-unmap-while-scanned");
    EXPECT_NE(v[0].message.find("dc0 pipe0 primary"), std::string::npos) << v[0].message;
    EXPECT_EQ(v[1].kind, "dma-after-unmap");
    EXPECT_NE(v[1].message.find("drm_gem_dma_free"), std::string::npos) << v[1].message;
    EXPECT_TRUE(rig.saw(int_underrun(0)));
    EXPECT_GE(rig.dc.underruns(0), 1u);
    EXPECT_EQ(rig.dc.crc(0), frame_crc(std::vector<uint32_t>(W * H, 0).data(), W * H * 4));
    rig.disable(0);
    rig.io->writel(0, INT_ENABLE);
    rig.detach();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(DisplayController, InjectedUnderrunAndStorm) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.attach();
    rig.io->writel(0xffffffff, INT_ENABLE);
    rig.enable(1);
    rig.dc.fault_underrun(1, 2);
    sleep_for(kPeriod * 3 + 1ms);
    EXPECT_EQ(rig.dc.underruns(1), 2u);
    EXPECT_TRUE(rig.saw(int_underrun(1)));
    rig.disable(1);
    rig.io->writel(0, INT_ENABLE);
    sleep_for(1ms);
    const size_t before = rig.statuses.size();
    const uint64_t handled = rig.dc.irq().handled();
    rig.dc.fault_irq_storm(1000);
    sleep_for(1ms);
    EXPECT_EQ(rig.statuses.size(), before);  // nothing pending: the handler says IRQ_NONE
    EXPECT_GE(rig.dc.irq().handled(), handled + 1);
    EXPECT_LE(rig.dc.irq().handled(), handled + 1000);
    rig.detach();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(DisplayController, ImmediateModeVblankOnGo) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.attach();
    rig.dc.set_immediate(true);
    Fb red(rig.dc.dma(), 0xff0000, "fb-red");
    rig.io->writel(0xffffffff, INT_ENABLE);
    rig.enable(0);
    sleep_for(1s);
    EXPECT_EQ(rig.dc.vblanks(0), 0u);
    for (int i = 0; i < 10; ++i) {
      rig.plane(0, 0, red.addr);
      rig.go(0);
      sleep_for(1us);
      EXPECT_EQ(rig.io->readl(pipe_base(0) + PIPE_CTRL) & CTRL_GO, 0u);
    }
    EXPECT_EQ(rig.dc.flips(0), 10u);
    EXPECT_EQ(rig.dc.vblanks(0), 10u);
    EXPECT_EQ(rig.dc.crc(0), red.crc());
    rig.disable(0);
    rig.io->writel(0, INT_ENABLE);
    rig.dc.dma().unmap(red.addr);
    rig.detach();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(DisplayController, RegisterAccessAfterUnbindIsAViolation) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.attach();
    IoMem* stale = rig.io;
    rig.detach();
    {
      testing::ExpectWarn warn(1, "PIPE0_CTRL");
      stale->writel(CTRL_ENABLE, pipe_base(0) + PIPE_CTRL);
    }
    EXPECT_FALSE(rig.dc.pipe_enabled(0));
  });
  ASSERT_TRUE(r) << r.report;
  ASSERT_EQ(rig.world.violations().size(), 1u);
}

}  // namespace
}  // namespace udrm::fakehw
