// Devres<T> (kernel-semantics §8.2, scenarios R4–R7): a Revocable<T> created inside a real
// driver probe with the Bound token and revoked by the binding's devres at unbind.
//  R4 unbind drops T before unbind returns; later accesses fail.
//  R5 dropping the Devres first removes its devm node; unbind does nothing more for it.
//  R6 drop racing unbind: T dropped once, by whoever wins; unbind returns only after the drop.
//  R7 access(Bound): the right device gives the pointer without a guard, another device -EINVAL,
//     a revoked one -ENODEV.
// Plus: Devres<T>::create when the devm node allocation fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "udrm/base/asio_executor.h"
#include "udrm/base/completion.h"
#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/revocable.h"
#include "udrm/core/world.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using Log = std::vector<std::string>;

#if defined(UDRM_TSAN) || defined(UDRM_ASAN)
constexpr int kRounds = 30;
#else
constexpr int kRounds = 200;
#endif

std::string join(const Log& log) {
  std::string s;
  for (const auto& e : log) s += e + " ";
  return s;
}

long index_of(const Log& log, const std::string& what) {
  auto it = std::find(log.begin(), log.end(), what);
  return it == log.end() ? -1 : static_cast<long>(it - log.begin());
}

bool has_name(Device& dev, const std::string& name) {
  auto names = dev.devres().names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

SimExecutor::Options small_budget() {
  SimExecutor::Options o;
  o.step_budget = 500'000;
  return o;
}

void let_others_run(SimExecutor& sim, int n = 4) {
  for (int i = 0; i < n; ++i) sim.yield();
}

constexpr const char* kNodeName = "devres<T>.revoke";

struct Counters {
  std::atomic<int> ctor{0};
  std::atomic<int> dtor{0};
  std::atomic<bool> drop_finished{false};
  std::function<void()> during_drop;
};

struct Res {
  Res(Counters* c, int v) : c_(c), value(v) { c_->ctor.fetch_add(1); }
  ~Res() {
    c_->dtor.fetch_add(1);
    if (c_->during_drop) c_->during_drop();
    c_->drop_finished.store(true);
  }
  Res(const Res&) = delete;
  Res& operator=(const Res&) = delete;
  Counters* c_;
  int value;
};

// A driver whose probe/remove are supplied by the test.
class FnDriver : public Driver {
 public:
  explicit FnDriver(std::string name) : Driver(std::move(name)) {}
  std::function<int(Device&, const Bound&)> on_probe;
  std::function<void(Device&, const Bound&)> on_remove;
  int probe(Device& dev, const Bound& bound) override { return on_probe ? on_probe(dev, bound) : 0; }
  void remove(Device& dev, const Bound& bound) override {
    if (on_remove) on_remove(dev, bound);
  }
};

void noop_action(int*) {}

// ---------------------------------------------------------------------------------------------
// R4

TEST(DevresT, R4UnbindDropsTBeforeUnbindReturnsLaterAccessFails) {
  SimExecutor sim(small_budget());
  Counters c;
  FnDriver drv("res");
  World w(sim);
  Devres<Res> d;
  Log log;
  drv.on_probe = [&](Device& dev, const Bound& b) {
    EXPECT_EQ(&b.device(), &dev);
    d = Devres<Res>::create(b, &c, 5);
    EXPECT_EQ(d.error(), 0);
    EXPECT_TRUE(static_cast<bool>(d));
    EXPECT_EQ(dev.devres().count(), 1u);
    EXPECT_TRUE(has_name(dev, kNodeName));
    return 0;
  };
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);
    ASSERT_TRUE(dev->is_bound());
    EXPECT_EQ(c.ctor, 1);
    {
      auto g = d.try_access();
      ASSERT_TRUE(static_cast<bool>(g));
      EXPECT_EQ(g->value, 5);
    }
    EXPECT_EQ(d.try_access_with([](Res& t) { return t.value; }), std::optional<int>(5));
    c.during_drop = [&] { log.push_back("T:dropped"); };
    log.push_back("unbind:start");
    EXPECT_EQ(bus.unbind("res0"), 0);
    log.push_back("unbind:done");
    EXPECT_EQ(log, (Log{"unbind:start", "T:dropped", "unbind:done"})) << join(log);
    EXPECT_EQ(c.dtor, 1);
    EXPECT_FALSE(dev->is_bound());
    EXPECT_EQ(dev->devres().count(), 0u);
    EXPECT_TRUE(d.is_revoked());
    EXPECT_FALSE(static_cast<bool>(d.try_access()));
    EXPECT_EQ(d.try_access_with([](Res& t) { return t.value; }), std::nullopt);
    EXPECT_FALSE(d.try_access_with([](Res&) {}));
    d.reset();  // after unbind: nothing left to do
    EXPECT_EQ(c.dtor, 1);
    bus.del_device(*dev);
    bus.unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(c.dtor, 1);
}

