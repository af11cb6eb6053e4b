// Gate (drm_dev_enter / drm_dev_exit / drm_dev_unplug), kernel-semantics §3.1, on the
// simulated executor: single-threaded and deterministic, so "unplug has not returned while the
// reader is inside" is proved by an order log rather than by timing.
#include <gtest/gtest.h>

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "udrm/base/completion.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/gate.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using Log = std::vector<std::string>;

SimExecutor::Options small_budget() {
  SimExecutor::Options o;
  o.step_budget = 200'000;  // a broken gate makes a spin-yield loop livelock quickly
  return o;
}

long index_of(const Log& log, const std::string& what) {
  auto it = std::find(log.begin(), log.end(), what);
  return it == log.end() ? -1 : static_cast<long>(it - log.begin());
}

std::string join(const Log& log) {
  std::string s;
  for (const auto& e : log) s += e + " ";
  return s;
}

// Give every other ready task a chance to run (a broken unplug would return here).
void let_others_run(SimExecutor& sim, int n = 4) {
  for (int i = 0; i < n; ++i) sim.yield();
}

// Switch to the most recently readied task at the k-th scheduling point (k = 0: never),
// or at every point when `always` is set.
class SwitchAt : public SimStrategy {
 public:
  SwitchAt(unsigned k, bool always) : k_(k), always_(always) {}
  SimTask* at_point(SimExecutor&, const Point&, SimTask*, std::span<SimTask* const> ready) override {
    ++n_;
    if (always_ || n_ == k_) return ready.back();
    return nullptr;
  }

