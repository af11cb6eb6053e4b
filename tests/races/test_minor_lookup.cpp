// Lookups that race the final put, at open: drm_open_minor (drm_minor_acquire) against an
// unbind plus the last close — the final put of the DRM device, which frees its minor. Under
// seeded random schedules an open either gets a live device (and a working file) or -ENODEV;
// it never takes a reference on a dying device, the device is freed exactly once, and nothing
// reads it after (ASan builds would report that read). Then the same on real threads (the
// open side reads the minor table without a lock; ThreadSanitizer checks it).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "drmfile/test_rig.h"
#include "kms/kms_rig.h"
#include "races/sim_random.h"
#include "udrm/base/asio_executor.h"
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

// One thread opens the newest card node (and issues an ioctl on the file) in a loop; the main
// thread unbinds and rebinds the driver. A rebind gets a new minor while the old device lives
// on in open files, so opens race unregister, unplug and the final put that frees the minor.
TEST(MinorLookup, RealThreadsOpenRacingUnbindRebind) {
#if defined(UDRM_TSAN)
  constexpr int kRebinds = 100;
#else
  constexpr int kRebinds = 400;
#endif
  AsioExecutor ex(2);
  kmstest::KmsRig rig(ex);
  std::atomic<int> index{drm_minor_index(rig.drm(), MinorType::primary)};
  ASSERT_GE(index.load(), 0);
  std::atomic<bool> stop{false};
  std::atomic<long> opened{0}, refused{0}, bad{0}, attempts{0};
  std::thread opener([&] {
    for (; !stop.load(std::memory_order_acquire); attempts.fetch_add(1, std::memory_order_release)) {
      Ref<DrmFile> f;
      int ret = drm_open_minor(rig.w, index.load(std::memory_order_acquire), &f);
      if (ret == 0) {
        opened.fetch_add(1, std::memory_order_relaxed);
        drm_version v{};
        int io = drm_ioctl(*f, DRM_IOCTL_VERSION, &v);
        if (io != 0 && io != -ENODEV) bad.fetch_add(1);
        f->close();
      } else if (ret == -ENODEV) {
        refused.fetch_add(1, std::memory_order_relaxed);
      } else {
        bad.fetch_add(1);
      }
    }
  });
  for (int i = 0; i < kRebinds; ++i) {
    ASSERT_EQ(rig.w.bus().unbind("kms0"), 0);
    ASSERT_EQ(rig.w.bus().bind("kms0", "kmsdrv"), 0);
    ASSERT_NE(rig.drv.drm(), nullptr);
    index.store(drm_minor_index(*rig.drv.drm(), MinorType::primary), std::memory_order_release);
    // Stay bound until the opener has finished two more attempts (bounded), so that opens
    // land both inside the bound window and across its edges.
    const long seen = attempts.load(std::memory_order_acquire);
    for (int spin = 0; spin < 20000 && attempts.load(std::memory_order_acquire) < seen + 2; ++spin)
      std::this_thread::yield();
  }
  stop.store(true, std::memory_order_release);
  opener.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(opened.load(), 0) << "no open ever succeeded: the race was never run";
  RecordProperty("opened", std::to_string(opened.load()));
  RecordProperty("refused", std::to_string(refused.load()));
  Ref<DrmFile> stale;
  EXPECT_EQ(drm_open_minor(rig.w, -1, &stale), -ENODEV);
  EXPECT_EQ(drm_open_minor(rig.w, 1 << 20, &stale), -ENODEV);
  rig.teardown();
}

}  // namespace
}  // namespace udrm::races
