// Zoo 11: remove() only unplugs and returns without atomic_helper_shutdown, so an in-flight nonblocking commit's worker writes SCANOUT after devm unmapped the registers.
//
// The commit tail's plane update writes the scanout register without dev_enter, trusting that
// remove() stops commits first. It does not: remove() unplugs (which waits for ioctls, not for
// commit workers) and returns, devm unmaps the registers, and the worker queued by the flip
// ioctl then writes through the dead mapping. The fix: remove() calls atomic_helper_shutdown,
// whose disable commit stalls on the commit in flight, before devm runs — that sweeps clean
// with the same ungated plane update.
#include "udrm/testing/warn.h"
#include "zoo/zoo_kms.h"

namespace udrm::zoo {
namespace {

KmsBugs bugs(bool fixed) {
  KmsBugs b;
  b.ungated_scanout = true;
  b.remove_no_shutdown = !fixed;
  return b;
}

TEST(Zoo11, RemoveNotWaitingForTheCommitInFlightIsNamed) {
  ZooKmsScenario sc("zoo.11.remove-no-commit-wait", "remove() does not wait for the nonblocking commit", bugs(false));
  // The plain run already fails: with no shutdown the output stays on at unbind (the leak
  // check), and the DRM core WARNs that the CRTC is still active at unbind, naming the fix.
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "leak", &rep, zoo_options({explore::Event::unbind})));
  const std::string t = rep.text();
  EXPECT_NE(t.find("clock 'zoo.11.remove-no-commit-wait.pixclk' left enabled"), std::string::npos) << t;
  EXPECT_NE(t.find("still active at unbind: remove() must switch outputs off (atomic_helper_shutdown)"),
            std::string::npos)
      << t;
  // The race itself: unbind injected in the commit worker, just before its plane update. The
  // worker then writes SCANOUT through the mapping devm released.
  udrm::testing::ExpectWarn accounted(udrm::testing::ExpectWarn::kAny);  // the run's WARNs are findings
  explore::Explorer ex(sc, zoo_options({explore::Event::unbind}));
  explore::Report race = ex.replay("udrm1:zoo.11.remove-no-commit-wait:unbind@zoo.kms.plane_update,atomic_commit_work/0,0");
  ASSERT_FALSE(race.ok()) << race.text();
  std::printf("%s", race.text().c_str());
  bool violation = false;
  for (const auto& f : race.failure->run.findings)
    violation |= f.oracle == "violation" && f.what.find("mmio-after-unmap: writel(SCANOUT @0x8)") != std::string::npos;
  EXPECT_TRUE(violation) << race.text();
}

TEST(Zoo11, FixedControlWithShutdownInRemoveSweepsClean) {
  ZooKmsScenario sc("zoo.11.fixed", "remove() shuts down (waits for the commit)", bugs(true));
  EXPECT_TRUE(zoo_clean(sc, zoo_options({explore::Event::unbind, explore::Event::unplug})));
}

}  // namespace
}  // namespace udrm::zoo