TEST(DevresT, R4UnbindWaitsForAnOutstandingGuard) {
  SimExecutor sim(small_budget());
  Counters c;
  FnDriver drv("res");
  World w(sim);
  Devres<Res> d;
  Log log;
  drv.on_probe = [&](Device&, const Bound& b) {
    d = Devres<Res>::create(b, &c, 1);
    return d.error();
  };
  bool unbind_returned = false;
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);
    c.during_drop = [&] { log.push_back("T:dropped"); };
    Completion entered("entered");
    sim.post([&] {
      auto g = d.try_access();
      ASSERT_TRUE(static_cast<bool>(g));
      log.push_back("reader:in");
      entered.complete();
      while (!d.is_revoked()) sim.yield();  // unbind's revoke has started
      let_others_run(sim);
      EXPECT_FALSE(unbind_returned) << "unbind returned while a guard was held";
      EXPECT_EQ(c.dtor, 0);
      log.push_back("reader:out");
    }, "reader");
    entered.wait();
    log.push_back("unbind:start");
    EXPECT_EQ(bus.unbind("res0"), 0);
    unbind_returned = true;
    log.push_back("unbind:done");
    bus.del_device(*dev);
    bus.unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(log, (Log{"reader:in", "unbind:start", "reader:out", "T:dropped", "unbind:done"})) << join(log);
  EXPECT_EQ(c.dtor, 1);
}

TEST(DevresT, R4DeviceRemovalAlsoRevokes) {
  SimExecutor sim(small_budget());
  Counters c;
  FnDriver drv("res");
  World w(sim);
  Devres<Res> d;
  drv.on_probe = [&](Device&, const Bound& b) {
    d = Devres<Res>::create(b, &c, 1);
    return d.error();
  };
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);
    bus.del_device(*dev);
    EXPECT_EQ(c.dtor, 1);
    EXPECT_TRUE(d.is_revoked());
    bus.unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
}

// ---------------------------------------------------------------------------------------------
// R5

TEST(DevresT, R5ResetBeforeUnbindRemovesTheNodeAndUnbindDoesNothingMore) {
  SimExecutor sim(small_budget());
  Counters c;
  FnDriver drv("res");
  World w(sim);
  Devres<Res> d;
  int other_action_runs = 0;
  drv.on_probe = [&](Device& dev, const Bound& b) {
    d = Devres<Res>::create(b, &c, 3);
    EXPECT_EQ(devm_add_action(dev, [&] { ++other_action_runs; }, "other"), 0);
    return d.error();
  };
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);
    ASSERT_TRUE(dev->is_bound());
    std::size_t before = dev->devres().count();
    EXPECT_EQ(before, 2u);
    EXPECT_TRUE(has_name(*dev, kNodeName));
    d.reset();
    EXPECT_EQ(c.dtor, 1);
    EXPECT_EQ(dev->devres().count(), before - 1);
    EXPECT_FALSE(has_name(*dev, kNodeName));
    EXPECT_TRUE(has_name(*dev, "other"));
    EXPECT_FALSE(static_cast<bool>(d));
    EXPECT_TRUE(d.is_revoked());
    EXPECT_FALSE(static_cast<bool>(d.try_access()));
    d.reset();  // idempotent
    EXPECT_EQ(bus.unbind("res0"), 0);
    EXPECT_EQ(c.dtor, 1) << "unbind dropped T a second time";
    EXPECT_EQ(other_action_runs, 1);
    EXPECT_EQ(dev->devres().count(), 0u);
    bus.del_device(*dev);
    bus.unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(c.dtor, 1);
}

