// Kref under races: racing final puts release exactly once; get_unless_zero never resurrects
// an object whose final put has happened. Real threads (many rounds) and the simulated
// executor (every interleaving of the "kref.put" / "kref.get_unless_zero" points).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "udrm/base/refcount.h"
#include "udrm/base/sim_executor.h"

namespace udrm {
namespace {

#if defined(UDRM_TSAN) || defined(UDRM_ASAN)
constexpr int kRounds = 5000;
#else
constexpr int kRounds = 20000;
#endif

// ---------------------------------------------------------------------------------------------
// Real threads.

// Two-party spinning barrier: both threads leave within nanoseconds of each other (a futex
// barrier releases them microseconds apart, and the race window is a few instructions).
class SpinBarrier {
 public:
  void arrive_and_wait() {
    const unsigned gen = gen_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == 1) {
      arrived_.store(0, std::memory_order_relaxed);
      gen_.store(gen + 1, std::memory_order_release);
      return;
    }
    for (unsigned spins = 0; gen_.load(std::memory_order_acquire) == gen; ++spins) {
      if (spins > 4096) std::this_thread::yield();  // the other thread may not be running
    }
  }

 private:
  std::atomic<unsigned> arrived_{0};
  std::atomic<unsigned> gen_{0};
};

struct RaceObj {
  Kref kref{2};
  std::atomic<int> releases{0};
  std::atomic<bool> released{false};
  void release() {
    released.store(true, std::memory_order_seq_cst);
    releases.fetch_add(1, std::memory_order_seq_cst);
  }
};

TEST(KrefRace, TwoThreadsRacingFinalPutsReleaseExactlyOnce) {
  std::vector<RaceObj> objs(kRounds);  // each starts with two references, one per thread
  std::atomic<int> finals{0};
  SpinBarrier sync;
  auto dropper = [&] {
    for (int i = 0; i < kRounds; ++i) {
      sync.arrive_and_wait();  // both threads put the same object at (nearly) the same time
      RaceObj& o = objs[i];
      if (o.kref.put([&o] { o.release(); })) finals.fetch_add(1);
    }
  };
  std::thread a(dropper), b(dropper);
  a.join();
  b.join();
  int bad = 0, first_bad = -1;
  for (int i = 0; i < kRounds; ++i) {
    if (objs[i].releases.load() != 1) {
      if (first_bad < 0) first_bad = i;
      ++bad;
    }
  }
  EXPECT_EQ(bad, 0) << "round " << first_bad << " released " << objs[first_bad < 0 ? 0 : first_bad].releases.load()
                    << " times";
  EXPECT_EQ(finals.load(), kRounds) << "exactly one put per object must report the final put";
}

TEST(KrefRace, GetUnlessZeroRacingFinalPutNeverResurrects) {
  struct Round {
    Kref kref{1};  // the owner's reference
    std::atomic<int> releases{0};
    std::atomic<bool> released{false};
    bool got = false;
    bool saw_released = false;
  };
  std::vector<Round> rounds(kRounds);
  SpinBarrier sync;
  std::thread owner([&] {
    for (int i = 0; i < kRounds; ++i) {
      sync.arrive_and_wait();
      Round& r = rounds[i];
      r.kref.put([&r] {
        r.released.store(true);
        r.releases.fetch_add(1);
      });
    }
  });
  std::thread lookup([&] {
    for (int i = 0; i < kRounds; ++i) {
      sync.arrive_and_wait();
      Round& r = rounds[i];
      if (r.kref.get_unless_zero()) {
        r.got = true;
        // We hold a reference: the object cannot have been released.
        r.saw_released = r.released.load();
        r.kref.put([&r] {
          r.released.store(true);
          r.releases.fetch_add(1);
        });
      }
    }
  });
  owner.join();
  lookup.join();
  int resurrected = 0, wrong_releases = 0;
  for (Round& r : rounds) {
    if (r.got && r.saw_released) ++resurrected;
    if (r.releases.load() != 1) ++wrong_releases;
    EXPECT_FALSE(r.kref.get_unless_zero()) << "a released object handed out a reference";
  }
  EXPECT_EQ(resurrected, 0) << "get_unless_zero succeeded on an already released object";
  EXPECT_EQ(wrong_releases, 0) << "objects not released exactly once";
}

// ---------------------------------------------------------------------------------------------
// Simulated executor: switch tasks at the kref points selected by a bit mask, so a sweep over
// masks covers every interleaving of the put / get_unless_zero decisions.

class SwitchAtKrefPoints : public SimStrategy {
 public:
  explicit SwitchAtKrefPoints(unsigned mask) : mask_(mask) {}
  SimTask* at_point(SimExecutor&, const Point& p, SimTask*, std::span<SimTask* const> ready) override {
    if (std::strcmp(p.name, "kref.put") != 0 && std::strcmp(p.name, "kref.get_unless_zero") != 0) return nullptr;
    ++kref_points;
    const unsigned idx = kref_points - 1;
    if (idx < 32 && (mask_ >> idx) & 1u) {
      ++switches;
      return ready.front();
    }
    return nullptr;
  }
  unsigned kref_points = 0;
  unsigned switches = 0;

