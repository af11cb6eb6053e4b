// Gate on real threads (kernel-semantics §3.1). Verdicts never depend on timing: a reader
// publishes "exited" just before it leaves its section, and the unplugging thread checks it
// after unplug() returns; waits are hand-offs (udrm::Completion) or waits for a state the other
// side is about to reach, never sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "udrm/base/completion.h"
#include "udrm/core/gate.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using namespace std::chrono_literals;

#if defined(UDRM_TSAN) || defined(UDRM_ASAN)
constexpr int kRounds = 20;
#else
constexpr int kRounds = 100;
#endif

// A hand-off that must happen; 60 s only turns a hang into a failure.
#define WAIT_OR_FAIL(c) ASSERT_TRUE((c).wait_timeout(60s)) << "hand-off '" << (c).name() << "' never happened"

template <class Pred>
void spin_until(Pred pred) {
  while (!pred()) std::this_thread::yield();
}

// Widen the window in which a broken unplug() could return early. Not a pass criterion.
void linger() {
  for (int i = 0; i < 200; ++i) std::this_thread::yield();
}

// ---------------------------------------------------------------------------------------------
// U1 on threads.

TEST(GateThreads, U1UnplugInAnotherThreadReturnsOnlyAfterReaderExit) {
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    Gate gate("dev");
    Completion entered("entered");
    std::atomic<bool> entered_ok{false}, exited{false}, unplug_returned{false};
    std::thread reader([&] {
      {
        auto g = gate.enter();
        entered_ok = static_cast<bool>(g);
        entered.complete();
        if (!g) return;
        spin_until([&] { return gate.is_unplugged(); });  // unplug() has started
        linger();
        EXPECT_FALSE(unplug_returned.load()) << "unplug returned while the reader was inside";
        exited.store(true);
      }
      EXPECT_FALSE(static_cast<bool>(gate.enter())) << "enter after unplug succeeded on the reader thread";
    });
    std::thread unplugger([&] {
      WAIT_OR_FAIL(entered);
      gate.unplug();
      unplug_returned.store(true);
      EXPECT_TRUE(exited.load()) << "unplug returned before the reader exited";
      EXPECT_FALSE(static_cast<bool>(gate.enter())) << "enter after unplug succeeded on the unplug thread";
    });
    reader.join();
    unplugger.join();
    ASSERT_TRUE(entered_ok.load()) << "enter on a live gate failed";
    EXPECT_FALSE(static_cast<bool>(gate.enter()));
    EXPECT_EQ(gate.readers(), 0);
    if (::testing::Test::HasFailure()) break;
  }
}

// ---------------------------------------------------------------------------------------------
// U2 on threads.

TEST(GateThreads, U2UnplugWaitsForOutermostExitOfNestedSections) {
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    Gate gate("dev");
    Completion entered("entered");
    std::atomic<bool> ok{false}, inner_exited{false}, outer_exited{false}, unplug_returned{false};
    std::thread reader([&] {
      auto outer = gate.enter();
      if (!outer) {
        entered.complete();
        return;
      }
      {
        auto inner = gate.enter();
        ok = static_cast<bool>(inner);
        entered.complete();
        if (!inner) return;
        spin_until([&] { return gate.is_unplugged(); });
        inner_exited.store(true);
      }
      linger();  // unplug was woken by the inner exit; it must not return yet
      EXPECT_FALSE(unplug_returned.load()) << "unplug returned after the inner exit";
      outer_exited.store(true);
    });
    std::thread unplugger([&] {
      WAIT_OR_FAIL(entered);
      gate.unplug();
      unplug_returned.store(true);
      EXPECT_TRUE(inner_exited.load());
      EXPECT_TRUE(outer_exited.load()) << "unplug returned before the outermost exit";
    });
    reader.join();
    unplugger.join();
    ASSERT_TRUE(ok.load()) << "nested enter on a live gate failed";
    EXPECT_EQ(gate.readers(), 0);
    if (::testing::Test::HasFailure()) break;
  }
}

// ---------------------------------------------------------------------------------------------
// Idempotent unplug from two threads: both return, and only after the reader left.

TEST(GateThreads, UnplugFromTwoThreadsBothWaitForTheReader) {
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    Gate gate("dev");
    Completion entered("entered"), u1_starting("u1_starting"), u2_starting("u2_starting");
    std::atomic<bool> exited{false};
    std::atomic<int> returned{0};
    std::thread reader([&] {
      auto g = gate.enter();
      entered.complete_all();  // both unplug threads wait for it
      if (!g) {
        ADD_FAILURE() << "enter on a live gate failed";
        return;
      }
      WAIT_OR_FAIL(u1_starting);
      WAIT_OR_FAIL(u2_starting);
      spin_until([&] { return gate.is_unplugged(); });
      linger();
      EXPECT_EQ(returned.load(), 0) << "an unplug returned while the reader was inside";
      exited.store(true);
    });
    auto unplug = [&](Completion& starting) {
      WAIT_OR_FAIL(entered);
      starting.complete();
      gate.unplug();
      returned.fetch_add(1);
      EXPECT_TRUE(exited.load()) << "unplug returned before the reader exited";
      EXPECT_TRUE(gate.is_unplugged());
    };
    std::thread u1([&] { unplug(u1_starting); });
    std::thread u2([&] { unplug(u2_starting); });
    reader.join();
    u1.join();
    u2.join();
    EXPECT_EQ(returned.load(), 2);
    EXPECT_FALSE(static_cast<bool>(gate.enter()));
    if (::testing::Test::HasFailure()) break;
  }
}

