// Bad input on both drivers: thousands of ioctls from the whole table with random argument
// bytes, nested pointers into a bounded arena (anything outside it is -EFAULT, see
// set_user_arena), random counts and IDs. Nothing may crash, hang or leak; no ioctl may return
// -EAGAIN (libdrm would spin); every error is one the kernel uses; the device stays healthy.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <map>
#include <set>

#include "scenario.h"
#include "udrm/base/errno.h"
#include "udrm/drm/ioctl.h"

namespace udrm::scenario {
namespace {

using drivers::Kind;

struct GarbageIoctls : ::testing::TestWithParam<Kind> {};

TEST_P(GarbageIoctls, NoCrashNoEagainKernelErrnosDeviceStaysHealthy) {
  SimExecutor sim;
  auto r = sim.run([&] {
    World world(sim);
    drivers::DisplayOptions opts;
    opts.kind = GetParam();
    auto d = drivers::create_display(world, opts);
    ASSERT_EQ(d->bind(), 0);
    std::size_t n_table = 0;
    const IoctlDesc* table = drm_ioctl_table(&n_table);
    ASSERT_GT(n_table, 40u);
    std::vector<unsigned long> cmds;
    for (std::size_t i = 0; i < n_table; ++i)
      if (table[i].implemented) cmds.push_back(table[i].cmd);
    const std::set<int> allowed = {-EINVAL, -EFAULT, -ENOENT, -ENOMEM, -EACCES, -EPERM, -EBUSY, -ENOSPC,
                                   -ERANGE, -EOPNOTSUPP, -ENOSYS, -EOVERFLOW, -E2BIG, -EINTR, -ENXIO, -ETIMEDOUT};
    std::map<int, int> seen;
    std::mt19937_64 rng(GetParam() == Kind::simple ? 1 : 2);
    alignas(64) static uint8_t arena[1 << 16];
    for (int round = 0; round < 4; ++round) {
      Ref<DrmFile> f;
      ASSERT_EQ(d->open(&f), 0);
      testing::KmsClient c(f);
      if (round & 1) c.enable_atomic();
      set_user_arena(arena, sizeof(arena));
      for (int i = 0; i < 1500; ++i) {
        for (auto& b : arena) b = static_cast<uint8_t>(rng());
        unsigned long cmd = cmds[rng() % cmds.size()];
        alignas(16) uint8_t arg[1024];
        std::size_t size = _IOC_SIZE(cmd);
        ASSERT_LE(size, sizeof(arg));
        for (std::size_t k = 0; k < size; ++k) arg[k] = static_cast<uint8_t>(rng());
        for (std::size_t k = 0; k + 8 <= size; k += 8) {
          uint64_t v;
          switch (rng() % 4) {
            case 0: v = reinterpret_cast<uintptr_t>(arena) + rng() % sizeof(arena); break;  // a pointer
            case 1: v = rng() % 8; break;                                                       // small count / id
            case 2: v = (rng() % 64) | (uint64_t{rng() % 64} << 32); break;                     // two small u32
            default: std::memcpy(&v, arg + k, 8); break;                                        // garbage
          }
          std::memcpy(arg + k, &v, 8);
        }
        int ret = c.ioctl(cmd, arg);
        ASSERT_NE(ret, -EAGAIN) << drm_ioctl_name(cmd);
        if (ret < 0) {
          EXPECT_TRUE(allowed.count(ret)) << drm_ioctl_name(cmd) << " returned " << ret;
          ++seen[ret];
        }
      }
      set_user_arena(nullptr, 0);
      EXPECT_EQ(c.close(), 0);
    }
    EXPECT_GT(seen[-EFAULT] + seen[-EINVAL], 0);
    EXPECT_TRUE(world.violations().empty()) << world.violations().front().message;
    EXPECT_TRUE(health_check(*d, 77));
    ASSERT_EQ(d->unbind(), 0);
    settle();
    EXPECT_EQ(d->live_drm_devices(), 0) << "garbage left a reference behind";
    EXPECT_TRUE(d->leaks().empty()) << ::testing::PrintToString(d->leaks());
    d.reset();
    settle();  // deferred frees run while the World still exists
  });
  ASSERT_TRUE(r) << r.report;
}

INSTANTIATE_TEST_SUITE_P(Drivers, GarbageIoctls, ::testing::Values(Kind::simple, Kind::soc),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

}  // namespace
}  // namespace udrm::scenario