TEST(DevresT, R5DestroyingTheDevresIsAReset) {
  SimExecutor sim(small_budget());
  Counters c;
  FnDriver drv("res");
  World w(sim);
  std::optional<Devres<Res>> d;
  drv.on_probe = [&](Device&, const Bound& b) {
    d.emplace(Devres<Res>::create(b, &c, 3));
    return d->error();
  };
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);
    EXPECT_EQ(dev->devres().count(), 1u);
    d.reset();  // ~Devres
    EXPECT_EQ(c.dtor, 1);
    EXPECT_EQ(dev->devres().count(), 0u);
    EXPECT_EQ(bus.unbind("res0"), 0);
    EXPECT_EQ(c.dtor, 1);
    bus.del_device(*dev);
    bus.unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(DevresT, MoveTransfersOwnershipAndMoveAssignDropsTheOldValue) {
  SimExecutor sim(small_budget());
  Counters c1, c2;
  FnDriver drv("res");
  World w(sim);
  Devres<Res> a, b;
  drv.on_probe = [&](Device&, const Bound& bound) {
    a = Devres<Res>::create(bound, &c1, 1);
    b = Devres<Res>::create(bound, &c2, 2);
    return 0;
  };
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);
    EXPECT_EQ(dev->devres().count(), 2u);
    Devres<Res> moved(std::move(a));
    EXPECT_FALSE(static_cast<bool>(a));
    EXPECT_FALSE(static_cast<bool>(a.try_access())) << "a moved-from Devres must read as revoked";
    EXPECT_EQ(moved.try_access()->value, 1);
    EXPECT_EQ(dev->devres().count(), 2u);
    moved = std::move(b);  // drops c1's T and its node
    EXPECT_EQ(c1.dtor, 1);
    EXPECT_EQ(c2.dtor, 0);
    EXPECT_EQ(dev->devres().count(), 1u);
    EXPECT_EQ(moved.try_access()->value, 2);
    EXPECT_EQ(bus.unbind("res0"), 0);
    EXPECT_EQ(c2.dtor, 1);
    EXPECT_TRUE(moved.is_revoked());
    bus.del_device(*dev);
    bus.unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(c1.dtor, 1);
  EXPECT_EQ(c2.dtor, 1);
}

// ---------------------------------------------------------------------------------------------
// R6 on the simulated executor: both orders, chosen by a strategy that switches tasks at a named
// scheduling point.

// At the n-th occurrence (1-based) of point `name`, switch to the ready task called `to`.
class SwitchAtNamedPoint : public SimStrategy {
 public:
  SwitchAtNamedPoint(std::string name, unsigned n, std::string to) : name_(std::move(name)), n_(n), to_(std::move(to)) {}
  SimTask* at_point(SimExecutor&, const Point& p, SimTask*, std::span<SimTask* const> ready) override {
    if (name_ != p.name || ++seen_ != n_) return nullptr;
    for (SimTask* t : ready)
      if (to_ == t->name()) {
        switched = true;
        return t;
      }
    return nullptr;
  }
  bool switched = false;

 private:
  std::string name_;
  unsigned n_;
  std::string to_;
  unsigned seen_ = 0;
};

