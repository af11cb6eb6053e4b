// The simulated executor: determinism, virtual time, blocking primitives, deadlock reports.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "udrm/base/completion.h"
#include "udrm/base/context.h"
#include "udrm/base/mutex.h"
#include "udrm/base/sim_executor.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using namespace std::chrono_literals;

TEST(SimExecutor, RunsMainAndPostedWorkInOrder) {
  SimExecutor sim;
  std::vector<std::string> log;
  auto r = sim.run([&] {
    sim.post([&] { log.push_back("a"); }, "a");
    sim.post([&] { log.push_back("b"); }, "b");
    log.push_back("main");
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(log, (std::vector<std::string>{"main", "a", "b"}));
}

TEST(SimExecutor, VirtualClockJumpsToTimers) {
  SimExecutor sim;
  TimePoint fired{};
  bool was_atomic = false;
  auto r = sim.run([&] {
    TimePoint t0 = now();
    sim.post_at(t0 + 16ms, [&] { fired = now(); was_atomic = in_atomic(); }, "vblank");
    sleep_for(20ms);
    EXPECT_EQ(now() - t0, Duration(20ms));
    EXPECT_EQ(fired - t0, Duration(16ms));
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(was_atomic);
}

TEST(SimExecutor, CancelledTimerNeverRuns) {
  SimExecutor sim;
  int runs = 0;
  auto r = sim.run([&] {
    TimerId id = sim.post_at(now() + 1ms, [&] { ++runs; }, "t");
    EXPECT_TRUE(sim.cancel(id));
    EXPECT_FALSE(sim.cancel(id));
    sleep_for(5ms);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(runs, 0);
}

TEST(SimExecutor, CompletionHandsOffBetweenTasks) {
  SimExecutor sim;
  Completion done("done");
  int value = 0;
  auto r = sim.run([&] {
    sim.post([&] { value = 42; done.complete(); }, "worker");
    done.wait();
    EXPECT_EQ(value, 42);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(SimExecutor, WaitTimeoutUsesVirtualTime) {
  SimExecutor sim;
  Completion never("never");
  auto r = sim.run([&] {
    TimePoint t0 = now();
    EXPECT_FALSE(never.wait_timeout(10s));
    EXPECT_EQ(now() - t0, Duration(10s));
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(SimExecutor, DeadlockIsReportedWithWaitNames) {
  // The abandoned tasks still hold both mutexes when they are destroyed: two WARNs.
  testing::ExpectWarn held_at_destroy(2);
  Mutex a("lock_a"), b("lock_b");
  SimExecutor sim;
  Completion t1_has_a("t1_has_a"), main_has_b("main_has_b");
  auto r = sim.run([&] {
    sim.post([&] {
      a.lock();
      t1_has_a.complete_all();
      main_has_b.wait();
      b.lock();  // ABBA: never returns
    }, "t1");
    b.lock();
    main_has_b.complete_all();
    t1_has_a.wait();
    a.lock();  // never returns
  });
  EXPECT_EQ(r.kind, SimExecutor::Result::Kind::deadlock);
  EXPECT_NE(r.report.find("lock_a"), std::string::npos) << r.report;
  EXPECT_NE(r.report.find("lock_b"), std::string::npos) << r.report;
}

TEST(SimExecutor, SleepingInAtomicContextWarns) {
  SimExecutor sim;
  testing::ExpectWarn w(1, "invalid context");
  auto r = sim.run([&] {
    Completion c("c");
    c.complete();
    sim.post_at(now(), [&] { c.wait(); }, "irq");
    sleep_for(1ms);  // timers alone do not keep a run alive
  });
  ASSERT_TRUE(r) << r.report;
}

// A strategy that switches at every point: used to prove the point hook reaches strategies.
class SwitchAlways : public SimStrategy {
 public:
  SimTask* at_point(SimExecutor&, const Point& p, SimTask*, std::span<SimTask* const> ready) override {
    seen.push_back(p.name);
    return ready.front();
  }
  std::vector<std::string> seen;
};

TEST(SimExecutor, StrategyChoosesAtPoints) {
  SimExecutor sim;
  SwitchAlways s;
  sim.set_strategy(&s);
  std::string order;
  auto r = sim.run([&] {
    sim.post([&] { order += "w"; }, "worker");
    UDRM_POINT("test.before_m");
    order += "m";
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(order, "wm");
  ASSERT_FALSE(s.seen.empty());
  EXPECT_EQ(s.seen.front(), "test.before_m");
}

TEST(SimExecutor, LivelockHitsStepBudget) {
  SimExecutor::Options o;
  o.step_budget = 1000;
  SimExecutor sim(o);
  auto r = sim.run([&] {
    for (;;) UDRM_POINT("test.spin");
  });
  EXPECT_EQ(r.kind, SimExecutor::Result::Kind::livelock);
  EXPECT_NE(r.report.find("test.spin"), std::string::npos) << r.report;
}

TEST(SimExecutor, SameProgramSameSchedule) {
  auto trace = [] {
    SimExecutor sim;
    std::string out;
    Mutex m("m");
    sim.run([&] {
      for (int i = 0; i < 4; ++i)
        sim.post([&, i] {
          for (int k = 0; k < 3; ++k) {
            std::lock_guard<Mutex> l(m);
            out += char('a' + i);
            sleep_for(std::chrono::microseconds(100 * (i + 1)));
          }
        }, "worker");
    });
    return out;
  };
  std::string first = trace();
  EXPECT_EQ(first.size(), 12u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(trace(), first);
}

}  // namespace
}  // namespace udrm
