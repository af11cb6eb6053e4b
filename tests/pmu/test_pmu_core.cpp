// PMU registry and counter events on a test PMU: register/unregister, counting, refresh limits,
// deferred notifications, unregister with events open (error state, no driver call after it,
// data freed at the last close, module pinned while events exist), bad input.
#include <gtest/gtest.h>

#include <vector>

#include "pmu_test_util.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/module.h"
#include "udrm/core/world.h"
#include "udrm/testing/warn.h"

namespace udrm::pmutest {
namespace {

TEST(Pmu, RegisterUnregisterWithoutEvents) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    PmuRegistry& reg = pmu_registry(world);
    bool freed = false;
    {
      TestPmu t(reg, &freed);
      ASSERT_TRUE(t.pmu);
      EXPECT_EQ(reg.find("test-pmu").get(), t.pmu.get());
      EXPECT_EQ(t.pmu->refcount(), 2u);  // registry + driver
      Ref<Pmu> dup;
      EXPECT_EQ(pmu_register(reg, "test-pmu", kTestOps, nullptr, &dup), -EEXIST);
      EXPECT_EQ(pmu_register(reg, "", kTestOps, nullptr, &dup), -EINVAL);
      EXPECT_EQ(pmu_register(reg, "x", PmuOps{}, nullptr, &dup), -EINVAL);
      EXPECT_EQ(pmu_register(reg, "x", kTestOps, nullptr, nullptr), -EINVAL);
      EXPECT_FALSE(dup);
      t.unregister();
      EXPECT_FALSE(t.pmu->registered());
      EXPECT_FALSE(reg.find("test-pmu"));
      EXPECT_EQ(reg.size(), 0u);
      Ref<PerfEvent> ev;
      EXPECT_EQ(perf_event_open(reg, "test-pmu", {}, &ev), -ENOENT);
      EXPECT_FALSE(freed);  // the driver's reference
      EXPECT_EQ(t.data->calls, 0);
      {
        testing::ExpectWarn w(1);
        pmu_unregister(*t.pmu);  // twice: WARN, nothing else
      }
    }
    EXPECT_TRUE(freed);
    // The name is free again.
    TestPmu again(reg, nullptr);
    EXPECT_TRUE(again.pmu);
    again.unregister();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(PerfEvent, CountsReadsEnablesDisables) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    TestPmu t(pmu_registry(world), nullptr);
    Ref<PerfEvent> ev;
    EXPECT_EQ(perf_event_open(world, "test-pmu", attr(9), &ev), -EINVAL);  // event_init refuses
    EXPECT_EQ(perf_event_open(world, "nope", {}, &ev), -ENOENT);
    EXPECT_EQ(perf_event_open(world, "test-pmu", {}, nullptr), -EINVAL);
    EXPECT_EQ(perf_event_open(world, "test-pmu", attr(0, ~uint64_t(0)), &ev), -EINVAL);
    EXPECT_EQ(t.pmu->nr_events(), 0u);
    ASSERT_EQ(perf_event_open(world, "test-pmu", attr(1), &ev), 0);
    EXPECT_EQ(t.pmu->nr_events(), 1u);
    uint64_t v = 99;
    EXPECT_EQ(ev->read(&v), 0);
    EXPECT_EQ(v, 0u);
    EXPECT_EQ(ev->state(), PerfEventState::off);
    t.irq(1, 4);  // off: not counted
    EXPECT_EQ(ev->enable(), 0);
    EXPECT_EQ(ev->state(), PerfEventState::active);
    t.irq(1, 5);
    t.irq(0, 7);  // other counter
    EXPECT_EQ(ev->read(&v), 0);
    EXPECT_EQ(v, 5u);
    EXPECT_EQ(ev->disable(), 0);
    t.irq(1, 3);
    EXPECT_EQ(ev->read(&v), 0);
    EXPECT_EQ(v, 5u);
    EXPECT_EQ(ev->enable(), 0);
    t.irq(1, 2);
    EXPECT_EQ(ev->enable(), 0);  // reschedule of an active event keeps counting
    t.irq(1, 1);
    EXPECT_EQ(ev->read(&v), 0);
    EXPECT_EQ(v, 8u);
    EXPECT_EQ(ev->refresh(1), -EINVAL);  // no sample_period
    EXPECT_EQ(ev->close(), 0);
    EXPECT_EQ(ev->close(), -EBADF);
    EXPECT_EQ(ev->read(&v), -EBADF);
    EXPECT_EQ(ev->enable(), -EBADF);
    EXPECT_EQ(ev->disable(), -EBADF);
    EXPECT_EQ(ev->refresh(1), -EBADF);
    EXPECT_EQ(t.pmu->nr_events(), 0u);
    t.unregister();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(PerfEvent, RefreshGivesExactlyNOverflowsThenDisables) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    TestPmu t(pmu_registry(world), nullptr);
    std::vector<PerfNotification> got;
    bool atomic_seen = false;
    PerfEventAttr a = attr(2, 3);
    a.on_overflow = [&](PerfEvent&, const PerfNotification& n) {
      atomic_seen |= in_atomic();
      got.push_back(n);
    };
    Ref<PerfEvent> ev;
    ASSERT_EQ(perf_event_open(world, "test-pmu", a, &ev), 0);
    EXPECT_EQ(ev->refresh(0), -EINVAL);
    ASSERT_EQ(ev->refresh(2), 0);
    EXPECT_EQ(ev->state(), PerfEventState::active);
    EXPECT_EQ(t.irq(2, 2), 0u);
    EXPECT_EQ(t.irq(2, 1), 1u);  // 3: first overflow
    EXPECT_EQ(ev->overflows(), 1u);
    EXPECT_EQ(ev->notifications(), 0u);  // deferred: not in the interrupt
    EXPECT_EQ(t.irq(2, 10), 1u);         // second overflow reaches the limit: counting stops
    EXPECT_EQ(t.irq(2, 10), 0u);
    EXPECT_TRUE(got.empty());
    uint64_t v = 0;
    EXPECT_EQ(ev->read(&v), 0);  // the call returns: the deferred work delivers and disables
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].seq, 1u);
    EXPECT_EQ(got[1].seq, 2u);
    EXPECT_FALSE(atomic_seen);
    EXPECT_EQ(ev->state(), PerfEventState::off);
    EXPECT_EQ(ev->overflows(), 2u);
    EXPECT_EQ(ev->notifications(), 2u);
    // A new refresh: one more.
    ASSERT_EQ(ev->refresh(1), 0);
    EXPECT_EQ(t.irq(2, 7), 1u);
    EXPECT_EQ(ev->read(&v), 0);
    EXPECT_EQ(got.size(), 3u);
    EXPECT_EQ(ev->state(), PerfEventState::off);
    // Unlimited sampling: every period.
    ASSERT_EQ(ev->enable(), 0);
    EXPECT_EQ(t.irq(2, 9), 3u);
    // close delivers what is pending.
    EXPECT_EQ(ev->close(), 0);
    EXPECT_EQ(got.size(), 6u);
    EXPECT_EQ(ev->notifications(), ev->overflows());
    t.unregister();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(PerfEvent, UnregisterWithEventsOpenForcesErrorAndFreesDataAtLastClose) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    bool freed = false;
    Ref<PerfEvent> active, off, sampling;
    int notified = 0;
    {
      TestPmu t(pmu_registry(world), &freed);
      ASSERT_EQ(perf_event_open(world, "test-pmu", attr(0, 0, false), &active), 0);
      ASSERT_EQ(perf_event_open(world, "test-pmu", attr(1), &off), 0);
      PerfEventAttr a = attr(3, 1);
      a.on_overflow = [&](PerfEvent&, const PerfNotification&) { ++notified; };
      ASSERT_EQ(perf_event_open(world, "test-pmu", a, &sampling), 0);
      ASSERT_EQ(sampling->enable(), 0);
      t.irq(0, 6);
      EXPECT_EQ(t.irq(3, 2), 2u);  // two overflows pending at unregister
      TestPmuData* d = t.data;
      t.unregister();  // the driver unbinds
      const int calls = d->calls;
      t.pmu.reset();   // and drops its reference
      EXPECT_FALSE(freed) << "events still hold the PMU data";
      for (Ref<PerfEvent>* e : {&active, &off, &sampling}) {
        EXPECT_EQ((*e)->state(), PerfEventState::error);
        EXPECT_EQ((*e)->error(), -ENODEV);
      }
      uint64_t v = 0;
      EXPECT_EQ(active->read(&v), -ENODEV);
      EXPECT_EQ(v, 6u);  // the final count, folded at unregister
      EXPECT_EQ(active->enable(), -ENODEV);
      EXPECT_EQ(active->refresh(1), -EINVAL);  // no sample period: bad input first
      EXPECT_EQ(sampling->refresh(1), -ENODEV);
      EXPECT_EQ(off->enable(), -ENODEV);
      EXPECT_EQ(off->disable(), -ENODEV);
      EXPECT_EQ(active->state(), PerfEventState::error);  // nothing revived it
      EXPECT_EQ(off->state(), PerfEventState::error);
      EXPECT_EQ(notified, 1 + 1) << "pending notifications survive the unregister (sampling->refresh delivered them)";
      EXPECT_EQ(d->calls, calls);
      EXPECT_EQ(d->calls_after_unregister, 0);
      EXPECT_EQ(active->close(), 0);
      EXPECT_EQ(off->close(), 0);
      EXPECT_FALSE(freed) << "not before the last close";
      EXPECT_EQ(d->calls_after_unregister, 0);
    }
    EXPECT_EQ(sampling->close(), 0);
    EXPECT_TRUE(freed) << "the last event's close frees the PMU data";
    EXPECT_EQ(notified, 2);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(PerfEvent, ModulePinnedWhileEventsExist) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    bool freed = false;
    Ref<Pmu> drv_ref;
    Module* mod = nullptr;
    auto init = [&](World& w, Module&) {
      auto d = std::make_shared<TestPmuData>(&freed);
      return pmu_register(pmu_registry(w), "mod-pmu", kTestOps, d, &drv_ref);
    };
    auto exit_fn = [&](World&, Module&) {
      pmu_unregister(*drv_ref);
      drv_ref->data<TestPmuData>()->unregistered = true;
      drv_ref.reset();
    };
    ASSERT_EQ(world.modules().load_builtin("pmu_mod", init, exit_fn, &mod), 0);
    EXPECT_EQ(drv_ref->module(), mod);
    Ref<PerfEvent> a, b;
    ASSERT_EQ(perf_event_open(world, "mod-pmu", attr(0), &a), 0);
    ASSERT_EQ(perf_event_open(world, "mod-pmu", attr(1), &b), 0);
    EXPECT_EQ(mod->refcount(), 2);
    EXPECT_EQ(world.modules().unload("pmu_mod"), -EAGAIN);  // pinned: nothing changed
    EXPECT_TRUE(drv_ref->registered());
    EXPECT_EQ(a->close(), 0);
    EXPECT_EQ(mod->refcount(), 1);
    EXPECT_EQ(b->close(), 0);
    EXPECT_EQ(mod->refcount(), 0);
    EXPECT_EQ(world.modules().unload("pmu_mod"), 0);
    EXPECT_TRUE(freed);
    EXPECT_FALSE(pmu_registry(world).find("mod-pmu"));
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(PerfEvent, OverflowHandlerMayCallTheEventButNotCloseIt) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    TestPmu t(pmu_registry(world), nullptr);
    int close_ret = 0, read_ret = 1, calls = 0;
    PerfEventAttr a = attr(0, 1);
    a.on_overflow = [&](PerfEvent& ev, const PerfNotification&) {
      ++calls;
      read_ret = ev.read(nullptr);
      close_ret = ev.close();
    };
    Ref<PerfEvent> ev;
    ASSERT_EQ(perf_event_open(world, "test-pmu", a, &ev), 0);
    ASSERT_EQ(ev->enable(), 0);
    t.irq(0, 1);
    EXPECT_EQ(ev->read(nullptr), 0);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(read_ret, 0);
    EXPECT_EQ(close_ret, -EDEADLK);
    EXPECT_EQ(ev->close(), 0);
    t.unregister();
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(PerfEvent, FinalPutWithoutCloseCloses) {
  SimExecutor sim;
  World world(sim);
  auto r = sim.run([&] {
    bool freed = false;
    TestPmu t(pmu_registry(world), &freed);
    int notified = 0;
    PerfEventAttr a = attr(0, 1);
    a.on_overflow = [&](PerfEvent&, const PerfNotification&) { ++notified; };
    Ref<PerfEvent> ev;
    ASSERT_EQ(perf_event_open(world, "test-pmu", a, &ev), 0);
    ASSERT_EQ(ev->enable(), 0);
    t.irq(0, 1);
    ev.reset();  // like a process exiting with the handle open
    EXPECT_EQ(notified, 1);
    EXPECT_EQ(t.pmu->nr_events(), 0u);
    t.unregister();
    t.pmu.reset();
    EXPECT_TRUE(freed);
  });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace
}  // namespace udrm::pmutest