// ---------------------------------------------------------------------------------------------
// Enter after unplug fails on every thread: threads that already hold a reader slot of this
// gate, and threads that never entered it.

TEST(GateThreads, EnterAfterUnplugFailsOnEveryThread) {
  constexpr int kOld = 8, kFresh = 8;
  Gate gate("dev");
  Completion warmed("warmed"), unplugged("unplugged");
  std::atomic<int> entered_before{0}, succeeded_after{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kOld; ++i) {
    threads.emplace_back([&] {
      {
        auto g = gate.enter();  // assigns this thread a slot in the gate
        if (g) entered_before.fetch_add(1);
      }
      warmed.complete();
      WAIT_OR_FAIL(unplugged);
      for (int k = 0; k < 10; ++k)
        if (gate.enter()) succeeded_after.fetch_add(1);
    });
  }
  for (int i = 0; i < kOld; ++i) WAIT_OR_FAIL(warmed);
  gate.unplug();
  unplugged.complete_all();
  for (int i = 0; i < kFresh; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 10; ++k)
        if (gate.enter()) succeeded_after.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(entered_before.load(), kOld);
  EXPECT_EQ(succeeded_after.load(), 0);
  EXPECT_EQ(gate.readers(), 0);
}

// ---------------------------------------------------------------------------------------------
// Many readers hammering enter/exit while another thread unplugs.

TEST(GateThreads, HammeringReadersAreAllOutWhenUnplugReturns) {
  constexpr int kReaders = 8;
  for (int round = 0; round < kRounds / 4 + 1; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    Gate gate("dev");
    Completion first_entry("first_entry");
    std::atomic<int> inside{0};
    std::atomic<bool> unplug_returned{false};
    std::atomic<long> entries{0}, entered_after_unplug{0}, late_successes{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < kReaders; ++i) {
      readers.emplace_back([&] {
        bool first = true;
        for (;;) {
          auto g = gate.enter();
          if (!g) break;  // only possible once unplug started
          inside.fetch_add(1);
          bool late = unplug_returned.load();
          entries.fetch_add(1, std::memory_order_relaxed);
          if (first) {
            first = false;
            first_entry.complete();
          }
          std::this_thread::yield();
          late = late || unplug_returned.load();
          inside.fetch_sub(1);
          if (late) {  // a section open after unplug returned; stop (a broken gate never refuses)
            entered_after_unplug.fetch_add(1);
            break;
          }
        }
        // The gate stays closed for this thread.
        for (int k = 0; k < 100; ++k)
          if (gate.enter()) late_successes.fetch_add(1);
      });
    }
    for (int i = 0; i < kReaders; ++i) WAIT_OR_FAIL(first_entry);  // everyone is hammering
    gate.unplug();
    const int inside_at_return = inside.load();
    unplug_returned.store(true);
    EXPECT_EQ(inside_at_return, 0) << "readers still inside when unplug returned";
    for (auto& t : readers) t.join();
    EXPECT_EQ(entered_after_unplug.load(), 0) << "a section was open after unplug returned";
    EXPECT_EQ(late_successes.load(), 0) << "enter succeeded after it had failed once";
    EXPECT_EQ(inside.load(), 0);
    EXPECT_EQ(gate.readers(), 0);
    EXPECT_GE(entries.load(), kReaders);
    if (::testing::Test::HasFailure()) break;
  }
}

// ---------------------------------------------------------------------------------------------
// More readers than per-thread slots (128): the rest share the gate's overflow counter.

TEST(GateThreads, MoreThan128ReaderThreadsUseTheOverflowCounterAndUnplugWaitsForAll) {
  constexpr int kThreads = 140;
  Gate gate("dev");
  Completion entered("entered"), release("release");
  std::atomic<int> entered_ok{0}, exited{0}, late_successes{0};
  std::atomic<bool> unplug_returned{false};
  std::vector<std::thread> readers;
  readers.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    readers.emplace_back([&] {
      {
        auto g = gate.enter();
        if (g) entered_ok.fetch_add(1);
        entered.complete();
        if (!g) return;
        WAIT_OR_FAIL(release);  // stay inside until every thread is in
        EXPECT_FALSE(unplug_returned.load());
        exited.fetch_add(1);
      }
      if (gate.enter()) late_successes.fetch_add(1);
    });
  }
  for (int i = 0; i < kThreads; ++i) WAIT_OR_FAIL(entered);
  ASSERT_EQ(entered_ok.load(), kThreads);
  EXPECT_EQ(gate.readers(), kThreads) << "sections in the overflow counter are not counted";

  std::thread unplugger([&] {
    gate.unplug();
    unplug_returned.store(true);
    EXPECT_EQ(exited.load(), kThreads) << "unplug returned before every reader (incl. overflow) exited";
  });
  spin_until([&] { return gate.is_unplugged(); });
  EXPECT_FALSE(unplug_returned.load());
  EXPECT_EQ(gate.readers(), kThreads);  // exact once unplugged; everyone is still inside
  release.complete_all();
  unplugger.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(exited.load(), kThreads);
  EXPECT_EQ(late_successes.load(), 0) << "enter after unplug succeeded";
  EXPECT_EQ(gate.readers(), 0);
}

