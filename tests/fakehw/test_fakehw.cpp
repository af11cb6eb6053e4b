// Fake hardware: register semantics, devm mappings and the after-unmap violation, interrupt
// lines (atomic context, coalescing, free waits for the handler), power resources and leaks.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "udrm/base/asio_executor.h"
#include "udrm/base/context.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"
#include "udrm/fakehw/board.h"
#include "udrm/testing/warn.h"

namespace udrm::fakehw {
namespace {

using namespace std::chrono_literals;

enum : uint32_t { CTRL = 0x0, STATUS = 0x4, ID = 0x8 };

std::vector<RegDesc> regs() {
  return {{CTRL, "CTRL", 0, 0x0000ffff, 0},
          {STATUS, "STATUS", 0, 0, 0xff},  // status bits: read-only, write-1-to-clear
          {ID, "ID", 0x1234, 0, 0}};
}

// A driver that maps the block, requests the IRQ and switches its power on in probe.
class HwDriver final : public Driver {
 public:
  explicit HwDriver(Board& b) : Driver("hw"), board_(b) {}
  int probe(Device& dev, const Bound&) override {
    io = devm_ioremap(dev, *board_.mmio("regs"));
    if (!io) return -ENOMEM;
    if (int r = devm_clk_get_enabled(dev, *board_.clock("pixclk"))) return r;
    if (int r = devm_regulator_get_enable(dev, *board_.regulator("vdd"))) return r;
    if (!devm_gpiod_get(dev, *board_.gpio("reset"), 1)) return -EBUSY;
    return devm_request_irq(dev, *board_.irq("irq0"), [this] {
      irqs++;
      io->writel(0xff, STATUS);  // ack
      return IrqReturn::handled;
    }, "hw-irq");
  }
  Board& board_;
  IoMem* io = nullptr;
  std::atomic<int> irqs{0};
};

struct Rig {
  explicit Rig(Executor& ex) : world(ex), board(world), drv(board) {
    board.add_mmio("regs", regs());
    board.add_irq("irq0");
    board.add_clock("pixclk", 148'500'000);
    board.add_regulator("vdd");
    board.add_gpio("reset");
    dev = Device::create(world, "hw0", nullptr, "hw");
  }
  ~Rig() {
    if (drv.bus()) world.bus().unregister_driver(drv);
  }
  World world;
  Board board;
  HwDriver drv;
  Ref<Device> dev;
};

TEST(FakeHw, RegisterMasksAndWriteOneToClear) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    ASSERT_EQ(rig.world.bus().register_driver(rig.drv), 0);
    ASSERT_EQ(rig.world.bus().add_device(*rig.dev), 0);
    IoMem* io = rig.drv.io;
    io->writel(0xabcd1234, CTRL);
    EXPECT_EQ(io->readl(CTRL), 0x1234u);  // upper half not writable
    EXPECT_EQ(io->readl(ID), 0x1234u);
    io->writel(0, ID);
    EXPECT_EQ(io->readl(ID), 0x1234u);  // read-only
    rig.board.mmio("regs")->hw_set_bits(STATUS, 0x5);
    io->writel(0x1, STATUS);
    EXPECT_EQ(io->readl(STATUS), 0x4u);  // only the written-1 bit cleared
    auto w = rig.board.mmio("regs")->writes();
    ASSERT_EQ(w.size(), 3u);
    EXPECT_EQ(w[0].offset, CTRL);
    EXPECT_EQ(w[0].value, 0xabcd1234u);
    rig.world.bus().del_device(*rig.dev);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(FakeHw, AccessAfterUnbindIsAViolationNamingTheRegister) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.world.bus().register_driver(rig.drv);
    rig.world.bus().add_device(*rig.dev);
    IoMem* stale = rig.drv.io;
    ASSERT_EQ(rig.world.bus().unbind("hw0"), 0);
    EXPECT_FALSE(stale->mapped());
    {
      testing::ExpectWarn w(2, "devm released");
      EXPECT_EQ(stale->readl(STATUS), 0xffffffffu);
      stale->writel(1, CTRL);
    }
    auto v = rig.world.violations();
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0].kind, "mmio-after-unmap");
    EXPECT_NE(v[0].message.find("readl(STATUS"), std::string::npos) << v[0].message;
    EXPECT_NE(v[0].message.find("hw0"), std::string::npos) << v[0].message;
    EXPECT_NE(v[1].message.find("writel(CTRL"), std::string::npos) << v[1].message;
    EXPECT_EQ(rig.board.mmio("regs")->hw_get(CTRL), 0u);  // the write was dropped
    rig.world.bus().del_device(*rig.dev);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(FakeHw, UnbindLeavesEverythingOff) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    rig.world.bus().register_driver(rig.drv);
    rig.world.bus().add_device(*rig.dev);
    EXPECT_EQ(rig.board.clock("pixclk")->enable_count(), 1);
    EXPECT_TRUE(rig.board.regulator("vdd")->enabled());
    EXPECT_EQ(rig.board.gpio("reset")->value(), 1);
    EXPECT_TRUE(rig.board.irq("irq0")->requested());
    EXPECT_EQ(rig.board.leaks().size(), 5u);
    rig.world.bus().unbind("hw0");
    EXPECT_TRUE(rig.board.leaks().empty()) << rig.board.leaks().front();
    rig.world.bus().del_device(*rig.dev);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(FakeHw, IrqHandlerRunsInAtomicContextAndCoalesces) {
  SimExecutor sim;
  Rig rig(sim);
  bool atomic_seen = false;
  auto r = sim.run([&] {
    Ref<Device> d = Device::create(rig.world, "irqdev");
    rig.world.bus().add_device(*d);
    IrqLine& line = *rig.board.irq("irq0");
    int calls = 0;
    ASSERT_EQ(devm_request_irq(*d, line, [&] { ++calls; atomic_seen = in_atomic(); return IrqReturn::handled; }, "t"), 0);
    line.storm(100);  // all before the handler gets to run: one pending invocation
    sleep_for(1ms);
    EXPECT_EQ(calls, 1);
    line.raise();
    sleep_for(1ms);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(line.handled(), 2u);
    // A second request of a taken line fails.
    EXPECT_EQ(devm_request_irq(*d, line, [] { return IrqReturn::none; }, "dup"), -EBUSY);
    rig.world.bus().del_device(*d);
    EXPECT_FALSE(line.requested());
    line.raise();
    sleep_for(1ms);
    EXPECT_EQ(calls, 2);  // no handler after free
    EXPECT_EQ(line.spurious(), 1u);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(atomic_seen);
}

TEST(FakeHw, DisabledIrqIsLatchedAndDeliveredOnEnable) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    Ref<Device> d = Device::create(rig.world, "irqdev");
    rig.world.bus().add_device(*d);
    IrqLine& line = *rig.board.irq("irq0");
    int calls = 0;
    ASSERT_EQ(devm_request_irq(*d, line, [&] { ++calls; return IrqReturn::handled; }, "t"), 0);
    line.disable();
    line.raise();
    sleep_for(1ms);
    EXPECT_EQ(calls, 0);
    line.enable();
    sleep_for(1ms);
    EXPECT_EQ(calls, 1);
    {
      testing::ExpectWarn w(1, "Unbalanced enable");
      line.enable();
    }
    rig.world.bus().del_device(*d);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(FakeHw, FreeIrqWaitsForARunningHandlerOnRealThreads) {
  AsioExecutor ex(2);
  World world(ex);
  Board board(world);
  IrqLine& line = board.add_irq("irq");
  Ref<Device> d = Device::create(world, "irqdev");
  world.bus().add_device(*d);
  std::atomic<bool> in_handler{false}, release{false}, handler_done{false};
  std::atomic<int> calls{0};
  ASSERT_EQ(devm_request_irq(*d, line, [&] {
    calls++;
    in_handler = true;
    while (!release.load()) std::this_thread::yield();
    handler_done = true;
    return IrqReturn::handled;
  }, "slow"), 0);
  line.raise();
  while (!in_handler.load()) std::this_thread::yield();
  std::atomic<bool> freed{false};
  std::thread t([&] {
    devm_free_irq(*d, line);
    // free returned: the handler must have finished.
    EXPECT_TRUE(handler_done.load());
    freed = true;
  });
  release = true;
  t.join();
  EXPECT_TRUE(freed.load());
  line.raise();
  ex.shutdown();
  EXPECT_EQ(calls.load(), 1);
  world.bus().del_device(*d);
}

TEST(FakeHw, PowerCountsAndFaults) {
  SimExecutor sim;
  Rig rig(sim);
  auto r = sim.run([&] {
    Regulator& vdd = *rig.board.regulator("vdd");
    vdd.fail_next_enable(-EIO);
    rig.world.bus().register_driver(rig.drv);
    rig.world.bus().add_device(*rig.dev);  // probe fails: regulator refused
    EXPECT_FALSE(rig.dev->is_bound());
    EXPECT_TRUE(rig.board.leaks().empty()) << rig.board.leaks().front();  // clock rolled back
    EXPECT_EQ(rig.world.bus().bind("hw0", "hw"), 0);
    EXPECT_EQ(vdd.enable_count(), 1);
    Clock& clk = *rig.board.clock("pixclk");
    EXPECT_EQ(clk.prepare_enable(), 0);
    EXPECT_EQ(clk.enable_count(), 2);
    clk.disable_unprepare();
    rig.world.bus().unbind("hw0");
    {
      testing::ExpectWarn w(2);
      clk.disable_unprepare();
      vdd.disable();
    }
    EXPECT_EQ(clk.enable_count(), 0);
    EXPECT_EQ(vdd.enable_count(), 0);
    Gpio& g = *rig.board.gpio("reset");
    {
      testing::ExpectWarn w(1, "without being requested");
      g.set_value(1);
    }
    EXPECT_EQ(g.value(), 0);
    rig.world.bus().del_device(*rig.dev);
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::fakehw