// Switch to the newest ready task at the k-th scheduling point (k = 0: never).
class SwitchAt : public SimStrategy {
 public:
  explicit SwitchAt(unsigned k) : k_(k) {}
  SimTask* at_point(SimExecutor&, const Point&, SimTask*, std::span<SimTask* const> ready) override {
    return ++n_ == k_ ? ready.back() : nullptr;
  }

 private:
  unsigned k_;
  unsigned n_ = 0;
};

struct RaceOutcome {
  std::string winner;  // the task that dropped T
  Log log;
  int dtor = 0;
  bool ok = false;
};

// One bound device with a Devres<Res>; then a "reset" task and an "unbind" task race (posted in
// the order given). The drop yields in the middle so a loser that did not wait would run ahead.
RaceOutcome run_drop_vs_unbind(SimStrategy* strategy, bool reset_first) {
  RaceOutcome out;
  SimExecutor sim(small_budget());
  sim.set_strategy(strategy);
  Counters c;
  FnDriver drv("res");
  World w(sim);
  Devres<Res> d;
  drv.on_probe = [&](Device&, const Bound& b) {
    d = Devres<Res>::create(b, &c, 1);
    return d.error();
  };
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);
    ASSERT_TRUE(dev->is_bound());
    c.during_drop = [&] {
      out.winner = sim.current()->name();
      out.log.push_back("drop:begin");
      let_others_run(sim, 3);
      UDRM_POINT("test.drop");
      out.log.push_back("drop:end");
    };
    auto reset_task = [&] {
      out.log.push_back("reset:start");
      d.reset();
      EXPECT_TRUE(c.drop_finished.load()) << "reset returned before T was dropped";
      out.log.push_back("reset:done");
    };
    auto unbind_task = [&] {
      out.log.push_back("unbind:start");
      EXPECT_EQ(bus.unbind("res0"), 0);
      EXPECT_TRUE(c.drop_finished.load()) << "unbind returned before T was dropped";
      out.log.push_back("unbind:done");
    };
    if (reset_first) {
      sim.post(reset_task, "reset");
      sim.post(unbind_task, "unbind");
    } else {
      sim.post(unbind_task, "unbind");
      sim.post(reset_task, "reset");
    }
    // main returns at once; the run ends when both tasks have finished.
  });
  EXPECT_TRUE(r) << r.report;
  out.dtor = c.dtor.load();
  out.ok = static_cast<bool>(r);
  // Clean up outside the race.
  auto r2 = sim.run([&] {
    Bus& bus = w.bus("platform");
    if (auto dev = bus.find_device("res0")) {
      EXPECT_FALSE(dev->is_bound());
      EXPECT_EQ(dev->devres().count(), 0u);
      bus.del_device(*dev);
    }
    bus.unregister_driver(drv);
  });
  EXPECT_TRUE(r2) << r2.report;
  return out;
}

void check_race_invariants(const RaceOutcome& o) {
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.dtor, 1) << "T not dropped exactly once; log: " << join(o.log);
  long drop_end = index_of(o.log, "drop:end");
  ASSERT_GE(drop_end, 0) << join(o.log);
  EXPECT_LT(drop_end, index_of(o.log, "unbind:done")) << "unbind returned before the drop finished: " << join(o.log);
  EXPECT_LT(drop_end, index_of(o.log, "reset:done")) << join(o.log);
  EXPECT_TRUE(o.winner == "reset" || o.winner == "unbind") << o.winner;
}

