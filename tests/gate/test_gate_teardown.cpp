// The teardown section: after unplug, enter() succeeds only for the task inside the gate's
// TeardownScope (remove()'s shutdown), not for anyone else, and does not count as a reader.
#include <gtest/gtest.h>

#include "udrm/base/sim_executor.h"
#include "udrm/core/gate.h"

namespace udrm {
namespace {

TEST(GateTeardown, EnterSucceedsOnlyInsideTheScopeOfThisGate) {
  Gate g("teardown");
  Gate other("other");
  g.unplug();
  other.unplug();
  EXPECT_FALSE(g.enter());
  {
    Gate::TeardownScope scope(g);
    EXPECT_TRUE(g.in_teardown());
    {
      auto guard = g.enter();
      EXPECT_TRUE(guard);
      EXPECT_EQ(g.readers(), 0);  // not a reader: unplug already drained them
      auto nested = g.enter();
      EXPECT_TRUE(nested);
    }
    EXPECT_FALSE(other.enter());  // only the gate the scope names
  }
  EXPECT_FALSE(g.in_teardown());
  EXPECT_FALSE(g.enter());
}

TEST(GateTeardown, ScopeIsPerTaskOnTheSimulatedExecutor) {
  SimExecutor sim;
  Gate g("teardown-sim");
  bool other_task_entered = true;
  bool own_entered = false;
  auto r = sim.run([&] {
    g.unplug();
    Gate::TeardownScope scope(g);
    sim.post([&] { other_task_entered = static_cast<bool>(g.enter()); }, "other");
    sim.yield();
    sleep_for(std::chrono::milliseconds(1));
    own_entered = static_cast<bool>(g.enter());
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_FALSE(other_task_entered);
  EXPECT_TRUE(own_entered);
}

}  // namespace
}  // namespace udrm
