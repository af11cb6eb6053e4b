// Hostile and broken clients of the udrm-run server: garbage, truncated and oversized
// datagrams, descriptors sent to the server, protocol misuse, a client that dies in the middle
// of an ioctl (before answering the server's PEEK) and one SIGKILLed there. Each gets errors;
// the server keeps serving a good client, and the dead clients' files are released.
#include <gtest/gtest.h>

#include <drm.h>
#include <drm_mode.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "remote_client.h"
#include "server.h"
#include "udrm/shim/backend.h"
#include "udrm/shim/protocol.h"

namespace udrm::run::test {
namespace {

namespace p = shim::proto;

template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.kind = drivers::Kind::soc;
    ASSERT_EQ(Server::create(o, &server_), 0);
    backend_ = shim::remote_backend(server_->socket_path());
    ASSERT_NE(backend_, nullptr);
    std::shared_ptr<shim::File> f;
    ASSERT_EQ(backend_->open("card0", O_RDWR, &f), 0);
    good_ = std::make_unique<RemoteClient>(f);
  }
  void TearDown() override {
    good_.reset();
    if (server_) server_->shutdown();
  }
  // The good client still works: a nested-pointer ioctl.
  void expect_good_client_works() {
    EXPECT_EQ(good_->driver_name(), "udrm-soc");
  }
  int raw() {
    int s = p::connect_to(server_->socket_path());
    EXPECT_GE(s, 0);
    return s;
  }
  // Receive one reply; returns its status, or a transport error.
  int reply_status(int s, uint16_t* op = nullptr) {
    p::Msg m;
    if (int r = p::recv_msg(s, &m)) return r;
    p::close_fd(m.fd);
    if (op) *op = m.h.op;
    return m.h.status;
  }
  bool files_back_to(int n) {
    return eventually([&] { return server_->files_summary().rfind("files count=" + std::to_string(n) + "\n", 0) == 0; });
  }

  std::unique_ptr<Server> server_;
  shim::Backend* backend_ = nullptr;
  std::unique_ptr<RemoteClient> good_;
};

