// TaskWorkList / ReturnToUser: FIFO, queued once, work queued while running runs in the same
// pass, cancel, shutdown refuses (-ESRCH), bad input -EINVAL.
#include <gtest/gtest.h>

#include <vector>

#include "udrm/base/sim_executor.h"
#include "udrm/perf/task_work.h"

namespace udrm {
namespace {

struct Recorder {
  TaskWork w;
  std::vector<int>* log;
  int id;
  TaskWorkList* requeue_on = nullptr;
  TaskWork* requeue = nullptr;
};

void rec_fn(TaskWork& w) {
  auto* r = static_cast<Recorder*>(w.owner);
  r->log->push_back(r->id);
  if (r->requeue_on) {
    EXPECT_EQ(r->requeue_on->add(*r->requeue), 0);
    r->requeue_on = nullptr;
  }
}

TEST(TaskWork, RunsFifoOnceAtReturnToUser) {
  SimExecutor sim;
  auto res = sim.run([&] {
    TaskWorkList list;
    std::vector<int> log;
    Recorder a{{rec_fn, nullptr}, &log, 1}, b{{rec_fn, nullptr}, &log, 2};
    a.w.owner = &a;
    b.w.owner = &b;
    TaskWork bad;
    EXPECT_EQ(list.add(bad), -EINVAL);
    {
      ReturnToUser rtu(list);
      EXPECT_EQ(list.add(a.w), 0);
      EXPECT_EQ(list.add(a.w), -EBUSY);  // queued once: the owner accounts the rest
      EXPECT_EQ(list.add(b.w), 0);
      EXPECT_TRUE(list.pending());
      EXPECT_TRUE(log.empty());  // not before the call returns
    }
    EXPECT_EQ(log, (std::vector<int>{1, 2}));
    EXPECT_FALSE(list.pending());
    // Work queued by running work runs in the same pass.
    a.requeue_on = &list;
    a.requeue = &b.w;
    EXPECT_EQ(list.add(a.w), 0);
    EXPECT_EQ(list.run(), 2u);
    EXPECT_EQ(log, (std::vector<int>{1, 2, 1, 2}));
    // cancel
    EXPECT_EQ(list.add(a.w), 0);
    EXPECT_EQ(list.add(b.w), 0);
    EXPECT_TRUE(list.cancel(a.w));
    EXPECT_FALSE(list.cancel(a.w));
    EXPECT_EQ(list.shutdown(), 1u);
    EXPECT_EQ(log, (std::vector<int>{1, 2, 1, 2, 2}));
    EXPECT_EQ(list.add(a.w), -ESRCH);
    EXPECT_TRUE(list.is_shut_down());
  });
  ASSERT_TRUE(res) << res.report;
}

}  // namespace
}  // namespace udrm
