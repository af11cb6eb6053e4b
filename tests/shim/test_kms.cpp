// KMS through real libdrm and the shim: resource queries, legacy and atomic modesets, dumb
// buffers mapped with the real mmap() of the fd, nonblocking flips whose events arrive through
// poll() + drmHandleEvent (real read()), and the fake hardware's scanout CRC. Plus the fd
// semantics the interposer owns: dup, O_NONBLOCK, mappings outliving close, bad requests.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shim_fixture.h"

namespace udrm::shimtest {
namespace {

struct ShimKms : ::testing::TestWithParam<Kind> {};

TEST_P(ShimKms, ResourcesConnectorsCrtcsPlanesProperties) {
  run_one(GetParam(), [&](drivers::Display&) {
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0);
    drmModeRes* res = drmModeGetResources(fd);
    ASSERT_NE(res, nullptr) << std::strerror(errno);
    EXPECT_GT(res->count_crtcs, 0);
    EXPECT_GT(res->count_connectors, 0);
    EXPECT_GT(res->count_encoders, 0);
    int connected = 0;
    for (int i = 0; i < res->count_connectors; ++i) {
      drmModeConnector* c = drmModeGetConnector(fd, res->connectors[i]);
      ASSERT_NE(c, nullptr);
      EXPECT_EQ(c->connector_id, res->connectors[i]);
      if (c->connection == DRM_MODE_CONNECTED) {
        ++connected;
        EXPECT_GT(c->count_modes, 0);
        EXPECT_GT(c->count_props, 0);
      }
      drmModeFreeConnector(c);
    }
    EXPECT_GT(connected, 0);
    for (int i = 0; i < res->count_encoders; ++i) {
      drmModeEncoder* e = drmModeGetEncoder(fd, res->encoders[i]);
      ASSERT_NE(e, nullptr);
      EXPECT_NE(e->possible_crtcs, 0u);
      drmModeFreeEncoder(e);
    }
    for (int i = 0; i < res->count_crtcs; ++i) {
      drmModeCrtc* c = drmModeGetCrtc(fd, res->crtcs[i]);
      ASSERT_NE(c, nullptr);
      EXPECT_EQ(c->crtc_id, res->crtcs[i]);
      drmModeFreeCrtc(c);
    }
    // Planes (and their "type") need UNIVERSAL_PLANES; ACTIVE/MODE_ID need ATOMIC.
    ASSERT_EQ(drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1), 0);
    drmModePlaneRes* pr = drmModeGetPlaneResources(fd);
    ASSERT_NE(pr, nullptr);
    EXPECT_GE(pr->count_planes, static_cast<uint32_t>(res->count_crtcs));
    for (uint32_t i = 0; i < pr->count_planes; ++i) {
      drmModePlane* p = drmModeGetPlane(fd, pr->planes[i]);
      ASSERT_NE(p, nullptr);
      EXPECT_GT(p->count_formats, 0u);
      EXPECT_NE(prop_id(fd, p->plane_id, DRM_MODE_OBJECT_PLANE, "type"), 0u);
      EXPECT_NE(prop_id(fd, p->plane_id, DRM_MODE_OBJECT_PLANE, "FB_ID"), 0u);
      drmModeFreePlane(p);
    }
    drmModeFreePlaneResources(pr);
    EXPECT_NE(prop_id(fd, res->crtcs[0], DRM_MODE_OBJECT_CRTC, "ACTIVE"), 0u);
    EXPECT_NE(prop_id(fd, res->crtcs[0], DRM_MODE_OBJECT_CRTC, "MODE_ID"), 0u);
    drmModeFreeResources(res);
    EXPECT_EQ(close(fd), 0);
  });
}

