// The udrm-run server driven through the remote backend (shim/src/backend_remote.cpp) in this
// process: nodes, open, ioctls with nested pointers (PEEK/POKE), mmap, events, unbind with a
// file open, several clients, and assertions on what the device scanned out.
#include <gtest/gtest.h>

#include <drm.h>
#include <drm_mode.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "remote_client.h"
#include "server.h"
#include "udrm/shim/backend.h"

namespace udrm::run::test {
namespace {

// Wait (bounded: a hang becomes a failure) until pred() holds.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

std::string ctl(Server& s, const std::string& cmd) {
  std::string out;
  int r = s.control(cmd, &out);
  EXPECT_EQ(r, 0) << cmd << ": " << out;
  return out;
}

class RemoteTest : public ::testing::TestWithParam<drivers::Kind> {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.kind = GetParam();
    ASSERT_EQ(Server::create(o, &server_), 0);
    backend_ = shim::remote_backend(server_->socket_path());
    ASSERT_NE(backend_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->shutdown();
  }
  std::unique_ptr<RemoteClient> open_card() {
    std::shared_ptr<shim::File> f;
    EXPECT_EQ(backend_->open("card0", O_RDWR | O_CLOEXEC, &f), 0);
    return f ? std::make_unique<RemoteClient>(f) : nullptr;
  }
  const char* drm_name() const { return GetParam() == drivers::Kind::simple ? "udrm-simple" : "udrm-soc"; }

  std::unique_ptr<Server> server_;
  shim::Backend* backend_ = nullptr;
};

TEST_P(RemoteTest, NodesListTheRegisteredMinors) {
  auto nodes = backend_->nodes();
  ASSERT_FALSE(nodes.empty());
  EXPECT_EQ(nodes[0].name, "card0");
  EXPECT_EQ(nodes[0].minor, 0);
  EXPECT_EQ(nodes[0].driver, drm_name());
  EXPECT_FALSE(nodes[0].devname.empty());
  bool render = false;
  for (auto& n : nodes) render |= n.name == "renderD128" && n.minor == 128;
  EXPECT_EQ(render, GetParam() == drivers::Kind::simple);  // only udrm-simple has DRIVER_RENDER
  std::shared_ptr<shim::File> f;
  EXPECT_EQ(backend_->open("card7", O_RDWR, &f), -ENOENT);
  EXPECT_EQ(backend_->open("../card0", O_RDWR, &f), -ENOENT);
}

TEST_P(RemoteTest, VersionAndCapsThroughNestedPointers) {
  auto c = open_card();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->driver_name(), drm_name());
  drm_get_cap cap{DRM_CAP_DUMB_BUFFER, 0};
  ASSERT_EQ(c->ioctl(DRM_IOCTL_GET_CAP, &cap), 0);
  EXPECT_EQ(cap.value, 1u);
  // GET_UNIQUE must be empty (libdrm's drmOpen skips the node otherwise).
  drm_unique u{};
  ASSERT_EQ(c->ioctl(DRM_IOCTL_GET_UNIQUE, &u), 0);
  EXPECT_EQ(u.unique_len, 0u);
}

TEST_P(RemoteTest, BadPointersAreEfaultNotCrashes) {
  auto c = open_card();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->ioctl(DRM_IOCTL_GET_CAP, reinterpret_cast<void*>(0x10)), -EFAULT);
  void* none = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(none, MAP_FAILED);
  EXPECT_EQ(c->ioctl(DRM_IOCTL_GET_CAP, none), -EFAULT);
  drm_mode_card_res res{};
  ASSERT_EQ(c->ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res), 0);
  ASSERT_GT(res.count_crtcs, 0u);
  res.crtc_id_ptr = reinterpret_cast<uintptr_t>(none);  // POKE into unwritable memory
  EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res), -EFAULT);
  drm_mode_atomic a{};
  ASSERT_EQ(c->enable_atomic(), 0);
  a.count_objs = 1;
  a.objs_ptr = reinterpret_cast<uintptr_t>(none);  // PEEK of unreadable memory
  a.count_props_ptr = reinterpret_cast<uintptr_t>(none);
  EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_ATOMIC, &a), -EFAULT);
  munmap(none, 4096);
  // The file still works.
  drm_get_cap cap{DRM_CAP_DUMB_BUFFER, 0};
  EXPECT_EQ(c->ioctl(DRM_IOCTL_GET_CAP, &cap), 0);
}

