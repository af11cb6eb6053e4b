// Real threads (AsioExecutor world, an interrupt thread counting): overflows racing client
// calls and pmu_unregister. Every overflow is notified exactly once, no driver op runs after
// unregister returned, the data goes at the last close. Under TSan this also checks the locking.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "pmu_test_util.h"
#include "udrm/base/asio_executor.h"
#include "udrm/core/world.h"

namespace udrm::pmutest {
namespace {

TEST(PerfThreads, OverflowsRacingCallsAndUnregister) {
  AsioExecutor ex(2);
  World world(ex);
  for (int round = 0; round < 20; ++round) {
    bool freed = false;
    auto* t = new TestPmu(pmu_registry(world), &freed);
    std::atomic<uint64_t> notified{0};
    PerfEventAttr a = attr(0, 2);
    a.on_overflow = [&](PerfEvent&, const PerfNotification&) { notified.fetch_add(1); };
    Ref<PerfEvent> ev;
    ASSERT_EQ(perf_event_open(world, "test-pmu", a, &ev), 0);
    ASSERT_EQ(ev->enable(), 0);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> overflows{0}, counted{0};
    Pmu* pmu = t->pmu.get();
    TestPmuData* data = t->data;
    std::thread irq([&] {
      while (!stop.load()) {
        AtomicSection s;
        data->hwcount[0].fetch_add(1);
        overflows.fetch_add(perf_pmu_count(*pmu, 0, 1));
        counted.fetch_add(1);
      }
    });
    while (counted.load() < 50) std::this_thread::yield();
    for (int i = 0; i < 50; ++i) {
      uint64_t v = 0;
      EXPECT_EQ(ev->read(&v), 0);
      if (i % 7 == 3) {
        EXPECT_EQ(ev->refresh(3), 0);
      }
      if (i % 5 == 1) {
        EXPECT_EQ(ev->enable(), 0);
      }
      if (i % 11 == 4) {
        EXPECT_EQ(ev->disable(), 0);
      }
    }
    t->unregister();
    const int calls = data->calls;
    uint64_t v = 0;
    EXPECT_EQ(ev->read(&v), -ENODEV);
    EXPECT_EQ(ev->enable(), -ENODEV);
    stop = true;
    irq.join();
    t->pmu.reset();
    delete t;
    EXPECT_FALSE(freed);
    EXPECT_EQ(data->calls, calls);
    EXPECT_EQ(data->calls_after_unregister, 0);
    EXPECT_EQ(ev->close(), 0);
    EXPECT_TRUE(freed);
    EXPECT_EQ(notified.load(), overflows.load()) << "round " << round;
  }
  ex.shutdown();
}

}  // namespace
}  // namespace udrm::pmutest