TEST(DevresTSim, R6DropWinsUnbindWaitsForTheDrop) {
  // reset() runs first; inside its revoke (after the flag flip, at "gate.unplug") the strategy
  // switches to the unbind task, whose devres release finds the Devres already revoking.
  SwitchAtNamedPoint s("gate.unplug", 1, "unbind");
  RaceOutcome o = run_drop_vs_unbind(&s, /*reset_first=*/true);
  EXPECT_TRUE(s.switched);
  check_race_invariants(o);
  EXPECT_EQ(o.winner, "reset");
  // unbind really ran while the drop was pending, and still returned only after it.
  EXPECT_LT(index_of(o.log, "unbind:start"), index_of(o.log, "drop:begin")) << join(o.log);
  EXPECT_LT(index_of(o.log, "drop:end"), index_of(o.log, "unbind:done")) << join(o.log);
}

TEST(DevresTSim, R6UnbindWinsDropWaitsForUnbindsDrop) {
  // unbind runs first; its devres release revokes and, at "gate.unplug", the strategy switches
  // to the reset task, which loses the flip and must wait for unbind's drop.
  SwitchAtNamedPoint s("gate.unplug", 1, "reset");
  RaceOutcome o = run_drop_vs_unbind(&s, /*reset_first=*/false);
  EXPECT_TRUE(s.switched);
  check_race_invariants(o);
  EXPECT_EQ(o.winner, "unbind");
  EXPECT_LT(index_of(o.log, "reset:start"), index_of(o.log, "drop:begin")) << join(o.log);
  EXPECT_LT(index_of(o.log, "drop:end"), index_of(o.log, "reset:done")) << join(o.log);
}

TEST(DevresTSim, R6ResetArrivesInTheMiddleOfUnbindsDrop) {
  // unbind's drop is in progress (switch at its "test.drop" point) when reset() starts: reset
  // loses the flip, waits in revoke, then finds the devm node already taken by unbind and must
  // not drop the node's reference a second time (ASan would see the double put).
  SwitchAtNamedPoint s("test.drop", 1, "reset");
  RaceOutcome o = run_drop_vs_unbind(&s, /*reset_first=*/false);
  check_race_invariants(o);
  EXPECT_EQ(o.winner, "unbind");
}

TEST(DevresTSim, R6EverySchedulePointKeepsTheInvariants) {
  // Sweep: switch at the k-th point, both posting orders. Both winners must show up.
  std::set<std::string> winners;
  for (bool reset_first : {true, false}) {
    for (unsigned k = 0; k <= 40; ++k) {
      SCOPED_TRACE(::testing::Message() << "reset_first=" << reset_first << " switch at point " << k);
      SwitchAt s(k);
      RaceOutcome o = run_drop_vs_unbind(&s, reset_first);
      check_race_invariants(o);
      winners.insert(o.winner);
      if (::testing::Test::HasFailure()) return;
    }
  }
  EXPECT_EQ(winners, (std::set<std::string>{"reset", "unbind"}));
}

// ---------------------------------------------------------------------------------------------
// R6 on real threads (run it under TSan).

TEST(DevresTThreads, R6DropVsUnbindOnThreads) {
  AsioExecutor ex(2);
  int reset_wins = 0, unbind_wins = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    Counters c;
    FnDriver drv("res");
    World w(ex);
    Devres<Res> d;
    std::atomic<int> winner{0};  // 1 reset, 2 unbind
    thread_local int tls_role = 0;
    c.during_drop = [&] {
      winner.store(tls_role);
      for (int i = 0; i < 50; ++i) std::this_thread::yield();
    };
    drv.on_probe = [&](Device&, const Bound& b) {
      d = Devres<Res>::create(b, &c, 1);
      return d.error();
    };
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);
    ASSERT_TRUE(dev->is_bound());
    std::atomic<bool> go{false};
    std::atomic<int> ready{0};
    std::atomic<bool> reset_saw_drop{false}, unbind_saw_drop{false};
    std::atomic<int> unbind_ret{-1};
    std::thread a([&] {
      tls_role = 1;
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      d.reset();
      reset_saw_drop.store(c.drop_finished.load());
    });
    std::thread b([&] {
      tls_role = 2;
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      unbind_ret.store(bus.unbind("res0"));
      unbind_saw_drop.store(c.drop_finished.load());
    });
    while (ready.load() != 2) std::this_thread::yield();
    go.store(true);
    a.join();
    b.join();
    EXPECT_EQ(unbind_ret.load(), 0);
    EXPECT_TRUE(reset_saw_drop.load()) << "reset returned before T was dropped";
    EXPECT_TRUE(unbind_saw_drop.load()) << "unbind returned before T was dropped";
    EXPECT_EQ(c.dtor.load(), 1);
    EXPECT_EQ(dev->devres().count(), 0u);
    (winner.load() == 1 ? reset_wins : unbind_wins)++;
    bus.del_device(*dev);
    bus.unregister_driver(drv);
    if (::testing::Test::HasFailure()) break;
  }
  // Informational: on real threads either side may win every round.
  RecordProperty("reset_wins", reset_wins);
  RecordProperty("unbind_wins", unbind_wins);
}