TEST_P(RemoteTest, ModesetFlipAndScanoutCrcMatchesThePattern) {
  auto c = open_card();
  ASSERT_TRUE(c);
  ASSERT_EQ(c->enable_atomic(), 0);
  Output o;
  ASSERT_EQ(c->find_output(&o), 0);
  Buffer b[2];
  for (int i = 0; i < 2; ++i) ASSERT_EQ(c->create_buffer(o.mode.hdisplay, o.mode.vdisplay, 7 + i, &b[i]), 0);
  ASSERT_EQ(c->atomic_modeset(o, b[0].fb), 0);
  std::string st = ctl(*server_, "state");
  char want[64];
  snprintf(want, sizeof(want), "crc_hw=0x%08x crc_sw=0x%08x crc_match=1", pattern_crc(b[0]), pattern_crc(b[0]));
  EXPECT_NE(st.find(want), std::string::npos) << st;
  EXPECT_NE(st.find("files count=1"), std::string::npos) << st;
  char mode[32];
  snprintf(mode, sizeof(mode), "mode=%ux%u@", o.mode.hdisplay, o.mode.vdisplay);
  EXPECT_NE(st.find("crtc id=" + std::to_string(o.crtc_id) + " index=0 enabled=1 active=1 " + mode), std::string::npos)
      << st;

  // A nonblocking flip with an event: the event fd polls readable, the event reads whole.
  ASSERT_EQ(c->atomic_flip(o, b[1].fb, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 42), 0);
  pollfd pfd{c->file().fd(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 5000), 1);
  drm_event_vblank ev{};
  ASSERT_EQ(c->read_event(&ev), DRM_EVENT_FLIP_COMPLETE);
  EXPECT_EQ(ev.user_data, 42u);
  alignas(8) char buf[64];
  EXPECT_EQ(c->file().read(buf, sizeof(buf), true), -EAGAIN);
  st = ctl(*server_, "state");
  snprintf(want, sizeof(want), "crc_hw=0x%08x", pattern_crc(b[1]));
  EXPECT_NE(st.find(want), std::string::npos) << st;
  EXPECT_NE(st.find("crc_match=1"), std::string::npos) << st;

  for (auto& x : b) c->destroy_buffer(&x);
  EXPECT_EQ(c->file().mappings(), 0u);
  c->close();
  EXPECT_TRUE(eventually([&] { return server_->files_summary().find("files count=0") == 0; }));
}

// drm_read puts an event back when the copy faults: through udrm-run too, a read into a bad
// buffer (wild, or cut short by an unmapped page) is EFAULT and the event stays queued.
TEST_P(RemoteTest, ReadIntoABadBufferKeepsTheEvent) {
  auto c = open_card();
  ASSERT_TRUE(c);
  ASSERT_EQ(c->enable_atomic(), 0);
  Output o;
  ASSERT_EQ(c->find_output(&o), 0);
  Buffer b;
  ASSERT_EQ(c->create_buffer(o.mode.hdisplay, o.mode.vdisplay, 3, &b), 0);
  ASSERT_EQ(c->atomic_modeset(o, b.fb), 0);
  ASSERT_EQ(c->atomic_flip(o, b.fb, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 77), 0);
  pollfd pfd{c->file().fd(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 5000), 1);
  EXPECT_EQ(c->file().read(reinterpret_cast<void*>(0x10), 64, true), -EFAULT);
  // 16 writable bytes, then an unmapped page: the 32-byte event cannot be copied.
  const long page = sysconf(_SC_PAGESIZE);
  auto* two = static_cast<char*>(mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(two, MAP_FAILED);
  ASSERT_EQ(munmap(two + page, page), 0);
  EXPECT_EQ(c->file().read(two + page - 16, 64, true), -EFAULT);
  munmap(two, page);
  ASSERT_EQ(poll(&pfd, 1, 0), 1) << "the event must still be queued";
  drm_event_vblank ev{};
  ASSERT_EQ(c->read_event(&ev), DRM_EVENT_FLIP_COMPLETE);
  EXPECT_EQ(ev.user_data, 77u);
  c->destroy_buffer(&b);
  c->close();
}

TEST_P(RemoteTest, TwoClientsShareTheDevice) {
  auto a = open_card();
  auto b = open_card();
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->enable_atomic(), 0);
  Output o;
  ASSERT_EQ(a->find_output(&o), 0);
  Buffer buf;
  ASSERT_EQ(a->create_buffer(o.mode.hdisplay, o.mode.vdisplay, 3, &buf), 0);
  ASSERT_EQ(a->atomic_modeset(o, buf.fb), 0);
  drm_mode_crtc crtc{};
  crtc.crtc_id = o.crtc_id;
  ASSERT_EQ(b->ioctl(DRM_IOCTL_MODE_GETCRTC, &crtc), 0);
  EXPECT_EQ(crtc.mode_valid, 1u);
  EXPECT_EQ(crtc.fb_id, buf.fb);
  EXPECT_EQ(crtc.mode.hdisplay, o.mode.hdisplay);
  EXPECT_NE(ctl(*server_, "state").find("files count=2"), std::string::npos);
  a->destroy_buffer(&buf);
}

