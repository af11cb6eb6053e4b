// igt core_hotunplug's subtests as scenarios on both reference drivers (kernel-semantics §7.2):
// unbind-rebind, unplug-rescan, hotunbind-rebind, hotunplug-rescan, hotrebind, hotreplug, both
// -lateclose, and -with-load variants whose load is a stream of nonblocking flips with events.
// Each ends with the health check: reopen, modeset, flip, CRC matches the pattern written.
#include <gtest/gtest.h>

#include "scenario.h"
#include "udrm/base/errno.h"
#include "udrm/drm/minor.h"

namespace udrm::scenario {
namespace {

using drivers::Kind;

struct HotunplugTest : ::testing::TestWithParam<Kind> {
  // Run body on a fresh simulated machine with one display of the parameter's kind.
  template <class F>
  void run(F&& body) {
    SimExecutor sim;
    auto r = sim.run([&] {
      World world(sim);
      drivers::DisplayOptions opts;
      opts.kind = GetParam();
      auto d = drivers::create_display(world, opts);
      ASSERT_TRUE(d);
      ASSERT_EQ(d->bind(), 0);
      ASSERT_NE(d->drm(), nullptr);
      body(sim, *d);
      d.reset();
      settle();  // deferred frees run while the World still exists
    });
    ASSERT_TRUE(r) << r.report;
  }
};

// The old file after the device went away: every ioctl -ENODEV, close 0. (Its mappings go
// first: a mapping holds the file, as a vma holds the struct file.)
void expect_dead_then_close(ActiveClient& ac) {
  testing::KmsClient& c = *ac.c;
  for (auto& b : ac.buf)
    if (b.map) c.file().munmap(b.map, b.size);
  drm_version v{};
  EXPECT_EQ(c.ioctl(DRM_IOCTL_VERSION, &v), -ENODEV);
  testing::KmsClient::Resources res;
  EXPECT_EQ(c.get_resources(&res), -ENODEV);
  EXPECT_EQ(c.close(), 0);
  settle();
}

TEST_P(HotunplugTest, UnbindRebind) {
  run([](SimExecutor&, drivers::Display& d) {
    ASSERT_EQ(d.unbind(), 0);
    EXPECT_EQ(d.drm(), nullptr);
    EXPECT_EQ(d.live_drm_devices(), 0);
    EXPECT_TRUE(d.leaks().empty()) << ::testing::PrintToString(d.leaks());
    ASSERT_EQ(d.rebind(), 0);
    EXPECT_TRUE(health_check(d, 1));
  });
}

TEST_P(HotunplugTest, UnplugRescan) {
  run([](SimExecutor&, drivers::Display& d) {
    d.remove();
    EXPECT_EQ(d.live_drm_devices(), 0);
    EXPECT_TRUE(d.leaks().empty()) << ::testing::PrintToString(d.leaks());
    ASSERT_EQ(d.rescan(), 0);
    EXPECT_TRUE(health_check(d, 2));
  });
}

// hotunbind-rebind / hotunplug-rescan: the old fd is closed before the device comes back.
TEST_P(HotunplugTest, HotunbindRebind) {
  run([](SimExecutor&, drivers::Display& d) {
    ActiveClient ac;
    ASSERT_TRUE(open_and_modeset(d, 3, &ac));
    ASSERT_EQ(d.unbind(), 0);  // does not block on the open fd
    EXPECT_EQ(d.live_drm_devices(), 1);  // the zombie, kept by the file
    EXPECT_TRUE(d.leaks().empty()) << ::testing::PrintToString(d.leaks());
    expect_dead_then_close(ac);
    EXPECT_EQ(d.live_drm_devices(), 0);  // the close was the final put
    ASSERT_EQ(d.rebind(), 0);
    EXPECT_TRUE(health_check(d, 4));
  });
}

TEST_P(HotunplugTest, HotunplugRescan) {
  run([](SimExecutor&, drivers::Display& d) {
    ActiveClient ac;
    ASSERT_TRUE(open_and_modeset(d, 5, &ac));
    d.remove();
    EXPECT_TRUE(d.leaks().empty()) << ::testing::PrintToString(d.leaks());
    expect_dead_then_close(ac);
    EXPECT_EQ(d.live_drm_devices(), 0);
    ASSERT_EQ(d.rescan(), 0);
    EXPECT_TRUE(health_check(d, 6));
  });
}

// hotrebind / hotreplug (+ -lateclose): the device comes back while the old fd is open; the
// new instance gets a new minor; closing the zombie later does not disturb it.
void hot_back(drivers::Display& d, bool replug, bool lateclose_checked) {
  ActiveClient ac;
  ASSERT_TRUE(open_and_modeset(d, 7, &ac));
  int old_minor = drm_minor_index(*d.drm(), MinorType::primary);
  if (replug) {
    d.remove();
    ASSERT_EQ(d.rescan(), 0);
  } else {
    ASSERT_EQ(d.unbind(), 0);
    ASSERT_EQ(d.rebind(), 0);
  }
  ASSERT_NE(d.drm(), nullptr);
  EXPECT_NE(drm_minor_index(*d.drm(), MinorType::primary), old_minor) << "old index must stay reserved";
  EXPECT_EQ(d.live_drm_devices(), 2);
  EXPECT_TRUE(health_check(d, 8));
  expect_dead_then_close(ac);
  EXPECT_EQ(d.live_drm_devices(), 1);
  if (lateclose_checked) {
    EXPECT_TRUE(health_check(d, 9));  // the zombie's release did not hurt
  }
}

TEST_P(HotunplugTest, Hotrebind) {
  run([](SimExecutor&, drivers::Display& d) { hot_back(d, false, false); });
}
TEST_P(HotunplugTest, Hotreplug) {
  run([](SimExecutor&, drivers::Display& d) { hot_back(d, true, false); });
}
TEST_P(HotunplugTest, HotrebindLateclose) {
  run([](SimExecutor&, drivers::Display& d) { hot_back(d, false, true); });
}
TEST_P(HotunplugTest, HotreplugLateclose) {
  run([](SimExecutor&, drivers::Display& d) { hot_back(d, true, true); });
}

// -with-load: a client streams nonblocking flips with events while the device goes away.
// Unbind/remove completes in bounded (virtual) time, every requested event is delivered
// exactly once, the client sees -ENODEV and closes cleanly.
void with_load(SimExecutor& sim, drivers::Display& d, bool replug, bool back_while_open, bool lateclose = false) {
  ActiveClient ac;
  ASSERT_TRUE(open_and_modeset(d, 11, &ac));
  Load load;
  sim.post([&] { run_flip_load(ac, &load); }, "flip-load");
  sleep_for(std::chrono::milliseconds(100));  // a few frames of load
  TimePoint t0 = now();
  if (replug) {
    d.remove();
  } else {
    ASSERT_EQ(d.unbind(), 0);
  }
  EXPECT_LT(now() - t0, std::chrono::seconds(1)) << "unbind must not wait for the flip stream";
  while (!load.done) sleep_for(std::chrono::milliseconds(5));
  load.delivered += static_cast<int>(ac.c->read_events().size());  // queued events stay readable
  EXPECT_GT(load.requested, 3);
  EXPECT_EQ(load.enodev, 1);
  EXPECT_EQ(load.delivered, load.requested) << "every requested flip event exactly once";
  if (back_while_open) {
    ASSERT_EQ(replug ? d.rescan() : d.rebind(), 0);
    if (!lateclose) {
      EXPECT_TRUE(health_check(d, 12));
    }
    expect_dead_then_close(ac);  // lateclose: the zombie goes after the new instance exists
  } else {
    expect_dead_then_close(ac);
    EXPECT_EQ(d.live_drm_devices(), 0);
    ASSERT_EQ(replug ? d.rescan() : d.rebind(), 0);
  }
  EXPECT_TRUE(health_check(d, 13));
}

TEST_P(HotunplugTest, HotunbindRebindWithLoad) {
  run([](SimExecutor& sim, drivers::Display& d) { with_load(sim, d, false, false); });
}
TEST_P(HotunplugTest, HotunplugRescanWithLoad) {
  run([](SimExecutor& sim, drivers::Display& d) { with_load(sim, d, true, false); });
}
TEST_P(HotunplugTest, HotrebindWithLoad) {
  run([](SimExecutor& sim, drivers::Display& d) { with_load(sim, d, false, true); });
}
TEST_P(HotunplugTest, HotreplugWithLoad) {
  run([](SimExecutor& sim, drivers::Display& d) { with_load(sim, d, true, true); });
}

TEST_P(HotunplugTest, HotrebindLatecloseWithLoad) {
  run([](SimExecutor& sim, drivers::Display& d) { with_load(sim, d, false, true, true); });
}
TEST_P(HotunplugTest, HotreplugLatecloseWithLoad) {
  run([](SimExecutor& sim, drivers::Display& d) { with_load(sim, d, true, true, true); });
}

INSTANTIATE_TEST_SUITE_P(Drivers, HotunplugTest, ::testing::Values(Kind::simple, Kind::soc),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

}  // namespace
}  // namespace udrm::scenario
