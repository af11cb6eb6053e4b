// Interrupt storms racing free_irq and the unload of a plugin's trace hook: no handler and no
// hook runs after free/unregister returned; on SimExecutor (seeded random schedules) and on
// real threads (AsioExecutor's interrupt thread).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "races/sim_random.h"
#include "races/trace_observer.h"
#include "udrm/base/asio_executor.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"
#include "udrm/base/trace_hook.h"
#include "udrm/base/waitqueue.h"
#include "udrm/core/device.h"
#include "udrm/core/module.h"
#include "udrm/core/world.h"
#include "udrm/fakehw/board.h"

extern "C" UdrmTraceObserver udrm_test_trace_observer;
UdrmTraceObserver udrm_test_trace_observer;

namespace udrm::fakehw {
namespace {

using namespace std::chrono_literals;

#if defined(UDRM_TSAN)
constexpr int kRealRounds = 30;
#else
constexpr int kRealRounds = 200;
#endif

struct StormTally {
  int after_free = 0;
  int calls = 0;
  int overlaps = 0;  // handler still running after devm_free_irq had begun (the race window)
};

// One schedule: a raiser task storms the line; main waits for a few interrupts (the handler
// wakes it, then passes a scheduling point, so main may free the IRQ while the handler is in
// its middle). After devm_free_irq returns, the handler's captures count as gone.
void sim_storm(uint32_t seed, StormTally& t) {
  SimExecutor sim;
  races::RandomStrategy strat(seed);
  sim.set_strategy(&strat);
  World world(sim);
  Board board(world);
  IrqLine& line = board.add_irq("irq");
  WaitQueue seen("irq_seen");
  bool freeing = false, freed = false;
  auto r = sim.run([&] {
    Ref<Device> d = Device::create(world, "irqdev");
    world.bus().add_device(*d);
    ASSERT_EQ(devm_request_irq(*d, line, [&] {
      ++t.calls;
      seen.wake_up_all();
      UDRM_POINT("test.handler");
      if (freed) ++t.after_free;
      if (freeing && !freed) ++t.overlaps;
      return IrqReturn::handled;
    }, "storm"), 0);
    sim.post([&] {
      for (int i = 0; i < 8; ++i) {
        line.storm(3);
        sleep_for(2us);
      }
    }, "raiser");
    const int want = 1 + static_cast<int>(seed % 3);
    seen.wait_event([&] { return t.calls >= want; });
    freeing = true;
    devm_free_irq(*d, line);
    freed = true;
    world.bus().del_device(*d);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(IrqStorm, FreeIrqDuringStormUnderRandomSchedules) {
  int calls = 0, overlaps = 0;
  for (uint32_t seed = 0; seed < 300; ++seed) {
    StormTally t;
    sim_storm(seed, t);
    ASSERT_EQ(t.after_free, 0) << "seed " << seed;
    calls += t.calls;
    overlaps += t.overlaps;
  }
  EXPECT_GT(calls, 0);
  EXPECT_GT(overlaps, 0) << "no schedule freed the IRQ while its handler ran: the test proves nothing";
}

TEST(IrqStorm, FreeIrqDuringStormOnRealThreads) {
  AsioExecutor ex(2);
  World world(ex);
  Board board(world);
  IrqLine& line = board.add_irq("irq");
  std::atomic<bool> stop{false};
  std::thread raiser([&] {
    while (!stop.load(std::memory_order_relaxed)) line.raise();
  });
  std::atomic<int> after_free{0};
  long total = 0;
  for (int round = 0; round < kRealRounds; ++round) {
    Ref<Device> d = Device::create(world, "irqdev");
    world.bus().add_device(*d);
    struct State {
      std::atomic<bool> freed{false};
      std::atomic<long> calls{0};
    };
    auto* st = new State;
    ASSERT_EQ(devm_request_irq(*d, line, [st, &after_free] {
      if (st->freed.load(std::memory_order_relaxed)) after_free.fetch_add(1);
      st->calls.fetch_add(1, std::memory_order_relaxed);
      return IrqReturn::handled;
    }, "storm"), 0);
    while (st->calls.load(std::memory_order_relaxed) < 3) std::this_thread::yield();
    devm_free_irq(*d, line);
    st->freed.store(true, std::memory_order_relaxed);
    total += st->calls.load();
    delete st;  // a handler still running would touch freed memory (ASan/TSan)
    world.bus().del_device(*d);
  }
  stop = true;
  raiser.join();
  ex.shutdown();
  EXPECT_EQ(after_free.load(), 0);
  EXPECT_GE(total, 3L * kRealRounds);
}

// The plugin registers a trace hook fired at every IRQ dispatch; it is unloaded (exit
// unregisters, then dlclose) while the storm runs. A call into unloaded code would crash; a
// call after unregister returned is counted by the plugin itself.
TEST(IrqStorm, TracePluginUnloadDuringStormOnRealThreads) {
  AsioExecutor ex(2);
  World world(ex);
  Board board(world);
  IrqLine& line = board.add_irq("irq");
  Ref<Device> d = Device::create(world, "irqdev");
  world.bus().add_device(*d);
  ASSERT_EQ(devm_request_irq(*d, line, [] { return IrqReturn::handled; }, "storm"), 0);
  std::atomic<bool> stop{false};
  std::thread raiser([&] {
    while (!stop.load(std::memory_order_relaxed)) line.raise();
  });
  for (int round = 0; round < kRealRounds / 4 + 1; ++round) {
    udrm_test_trace_observer.clear();
    ASSERT_EQ(world.modules().load(UDRM_TRACE_PLUGIN), 0);
    while (udrm_test_trace_observer.calls.load() < 3) std::this_thread::yield();
    ASSERT_EQ(world.modules().unload("udrm_test_trace_plugin"), 0);
    long at_unload = udrm_test_trace_observer.calls.load();
    uint64_t handled = line.handled();
    while (line.handled() < handled + 5) std::this_thread::yield();  // storm goes on
    EXPECT_EQ(udrm_test_trace_observer.calls.load(), at_unload);
    EXPECT_EQ(udrm_test_trace_observer.calls_after_exit.load(), 0);
  }
  stop = true;
  raiser.join();
  devm_free_irq(*d, line);
  ex.shutdown();
  world.bus().del_device(*d);
}

TEST(IrqStorm, TracePluginUnloadDuringStormUnderRandomSchedules) {
  long calls = 0, overlaps = 0;
  for (uint32_t seed = 0; seed < 60; ++seed) {
    SimExecutor sim;
    races::RandomStrategy strat(seed);
    sim.set_strategy(&strat);
    World world(sim);
    Board board(world);
    IrqLine& line = board.add_irq("irq");
    udrm_test_trace_observer.clear();
    static WaitQueue* hook_seen = nullptr;
    WaitQueue seen("hook_seen");
    hook_seen = &seen;
    udrm_test_trace_observer.on_hook = [] { hook_seen->wake_up_all(); };
    auto r = sim.run([&] {
      Ref<Device> d = Device::create(world, "irqdev");
      world.bus().add_device(*d);
      ASSERT_EQ(devm_request_irq(*d, line, [] { return IrqReturn::handled; }, "storm"), 0);
      ASSERT_EQ(world.modules().load(UDRM_TRACE_PLUGIN), 0);
      sim.post([&] {
        for (int i = 0; i < 8; ++i) {
          line.storm(2);
          sleep_for(2us);
        }
      }, "raiser");
      const long want = 1 + static_cast<long>(seed % 3);
      seen.wait_event([&] { return udrm_test_trace_observer.calls.load() >= want; });
      udrm_test_trace_observer.unloading = true;
      ASSERT_EQ(world.modules().unload("udrm_test_trace_plugin"), 0);
      sleep_for(1ms);  // the storm ends; pending interrupts run
      devm_free_irq(*d, line);
      world.bus().del_device(*d);
    });
    udrm_test_trace_observer.on_hook = nullptr;
    hook_seen = nullptr;
    ASSERT_TRUE(r) << "seed " << seed << ": " << r.report;
    ASSERT_EQ(udrm_test_trace_observer.calls_after_exit.load(), 0) << "seed " << seed;
    calls += udrm_test_trace_observer.calls.load();
    overlaps += udrm_test_trace_observer.overlaps.load();
  }
  EXPECT_GT(calls, 0);
  EXPECT_GT(overlaps, 0) << "no schedule unloaded the plugin while its hook ran: the test proves nothing";
}

}  // namespace
}  // namespace udrm::fakehw
