// The fd semantics the interposer owns: dups refer to the same DRM file (released at the last
// close), O_NONBLOCK / FIONBIO / F_SETFL decide whether read() blocks, a mapping outlives the
// fd (and keeps the file, and so the device, alive), a wild read buffer is EFAULT.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shim_fixture.h"

namespace udrm::shimtest {
namespace {

struct ShimFd : ::testing::TestWithParam<Kind> {};

bool version_ok(int fd) {
  drmVersion* v = drmGetVersion(fd);
  drmFreeVersion(v);
  return v != nullptr;
}

TEST_P(ShimFd, DupsShareTheFileUntilTheLastClose) {
  run_one(GetParam(), [&](drivers::Display& d) {
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0);
    int d1 = dup(fd);
    ASSERT_GE(d1, 0);
    int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 40);
    ASSERT_GE(d2, 40);
    EXPECT_EQ(fcntl(d2, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    ASSERT_EQ(dup2(d1, p[0]), p[0]);  // p[0] now refers to the DRM file
    const int d3 = p[0];
    EXPECT_EQ(close(fd), 0);
    for (int x : {d1, d2, d3}) {
      EXPECT_TRUE(version_ok(x)) << x;
      struct stat st {};
      ASSERT_EQ(fstat(x, &st), 0);
      EXPECT_TRUE(S_ISCHR(st.st_mode));
      EXPECT_EQ(major(st.st_rdev), 226u);
    }
    EXPECT_EQ(close(d1), 0);
    EXPECT_EQ(close(d2), 0);
    // One fd still holds the file: the unbound device stays alive with it.
    ASSERT_EQ(d.unbind(), 0);
    EXPECT_TRUE(wait_until([&] { return d.live_drm_devices() == 1; }))
        << "live DRM devices: " << d.live_drm_devices();
    errno = 0;
    EXPECT_EQ(drmGetVersion(d3), nullptr);
    EXPECT_EQ(errno, ENODEV);
    EXPECT_EQ(close(d3), 0);  // the last close: release, final put
    EXPECT_TRUE(wait_until([&] { return d.live_drm_devices() == 0; }))
        << "live DRM devices: " << d.live_drm_devices();
    close(p[1]);
  });
}

TEST_P(ShimFd, NonblockingReadFollowsTheStatusFlag) {
  run_one(GetParam(), [&](drivers::Display&) {
    int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
    char buf[64];
    errno = 0;
    EXPECT_EQ(read(fd, buf, sizeof(buf)), -1);
    EXPECT_EQ(errno, EAGAIN);
    ASSERT_EQ(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
    EXPECT_FALSE(fcntl(fd, F_GETFL) & O_NONBLOCK);
    int on = 1;
    ASSERT_EQ(ioctl(fd, FIONBIO, &on), 0);
    EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
    errno = 0;
    EXPECT_EQ(read(fd, buf, sizeof(buf)), -1);
    EXPECT_EQ(errno, EAGAIN);

    // A flip event queued: a wild buffer is EFAULT, and the event stays queued (drm_read puts
    // it back): the next read with a good buffer gets it, whole.
    Output out;
    ASSERT_TRUE(find_output(fd, &out));
    Fb fb;
    ASSERT_TRUE(create_fb(fd, out.mode.hdisplay, out.mode.vdisplay, 3, &fb));
    ASSERT_EQ(atomic_modeset(fd, out, fb.fb_id), 0);
    ASSERT_EQ(atomic_flip(fd, out, fb.fb_id, 77), 0);
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1);
    void* volatile wild = reinterpret_cast<void*>(8);
    errno = 0;
    EXPECT_EQ(read(fd, wild, sizeof(buf)), -1);
    EXPECT_EQ(errno, EFAULT);
    ASSERT_EQ(poll(&p, 1, 0), 1) << "the event that faulted must stay readable";
    alignas(8) char ev[64];
    ASSERT_EQ(read(fd, ev, sizeof(ev)), static_cast<ssize_t>(sizeof(drm_event_vblank)));
    drm_event_vblank vb;
    std::memcpy(&vb, ev, sizeof(vb));
    EXPECT_EQ(vb.base.type, static_cast<uint32_t>(DRM_EVENT_FLIP_COMPLETE));
    EXPECT_EQ(vb.user_data, 77u);
    destroy_fb(fd, fb);
    EXPECT_EQ(close(fd), 0);
  });
}

TEST_P(ShimFd, MappingOutlivesTheFdAndHoldsTheDevice) {
  run_one(GetParam(), [&](drivers::Display& d) {
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0);
    uint32_t handle = 0, pitch = 0;
    uint64_t size = 0, offset = 0;
    ASSERT_EQ(drmModeCreateDumbBuffer(fd, 64, 64, 32, 0, &handle, &pitch, &size), 0);
    ASSERT_EQ(drmModeMapDumbBuffer(fd, handle, &offset), 0);
    auto* map = static_cast<uint8_t*>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset)));
    ASSERT_NE(map, MAP_FAILED);
    // A second mapping of the same buffer sees the same memory.
    auto* map2 = static_cast<uint8_t*>(mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(offset)));
    ASSERT_NE(map2, MAP_FAILED);
    map[100] = 0x5a;
    EXPECT_EQ(map2[100], 0x5a);
    EXPECT_EQ(munmap(map2, size), 0);
    EXPECT_EQ(close(fd), 0);
    map[101] = 0xa5;  // still mapped after close
    EXPECT_EQ(map[100], 0x5a);
    ASSERT_EQ(d.unbind(), 0);
    EXPECT_TRUE(wait_until([&] { return d.live_drm_devices() == 1; }))
        << "live DRM devices: " << d.live_drm_devices();  // the mapping holds the file, the file the device
    map[102] = 1;                         // and the memory stays valid after unplug
    EXPECT_EQ(munmap(map, size), 0);
    EXPECT_TRUE(wait_until([&] { return d.live_drm_devices() == 0; }))
        << "live DRM devices: " << d.live_drm_devices();
  });
}

UDRM_SHIM_INSTANTIATE_BOTH(ShimFd);

}  // namespace
}  // namespace udrm::shimtest
