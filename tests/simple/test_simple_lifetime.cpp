// udrm-simple under unbind / rebind / remove / rescan with files open (kernel-semantics §3.6
// U3–U6, §6.4 V6–V7, igt core_hotunplug scenarios), each followed by the health check.
#include "simple_rig.h"

#include "udrm/drm/minor.h"

namespace udrm::drivers::simple_test {
namespace {

int card_index(Display& d) { return drm_minor_index(*d.drm(), MinorType::primary); }

/// In-flight work (a commit worker finishing its cleanup) may hold the last reference for a
/// moment after the last close: wait (virtual time, bounded) for the count to drop to n.
bool wait_live(Display& d, int n) {
  for (int i = 0; i < 1000 && d.live_drm_devices() != n; ++i) sleep_for(1ms);
  return d.live_drm_devices() == n;
}

TEST(SimpleLifetime, UnbindRebindNoFileOpen) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    ASSERT_NO_FATAL_FAILURE(health_check(*d));
    EXPECT_EQ(d->unbind(), 0);
    EXPECT_EQ(d->drm(), nullptr);
    EXPECT_EQ(d->live_drm_devices(), 0);
    EXPECT_TRUE(d->leaks().empty());
    Ref<DrmFile> f;
    EXPECT_EQ(d->open(&f), -ENODEV);
    ASSERT_EQ(d->rebind(), 0);
    ASSERT_NO_FATAL_FAILURE(health_check(*d));
    EXPECT_EQ(d->live_drm_devices(), 1);
  });
}

// U3/U5/V6: unbind with a file open and the CRTC scanning out: the outputs go off, ioctls on
// the old file are -ENODEV, close succeeds and frees the device.
TEST(SimpleLifetime, HotUnbindFileOpenThenLateClose) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    ASSERT_EQ(s.c().page_flip(s.crtc, s.fb[1], DRM_MODE_PAGE_FLIP_EVENT, 5), 0);

    ASSERT_EQ(d->unbind(), 0);
    EXPECT_EQ(d->drm(), nullptr);
    EXPECT_TRUE(d->leaks().empty()) << d->leaks().front();
    EXPECT_EQ(d->live_drm_devices(), 1);  // the zombie, held by the file

    // The flip armed before the unbind was completed (by the shutdown commit at the latest).
    auto evs = s.c().read_events();
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].user_data, 5u);

    KmsClient::Resources res;
    EXPECT_EQ(s.c().get_resources(&res), -ENODEV);
    EXPECT_EQ(s.c().page_flip(s.crtc, s.fb[0], DRM_MODE_PAGE_FLIP_EVENT, 6), -ENODEV);
    EXPECT_EQ(s.c().ioctl(0x12345678, nullptr), -ENODEV);
    Ref<DrmFile> f2;
    EXPECT_EQ(d->open(&f2), -ENODEV);

    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_TRUE(wait_live(*d, 0));  // the flip's commit worker drops the last state reference
    EXPECT_TRUE(d->leaks().empty());

    ASSERT_EQ(d->rebind(), 0);
    ASSERT_NO_FATAL_FAILURE(health_check(*d));
  });
}

// U6/V7 (hotrebind-lateclose): rebind while the old file is open gives a new minor; closing
// the old file later frees only the zombie.
TEST(SimpleLifetime, HotRebindGetsNewMinorThenLateClose) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    const int old_minor = card_index(*d);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    ASSERT_EQ(d->unbind(), 0);
    ASSERT_EQ(d->rebind(), 0);
    ASSERT_NE(d->drm(), nullptr);
    EXPECT_NE(card_index(*d), old_minor);
    EXPECT_EQ(d->live_drm_devices(), 2);
    ASSERT_NO_FATAL_FAILURE(health_check(*d));

    // Keep the new instance busy while the zombie dies.
    Screen n;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &n));
    KmsClient::Resources res;
    EXPECT_EQ(s.c().get_resources(&res), -ENODEV);
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->live_drm_devices(), 1);
    ASSERT_EQ(n.c().page_flip(n.crtc, n.fb[1], DRM_MODE_PAGE_FLIP_EVENT, 9), 0);
    EXPECT_EQ(wait_event(n.c()).user_data, 9u);
    EXPECT_EQ(close_screen(&n), 0);
    ASSERT_NO_FATAL_FAILURE(health_check(*d));
  });
}

// unplug-rescan and hotreplug: device removal with a file open, rediscovery, late close.
TEST(SimpleLifetime, HotReplugRemoveRescan) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    d->remove();
    EXPECT_EQ(d->drm(), nullptr);
    EXPECT_TRUE(d->leaks().empty());
    KmsClient::Resources res;
    EXPECT_EQ(s.c().get_resources(&res), -ENODEV);
    ASSERT_EQ(d->rescan(), 0);
    ASSERT_NO_FATAL_FAILURE(health_check(*d));
    EXPECT_EQ(d->live_drm_devices(), 2);
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_EQ(d->live_drm_devices(), 1);
    ASSERT_NO_FATAL_FAILURE(health_check(*d));
    d->remove();
    EXPECT_EQ(d->live_drm_devices(), 0);
    EXPECT_TRUE(d->leaks().empty());
  });
}

// A nonblocking flip in flight while the device is unbound: the event is still delivered and
// nothing waits for the 10 s flip_done timeout.
TEST(SimpleLifetime, UnbindWithFlipInFlight) {
  run_sim([](World& w) {
    auto d = create_simple_display(w, {});
    ASSERT_EQ(d->bind(), 0);
    Screen s;
    ASSERT_NO_FATAL_FAILURE(modeset_screen(*d, &s));
    const TimePoint t0 = now();
    ASSERT_EQ(s.c().atomic_flip(s.primary, s.fb[1], DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 3), 0);
    ASSERT_EQ(d->unbind(), 0);
    EXPECT_LT(now() - t0, 1s);
    drm_event_vblank e = wait_event(s.c());
    EXPECT_EQ(e.user_data, 3u);
    EXPECT_TRUE(d->leaks().empty());
    EXPECT_EQ(close_screen(&s), 0);
    EXPECT_TRUE(wait_live(*d, 0));
  });
}

}  // namespace
}  // namespace udrm::drivers::simple_test