TEST(GateThreads, OverflowReadersAloneHoldUnplug) {
  // 140 live threads each take a per-thread index (by entering another gate once); with more
  // live threads than the 128 slots, some indices are beyond the slots. Only those threads
  // (detail::tls_gate_tid > 128, i.e. they use the overflow counter) enter the gate under test,
  // so unplug() has nothing but overflow readers to wait for.
  constexpr int kThreads = 140;
  Gate gate("dev"), other("other");
  Completion ready("ready"), phase2("phase2"), entered("entered"), release("release");
  std::atomic<int> overflow_threads{0}, entered_ok{0}, exited{0};
  std::atomic<bool> unplug_returned{false};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      { auto g = other.enter(); }
      const bool overflow = detail::tls_gate_tid > 128;
      if (overflow) overflow_threads.fetch_add(1);
      ready.complete();
      WAIT_OR_FAIL(phase2);
      if (!overflow) return;
      auto g = gate.enter();
      if (g) entered_ok.fetch_add(1);
      entered.complete();
      if (!g) return;
      WAIT_OR_FAIL(release);
      EXPECT_FALSE(unplug_returned.load());
      exited.fetch_add(1);
    });
  }
  for (int i = 0; i < kThreads; ++i) WAIT_OR_FAIL(ready);
  const int n = overflow_threads.load();
  // 140 live threads hold distinct indices, so at least 12 are beyond the 128 slots.
  EXPECT_GE(n, kThreads - 128);
  phase2.complete_all();
  for (int i = 0; i < n; ++i) WAIT_OR_FAIL(entered);
  EXPECT_EQ(entered_ok.load(), n);
  EXPECT_EQ(gate.readers(), n) << "overflow readers are not counted";
  std::thread unplugger([&] {
    gate.unplug();
    unplug_returned.store(true);
    EXPECT_EQ(exited.load(), n) << "unplug returned while overflow readers were inside";
  });
  spin_until([&] { return gate.is_unplugged(); });
  EXPECT_FALSE(unplug_returned.load());
  release.complete_all();
  unplugger.join();
  for (auto& t : threads) t.join();
  EXPECT_EQ(exited.load(), n);
  EXPECT_EQ(gate.readers(), 0);
  EXPECT_EQ(other.readers(), 0);
}

// ---------------------------------------------------------------------------------------------
// unplug() from inside the caller's own section: WARN, then wait only for the other readers.

TEST(GateThreads, UnplugFromInsideOwnSectionWarnsAndWaitsForTheOtherThread) {
  for (int round = 0; round < kRounds / 4 + 1; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    Gate gate("self");
    Completion other_in("other_in");
    std::atomic<bool> exited{false}, unplug_returned{false};
    std::thread other([&] {
      auto g = gate.enter();
      other_in.complete();
      if (!g) {
        ADD_FAILURE() << "enter on a live gate failed";
        return;
      }
      spin_until([&] { return gate.is_unplugged(); });
      linger();
      EXPECT_FALSE(unplug_returned.load()) << "unplug returned while another thread was inside";
      exited.store(true);
    });
    WAIT_OR_FAIL(other_in);
    {
      auto own = gate.enter();
      ASSERT_TRUE(static_cast<bool>(own));
      {
        testing::ExpectWarn w(1, "own enter section");
        gate.unplug();
      }
      unplug_returned.store(true);
      EXPECT_TRUE(exited.load()) << "unplug did not wait for the other thread's section";
    }
    other.join();
    EXPECT_EQ(gate.readers(), 0);
    if (::testing::Test::HasFailure()) break;
  }
}

// ---------------------------------------------------------------------------------------------
// As with SRCU, the gate may be freed the moment unplug() returns: a reader's exit must not
// touch the gate after unplug() can see it gone. (A violation is a use-after-free that
// AddressSanitizer / ThreadSanitizer report; the verdict never depends on timing.)

TEST(GateThreads, GateMayBeDestroyedAsSoonAsUnplugReturns) {
#if defined(UDRM_TSAN) || defined(UDRM_ASAN)
  constexpr int kDestroyRounds = 300;
#else
  constexpr int kDestroyRounds = 2000;
#endif
  for (int round = 0; round < kDestroyRounds; ++round) {
    auto* gate = new Gate("heap");
    std::atomic<bool> entered{false};
    std::thread reader([&] {
      auto g = gate->enter();
      entered.store(true);
      if (!g) return;
      spin_until([&] { return gate->is_unplugged(); });
      // Leave right as unplug() polls.
    });
    spin_until([&] { return entered.load(); });
    gate->unplug();
    delete gate;
    reader.join();
  }
}

}  // namespace
}  // namespace udrm