// ---------------------------------------------------------------------------------------------
// R7

TEST(DevresT, R7AccessWithTheRightBoundDeviceGivesThePointerWithoutAGuard) {
  SimExecutor sim(small_budget());
  Counters c, c2;
  FnDriver drv("res");
  World w(sim);
  Devres<Res> d, probe_local;
  bool checked = false;
  drv.on_probe = [&](Device&, const Bound& b) {
    d = Devres<Res>::create(b, &c, 13);
    int err = -1;
    Res* p = d.access(b, &err);
    EXPECT_EQ(err, 0);
    EXPECT_NE(p, nullptr);
    if (p) {
      EXPECT_EQ(p->value, 13);
    }
    {
      auto g = d.try_access();
      EXPECT_EQ(g.get(), p) << "access() and try_access() disagree about T";
    }
    EXPECT_EQ(d.access(b), p);  // err is optional
    // No guard is held behind access(): revoking the same object right away, on the same task,
    // must not wait (a hidden guard would make the simulated run deadlock here).
    probe_local = Devres<Res>::create(b, &c2, 1);
    Res* q = probe_local.access(b, &err);
    EXPECT_NE(q, nullptr);
    probe_local.reset();
    EXPECT_EQ(c2.dtor, 1);
    EXPECT_EQ(probe_local.access(b, &err), nullptr);
    EXPECT_EQ(err, -EINVAL) << "an empty Devres has no device";
    checked = true;
    return 0;
  };
  drv.on_remove = [&](Device&, const Bound& b) {
    // remove() runs inside the binding: access() still works, T not yet dropped.
    int err = -1;
    EXPECT_NE(d.access(b, &err), nullptr);
    EXPECT_EQ(err, 0);
    EXPECT_EQ(c.dtor, 0);
  };
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);
    ASSERT_TRUE(dev->is_bound());
    EXPECT_TRUE(checked);
    EXPECT_EQ(bus.unbind("res0"), 0);
    EXPECT_EQ(c.dtor, 1);
    bus.del_device(*dev);
    bus.unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(DevresT, R7AccessWithAnotherDevicesBoundIsEinvalAndRevokedIsEnodev) {
  SimExecutor sim(small_budget());
  Counters c;
  FnDriver drv("res");
  World w(sim);
  Devres<Res> da;
  int probes_a = 0, checks_b = 0, checks_rebind = 0;
  drv.on_probe = [&](Device& dev, const Bound& b) {
    int err = 12345;
    if (dev.name() == "A" && probes_a++ == 0) {
      da = Devres<Res>::create(b, &c, 1);
      return da.error();
    }
    if (dev.name() == "B") {
      // B's binding proves nothing about A's.
      EXPECT_EQ(da.access(b, &err), nullptr);
      EXPECT_EQ(err, -EINVAL);
      EXPECT_FALSE(da.is_revoked());
      EXPECT_EQ(da.try_access()->value, 1);  // the checked path still works
      ++checks_b;
      return 0;
    }
    // A bound again: the Devres from A's previous binding was revoked at that unbind.
    EXPECT_EQ(da.access(b, &err), nullptr);
    EXPECT_EQ(err, -ENODEV);
    ++checks_rebind;
    return 0;
  };
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto a = Device::create(w, "A", nullptr, "res");
    auto b = Device::create(w, "B", nullptr, "res");
    ASSERT_EQ(bus.add_device(*a), 0);
    ASSERT_EQ(bus.add_device(*b), 0);
    ASSERT_TRUE(a->is_bound());
    ASSERT_TRUE(b->is_bound());
    EXPECT_EQ(checks_b, 1);
    EXPECT_EQ(bus.unbind("A"), 0);
    EXPECT_EQ(c.dtor, 1);
    EXPECT_EQ(bus.bind("A", "res"), 0);
    EXPECT_EQ(checks_rebind, 1);
    EXPECT_EQ(c.dtor, 1);
    bus.del_device(*a);
    bus.del_device(*b);
    bus.unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
}