TEST_P(ShimKms, LegacySetCrtcScansOutThePattern) {
  run_one(GetParam(), [&](drivers::Display& d) {
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0);
    Output out;
    ASSERT_TRUE(find_output(fd, &out));
    Fb fb;
    ASSERT_TRUE(create_fb(fd, out.mode.hdisplay, out.mode.vdisplay, 7, &fb));
    uint32_t conn = out.conn_id;
    drmModeModeInfo mode = out.mode;
    ASSERT_EQ(drmModeSetCrtc(fd, out.crtc_id, fb.fb_id, 0, 0, &conn, 1, &mode), 0) << std::strerror(errno);
    drmModeCrtc* crtc = drmModeGetCrtc(fd, out.crtc_id);
    ASSERT_NE(crtc, nullptr);
    EXPECT_EQ(crtc->buffer_id, fb.fb_id);
    EXPECT_TRUE(crtc->mode_valid);
    drmModeFreeCrtc(crtc);
    EXPECT_TRUE(scanout_shows(d, out.crtc_id, fb));
    destroy_fb(fd, fb);
    EXPECT_EQ(close(fd), 0);
  });
}

TEST_P(ShimKms, AtomicModesetAndFlipsWithEvents) {
  run_one(GetParam(), [&](drivers::Display& d) {
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0);
    Output out;
    ASSERT_TRUE(find_output(fd, &out));
    Fb fb[2];
    for (uint32_t i = 0; i < 2; ++i) ASSERT_TRUE(create_fb(fd, out.mode.hdisplay, out.mode.vdisplay, 20 + i, &fb[i]));
    ASSERT_EQ(atomic_modeset(fd, out, fb[0].fb_id), 0);
    EXPECT_TRUE(scanout_shows(d, out.crtc_id, fb[0]));
    std::vector<FlipEvent> events;
    for (uint64_t i = 1; i <= 5; ++i) {
      ASSERT_EQ(atomic_flip(fd, out, fb[i & 1].fb_id, 1000 + i), 0) << "flip " << i;
      ASSERT_TRUE(wait_flip_events(fd, &events));
      ASSERT_EQ(events.size(), i);
      EXPECT_EQ(events.back().user_data, 1000 + i);
      EXPECT_EQ(events.back().crtc_id, out.crtc_id);
    }
    for (std::size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i].sequence, events[i - 1].sequence);
    EXPECT_TRUE(scanout_shows(d, out.crtc_id, fb[1]));  // the 5th flip showed fb[1]
    // Nothing left to read: poll says so.
    pollfd p{fd, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 0), 0);
    for (auto& b : fb) destroy_fb(fd, b);
    EXPECT_EQ(close(fd), 0);
  });
}

// Modesets without ALLOW_MODESET are refused, as the kernel's.
TEST_P(ShimKms, ModesetWithoutAllowModesetIsEinval) {
  run_one(GetParam(), [&](drivers::Display&) {
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0);
    Output out;
    ASSERT_TRUE(find_output(fd, &out));
    drmModeAtomicReq* req = drmModeAtomicAlloc();
    drmModeAtomicAddProperty(req, out.crtc_id, prop_id(fd, out.crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE"), 1);
    EXPECT_EQ(drmModeAtomicCommit(fd, req, 0, nullptr), -EINVAL);  // libdrm returns -errno
    drmModeAtomicFree(req);
    EXPECT_EQ(close(fd), 0);
  });
}

TEST_P(ShimKms, BadRequestsGetKernelErrnos) {
  run_one(GetParam(), [&](drivers::Display&) {
    int fd = open_by_name(GetParam());
    ASSERT_GE(fd, 0);
    errno = 0;  // a wild argument pointer
    EXPECT_EQ(ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, reinterpret_cast<void*>(16)), -1);
    EXPECT_EQ(errno, EFAULT);
    drm_mode_card_res res{};
    res.count_crtcs = 4;  // a wild nested pointer
    res.crtc_id_ptr = 8;
    errno = 0;
    EXPECT_EQ(drmIoctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res), -1);
    EXPECT_EQ(errno, EFAULT);
    errno = 0;  // an unknown DRM number
    EXPECT_EQ(ioctl(fd, DRM_IO(0x9f), nullptr), -1);
    EXPECT_EQ(errno, EINVAL);
    errno = 0;  // not a DRM request at all
    int avail = 0;
    EXPECT_EQ(ioctl(fd, TCGETS, &avail), -1);
    EXPECT_EQ(errno, ENOTTY);
    errno = 0;  // an offset that is no buffer
    EXPECT_EQ(mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 4096 * 1000), MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_EQ(close(fd), 0);
  });
}

UDRM_SHIM_INSTANTIATE_BOTH(ShimKms);

}  // namespace
}  // namespace udrm::shimtest
