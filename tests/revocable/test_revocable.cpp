// Revocable<T> (kernel-semantics §8.1, scenarios R1–R3): try_access guards, try_access_with,
// revoke / revoke_nosync, exactly-once drop. The simulated executor proves orderings with a log
// (no timing); the thread tests repeat the same claims on real threads for TSan, with verdicts
// taken from flags written before/after the events they describe.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "udrm/base/completion.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/revocable.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using namespace std::chrono_literals;
using Log = std::vector<std::string>;

#if defined(UDRM_TSAN) || defined(UDRM_ASAN)
constexpr int kRounds = 20;
#else
constexpr int kRounds = 100;
#endif

#define WAIT_OR_FAIL(c) ASSERT_TRUE((c).wait_timeout(60s)) << "hand-off '" << (c).name() << "' never happened"

std::string join(const Log& log) {
  std::string s;
  for (const auto& e : log) s += e + " ";
  return s;
}

SimExecutor::Options small_budget() {
  SimExecutor::Options o;
  o.step_budget = 200'000;
  return o;
}

void let_others_run(SimExecutor& sim, int n = 4) {
  for (int i = 0; i < n; ++i) sim.yield();
}

// Counts constructions and destructions; `during_drop` runs inside the destructor (to log, or to
// give other tasks/threads a chance to run while the drop is in progress).
struct Counters {
  std::atomic<int> ctor{0};
  std::atomic<int> dtor{0};
  std::atomic<bool> drop_started{false};
  std::atomic<bool> drop_finished{false};
  std::function<void()> during_drop;
};

struct Res {
  Res(Counters* c, int v) : c_(c), value(v) { c_->ctor.fetch_add(1); }
  ~Res() {
    c_->drop_started.store(true);
    c_->dtor.fetch_add(1);
    if (c_->during_drop) c_->during_drop();
    c_->drop_finished.store(true);
  }
  Res(const Res&) = delete;
  Res& operator=(const Res&) = delete;

  Counters* c_;
  int value;
};

// ---------------------------------------------------------------------------------------------
// R1 and the plain API.

TEST(Revocable, R1TryAccessBeforeRevokeSomeAfterNone) {
  Counters c;
  Revocable<Res> rev(&c, 7);
  EXPECT_EQ(c.ctor, 1);
  EXPECT_FALSE(rev.is_revoked());
  {
    auto g = rev.try_access();
    ASSERT_TRUE(static_cast<bool>(g));
    EXPECT_EQ(g->value, 7);
    EXPECT_EQ((*g).value, 7);
    ASSERT_NE(g.get(), nullptr);
    g->value = 8;  // the guard gives mutable access
  }
  EXPECT_EQ(rev.try_access()->value, 8);
  EXPECT_TRUE(rev.revoke());
  EXPECT_TRUE(rev.is_revoked());
  EXPECT_EQ(c.dtor, 1);
  auto g = rev.try_access();
  EXPECT_FALSE(static_cast<bool>(g));
  EXPECT_EQ(g.get(), nullptr);
  EXPECT_EQ(g.operator->(), nullptr);
}

TEST(Revocable, R1RevokeIsIdempotentAndDropsOnce) {
  Counters c;
  Revocable<Res> rev(&c, 1);
  EXPECT_TRUE(rev.revoke());
  EXPECT_FALSE(rev.revoke());
  EXPECT_FALSE(rev.revoke_nosync());
  EXPECT_EQ(c.dtor, 1);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(static_cast<bool>(rev.try_access()));
}

TEST(Revocable, TryAccessWithValueForm) {
  Counters c;
  Revocable<Res> rev(&c, 20);
  int calls = 0;
  std::optional<int> r = rev.try_access_with([&](Res& t) {
    ++calls;
    return t.value + 1;
  });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 21);
  EXPECT_EQ(calls, 1);
  // The closure may modify T in place.
  auto r2 = rev.try_access_with([](Res& t) { return t.value *= 2; });
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(*r2, 40);
  EXPECT_TRUE(rev.revoke());
  auto r3 = rev.try_access_with([&](Res& t) {
    ++calls;
    return t.value;
  });
  EXPECT_FALSE(r3.has_value());
  EXPECT_EQ(calls, 1) << "the closure ran on a revoked Revocable";
}