TEST_P(RemoteTest, UnbindWithFileOpenGivesEnodevKeepsEventsAndFreesAtLastClose) {
  auto c = open_card();
  ASSERT_TRUE(c);
  ASSERT_EQ(c->enable_atomic(), 0);
  Output o;
  ASSERT_EQ(c->find_output(&o), 0);
  Buffer b[2];
  for (int i = 0; i < 2; ++i) ASSERT_EQ(c->create_buffer(o.mode.hdisplay, o.mode.vdisplay, i, &b[i]), 0);
  ASSERT_EQ(c->atomic_modeset(o, b[0].fb), 0);
  ASSERT_EQ(c->atomic_flip(o, b[1].fb, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, 9), 0);
  pollfd pfd{c->file().fd(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 5000), 1);  // the event is queued, unread

  std::string out;
  ASSERT_EQ(server_->control("unbind " + server_->display().device_names()[0], &out), 0) << out;
  EXPECT_EQ(server_->display().drm(), nullptr);
  drm_get_cap cap{DRM_CAP_DUMB_BUFFER, 0};
  EXPECT_EQ(c->ioctl(DRM_IOCTL_GET_CAP, &cap), -ENODEV);
  drm_mode_map_dumb m{};
  m.handle = b[0].handle;
  EXPECT_EQ(c->ioctl(DRM_IOCTL_MODE_MAP_DUMB, &m), -ENODEV);
  drm_event_vblank ev{};
  EXPECT_EQ(c->read_event(&ev), DRM_EVENT_FLIP_COMPLETE);  // queued before the unplug
  EXPECT_EQ(ev.user_data, 9u);
  alignas(8) char buf[64];
  EXPECT_EQ(c->file().read(buf, sizeof(buf), true), -EAGAIN);
  b[0].map[0] = 1;  // mappings stay valid
  EXPECT_EQ(backend_->nodes().size(), 0u);
  std::shared_ptr<shim::File> f;
  EXPECT_EQ(backend_->open("card0", O_RDWR, &f), -ENOENT);

  // The old device is alive (held by the file) until the last close and the last munmap.
  EXPECT_EQ(server_->display().live_drm_devices(), 1);
  c->close();
  EXPECT_EQ(server_->display().live_drm_devices(), 1);  // mappings hold the file
  for (auto& x : b) c->file().munmap(x.map, x.size);
  EXPECT_TRUE(eventually([&] { return server_->display().live_drm_devices() == 0; }));

  // Rebind: a fresh device on card0 again, which works.
  ASSERT_EQ(server_->control("bind " + server_->display().device_names()[0], &out), 0) << out;
  auto d = open_card();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->driver_name(), drm_name());
}

INSTANTIATE_TEST_SUITE_P(Drivers, RemoteTest, ::testing::Values(drivers::Kind::simple, drivers::Kind::soc),
                         [](const auto& info) { return info.param == drivers::Kind::simple ? "simple" : "soc"; });

}  // namespace
}  // namespace udrm::run::test
