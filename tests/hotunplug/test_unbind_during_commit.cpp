// Unbind while a nonblocking commit is in flight, with the commit worker stopped at (a) before
// hw_done, (b) between hw_done and flip_done, (c) during cleanup — on the simulated executor,
// deterministically, on both reference drivers. Each: no access to released hardware (no
// violation), the flip event is delivered exactly once, nothing is left on (clocks,
// regulators, IRQs, pipes), and the device is freed at the last close.
#include <gtest/gtest.h>

#include "scenario.h"
#include "udrm/base/errno.h"
#include "udrm/fakehw/board.h"

namespace udrm::scenario {
namespace {

using drivers::Kind;

struct Case {
  Kind kind;
  const char* point;  // where the commit worker is when the unbind starts
  const char* label;
};

struct UnbindDuringCommit : ::testing::TestWithParam<Case> {};

TEST_P(UnbindDuringCommit, SafeEventDeliveredNothingLeaked) {
  const Case& tc = GetParam();
  SimExecutor sim;
  auto r = sim.run([&] {
    World world(sim);
    drivers::DisplayOptions opts;
    opts.kind = tc.kind;
    auto d = drivers::create_display(world, opts);
    ASSERT_EQ(d->bind(), 0);
    ActiveClient ac;
    ASSERT_TRUE(open_and_modeset(*d, 21, &ac));
    ac.c->read_events();
    {
      InjectAt inj(sim, tc.point, "atomic_commit_work");
      inj.arm([&] { EXPECT_EQ(d->unbind(), 0); });
      ASSERT_EQ(ac.c->atomic_flip(ac.out.plane_id, ac.fb[1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 77),
                0);
      for (int i = 0; i < 1000 && !inj.action_done(); ++i) sleep_for(std::chrono::milliseconds(1));
      ASSERT_TRUE(inj.fired()) << "the commit worker never reached " << tc.point;
      ASSERT_TRUE(inj.action_done()) << "unbind did not complete";
    }
    std::vector<drm_event_vblank> events;
    for (int i = 0; i < 100 && events.empty(); ++i) {
      auto got = ac.c->read_events();
      events.insert(events.end(), got.begin(), got.end());
      if (events.empty()) sleep_for(std::chrono::milliseconds(5));
    }
    sleep_for(std::chrono::milliseconds(50));
    auto late = ac.c->read_events();
    events.insert(events.end(), late.begin(), late.end());
    ASSERT_EQ(events.size(), 1u) << "the flip event, exactly once";
    EXPECT_EQ(events[0].base.type, DRM_EVENT_FLIP_COMPLETE);
    EXPECT_EQ(events[0].user_data, 77u);
    EXPECT_TRUE(world.violations().empty()) << world.violations().front().message;
    EXPECT_TRUE(d->leaks().empty()) << ::testing::PrintToString(d->leaks());
    drm_version v{};
    EXPECT_EQ(ac.c->ioctl(DRM_IOCTL_VERSION, &v), -ENODEV);
    EXPECT_EQ(d->live_drm_devices(), 1);
    for (auto& b : ac.buf) ac.c->file().munmap(b.map, b.size);
    EXPECT_EQ(ac.c->close(), 0);
    settle();
    EXPECT_EQ(d->live_drm_devices(), 0) << "freed at the last close";
    d.reset();
    settle();  // deferred frees run while the World still exists
  });
  ASSERT_TRUE(r) << r.report;
}

INSTANTIATE_TEST_SUITE_P(
    Points, UnbindDuringCommit,
    ::testing::Values(Case{Kind::simple, "atomic.commit_work", "BeforeHwDone"},
                      Case{Kind::simple, "atomic.hw_done", "BetweenHwDoneAndFlipDone"},
                      Case{Kind::simple, "atomic.cleanup_planes", "DuringCleanup"},
                      Case{Kind::soc, "atomic.commit_work", "BeforeHwDone"},
                      Case{Kind::soc, "atomic.hw_done", "BetweenHwDoneAndFlipDone"},
                      Case{Kind::soc, "atomic.cleanup_planes", "DuringCleanup"}),
    [](const auto& info) { return std::string(kind_name(info.param.kind)) + "_" + info.param.label; });

}  // namespace
}  // namespace udrm::scenario
