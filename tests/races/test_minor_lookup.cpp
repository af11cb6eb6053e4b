// Lookups that race the final put, at open: drm_open_minor (drm_minor_acquire) against an
// unbind plus the last close — the final put of the DRM device, which frees its minor. Under
// seeded random schedules an open either gets a live device (and a working file) or -ENODEV;
// it never takes a reference on a dying device, the device is freed exactly once, and nothing
// reads it after (ASan builds would report that read).
#include <gtest/gtest.h>

#include "drmfile/test_rig.h"
#include "races/sim_random.h"
#include "udrm/base/completion.h"

namespace udrm::races {
namespace {

using testrig::Rig;
using testrig::TDrm;

TEST(MinorLookup, OpenRacingUnbindAndLastCloseNeverRevivesTheDevice) {
  int opened = 0, refused = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    SimExecutor sim;
    RandomStrategy strategy(seed);
    sim.set_strategy(&strategy);
    auto r = sim.run([&] {
      Rig rig(sim);
      const int index = drm_minor_index(*rig.drm(), MinorType::primary);
      ASSERT_GE(index, 0);
      Ref<DrmFile> last = rig.open();
      Completion opener_done("opener");
      sim.post([&] {
        Ref<DrmFile> f;
        int ret = drm_open_minor(rig.w, index, &f);
        if (ret == 0) {
          ++opened;
          drm_version v{};
          int io = drm_ioctl(*f, DRM_IOCTL_VERSION, &v);
          EXPECT_TRUE(io == 0 || io == -ENODEV) << "seed " << seed << ": " << io;
          EXPECT_GT(TDrm::live, 0) << "seed " << seed << ": an open file on a freed device";
          f->close();
        } else {
          ++refused;
          EXPECT_EQ(ret, -ENODEV) << "seed " << seed;
        }
        opener_done.complete_all();
      }, "opener");
      EXPECT_EQ(rig.unbind(), 0);
      last->close();  // the final put unless the opener holds the device
      opener_done.wait();
      EXPECT_EQ(TDrm::live, 0) << "seed " << seed << ": the device must be freed once every file is gone";
      Ref<DrmFile> again;
      EXPECT_EQ(drm_open_minor(rig.w, index, &again), -ENODEV) << "seed " << seed;
    });
    ASSERT_TRUE(r) << "seed " << seed << ": " << r.report;
  }
  // The schedules must cover both outcomes, or the race was never run.
  EXPECT_GT(opened, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace udrm::races
