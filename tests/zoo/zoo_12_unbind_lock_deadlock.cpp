// Zoo 12: remove() holds hw_lock across drm_dev_unplug(), while the commit worker takes hw_lock inside its dev_enter() section: unplug waits for the worker, the worker waits for the lock (deadlock).
//
// drm_dev_unplug() waits for every read section to end, so nothing a section needs may be
// held around it. The explorer injects the unbind inside the worker's section, just before it
// takes the lock.
#include "zoo/zoo_kms.h"

namespace udrm::zoo {
namespace {

TEST(Zoo12, UnbindHoldingALockTheGatedWorkerNeedsDeadlocks) {
  KmsBugs b;
  b.remove_holds_hw_lock = true;
  ZooKmsScenario sc("zoo.12.unbind-lock-deadlock", "remove() holds hw_lock across unplug", b);
  explore::Report rep;
  // First the unbind never returns (the run's main task waits for it with a virtual-time
  // timeout, so the simulation is not stuck yet), then nothing can run: the deadlock, with
  // every blocked task and what it waits on.
  ASSERT_TRUE(zoo_finds(sc, "event-hang", &rep, zoo_options({explore::Event::unbind}, "zoo.kms.*")));
  ASSERT_GE(rep.failure->run.findings.size(), 2u);
  EXPECT_EQ(rep.failure->run.findings[1].oracle, "deadlock");
  const std::string t = rep.text();
  EXPECT_NE(t.find("task 'explore.injector#0' blocked on drm_dev, last point 'gate.unplug'"), std::string::npos) << t;
  EXPECT_NE(t.find("task 'atomic_commit_work#0' blocked on zoo.hw_lock"), std::string::npos) << t;
  EXPECT_NE(t.find("zoo.kms.plane_update.hw"), std::string::npos) << t;
}

}  // namespace
}  // namespace udrm::zoo