 private:
  unsigned mask_;
};

TEST(KrefRace, SimGetUnlessZeroRacingFinalPutNeverResurrects) {
  std::set<bool> outcomes;
  unsigned total_switches = 0;
  for (int lookup_first = 0; lookup_first < 2; ++lookup_first) {
    for (unsigned mask = 0; mask < 16; ++mask) {
      SCOPED_TRACE(::testing::Message() << "lookup_first=" << lookup_first << " mask=" << mask);
      Kref kref(1);
      int releases = 0;
      bool released = false, got = false, saw_released = false;
      auto release = [&] {
        released = true;
        ++releases;
      };
      auto owner = [&] { kref.put(release); };
      auto lookup = [&] {
        if (kref.get_unless_zero()) {
          got = true;
          saw_released = released;
          kref.put(release);
        }
      };
      SimExecutor sim;
      SwitchAtKrefPoints strategy(mask);
      sim.set_strategy(&strategy);
      auto r = sim.run([&] {
        if (lookup_first) {
          sim.post(lookup, "lookup");
          sim.post(owner, "owner");
        } else {
          sim.post(owner, "owner");
          sim.post(lookup, "lookup");
        }
      });
      ASSERT_TRUE(r) << r.report;
      EXPECT_EQ(releases, 1);
      EXPECT_FALSE(got && saw_released) << "resurrected a released object";
      EXPECT_FALSE(kref.get_unless_zero());
      outcomes.insert(got);
      total_switches += strategy.switches;
    }
  }
  // The sweep must have produced both interleavings, or it proved nothing.
  EXPECT_EQ(outcomes.size(), 2u) << "the sweep did not cover both the 'lookup wins' and 'put wins' orders";
  EXPECT_GT(total_switches, 0u);
}

TEST(KrefRace, SimRacingFinalPutsReleaseExactlyOnce) {
  std::set<std::string> orders;
  for (unsigned mask = 0; mask < 8; ++mask) {
    SCOPED_TRACE(::testing::Message() << "mask=" << mask);
    Kref kref(2);
    int releases = 0;
    std::string finals;
    SimExecutor sim;
    SwitchAtKrefPoints strategy(mask);
    sim.set_strategy(&strategy);
    auto r = sim.run([&] {
      sim.post([&] { if (kref.put([&] { ++releases; })) finals += "a"; }, "a");
      sim.post([&] { if (kref.put([&] { ++releases; })) finals += "b"; }, "b");
    });
    ASSERT_TRUE(r) << r.report;
    EXPECT_EQ(releases, 1);
    EXPECT_EQ(finals.size(), 1u);
    orders.insert(finals);
  }
  EXPECT_EQ(orders.size(), 2u) << "both tasks should have made the final put in some schedule";
}

}  // namespace
}  // namespace udrm