TEST(Revocable, TryAccessWithVoidForm) {
  Counters c;
  Revocable<Res> rev(&c, 3);
  int seen = 0;
  bool ran = rev.try_access_with([&](Res& t) { seen = t.value; });
  static_assert(std::is_same_v<decltype(ran), bool>);
  EXPECT_TRUE(ran);
  EXPECT_EQ(seen, 3);
  EXPECT_TRUE(rev.revoke());
  seen = 0;
  EXPECT_FALSE(rev.try_access_with([&](Res& t) { seen = t.value; }));
  EXPECT_EQ(seen, 0);
}

TEST(Revocable, TryAccessWithHoldsTheGuardOnlyForTheClosure) {
  // If the guard leaked out of try_access_with, the revoke below would wait for ever (the
  // simulated executor reports that as a deadlock instead of hanging).
  SimExecutor sim(small_budget());
  Counters c;
  Revocable<Res> rev(&c, 5);
  auto r = sim.run([&] {
    EXPECT_EQ(rev.try_access_with([](Res& t) { return t.value; }), std::optional<int>(5));
    EXPECT_TRUE(rev.try_access_with([](Res&) {}));
    EXPECT_TRUE(rev.revoke());
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(c.dtor, 1);
}

TEST(Revocable, RevokeNosyncDropsWithoutWaiting) {
  Counters c;
  Revocable<Res> rev(&c, 9);
  EXPECT_TRUE(rev.revoke_nosync());
  EXPECT_EQ(c.dtor, 1);
  EXPECT_TRUE(rev.is_revoked());
  EXPECT_FALSE(static_cast<bool>(rev.try_access()));
  EXPECT_FALSE(rev.try_access_with([](Res&) {}));
  EXPECT_FALSE(rev.revoke_nosync());
  EXPECT_FALSE(rev.revoke());
  EXPECT_EQ(c.dtor, 1);
}

TEST(Revocable, RevokeNosyncDoesNotWaitForReaders) {
  // revoke_nosync is for callers that guarantee there are no readers; to show that it indeed
  // does not wait, a reader holds its guard across it (on the simulated executor nothing else
  // runs, so the call returning at all proves it did not wait). The reader then only checks the
  // flag, never T.
  SimExecutor sim(small_budget());
  Counters c;
  Revocable<Res> rev(&c, 1);
  auto r = sim.run([&] {
    auto g = rev.try_access();
    ASSERT_TRUE(static_cast<bool>(g));
    EXPECT_TRUE(rev.revoke_nosync());
    EXPECT_EQ(c.dtor, 1);
    EXPECT_TRUE(rev.is_revoked());
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(Revocable, DestructorOfNeverRevokedDropsOnce) {
  Counters c;
  {
    Revocable<Res> rev(&c, 1);
    EXPECT_EQ(c.dtor, 0);
  }
  EXPECT_EQ(c.ctor, 1);
  EXPECT_EQ(c.dtor, 1);
}

TEST(Revocable, DestructorAfterRevokeDoesNotDropAgain) {
  Counters c;
  {
    Revocable<Res> rev(&c, 1);
    EXPECT_TRUE(rev.revoke());
    EXPECT_EQ(c.dtor, 1);
  }
  EXPECT_EQ(c.dtor, 1);
  {
    Revocable<Res> rev(&c, 1);
    EXPECT_TRUE(rev.revoke_nosync());
  }
  EXPECT_EQ(c.ctor, 2);
  EXPECT_EQ(c.dtor, 2);
}

TEST(Revocable, ConstructsTInPlaceWithArguments) {
  Revocable<std::string> rev(5, 'x');
  EXPECT_EQ(*rev.try_access(), "xxxxx");
  EXPECT_EQ(rev.access_unchecked(), "xxxxx");
  EXPECT_TRUE(rev.revoke());
}

// ---------------------------------------------------------------------------------------------
// R2 on the simulated executor: revoke waits for an outstanding guard; T dropped after the guard
// is released, exactly once; a try_access after revoke started fails.

TEST(RevocableSim, R2RevokeWaitsForGuardThenDropsOnce) {
  SimExecutor sim(small_budget());
  Counters c;
  Log log;
  c.during_drop = [&] { log.push_back("T:dropped"); };
  Revocable<Res> rev(&c, 7);
  bool revoke_returned = false;
  auto r = sim.run([&] {
    Completion entered("entered");
    sim.post([&] {
      {
        auto g = rev.try_access();
        ASSERT_TRUE(static_cast<bool>(g));
        log.push_back("reader:in");
        entered.complete();
        while (!rev.is_revoked()) sim.yield();  // revoke() has started
        let_others_run(sim);
        EXPECT_FALSE(revoke_returned) << "revoke returned while a guard was held";
        EXPECT_EQ(c.dtor, 0) << "T dropped under a live guard";
        EXPECT_EQ(g->value, 7);
        log.push_back("reader:out");
      }
    }, "reader");
    entered.wait();
    log.push_back("revoke:start");
    bool won = rev.revoke();
    revoke_returned = true;
    log.push_back("revoke:done");
    EXPECT_TRUE(won);
    EXPECT_EQ(c.dtor, 1);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(log, (Log{"reader:in", "revoke:start", "reader:out", "T:dropped", "revoke:done"})) << join(log);
  EXPECT_EQ(c.dtor, 1);
}

TEST(RevocableSim, R2TryAccessFailsOnceRevokeStartedEvenWhileItWaits) {
  SimExecutor sim(small_budget());
  Counters c;
  Revocable<Res> rev(&c, 1);
  bool checked = false;
  auto r = sim.run([&] {
    Completion entered("entered");
    Completion second_checked("second_checked");
    sim.post([&] {
      auto g = rev.try_access();
      ASSERT_TRUE(static_cast<bool>(g));
      entered.complete();
      second_checked.wait();  // revoke() is blocked on this guard until here
    }, "holder");
    sim.post([&] {
      while (!rev.is_revoked()) sim.yield();
      auto g2 = rev.try_access();
      EXPECT_FALSE(static_cast<bool>(g2)) << "a new guard was handed out after revoke started";
      EXPECT_FALSE(rev.try_access_with([](Res&) {}));
      EXPECT_EQ(c.dtor, 0);
      checked = true;
      second_checked.complete();
    }, "late_reader");
    entered.wait();
    EXPECT_TRUE(rev.revoke());
    EXPECT_TRUE(checked);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(c.dtor, 1);
}

TEST(RevocableSim, R2ManyGuardsAllReleasedBeforeDrop) {
  SimExecutor sim(small_budget());
  Counters c;
  Revocable<Res> rev(&c, 1);
  constexpr int kReaders = 5;
  int released = 0;
  auto r = sim.run([&] {
    Completion entered("entered");
    for (int i = 0; i < kReaders; ++i) {
      sim.post([&, i] {
        auto g = rev.try_access();
        ASSERT_TRUE(static_cast<bool>(g));
        entered.complete();
        while (!rev.is_revoked()) sim.yield();
        let_others_run(sim, i + 1);
        EXPECT_EQ(c.dtor, 0);
        ++released;
      }, "reader");
    }
    for (int i = 0; i < kReaders; ++i) entered.wait();
    c.during_drop = [&] { EXPECT_EQ(released, kReaders) << "T dropped before every guard was released"; };
    EXPECT_TRUE(rev.revoke());
    EXPECT_EQ(released, kReaders);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(c.dtor, 1);
}

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

// ---------------------------------------------------------------------------------------------
// R3 on the simulated executor: concurrent revokes, one winner, every loser returns only after
// the drop finished (the drop yields in the middle so a broken loser would return early).

TEST(RevocableSim, R3ConcurrentRevokesOneWinnerAllReturnAfterDrop) {
  for (unsigned k = 0; k <= 12; ++k) {
    SCOPED_TRACE(::testing::Message() << "switch at point " << k);
    SimExecutor sim(small_budget());
    SwitchAt strategy(k);
    sim.set_strategy(&strategy);
    Counters c;
    Revocable<Res> rev(&c, 1);
    c.during_drop = [&] { let_others_run(sim, 3); };
    constexpr int kRevokers = 4;
    int winners = 0, returned = 0;
    auto r = sim.run([&] {
      for (int i = 0; i < kRevokers; ++i) {
        sim.post([&] {
          bool won = rev.revoke();
          winners += won;
          ++returned;
          EXPECT_TRUE(c.drop_finished.load()) << "revoke returned before T was dropped (won=" << won << ")";
          EXPECT_EQ(c.dtor, 1);
        }, "revoker");
      }
    });
    ASSERT_TRUE(r) << r.report;
    EXPECT_EQ(winners, 1);
    EXPECT_EQ(returned, kRevokers);
    EXPECT_EQ(c.dtor, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// R2/R3 on real threads.

template <class Pred>
void spin_until(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

void linger() {
  for (int i = 0; i < 200; ++i) std::this_thread::yield();
}

TEST(RevocableThreads, R2GuardKeepsTAliveAcrossConcurrentRevoke) {
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    Counters c;
    Revocable<Res> rev(&c, 42);
    Completion entered("entered");
    std::atomic<bool> released{false}, revoke_returned{false}, dropped_after_release{false};
    c.during_drop = [&] { dropped_after_release.store(released.load()); };
    std::thread reader([&] {
      auto g = rev.try_access();
      ASSERT_TRUE(static_cast<bool>(g));
      entered.complete();
      spin_until([&] { return rev.is_revoked(); });
      linger();
      EXPECT_FALSE(revoke_returned.load()) << "revoke returned while the guard was held";
      EXPECT_EQ(c.dtor.load(), 0) << "T dropped under a live guard";
      EXPECT_EQ(g->value, 42);
      released.store(true);  // the guard goes right after this
    });
    std::thread revoker([&] {
      WAIT_OR_FAIL(entered);
      EXPECT_TRUE(rev.revoke());
      revoke_returned.store(true);
      EXPECT_TRUE(released.load()) << "revoke returned before the guard was released";
      EXPECT_EQ(c.dtor.load(), 1);
    });
    reader.join();
    revoker.join();
    EXPECT_TRUE(dropped_after_release.load()) << "T was dropped before the guard was released";
    EXPECT_EQ(c.dtor.load(), 1);
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(RevocableThreads, R3ConcurrentRevokesExactlyOneTrueDropOnce) {
  constexpr int kThreads = 8;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    Counters c;
    c.during_drop = [] { linger(); };  // make losers really wait
    Revocable<Res> rev(&c, 1);
    std::atomic<bool> go{false};
    std::atomic<int> ready{0}, winners{0}, early_returns{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        ready.fetch_add(1);
        spin_until([&] { return go.load(); });
        bool won = rev.revoke();
        if (won) winners.fetch_add(1);
        if (!c.drop_finished.load() || c.dtor.load() != 1) early_returns.fetch_add(1);
      });
    }
    spin_until([&] { return ready.load() == kThreads; });
    go.store(true);
    for (auto& t : threads) t.join();
    EXPECT_EQ(winners.load(), 1);
    EXPECT_EQ(early_returns.load(), 0) << "a revoke returned before T was dropped";
    EXPECT_EQ(c.dtor.load(), 1);
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(RevocableThreads, ReadersAndRevokeRaceNeverSeeDroppedT) {
  // Readers hammer try_access while revoke runs: every successful guard sees a live T, and
  // the drop happens once, after the last guard.
  constexpr int kReaders = 4;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    Counters c;
    Revocable<Res> rev(&c, 11);
    std::atomic<int> inside{0}, started{0};
    std::atomic<int> drop_with_readers{0}, bad_reads{0};
    c.during_drop = [&] {
      if (inside.load() != 0) drop_with_readers.fetch_add(1);
    };
    std::vector<std::thread> readers;
    for (int i = 0; i < kReaders; ++i) {
      readers.emplace_back([&] {
        bool counted = false;
        for (;;) {
          {
            auto g = rev.try_access();
            if (!g) break;
            inside.fetch_add(1);
            if (!counted) {
              counted = true;
              started.fetch_add(1);
            }
            if (g->value != 11 || c.drop_started.load()) bad_reads.fetch_add(1);
            inside.fetch_sub(1);
          }
          std::this_thread::yield();  // leave the CPU to the revoking thread now and then
        }
      });
    }
    spin_until([&] { return started.load() == kReaders; });
    EXPECT_TRUE(rev.revoke());
    for (auto& t : readers) t.join();
    EXPECT_EQ(bad_reads.load(), 0);
    EXPECT_EQ(drop_with_readers.load(), 0);
    EXPECT_EQ(c.dtor.load(), 1);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace udrm
