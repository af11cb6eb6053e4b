// Example: an unmodified-style libdrm client against a udrm device in the same process.
//
// Copy this file to start a test of your own driver. The client half uses nothing but libdrm
// (xf86drm.h / xf86drmMode.h) and libc: udrm::libdrm_shim, linked into the test executable,
// makes /dev/dri/card0 and the sysfs files libdrm reads refer to the udrm devices of the
// process's World, and routes open/ioctl/read/mmap/close on those fds to them.
//
// In CMake:  target_link_libraries(my_test PRIVATE udrm::libdrm_shim PkgConfig::LIBDRM)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include <cerrno>
#include <cstring>
#include <future>

#include <drm_fourcc.h>

#include "udrm/base/asio_executor.h"
#include "udrm/base/time.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"

namespace {

// libdrm's drmHandleEvent calls this for each FLIP_COMPLETE event it read().
void on_flip(int, unsigned, unsigned, unsigned, unsigned, void* user_data) {
  *static_cast<bool*>(user_data) = true;
}

TEST(ExampleLibdrmClient, EnumerateModesetFlipUnbind) {
  // 1. A machine: an executor with real threads (libdrm blocks in poll() and read()), a World,
  //    and the `simple` reference display bound to its driver.
  udrm::AsioExecutor ex(4);
  std::promise<void> done;
  ex.post(
      [&] {
        struct Done {  // signals the test thread however this task ends (a failed ASSERT returns)
          std::promise<void>& p;
          ~Done() { p.set_value(); }
        } signal{done};
        udrm::World world(ex);
        udrm::drivers::DisplayOptions opts;
        opts.kind = udrm::drivers::Kind::simple;
        auto display = udrm::drivers::create_display(world, opts);
        ASSERT_EQ(display->bind(), 0);

        // 2. Enumerate, as Mesa or a compositor would: one platform device with a card node.
        drmDevicePtr devices[4];
        ASSERT_EQ(drmGetDevices2(0, devices, 4), 1);
        EXPECT_EQ(devices[0]->bustype, DRM_BUS_PLATFORM);
        std::string node = devices[0]->nodes[DRM_NODE_PRIMARY];  // "/dev/dri/card0"
        drmFreeDevices(devices, 1);

        // 3. Open it and find an output: a connected connector, a CRTC, its mode.
        int fd = open(node.c_str(), O_RDWR | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        drmModeRes* res = drmModeGetResources(fd);
        ASSERT_NE(res, nullptr);
        drmModeConnector* conn = drmModeGetConnector(fd, res->connectors[0]);
        ASSERT_NE(conn, nullptr);
        ASSERT_EQ(conn->connection, DRM_MODE_CONNECTED);
        drmModeModeInfo mode = conn->modes[0];
        uint32_t conn_id = conn->connector_id, crtc_id = res->crtcs[0];
        drmModeFreeConnector(conn);
        drmModeFreeResources(res);

        // 4. Two dumb buffers, mapped with plain mmap() on the fd and filled.
        uint32_t handle[2], pitch[2], fb[2];
        uint64_t size[2];
        for (int i = 0; i < 2; ++i) {
          ASSERT_EQ(drmModeCreateDumbBuffer(fd, mode.hdisplay, mode.vdisplay, 32, 0, &handle[i], &pitch[i], &size[i]), 0);
          uint64_t offset;
          ASSERT_EQ(drmModeMapDumbBuffer(fd, handle[i], &offset), 0);
          void* px = mmap(nullptr, size[i], PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(offset));
          ASSERT_NE(px, MAP_FAILED);
          std::memset(px, i ? 0x40 : 0x80, size[i]);
          munmap(px, size[i]);
          uint32_t handles[4] = {handle[i]}, pitches[4] = {pitch[i]}, offsets[4] = {0};
          ASSERT_EQ(drmModeAddFB2(fd, mode.hdisplay, mode.vdisplay, DRM_FORMAT_XRGB8888, handles, pitches, offsets, &fb[i], 0), 0);
        }

        // 5. Modeset (legacy API), then a page flip with an event, waited for with poll().
        ASSERT_EQ(drmModeSetCrtc(fd, crtc_id, fb[0], 0, 0, &conn_id, 1, &mode), 0);
        bool flipped = false;
        ASSERT_EQ(drmModePageFlip(fd, crtc_id, fb[1], DRM_MODE_PAGE_FLIP_EVENT, &flipped), 0);
        pollfd pfd{fd, POLLIN, 0};
        ASSERT_EQ(poll(&pfd, 1, 5000), 1);
        drmEventContext ctx{};
        ctx.version = 3;
        ctx.page_flip_handler2 = on_flip;
        ASSERT_EQ(drmHandleEvent(fd, &ctx), 0);
        EXPECT_TRUE(flipped);

        // 6. Unbind the driver (sysfs unbind / hot-unplug): the open fd turns inert.
        ASSERT_EQ(display->unbind(), 0);
        errno = 0;
        EXPECT_EQ(drmModeGetResources(fd), nullptr);
        EXPECT_EQ(errno, ENODEV);
        EXPECT_EQ(display->live_drm_devices(), 1);  // the fd still holds the DRM device

        // 7. Close: the last reference goes, the DRM device is freed.
        EXPECT_EQ(close(fd), 0);
        // A commit worker may drop the last reference a moment later: wait (bounded) for it.
        for (int i = 0; i < 10000 && display->live_drm_devices() != 0; ++i)
          udrm::sleep_for(std::chrono::milliseconds(1));
        EXPECT_EQ(display->live_drm_devices(), 0);
      },
      "example");
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  ex.shutdown();
}

}  // namespace
