// Work items and workqueues: ordering, non-reentrancy, cancel/flush, on both executors.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "udrm/base/asio_executor.h"
#include "udrm/base/completion.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/workqueue.h"

namespace udrm {
namespace {

using namespace std::chrono_literals;

TEST(WorkQueue, OrderedRunsInQueueOrderOneAtATime) {
  SimExecutor sim;
  std::string log;
  int active = 0, max_active = 0;
  auto r = sim.run([&] {
    WorkQueue wq(sim, "ordered", true);
    auto body = [&](char c) {
      return [&, c] {
        max_active = std::max(max_active, ++active);
        sleep_for(1ms);  // blocks: an unordered queue would start the next item now
        log += c;
        --active;
      };
    };
    Work a("a", body('a')), b("b", body('b')), c("c", body('c'));
    EXPECT_TRUE(wq.queue(a));
    EXPECT_TRUE(wq.queue(b));
    EXPECT_TRUE(wq.queue(c));
    wq.flush();
    EXPECT_EQ(log, "abc");
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(max_active, 1);
}

TEST(WorkQueue, UnorderedItemsRunConcurrently) {
  SimExecutor sim;
  auto r = sim.run([&] {
    WorkQueue wq(sim, "unbound", false);
    Completion a_started("a_started"), b_started("b_started");
    // Each waits for the other: only concurrent execution completes both.
    Work a("a", [&] { a_started.complete_all(); b_started.wait(); });
    Work b("b", [&] { b_started.complete_all(); a_started.wait(); });
    wq.queue(a);
    wq.queue(b);
    wq.flush();
    EXPECT_TRUE(a_started.done() && b_started.done());
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(WorkQueue, QueueWhilePendingIsANoOp) {
  SimExecutor sim;
  int runs = 0;
  auto r = sim.run([&] {
    WorkQueue wq(sim, "wq", false);
    Work w("w", [&] { ++runs; });
    EXPECT_TRUE(wq.queue(w));
    EXPECT_FALSE(wq.queue(w));
    EXPECT_TRUE(w.pending());
    wq.flush_work(w);
    EXPECT_FALSE(w.pending());
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(runs, 1);
}

TEST(WorkQueue, RequeuedWhileRunningRunsAgainAfterwardsNeverConcurrently) {
  SimExecutor sim;
  int runs = 0, active = 0, max_active = 0;
  auto r = sim.run([&] {
    WorkQueue wq(sim, "wq", false);
    Completion running("running"), go("go");
    Work w("w", [&] {
      max_active = std::max(max_active, ++active);
      if (++runs == 1) {
        running.complete_all();
        go.wait();
      }
      --active;
    });
    wq.queue(w);
    running.wait();
    EXPECT_TRUE(wq.queue(w));  // pending again while running
    go.complete_all();
    wq.flush_work(w);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(max_active, 1);
}

TEST(WorkQueue, CancelSyncUnqueuesPendingWork) {
  SimExecutor sim;
  int runs = 0;
  auto r = sim.run([&] {
    WorkQueue wq(sim, "wq", false);
    {
      Work w("w", [&] { ++runs; });
      wq.queue(w);
      EXPECT_TRUE(wq.cancel_sync(w));
      EXPECT_FALSE(w.pending());
    }  // destroying w right after cancel_sync is allowed
    sleep_for(1ms);
  });
  ASSERT_TRUE(r) << r.report;
  EXPECT_EQ(runs, 0);
}

TEST(WorkQueue, CancelSyncWaitsForRunningWork) {
  SimExecutor sim;
  bool finished = false;
  auto r = sim.run([&] {
    WorkQueue wq(sim, "wq", true);
    Completion started("started");
    Work w("w", [&] {
      started.complete_all();
      sleep_for(5ms);
      finished = true;
    });
    wq.queue(w);
    started.wait();
    EXPECT_FALSE(wq.cancel_sync(w));  // not pending: running
    EXPECT_TRUE(finished);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(WorkQueue, DestroyDrains) {
  SimExecutor sim;
  int runs = 0;
  auto r = sim.run([&] {
    Work a("a", [&] { sleep_for(1ms); ++runs; });
    Work b("b", [&] { ++runs; });
    {
      WorkQueue wq(sim, "wq", true);
      wq.queue(a);
      wq.queue(b);
    }
    EXPECT_EQ(runs, 2);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(WorkQueue, OrderedNeverOverlapsOnRealThreads) {
  AsioExecutor ex(4);
  std::atomic<int> active{0}, max_active{0}, runs{0};
  {
    WorkQueue wq(ex, "ordered", true);
    std::vector<std::unique_ptr<Work>> works;
    for (int i = 0; i < 64; ++i) {
      works.push_back(std::make_unique<Work>("w", [&] {
        int a = ++active;
        int m = max_active.load();
        while (a > m && !max_active.compare_exchange_weak(m, a)) {
        }
        ++runs;
        --active;
      }));
    }
    for (int round = 0; round < 50; ++round) {
      for (auto& w : works) wq.queue(*w);
      wq.flush();
    }
  }
  EXPECT_EQ(max_active.load(), 1);
  EXPECT_EQ(runs.load(), 64 * 50);
}

// An object that embeds its work item and drops its last reference from that work (the atomic
// state's commit_work): freed once the queue has let go, on the same task.
struct SelfFreeing {
  explicit SelfFreeing(std::atomic<int>* freed_count) : freed(freed_count), work("self_free", [this] { run(); }) {}
  ~SelfFreeing() { ++*freed; }
  void run() {
    ran_in_work = work.defer_after_run([](void* p) { delete static_cast<SelfFreeing*>(p); }, this);
    // Still alive here: the free waits for the queue to let go.
    value = 42;
  }
  std::atomic<int>* freed;  // items run on several workers
  Work work;
  bool ran_in_work = false;
  int value = 0;
};

TEST(WorkQueue, DeferAfterRunFreesTheItemOnceTheQueueLetsGo) {
  for (bool ordered : {false, true}) {
    SimExecutor sim;
    std::atomic<int> freed{0};
    auto r = sim.run([&] {
      WorkQueue wq(sim, ordered ? "ordered" : "unbound", ordered);
      for (int i = 0; i < 3; ++i) wq.queue((new SelfFreeing(&freed))->work);
      wq.flush();
      EXPECT_EQ(freed, 3);
    });
    ASSERT_TRUE(r) << r.report;
    EXPECT_EQ(freed, 3) << (ordered ? "ordered" : "unbound");
  }
}

TEST(WorkQueue, DeferAfterRunOutsideTheItemIsRefused) {
  SimExecutor sim;
  auto r = sim.run([&] {
    WorkQueue wq(sim, "unbound", false);
    int calls = 0;
    Work other("other", [] {});
    Work w("w", [&] {
      // Another item's defer from this item: refused, nothing scheduled.
      EXPECT_FALSE(other.defer_after_run([](void* p) { ++*static_cast<int*>(p); }, &calls));
    });
    EXPECT_FALSE(w.defer_after_run([](void* p) { ++*static_cast<int*>(p); }, &calls));
    wq.queue(w);
    wq.flush();
    EXPECT_EQ(calls, 0);
  });
  ASSERT_TRUE(r) << r.report;
}

TEST(WorkQueue, DeferAfterRunOnRealThreads) {
  std::atomic<int> freed{0};
  {
    AsioExecutor ex(2);
    WorkQueue wq(ex, "unbound", false);
    for (int i = 0; i < 200; ++i) wq.queue((new SelfFreeing(&freed))->work);
    wq.flush();
  }
  EXPECT_EQ(freed, 200);
}

}  // namespace
}  // namespace udrm
