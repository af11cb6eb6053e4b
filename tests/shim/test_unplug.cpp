// Device lifetime through real libdrm: a driver unbind while nonblocking flips run on another
// thread, then every ioctl on the old fd is ENODEV, queued events stay readable, close works,
// a rebind gets a new card node (while the old fd pins the old minor), and the DRM device is
// freed at the last close.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>

#include "shim_fixture.h"
#include "udrm/base/time.h"

namespace udrm::shimtest {
namespace {

struct ShimUnplug : ::testing::TestWithParam<Kind> {};

int card_minor(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 ? static_cast<int>(minor(st.st_rdev)) : -1;
}

/// Every kind of request on an unplugged device's fd is ENODEV.
void expect_all_enodev(int fd, const Output& out, const Fb& fb, uint64_t map_offset) {
  auto enodev = [](bool failed, const char* what) {
    EXPECT_TRUE(failed) << what;
    EXPECT_EQ(errno, ENODEV) << what << ": " << std::strerror(errno);
  };
  errno = 0;
  enodev(drmGetVersion(fd) == nullptr, "VERSION");
  errno = 0;
  enodev(drmModeGetResources(fd) == nullptr, "GETRESOURCES");
  errno = 0;
  enodev(drmModeGetConnector(fd, out.conn_id) == nullptr, "GETCONNECTOR");
  errno = 0;
  enodev(drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1) != 0, "SET_CLIENT_CAP");
  uint32_t h = 0, pitch = 0;
  uint64_t size = 0;
  errno = 0;
  enodev(drmModeCreateDumbBuffer(fd, 64, 64, 32, 0, &h, &pitch, &size) != 0, "CREATE_DUMB");
  int r = atomic_flip(fd, out, fb.fb_id, 1);
  errno = -r;
  enodev(r != 0, "ATOMIC");
  errno = 0;
  enodev(mmap(nullptr, fb.size, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(map_offset)) == MAP_FAILED, "mmap");
}

TEST_P(ShimUnplug, UnbindMidFlipThenRebindGetsANewNode) {
  run_on_asio({GetParam()}, [&](World& world, std::vector<drivers::Display*>& ds) {
    drivers::Display& d = *ds[0];
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0);
    const int old_minor = card_minor(fd);
    Output out;
    ASSERT_TRUE(find_output(fd, &out));
    Fb fb[2];
    for (uint32_t i = 0; i < 2; ++i) ASSERT_TRUE(create_fb(fd, out.mode.hdisplay, out.mode.vdisplay, 40 + i, &fb[i]));
    uint64_t offset0 = 0;
    ASSERT_EQ(drmModeMapDumbBuffer(fd, fb[0].handle, &offset0), 0);
    ASSERT_EQ(atomic_modeset(fd, out, fb[0].fb_id), 0);

    // The unbind comes from another thread once a few flips have completed.
    std::atomic<int> delivered{0};
    std::promise<int> unbound;
    auto unbind_done = unbound.get_future();
    world.executor().post(
        [&] {
          while (delivered.load() < 3) sleep_for(std::chrono::milliseconds(1));
          unbound.set_value(d.unbind());
        },
        "unbinder");
    std::vector<FlipEvent> events;
    int requested = 0, enodev = 0;
    for (int i = 1; i < 10000 && !enodev; ++i) {
      int r = atomic_flip(fd, out, fb[i & 1].fb_id, static_cast<uint64_t>(i));
      if (r == -ENODEV) {
        ++enodev;
        break;
      }
      ASSERT_TRUE(r == 0 || r == -EBUSY) << "flip: " << std::strerror(-r);
      if (r == 0) ++requested;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 2000) == 1) {
        ASSERT_EQ(handle_events(fd, &events), 0) << std::strerror(errno);
        delivered = static_cast<int>(events.size());
      }
    }
    ASSERT_EQ(enodev, 1) << "the flips never saw the unplug";
    ASSERT_EQ(unbind_done.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_EQ(unbind_done.get(), 0);
    EXPECT_GE(static_cast<int>(events.size()), 3);
    EXPECT_LE(static_cast<int>(events.size()), requested);

    expect_all_enodev(fd, out, fb[0], offset0);
    // Whatever is still queued stays readable, in whole events; then EAGAIN (never ENODEV).
    ASSERT_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    alignas(8) char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) EXPECT_EQ(n % static_cast<ssize_t>(sizeof(drm_event_vblank)), 0);
    EXPECT_EQ(n, -1);
    EXPECT_EQ(errno, EAGAIN);
    pollfd p{fd, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 0), 0);  // no POLLHUP/POLLERR, ever
    for (auto& b : fb) destroy_fb(fd, b);

    // Rebind while the old fd is open: the old minor stays reserved, the new device gets a
    // new card node, and drmOpen finds it there.
    ASSERT_EQ(d.rebind(), 0);
    drmDevicePtr devs[2] = {};
    ASSERT_EQ(drmGetDevices2(0, devs, 2), 1);
    const std::string new_node = devs[0]->nodes[DRM_NODE_PRIMARY];
    drmFreeDevices(devs, 1);
    EXPECT_NE(new_node, "/dev/dri/card" + std::to_string(old_minor));
    int fd2 = open_by_name(GetParam());
    ASSERT_GE(fd2, 0);
    EXPECT_NE(card_minor(fd2), old_minor);
    EXPECT_EQ("/dev/dri/card" + std::to_string(card_minor(fd2)), new_node);
    EXPECT_EQ(d.live_drm_devices(), 2);  // the zombie (held by fd) and the new one

    // The new device works: modeset, flip with an event, the CRC shows it.
    Output out2;
    ASSERT_TRUE(find_output(fd2, &out2));
    Fb nb[2];
    for (uint32_t i = 0; i < 2; ++i) ASSERT_TRUE(create_fb(fd2, out2.mode.hdisplay, out2.mode.vdisplay, 60 + i, &nb[i]));
    ASSERT_EQ(atomic_modeset(fd2, out2, nb[0].fb_id), 0);
    EXPECT_TRUE(scanout_shows(d, out2.crtc_id, nb[0]));
    ASSERT_EQ(atomic_flip(fd2, out2, nb[1].fb_id, 99), 0);
    std::vector<FlipEvent> ev2;
    ASSERT_TRUE(wait_flip_events(fd2, &ev2));
    EXPECT_EQ(ev2.back().user_data, 99u);
    EXPECT_TRUE(scanout_shows(d, out2.crtc_id, nb[1]));

    // The old fd is still ENODEV; its close is the zombie's final put.
    errno = 0;
    EXPECT_EQ(drmModeGetResources(fd), nullptr);
    EXPECT_EQ(errno, ENODEV);
    EXPECT_EQ(close(fd), 0);
    EXPECT_TRUE(wait_until([&] { return d.live_drm_devices() == 1; }))
        << "live DRM devices: " << d.live_drm_devices();
    for (auto& b : nb) destroy_fb(fd2, b);
    EXPECT_EQ(close(fd2), 0);
  });
}