TEST_F(HostileTest, GarbageTruncatedAndOversizedDatagramsGetErrors) {
  int s = raw();
  uint16_t op = 0;
  const char junk[] = "this is not a udrm message at all, just bytes";
  ASSERT_EQ(send(s, junk, sizeof(junk), 0), static_cast<ssize_t>(sizeof(junk)));
  EXPECT_EQ(reply_status(s, &op), -EBADMSG);
  EXPECT_EQ(op, p::kOpError);
  p::Header h;
  h.op = p::kOpIoctl;
  ASSERT_EQ(send(s, &h, 10, 0), 10);  // truncated header
  EXPECT_EQ(reply_status(s), -EBADMSG);
  h.len = 100;  // header claims more payload than sent
  ASSERT_EQ(send(s, &h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
  EXPECT_EQ(reply_status(s), -EBADMSG);
  std::vector<char> big(p::kMaxPayload + 4096, 'x');  // oversized datagram
  std::memcpy(big.data(), &h, sizeof(h));
  ASSERT_EQ(send(s, big.data(), big.size(), 0), static_cast<ssize_t>(big.size()));
  EXPECT_EQ(reply_status(s), -EBADMSG);
  h = p::Header{};
  h.op = 77;  // unknown op
  ASSERT_EQ(p::send_msg(s, h), 0);
  EXPECT_EQ(reply_status(s), -EBADMSG);
  h.op = p::kOpPeek;  // a server-to-client op
  ASSERT_EQ(p::send_msg(s, h), 0);
  EXPECT_EQ(reply_status(s), -EBADMSG);
  // File requests before OPEN.
  h.op = p::kOpIoctl;
  h.a0 = DRM_IOCTL_GET_CAP;
  drm_get_cap cap{};
  ASSERT_EQ(p::send_msg(s, h, &cap, sizeof(cap)), 0);
  EXPECT_EQ(reply_status(s), -EBADF);
  // Descriptors sent to the server are dropped (closed), the request still answered.
  h.op = p::kOpRead;
  ASSERT_EQ(p::send_msg(s, h, nullptr, 0, STDIN_FILENO), 0);
  EXPECT_EQ(reply_status(s), -EBADF);
  // An OPEN on this connection still works after all that.
  h = p::Header{};
  h.op = p::kOpOpen;
  ASSERT_EQ(p::send_msg(s, h, "card0", 5), 0);
  EXPECT_EQ(reply_status(s), 0);
  // An ioctl whose payload does not match _IOC_SIZE(cmd).
  h.op = p::kOpIoctl;
  h.a0 = DRM_IOCTL_GET_CAP;
  h.a1 = 0x10000;
  ASSERT_EQ(p::send_msg(s, h, &cap, 3), 0);
  EXPECT_EQ(reply_status(s), -EBADMSG);
  // A well-formed GET_CAP is served from the shipped copy (no PEEK needed).
  cap.capability = DRM_CAP_DUMB_BUFFER;
  ASSERT_EQ(p::send_msg(s, h, &cap, sizeof(cap)), 0);
  p::Msg m;
  ASSERT_EQ(p::recv_msg(s, &m), 0);
  EXPECT_EQ(m.h.status, 0);
  ASSERT_EQ(m.len(), sizeof(cap));
  std::memcpy(&cap, m.payload(), sizeof(cap));
  EXPECT_EQ(cap.value, 1u);
  EXPECT_NE(server_->files_summary().find("files count=2"), std::string::npos);
  close(s);
  EXPECT_TRUE(files_back_to(1));
  expect_good_client_works();
}

TEST_F(HostileTest, ClientDyingBeforeAnsweringPeekLeavesNothingBehind) {
  int s = raw();
  p::Header h;
  h.op = p::kOpOpen;
  ASSERT_EQ(p::send_msg(s, h, "card0", 5), 0);
  ASSERT_EQ(reply_status(s), 0);
  // SET_CLIENT_CAP, then a CREATEPROPBLOB whose data lives "elsewhere": the server PEEKs.
  drm_set_client_cap cc{DRM_CLIENT_CAP_ATOMIC, 1};
  h.op = p::kOpIoctl;
  h.a0 = DRM_IOCTL_SET_CLIENT_CAP;
  h.a1 = 0x10000;
  ASSERT_EQ(p::send_msg(s, h, &cc, sizeof(cc)), 0);
  ASSERT_EQ(reply_status(s), 0);
  // (not ATOMIC: it is master-only, refused before any copy; this client is no master)
  drm_mode_create_blob a{};
  a.data = 0x20000;
  a.length = 68;
  h.a0 = DRM_IOCTL_MODE_CREATEPROPBLOB;
  ASSERT_EQ(p::send_msg(s, h, &a, sizeof(a)), 0);
  p::Msg m;
  ASSERT_EQ(p::recv_msg(s, &m), 0);
  EXPECT_EQ(m.h.op, p::kOpPeek);
  EXPECT_EQ(m.h.a0, 0x20000u);
  // ... and the client vanishes mid-ioctl.
  close(s);
  EXPECT_TRUE(files_back_to(1));
  expect_good_client_works();
}

TEST_F(HostileTest, ClientAnsweringPeekWithGarbageGetsEfault) {
  int s = raw();
  p::Header h;
  h.op = p::kOpOpen;
  ASSERT_EQ(p::send_msg(s, h, "card0", 5), 0);
  ASSERT_EQ(reply_status(s), 0);
  drm_mode_create_blob c{};  // CREATEPROPBLOB reads `data` from the client: a PEEK
  c.data = 0x40000;
  c.length = 68;
  h.op = p::kOpIoctl;
  h.a0 = DRM_IOCTL_MODE_CREATEPROPBLOB;
  h.a1 = 0x10000;
  ASSERT_EQ(p::send_msg(s, h, &c, sizeof(c)), 0);
  // Whatever the server asks, answer with garbage; it must end with an error reply.
  for (int i = 0; i < 8; ++i) {
    p::Msg m;
    ASSERT_EQ(p::recv_msg(s, &m), 0);
    if (m.h.op == p::kOpIoctl) {
      EXPECT_EQ(m.h.status, -EFAULT);
      EXPECT_GT(i, 0);  // at least one PEEK was answered with garbage
      break;
    }
    ASSERT_EQ(m.h.op, p::kOpPeek);
    const char junk[] = "garbage";
    ASSERT_EQ(send(s, junk, sizeof(junk), 0), static_cast<ssize_t>(sizeof(junk)));
  }
  close(s);
  EXPECT_TRUE(files_back_to(1));
  expect_good_client_works();
}

TEST_F(HostileTest, ProcessKilledMidIoctlIsCleanedUp) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child speaks the protocol itself, stops in the middle of a CREATEPROPBLOB (a PEEK
    // outstanding) and waits to be killed.
    int s = p::connect_to(server_->socket_path());
    p::Header h;
    h.op = p::kOpOpen;
    p::Msg m;
    if (s < 0 || p::send_msg(s, h, "card0", 5) || p::recv_msg(s, &m)) _exit(1);
    drm_set_client_cap cc{DRM_CLIENT_CAP_ATOMIC, 1};
    h.op = p::kOpIoctl;
    h.a0 = DRM_IOCTL_SET_CLIENT_CAP;
    h.a1 = 0x10000;
    if (p::send_msg(s, h, &cc, sizeof(cc)) || p::recv_msg(s, &m)) _exit(1);
    drm_mode_create_blob a{};
    a.data = 0x20000;
    a.length = 68;
    h.a0 = DRM_IOCTL_MODE_CREATEPROPBLOB;
    if (p::send_msg(s, h, &a, sizeof(a)) || p::recv_msg(s, &m) || m.h.op != p::kOpPeek) _exit(1);
    char c = 'x';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    for (;;) pause();
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  EXPECT_NE(server_->files_summary().find("file pid=" + std::to_string(pid) + " count=1"), std::string::npos)
      << server_->files_summary();
  kill(pid, SIGKILL);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(files_back_to(1));
  expect_good_client_works();
}

TEST_F(HostileTest, ConnectionFloodIsBoundedAndRecovers) {
  std::vector<int> socks;
  for (int i = 0; i < 300; ++i) {
    int s = p::connect_to(server_->socket_path());
    if (s >= 0) socks.push_back(s);
  }
  EXPECT_TRUE(eventually([&] { return server_->connection_count() <= 256; }));
  for (int s : socks) close(s);
  EXPECT_TRUE(eventually([&] { return server_->connection_count() == 1; }));
  expect_good_client_works();
}

}  // namespace
}  // namespace udrm::run::test
