// CallbackSlot: call/publish/unregister semantics; "unregister returns only after no caller runs
// the old table" under seeded random schedules (and a naive slot without the grace period, and
// one that reloads between check and call, both shown to fail); real threads.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "races/sim_random.h"
#include "udrm/base/callback_slot.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"

namespace udrm {
namespace {

struct Ops {
  int (*fn)(int) = nullptr;
};
int twice(int x) { return 2 * x; }

TEST(CallbackSlot, EmptyCallsNothingAndPublishedTableIsCalled) {
  CallbackSlot<Ops> slot;
  const Ops ops{&twice};
  int got = 0;
  EXPECT_FALSE(slot.call([&](const Ops& o) { got = o.fn(1); }));
  EXPECT_EQ(slot.publish(&ops), nullptr);
  EXPECT_FALSE(slot.publish_if_empty(&ops));
  EXPECT_TRUE(slot.call([&](const Ops& o) { got = o.fn(21); }));
  EXPECT_EQ(got, 42);
  EXPECT_EQ(slot.callers(), 0);
  EXPECT_EQ(slot.unregister(), &ops);
  EXPECT_FALSE(slot.call([&](const Ops&) { got = -1; }));
  EXPECT_EQ(got, 42);
  EXPECT_TRUE(slot.publish_if_empty(&ops));
}

TEST(CallbackSlot, CallerIsInsideASectionWhileItRuns) {
  CallbackSlot<Ops> slot;
  const Ops ops{&twice};
  slot.publish(&ops);
  long inside = -1;
  EXPECT_TRUE(slot.call([&](const Ops&) { inside = slot.callers(); }));
  EXPECT_EQ(inside, 1);
  EXPECT_EQ(slot.callers(), 0);
}

// The storm scenario on SimExecutor: callers keep calling through the slot (switching tasks in
// the middle of the callback), main unregisters and then marks the table retired. A callback
// that runs on a retired table is the bug. Slot is CallbackSlot or one of the naive variants.
struct Tally {
  int retired_calls = 0;  // callback ran on a table after unregister() returned
  int null_calls = 0;     // callback would have called through a null table
  int calls = 0;
};

// Naive 1: no grace period (unregister = store null).
struct NoGraceSlot {
  std::atomic<const Ops*> t{nullptr};
  template <class Fn>
  bool call(Fn&& fn) {
    const Ops* p = t.load();
    if (!p) return false;
    UDRM_POINT("slot.call");
    fn(*p);
    return true;
  }
  void publish(const Ops* p) { t.store(p); }
  void unregister() { t.store(nullptr); }
};
// Naive 2: checks, then reloads the slot to call (the double read).
struct ReloadSlot {
  CallbackSlot<Ops> inner;  // grace period is right, the read is not
  std::atomic<const Ops*> t{nullptr};
  Tally* tally = nullptr;
  template <class Fn>
  bool call(Fn&& fn) {
    return inner.call([&](const Ops&) {
      if (!t.load()) return;
      UDRM_POINT("slot.reload");
      const Ops* again = t.load();
      if (!again) {
        ++tally->null_calls;  // the kernel would call through NULL here
        return;
      }
      fn(*again);
    });
  }
  void publish(const Ops* p) {
    t.store(p);
    inner.publish(p);
  }
  void unregister() {
    t.store(nullptr);
    inner.publish(nullptr);
    UDRM_POINT("slot.unregister");  // window between the two stores and the grace period
    inner.synchronize();
  }
};

template <class Slot>
Tally run_storm(uint32_t seed, Slot& slot, Tally& tally) {
  SimExecutor sim;
  races::RandomStrategy strat(seed);
  sim.set_strategy(&strat);
  Ops ops{&twice};
  bool retired = false;
  auto r = sim.run([&] {
    slot.publish(&ops);
    for (int c = 0; c < 2; ++c) {
      sim.post([&] {
        for (int i = 0; i < 6; ++i) {
          slot.call([&](const Ops& o) {
            UDRM_POINT("test.callback");
            if (retired) ++tally.retired_calls;
            tally.calls += o.fn(1) / 2;
          });
          UDRM_POINT("test.between_calls");
        }
      }, "caller");
    }
    UDRM_POINT("test.before_unregister");
    slot.unregister();
    retired = true;  // e.g. the plugin's code is gone now
  });
  EXPECT_TRUE(r) << r.report;
  return tally;
}

constexpr int kSeeds = 300;

TEST(CallbackSlot, UnregisterWaitsForCallersUnderRandomSchedules) {
  int calls = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    CallbackSlot<Ops> slot;
    Tally t;
    run_storm(seed, slot, t);
    ASSERT_EQ(t.retired_calls, 0) << "seed " << seed;
    ASSERT_EQ(t.null_calls, 0) << "seed " << seed;
    calls += t.calls;
  }
  EXPECT_GT(calls, 0);
}

TEST(CallbackSlot, NaiveSlotWithoutGracePeriodFailsUnderTheSameSchedules) {
  int bad_seeds = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    NoGraceSlot slot;
    Tally t;
    run_storm(seed, slot, t);
    bad_seeds += t.retired_calls > 0;
  }
  EXPECT_GT(bad_seeds, 0) << "the storm test cannot tell a slot without grace period";
}

TEST(CallbackSlot, NaiveSlotThatReloadsFailsUnderTheSameSchedules) {
  int bad_seeds = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    ReloadSlot slot;
    Tally t;
    slot.tally = &t;
    run_storm(seed, slot, t);
    bad_seeds += t.null_calls > 0;
  }
  EXPECT_GT(bad_seeds, 0) << "the storm test cannot tell a slot that reads twice";
}

TEST(CallbackSlot, UnregisterWaitsForCallersOnRealThreads) {
#if defined(UDRM_TSAN)
  constexpr int kRounds = 200;
#else
  constexpr int kRounds = 2000;
#endif
  struct Box {
    int (*fn)(int) = &twice;
    std::atomic<bool> retired{false};
  };
  CallbackSlot<Box> slot;
  std::atomic<bool> stop{false};
  std::atomic<int> retired_calls{0};
  std::atomic<long> calls{0};
  auto caller = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      slot.call([&](const Box& b) {
        if (b.retired.load(std::memory_order_relaxed)) retired_calls.fetch_add(1);
        calls.fetch_add(b.fn(1) / 2, std::memory_order_relaxed);
      });
    }
  };
  std::thread a(caller), b(caller);
  for (int i = 0; i < kRounds; ++i) {
    auto* box = new Box;
    slot.publish(box);
    while (calls.load(std::memory_order_relaxed) < i) std::this_thread::yield();
    slot.unregister();
    box->retired.store(true, std::memory_order_relaxed);
    delete box;  // ASan/TSan report any caller still inside
  }
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(retired_calls.load(), 0);
  EXPECT_GE(calls.load(), kRounds - 1);
}

}  // namespace
}  // namespace udrm