TEST_P(ShimUnplug, QueuedEventStaysReadableAfterUnbind) {
  run_one(GetParam(), [&](drivers::Display& d) {
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0);
    Output out;
    ASSERT_TRUE(find_output(fd, &out));
    Fb fb[2];
    for (uint32_t i = 0; i < 2; ++i) ASSERT_TRUE(create_fb(fd, out.mode.hdisplay, out.mode.vdisplay, 80 + i, &fb[i]));
    ASSERT_EQ(atomic_modeset(fd, out, fb[0].fb_id), 0);
    ASSERT_EQ(atomic_flip(fd, out, fb[1].fb_id, 55), 0);
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1);  // queued, not read
    uint64_t offset = 0;
    ASSERT_EQ(drmModeMapDumbBuffer(fd, fb[0].handle, &offset), 0);

    ASSERT_EQ(d.unbind(), 0);
    EXPECT_EQ(d.live_drm_devices(), 1);  // held by the open fd
    p.revents = 0;
    ASSERT_EQ(poll(&p, 1, 0), 1);
    EXPECT_EQ(p.revents, POLLIN);
    std::vector<FlipEvent> events;
    ASSERT_EQ(handle_events(fd, &events), 0);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].user_data, 55u);
    EXPECT_EQ(events[0].crtc_id, out.crtc_id);
    expect_all_enodev(fd, out, fb[0], offset);
    for (auto& b : fb) destroy_fb(fd, b);  // munmap works, RMFB/DESTROY_DUMB are ENODEV
    EXPECT_EQ(close(fd), 0);
    EXPECT_TRUE(wait_until([&] { return d.live_drm_devices() == 0; }))
        << "live DRM devices: " << d.live_drm_devices();  // freed at the last close
    errno = 0;
    EXPECT_LT(open_by_name(GetParam()), 0);  // no node any more
  });
}

UDRM_SHIM_INSTANTIATE_BOTH(ShimUnplug);

}  // namespace
}  // namespace udrm::shimtest