// ---------------------------------------------------------------------------------------------
// create() when the devm node cannot be allocated.

TEST(DevresT, CreateWhenTheDevmNodeAllocationFails) {
  SimExecutor sim(small_budget());
  Counters c;
  FnDriver drv("res");
  World w(sim);
  Devres<Res> d;
  bool fired = false;
  drv.on_probe = [&](Device& dev, const Bound& b) {
    int dummy = 0;
    EXPECT_EQ(devm_add_action(dev, &noop_action, &dummy, "before"), 0);
    std::size_t before = dev.devres().count();
    FailNth fail(1, "devm.add_action");
    {
      ScopedFaultInjector inj(fail);
      d = Devres<Res>::create(b, &c, 1);
    }
    fired = fail.fired();
    EXPECT_EQ(d.error(), -ENOMEM);
    EXPECT_FALSE(static_cast<bool>(d));
    EXPECT_EQ(c.ctor, 1);
    EXPECT_EQ(c.dtor, 1) << "T must be dropped exactly once when the node cannot be added";
    EXPECT_EQ(dev.devres().count(), before);
    EXPECT_FALSE(has_name(dev, kNodeName));
    EXPECT_TRUE(d.is_revoked());
    EXPECT_FALSE(static_cast<bool>(d.try_access()));
    EXPECT_EQ(d.try_access_with([](Res& t) { return t.value; }), std::nullopt);
    EXPECT_FALSE(d.try_access_with([](Res&) {}));
    int err = 0;
    EXPECT_EQ(d.access(b, &err), nullptr);
    EXPECT_EQ(err, -EINVAL);
    d.reset();  // harmless
    return d.error();
  };
  auto r = sim.run([&] {
    Bus& bus = w.bus("platform");
    ASSERT_EQ(bus.register_driver(drv), 0);
    auto dev = Device::create(w, "res0", nullptr, "res");
    ASSERT_EQ(bus.add_device(*dev), 0);  // the probe failure is not a registration failure
    EXPECT_FALSE(dev->is_bound());
    EXPECT_EQ(dev->devres().count(), 0u) << "probe failure releases the probe's devres";
    bus.del_device(*dev);
    bus.unregister_driver(drv);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_TRUE(fired);
  EXPECT_EQ(c.dtor, 1);
}

TEST(DevresT, DefaultConstructedDevresReadsAsRevoked) {
  Devres<Res> d;
  EXPECT_FALSE(static_cast<bool>(d));
  EXPECT_EQ(d.error(), 0);
  EXPECT_TRUE(d.is_revoked());
  EXPECT_FALSE(static_cast<bool>(d.try_access()));
  EXPECT_EQ(d.try_access_with([](Res& t) { return t.value; }), std::nullopt);
  EXPECT_FALSE(d.try_access_with([](Res&) {}));
  d.reset();
}

}  // namespace
}  // namespace udrm
