// Zoo 4: the CRTC disable skips the hardware once drm_dev_is_unplugged(), and remove() unplugs before its shutdown commit, so the output (pixel clock, CTRL.ENABLE) stays on after unbind.
//
// The kernel trap: remove() must unplug first (no new ioctls), then shut the outputs down; a
// disable path that tests "unplugged?" instead of entering the gate skips exactly that
// shutdown. udrm's teardown section lets dev_enter() through for remove()'s own shutdown, so
// the fix is to gate with dev_enter() — the fixed control sweeps clean.
#include "zoo/zoo_kms.h"

namespace udrm::zoo {
namespace {

TEST(Zoo04, OutputLeftOnByUnplugBeforeShutdownIsNamed) {
  KmsBugs b;
  b.disable_checks_unplugged = true;
  ZooKmsScenario sc("zoo.04.unplug-before-shutdown", "disable skips the hardware after unplug", b);
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "leak", &rep, zoo_options({explore::Event::unbind, explore::Event::unplug})));
  const std::string t = rep.text();
  EXPECT_NE(t.find("clock 'zoo.04.unplug-before-shutdown.pixclk' left enabled after unbind (enable count 1)"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("CTRL.ENABLE of block 'zoo.04.unplug-before-shutdown.regs' still set"), std::string::npos) << t;
}

TEST(Zoo04, FixedControlGatedDisableSweepsClean) {
  ZooKmsScenario sc("zoo.04.fixed", "disable gated with dev_enter (teardown section)", KmsBugs{});
  EXPECT_TRUE(zoo_clean(sc, zoo_options({explore::Event::unbind, explore::Event::unplug})));
}

}  // namespace
}  // namespace udrm::zoo