 private:
  unsigned k_;
  bool always_;
  unsigned n_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Basics (no concurrency needed).

TEST(Gate, EnterOnAFreshGateSucceeds) {
  Gate gate("dev");
  auto g = gate.enter();
  EXPECT_TRUE(static_cast<bool>(g));
  EXPECT_EQ(g.gate(), &gate);
}

TEST(Gate, ReadersCountsOpenSections) {
  Gate gate("dev");
  EXPECT_EQ(gate.readers(), 0);
  {
    auto g = gate.enter();
    ASSERT_TRUE(static_cast<bool>(g));
    EXPECT_EQ(gate.readers(), 1);
  }
  EXPECT_EQ(gate.readers(), 0);
}

TEST(Gate, IsUnpluggedFalseUntilUnplug) {
  Gate gate("dev");
  EXPECT_FALSE(gate.is_unplugged());
  { auto g = gate.enter(); }
  EXPECT_FALSE(gate.is_unplugged());
  gate.unplug();
  EXPECT_TRUE(gate.is_unplugged());
}

TEST(Gate, UnplugWithoutReadersReturnsAndEnterFailsAfterwards) {
  Gate gate("dev");
  gate.unplug();
  auto g = gate.enter();
  EXPECT_FALSE(static_cast<bool>(g));
  EXPECT_EQ(g.gate(), nullptr);
  EXPECT_EQ(gate.readers(), 0) << "a failed enter must not leave a reader behind";
}

TEST(Gate, UnplugIsTerminalAndIdempotent) {
  Gate gate("dev");
  gate.unplug();
  gate.unplug();
  EXPECT_TRUE(gate.is_unplugged());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(static_cast<bool>(gate.enter()));
}

TEST(Gate, UnplugNosyncClosesTheGate) {
  Gate gate("dev");
  gate.unplug_nosync();
  EXPECT_TRUE(gate.is_unplugged());
  EXPECT_FALSE(static_cast<bool>(gate.enter()));
}

TEST(Gate, GatesAreIndependent) {
  Gate a("a"), b("b");
  a.unplug();
  auto g = b.enter();
  EXPECT_TRUE(static_cast<bool>(g));
  EXPECT_FALSE(b.is_unplugged());
}

// ---------------------------------------------------------------------------------------------
// U1: enter -> true; unplug from another task blocks until exit; later enter -> false.

TEST(GateSim, U1UnplugFromAnotherTaskWaitsForExitThenEnterFails) {
  SimExecutor sim(small_budget());
  Gate gate("dev");
  Log log;
  bool unplug_done = false;
  bool reader_saw_unplugged_inside = false;
  auto r = sim.run([&] {
    sim.post([&] {
      {
        auto g = gate.enter();
        ASSERT_TRUE(static_cast<bool>(g));
        log.push_back("reader:entered");
        while (!gate.is_unplugged()) sim.yield();
        reader_saw_unplugged_inside = true;
        log.push_back("reader:sees-unplugged");
        let_others_run(sim);
        EXPECT_FALSE(unplug_done) << "unplug returned while a reader was inside";
        log.push_back("reader:exit");
      }
      EXPECT_FALSE(static_cast<bool>(gate.enter()));
    }, "reader");
    sim.post([&] {
      log.push_back("unplug:start");
      gate.unplug();
      unplug_done = true;
      log.push_back("unplug:done");
      EXPECT_FALSE(static_cast<bool>(gate.enter()));
    }, "unplug");
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(reader_saw_unplugged_inside);
  EXPECT_EQ(log, (Log{"reader:entered", "unplug:start", "reader:sees-unplugged", "reader:exit", "unplug:done"}))
      << join(log);
  EXPECT_TRUE(gate.is_unplugged());
  EXPECT_FALSE(static_cast<bool>(gate.enter()));
  EXPECT_EQ(gate.readers(), 0);
}

TEST(GateSim, U1IsUnpluggedTrueOnceUnplugStartedEvenWhileItWaits) {
  SimExecutor sim(small_budget());
  Gate gate("dev");
  bool checked = false;
  auto r = sim.run([&] {
    Completion entered("entered");
    bool unplug_done = false;
    sim.post([&] {
      auto g = gate.enter();
      ASSERT_TRUE(static_cast<bool>(g));
      entered.complete();
      while (!unplug_done && !gate.is_unplugged()) sim.yield();
      // unplug() is blocked on this very section, yet the device already reads as unplugged.
      EXPECT_FALSE(unplug_done);
      EXPECT_TRUE(gate.is_unplugged());
      checked = true;
    }, "reader");
    entered.wait();
    gate.unplug();
    unplug_done = true;
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(checked);
}

TEST(GateSim, U1UnplugNeverReturnsWhileAReaderIsInsideUnderAnySchedule) {
  // The same scenario under schedules that switch at different points; the exact log may
  // differ, the ordering guarantee may not.
  for (unsigned k = 0; k <= 10; ++k) {
    for (bool always : {false, true}) {
      if (always && k != 0) continue;
      SCOPED_TRACE(::testing::Message() << "switch at point " << k << (always ? " (always)" : ""));
      SimExecutor sim(small_budget());
      SwitchAt strategy(k, always);
      sim.set_strategy(&strategy);
      Gate gate("dev");
      Log log;
      bool unplug_done = false;
      auto r = sim.run([&] {
        sim.post([&] {
          {
            auto g = gate.enter();
            if (!g) {
              log.push_back("reader:refused");
              return;
            }
            log.push_back("reader:entered");
            while (!gate.is_unplugged()) sim.yield();
            let_others_run(sim);
            EXPECT_FALSE(unplug_done);
            log.push_back("reader:exit");
          }
        }, "reader");
        sim.post([&] {
          gate.unplug();
          unplug_done = true;
          log.push_back("unplug:done");
        }, "unplug");
      });
      ASSERT_TRUE(r) << r.report;
      const long exit = index_of(log, "reader:exit"), done = index_of(log, "unplug:done");
      ASSERT_GE(done, 0) << join(log);
      if (index_of(log, "reader:entered") >= 0) {
        ASSERT_GE(exit, 0) << join(log);
        EXPECT_LT(exit, done) << join(log);
      }
      EXPECT_FALSE(static_cast<bool>(gate.enter()));
    }
  }
}

TEST(GateSim, U1UnplugWaitsForEveryReaderTask) {
  SimExecutor sim(small_budget());
  Gate gate("dev");
  Log log;
  auto r = sim.run([&] {
    Completion a_go("a_go"), b_go("b_go");
    Completion entered("entered");
    sim.post([&] {
      auto g = gate.enter();
      ASSERT_TRUE(static_cast<bool>(g));
      entered.complete();
      a_go.wait();
      log.push_back("a:exit");
    }, "reader_a");
    sim.post([&] {
      auto g = gate.enter();
      ASSERT_TRUE(static_cast<bool>(g));
      entered.complete();
      b_go.wait();
      log.push_back("b:exit");
    }, "reader_b");
    sim.post([&] {
      gate.unplug();
      log.push_back("unplug:done");
    }, "unplug");
    entered.wait();
    entered.wait();
    EXPECT_EQ(gate.readers(), 2);
    let_others_run(sim);  // unplug now waits for both
    a_go.complete();
    let_others_run(sim);  // a exits; unplug must keep waiting for b
    log.push_back("main:release-b");
    b_go.complete();
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(log, (Log{"a:exit", "main:release-b", "b:exit", "unplug:done"})) << join(log);
}

// ---------------------------------------------------------------------------------------------
// U2: nested enter inside enter works; unplug waits for the outermost exit.

TEST(GateSim, U2NestedEnterWorksAndUnplugWaitsForOutermostExit) {
  SimExecutor sim(small_budget());
  Gate gate("dev");
  Log log;
  bool unplug_done = false;
  auto r = sim.run([&] {
    sim.post([&] {
      auto outer = gate.enter();
      ASSERT_TRUE(static_cast<bool>(outer));
      log.push_back("reader:enter-outer");
      {
        auto inner = gate.enter();
        ASSERT_TRUE(static_cast<bool>(inner));
        log.push_back("reader:enter-inner");
        EXPECT_EQ(gate.readers(), 2);
        while (!gate.is_unplugged()) sim.yield();
        log.push_back("reader:inner-exit");
      }
      let_others_run(sim);  // the inner exit woke unplug; it must go back to sleep
      EXPECT_FALSE(unplug_done) << "unplug returned after the inner exit, outer section still open";
      EXPECT_EQ(gate.readers(), 1);
      log.push_back("reader:outer-exit");
    }, "reader");
    sim.post([&] {
      log.push_back("unplug:start");
      gate.unplug();
      unplug_done = true;
      log.push_back("unplug:done");
    }, "unplug");
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(log, (Log{"reader:enter-outer", "reader:enter-inner", "unplug:start", "reader:inner-exit",
                      "reader:outer-exit", "unplug:done"}))
      << join(log);
  EXPECT_EQ(gate.readers(), 0);
}

TEST(GateSim, U2NestedEnterAfterUnplugStartedFailsAndOuterStillHoldsUnplug) {
  SimExecutor sim(small_budget());
  Gate gate("dev");
  Log log;
  bool unplug_done = false;
  auto r = sim.run([&] {
    sim.post([&] {
      auto outer = gate.enter();
      ASSERT_TRUE(static_cast<bool>(outer));
      while (!gate.is_unplugged()) sim.yield();
      {
        auto inner = gate.enter();
        EXPECT_FALSE(static_cast<bool>(inner)) << "enter after unplug started must fail, even nested";
      }
      let_others_run(sim);
      EXPECT_FALSE(unplug_done);
      log.push_back("reader:outer-exit");
    }, "reader");
    sim.post([&] {
      gate.unplug();
      unplug_done = true;
      log.push_back("unplug:done");
    }, "unplug");
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(log, (Log{"reader:outer-exit", "unplug:done"})) << join(log);
}

// ---------------------------------------------------------------------------------------------
// Idempotent unplug: every caller returns only after the readers drained.

TEST(GateSim, ConcurrentUnplugsBothWaitForTheReader) {
  SimExecutor sim(small_budget());
  Gate gate("dev");
  Log log;
  // Outside main's frame: main returns right after go.complete(), while the reader still
  // re-reads `go` when it wakes (a completion must outlive its waiters).
  Completion entered("entered"), go("go");
  auto r = sim.run([&] {
    sim.post([&] {
      auto g = gate.enter();
      ASSERT_TRUE(static_cast<bool>(g));
      entered.complete();
      go.wait();
      log.push_back("reader:exit");
    }, "reader");
    entered.wait();
    sim.post([&] {
      gate.unplug();
      log.push_back("unplug1:done");
    }, "unplug1");
    sim.post([&] {
      gate.unplug();
      log.push_back("unplug2:done");
    }, "unplug2");
    let_others_run(sim);  // both unplugs are now waiting
    EXPECT_TRUE(gate.is_unplugged());
    log.push_back("main:release");
    go.complete();
  });
  ASSERT_TRUE(r) << r.report;
  ASSERT_EQ(log.size(), 4u) << join(log);
  EXPECT_EQ(log[0], "main:release") << join(log);
  EXPECT_EQ(log[1], "reader:exit") << join(log);
  EXPECT_GT(index_of(log, "unplug1:done"), 1) << join(log);
  EXPECT_GT(index_of(log, "unplug2:done"), 1) << join(log);
}

// ---------------------------------------------------------------------------------------------
// gate.h: calling unplug() from inside a section of the same gate is a bug (a deadlock in the
// kernel); udrm WARNs and waits only for the other readers.

TEST(GateSim, UnplugFromInsideOwnSectionWarnsAndReturns) {
  SimExecutor sim(small_budget());
  Gate gate("self");
  bool returned = false;
  auto r = sim.run([&] {
    auto g = gate.enter();
    ASSERT_TRUE(static_cast<bool>(g));
    {
      testing::ExpectWarn w(1, "own enter section");
      gate.unplug();
    }
    returned = true;
    EXPECT_TRUE(gate.is_unplugged());
    EXPECT_FALSE(static_cast<bool>(gate.enter()));
  });
  ASSERT_TRUE(r) << r.report;  // not a deadlock
  EXPECT_TRUE(returned);
  EXPECT_EQ(gate.readers(), 0);
}

TEST(GateSim, UnplugFromInsideOwnSectionStillWaitsForOtherReaders) {
  SimExecutor sim(small_budget());
  Gate gate("self");
  Log log;
  auto r = sim.run([&] {
    Completion other_in("other_in"), other_go("other_go");
    sim.post([&] {
      auto g = gate.enter();
      ASSERT_TRUE(static_cast<bool>(g));
      other_in.complete();
      other_go.wait();
      log.push_back("other:exit");
    }, "other_reader");
    other_in.wait();
    auto g = gate.enter();
    ASSERT_TRUE(static_cast<bool>(g));
    EXPECT_EQ(gate.readers(), 2);
    sim.post([&] {
      log.push_back("release-other");
      other_go.complete();
    }, "releaser");
    {
      testing::ExpectWarn w(1, "own enter section");
      gate.unplug();
    }
    log.push_back("unplug:done");
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(log, (Log{"release-other", "other:exit", "unplug:done"})) << join(log);
}

TEST(GateSim, NestedOwnSectionsAreAllDiscountedOnlyForTheCaller) {
  // Two nested sections of the unplugging task, one section of another task: unplug waits
  // for exactly the other one.
  SimExecutor sim(small_budget());
  Gate gate("self");
  Log log;
  auto r = sim.run([&] {
    Completion other_in("other_in"), other_go("other_go");
    sim.post([&] {
      auto g = gate.enter();
      ASSERT_TRUE(static_cast<bool>(g));
      other_in.complete();
      other_go.wait();
      log.push_back("other:exit");
    }, "other_reader");
    other_in.wait();
    auto outer = gate.enter();
    auto inner = gate.enter();
    ASSERT_TRUE(outer && inner);
    sim.post([&] {
      log.push_back("release-other");
      other_go.complete();
    }, "releaser");
    {
      testing::ExpectWarn w(1, "own enter section");
      gate.unplug();
    }
    log.push_back("unplug:done");
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(log, (Log{"release-other", "other:exit", "unplug:done"})) << join(log);
}

// SRCU allows freeing the protected object as soon as synchronize returns: the last reader's
// exit must not touch the gate after unplug() can observe it gone.
TEST(GateSim, GateMayBeDestroyedAsSoonAsUnplugReturns) {
  SimExecutor sim(small_budget());
  auto* gate = new Gate("heap");
  bool destroyed = false;
  auto r = sim.run([&] {
    Completion entered("entered");
    sim.post([&] {
      auto g = gate->enter();
      ASSERT_TRUE(static_cast<bool>(g));
      entered.complete();
      while (!gate->is_unplugged()) sim.yield();
    }, "reader");
    entered.wait();
    gate->unplug();
    delete gate;
    destroyed = true;
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(destroyed);
}

}  // namespace
}  // namespace udrm
