// Blocking primitives on the simulated executor (Completion, WaitQueue), fault injection
// (FailNth, ScopedFaultInjector) and the atomic-context rule (might_sleep) on real threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "udrm/base/completion.h"
#include "udrm/base/context.h"
#include "udrm/base/fault.h"
#include "udrm/base/mutex.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/waitqueue.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using namespace std::chrono_literals;

// Let every ready simulated task run until it blocks or finishes (virtual time only).
void settle() { sleep_for(1us); }

// ---------------------------------------------------------------------------------------------
// Completion.

TEST(Completion, CompleteLetsExactlyOneOfTwoWaitersProceed) {
  SimExecutor sim;
  Completion c("c");
  int proceeded = 0;
  auto r = sim.run([&] {
    sim.post([&] { c.wait(); ++proceeded; }, "waiter");
    sim.post([&] { c.wait(); ++proceeded; }, "waiter");
    settle();
    ASSERT_EQ(proceeded, 0);
    c.complete();
    settle();
    EXPECT_EQ(proceeded, 1) << "one complete() must release exactly one waiter";
    c.complete();  // release the other so the run ends cleanly
    settle();
    EXPECT_EQ(proceeded, 2);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Completion, CompleteAllReleasesEveryWaiter) {
  SimExecutor sim;
  Completion c("c");
  int proceeded = 0;
  auto r = sim.run([&] {
    for (int i = 0; i < 3; ++i) sim.post([&] { c.wait(); ++proceeded; }, "waiter");
    settle();
    ASSERT_EQ(proceeded, 0);
    c.complete_all();
    settle();
    EXPECT_EQ(proceeded, 3);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Completion, CompleteAllAlsoReleasesFutureWaiters) {
  SimExecutor sim;
  Completion c("c");
  auto r = sim.run([&] {
    c.complete_all();
    for (int i = 0; i < 5; ++i) c.wait();
    EXPECT_TRUE(c.try_wait());
    EXPECT_TRUE(c.done());
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Completion, CompleteBeforeWaitIsNotLost) {
  SimExecutor sim;
  Completion c("c");
  auto r = sim.run([&] {
    c.complete();
    c.complete();
    c.wait();
    c.wait();  // two completes, two waits: neither blocks
    EXPECT_FALSE(c.try_wait()) << "a third wait would have been released";
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Completion, ReinitMakesWaitersBlockAgain) {
  SimExecutor sim;
  Completion c("c");
  auto r = sim.run([&] {
    c.complete_all();
    c.reinit();
    EXPECT_FALSE(c.done());
    EXPECT_FALSE(c.try_wait());
    const TimePoint t0 = now();
    EXPECT_FALSE(c.wait_timeout(5ms));
    EXPECT_EQ(now() - t0, Duration(5ms));
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Completion, ReinitThenCompleteWorksAgain) {
  Completion c("c");
  c.complete();
  c.reinit();
  EXPECT_FALSE(c.try_wait());
  c.complete();
  EXPECT_TRUE(c.try_wait());
}

TEST(Completion, TryWaitConsumesOneCompletion) {
  Completion c("c");
  EXPECT_FALSE(c.try_wait());
  c.complete();
  EXPECT_TRUE(c.try_wait());
  EXPECT_FALSE(c.try_wait());
}

TEST(Completion, DoneReflectsWhetherWaitWouldReturnAtOnce) {
  Completion c("c");
  EXPECT_FALSE(c.done());
  c.complete();
  EXPECT_TRUE(c.done());
  EXPECT_TRUE(c.try_wait());
  EXPECT_FALSE(c.done());
  c.complete_all();
  EXPECT_TRUE(c.done());
  EXPECT_TRUE(c.try_wait());
  EXPECT_TRUE(c.done()) << "complete_all stays done until reinit";
}

TEST(Completion, WaitTimeoutSucceedsWhenCompletedBeforeTheDeadline) {
  SimExecutor sim;
  Completion c("c");
  auto r = sim.run([&] {
    const TimePoint t0 = now();
    sim.post_at(t0 + 3ms, [&] { c.complete(); }, "irq");  // complete() from atomic context
    EXPECT_TRUE(c.wait_timeout(10ms));
    EXPECT_EQ(now() - t0, Duration(3ms));
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Completion, WaitTimeoutFailsAtTheDeadlineInVirtualTime) {
  SimExecutor sim;
  Completion c("c");
  auto r = sim.run([&] {
    const TimePoint t0 = now();
    sim.post_at(t0 + 20ms, [&] { c.complete(); }, "late_irq");
    EXPECT_FALSE(c.wait_timeout(10ms));
    EXPECT_EQ(now() - t0, Duration(10ms));
    c.wait();  // the late completion still arrives
    EXPECT_EQ(now() - t0, Duration(20ms));
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Completion, WaitWithoutCompleterIsADeadlock) {
  SimExecutor sim;
  Completion c("never_completed");
  auto r = sim.run([&] { c.wait(); });
  EXPECT_EQ(r.kind, SimExecutor::Result::Kind::deadlock);
  EXPECT_NE(r.report.find("never_completed"), std::string::npos) << r.report;
}

// ---------------------------------------------------------------------------------------------
// WaitQueue.

TEST(WaitQueue, WaiterProceedsOnlyOnceItsPredicateHolds) {
  SimExecutor sim;
  WaitQueue wq("wq");
  int state = 0, seen = -1;
  bool done = false;
  auto r = sim.run([&] {
    sim.post([&] {
      wq.wait_event([&] { return state >= 3; });
      seen = state;
      done = true;
    }, "waiter");
    settle();
    for (int i = 1; i <= 3; ++i) {
      EXPECT_FALSE(done) << "woke with state " << state;
      state = i;
      wq.wake_up_all();
      settle();
    }
    EXPECT_TRUE(done);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(seen, 3);
}

TEST(WaitQueue, SpuriousWakeUpIsHarmless) {
  SimExecutor sim;
  WaitQueue wq("wq");
  bool flag = false, done = false;
  auto r = sim.run([&] {
    sim.post([&] {
      wq.wait_event([&] { return flag; });
      done = true;
    }, "waiter");
    settle();
    wq.wake_up_all();  // no state change
    settle();
    EXPECT_FALSE(done);
    flag = true;
    wq.wake_up_all();
    settle();
    EXPECT_TRUE(done);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(WaitQueue, WakeUpAllReleasesEveryWaiterWhosePredicateHolds) {
  SimExecutor sim;
  WaitQueue wq("wq");
  int level = 0, released = 0;
  auto r = sim.run([&] {
    for (int need = 1; need <= 3; ++need) {
      sim.post([&, need] {
        wq.wait_event([&] { return level >= need; });
        ++released;
      }, "waiter");
    }
    settle();
    level = 2;
    wq.wake_up_all();
    settle();
    EXPECT_EQ(released, 2);
    level = 3;
    wq.wake_up_all();
    settle();
    EXPECT_EQ(released, 3);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(WaitQueue, TruePredicateDoesNotBlock) {
  SimExecutor sim;
  WaitQueue wq("wq");
  bool other_ran = false;
  auto r = sim.run([&] {
    sim.post([&] { other_ran = true; }, "other");
    wq.wait_event([] { return true; });
    EXPECT_FALSE(other_ran) << "wait_event switched tasks although its predicate held";
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(WaitQueue, WaitTimeoutReturnsFalseAtTheDeadline) {
  SimExecutor sim;
  WaitQueue wq("wq");
  auto r = sim.run([&] {
    const TimePoint t0 = now();
    EXPECT_FALSE(wq.wait_event_timeout([] { return false; }, 7ms));
    EXPECT_EQ(now() - t0, Duration(7ms));
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(WaitQueue, WaitTimeoutReturnsTrueWhenWokenWithThePredicateTrue) {
  SimExecutor sim;
  WaitQueue wq("wq");
  bool flag = false;
  auto r = sim.run([&] {
    const TimePoint t0 = now();
    sim.post_at(t0 + 2ms, [&] {
      flag = true;
      wq.wake_up_all();  // from atomic context
    }, "irq");
    EXPECT_TRUE(wq.wait_event_timeout([&] { return flag; }, 50ms));
    EXPECT_EQ(now() - t0, Duration(2ms));
  });
  ASSERT_TRUE(r) << r.report;
}

// ---------------------------------------------------------------------------------------------
// Fault injection.

bool site_a() { return UDRM_SHOULD_FAIL("test.a"); }
bool site_devm_alloc() { return UDRM_SHOULD_FAIL("devm.alloc"); }
bool site_devm_add() { return UDRM_SHOULD_FAIL("devm.add"); }
bool site_drmm_alloc() { return UDRM_SHOULD_FAIL("drmm.alloc"); }

std::vector<std::string> names(const FailNth& f) { return {f.sites().begin(), f.sites().end()}; }

TEST(FaultInjection, NoInjectorNeverFails) {
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(site_a());
}

TEST(FaultInjection, FailNthFailsTheNthSiteOnly) {
  FailNth f(3);
  ScopedFaultInjector scope(f);
  std::vector<bool> results;
  for (int i = 0; i < 5; ++i) results.push_back(site_a());
  EXPECT_EQ(results, (std::vector<bool>{false, false, true, false, false}));
  EXPECT_TRUE(f.fired());
  EXPECT_EQ(f.seen(), 5u);
}

TEST(FaultInjection, FailNthFirstSite) {
  FailNth f(1);
  ScopedFaultInjector scope(f);
  EXPECT_TRUE(site_a());
  EXPECT_FALSE(site_a());
}

TEST(FaultInjection, FailNthZeroNeverFailsButCountsSites) {
  FailNth f(0);
  ScopedFaultInjector scope(f);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(site_a());
  EXPECT_FALSE(f.fired());
  EXPECT_EQ(f.seen(), 5u);
}

TEST(FaultInjection, FailNthBeyondTheSitesSeenNeverFires) {
  FailNth f(10);
  ScopedFaultInjector scope(f);
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(site_a());
  EXPECT_FALSE(f.fired());
}

TEST(FaultInjection, FailNthRecordsSitesInOrder) {
  FailNth f(0);
  ScopedFaultInjector scope(f);
  (void)site_devm_alloc();
  (void)site_drmm_alloc();
  (void)site_devm_add();
  (void)site_devm_alloc();
  EXPECT_EQ(names(f), (std::vector<std::string>{"devm.alloc", "drmm.alloc", "devm.add", "devm.alloc"}));
}

TEST(FaultInjection, PrefixFilterCountsAndFailsOnlyMatchingSites) {
  FailNth f(2, "devm.");
  ScopedFaultInjector scope(f);
  EXPECT_FALSE(site_drmm_alloc());
  EXPECT_FALSE(site_devm_alloc());  // 1st devm.*
  EXPECT_FALSE(site_drmm_alloc());
  EXPECT_TRUE(site_devm_add());     // 2nd devm.*
  EXPECT_FALSE(site_drmm_alloc());
  EXPECT_FALSE(site_devm_alloc());
  EXPECT_EQ(f.seen(), 3u);
  EXPECT_EQ(names(f), (std::vector<std::string>{"devm.alloc", "devm.add", "devm.alloc"}));
}

TEST(FaultInjection, NestedInjectorTakesOverAndTheOuterIsRestored) {
  FailNth outer(0), inner(1);
  {
    ScopedFaultInjector o(outer);
    (void)site_devm_alloc();
    {
      ScopedFaultInjector i(inner);
      EXPECT_TRUE(site_devm_add()) << "the inner injector decides while it is installed";
      EXPECT_FALSE(site_devm_add());
    }
    EXPECT_FALSE(site_drmm_alloc());
  }
  EXPECT_EQ(names(outer), (std::vector<std::string>{"devm.alloc", "drmm.alloc"}));
  EXPECT_EQ(names(inner), (std::vector<std::string>{"devm.add", "devm.add"}));
}

TEST(FaultInjection, NoInjectorAfterTheOutermostScopeEnds) {
  FailNth f(1);
  { ScopedFaultInjector s(f); }
  EXPECT_FALSE(site_a());
  EXPECT_EQ(f.seen(), 0u);
  EXPECT_FALSE(f.fired());
}

TEST(FaultInjection, InjectorIsPerThread) {
  FailNth f(1);
  ScopedFaultInjector scope(f);
  std::atomic<bool> failed_elsewhere{true};
  std::thread t([&] { failed_elsewhere = site_a(); });
  t.join();
  EXPECT_FALSE(failed_elsewhere.load());
  EXPECT_EQ(f.seen(), 0u) << "another thread's site reached this thread's injector";
  EXPECT_TRUE(site_a());
}

// ---------------------------------------------------------------------------------------------
// Atomic context: sleeping primitives WARN inside AtomicSection (might_sleep), on a real thread.

TEST(AtomicContext, ProcessContextByDefault) { EXPECT_FALSE(in_atomic()); }

TEST(AtomicContext, AtomicSectionNestsAndRestores) {
  {
    AtomicSection a;
    EXPECT_TRUE(in_atomic());
    {
      AtomicSection b;
      EXPECT_TRUE(in_atomic());
    }
    EXPECT_TRUE(in_atomic()) << "leaving a nested section ended the outer one";
  }
  EXPECT_FALSE(in_atomic());
}

TEST(AtomicContext, AtomicSectionIsPerThread) {
  std::atomic<bool> other_atomic{true};
  AtomicSection a;
  std::thread t([&] { other_atomic = in_atomic(); });
  t.join();
  EXPECT_FALSE(other_atomic.load());
}

TEST(AtomicContext, CompletionWaitInAtomicSectionWarnsOnARealThread) {
  testing::ExpectWarn w(1, "invalid context");
  std::thread t([] {
    Completion c("c");
    c.complete();  // wait() would not block: only the context is wrong
    AtomicSection irq;
    c.wait();
  });
  t.join();
}

TEST(AtomicContext, MutexLockInAtomicSectionWarnsOnARealThread) {
  testing::ExpectWarn w(1, "invalid context");
  std::thread t([] {
    Mutex m("m");
    AtomicSection irq;
    m.lock();
    m.unlock();
  });
  t.join();
}

TEST(AtomicContext, SleepInAtomicSectionWarnsOnARealThread) {
  testing::ExpectWarn w(1, "invalid context");
  std::thread t([] {
    AtomicSection irq;
    sleep_for(Duration(0));
  });
  t.join();
}

TEST(AtomicContext, WaitQueueWaitInAtomicSectionWarnsOnARealThread) {
  testing::ExpectWarn w(1, "invalid context");
  std::thread t([] {
    WaitQueue wq("wq");
    AtomicSection irq;
    wq.wait_event([] { return true; });
  });
  t.join();
}

TEST(AtomicContext, SleepingPrimitivesOutsideAtomicSectionDoNotWarn) {
  testing::ExpectWarn w(0);
  std::thread t([] {
    {
      AtomicSection irq;  // ended before the primitives run
    }
    Completion c("c");
    c.complete();
    c.wait();
    Mutex m("m");
    m.lock();
    m.unlock();
    sleep_for(Duration(0));
  });
  t.join();
}

TEST(AtomicContext, NonSleepingCallsAreFineInAtomicSection) {
  testing::ExpectWarn w(0);
  std::thread t([] {
    AtomicSection irq;
    Completion c("c");
    c.complete();
    c.complete_all();
    (void)c.try_wait();
    WaitQueue wq("wq");
    wq.wake_up_all();
    Mutex m("m");
    if (m.try_lock()) m.unlock();
  });
  t.join();
}

}  // namespace
}  // namespace udrm
