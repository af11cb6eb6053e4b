// More hostile clients of the udrm-run server (issue 8; test_hostile.cpp has the malformed
// datagrams, PEEK misuse and a kill during a PEEK): thousands of files opened (the ones over the
// server's limit are refused with an errno, the others and the good client keep working, and
// repeated rounds leave the server's memory bounded), a client that never reads its events
// (its event budget runs out: -ENOMEM, as drm_event_reserve_init_locked answers), a flood of
// nonblocking commits (-EBUSY while one is pending, the server stays responsive, every accepted
// commit's event arrives), wild pointers (-EFAULT) and a process SIGKILLed in a blocking
// WAIT_VBLANK (its file is released, the other clients are not held up).
#include <gtest/gtest.h>

#include <drm.h>
#include <drm_mode.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "remote_client.h"
#include "server.h"
#include "udrm/drm/file.h"
#include "udrm/shim/backend.h"

namespace udrm::run::test {
namespace {

using Clock = std::chrono::steady_clock;

template <class Pred>
bool eventually(Pred pred, int tries = 1000) {
  for (int i = 0; i < tries; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

/// VmRSS of this process (the server runs in it) in KiB, 0 if unknown.
long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

int wait_vblank(shim::File& f, uint32_t type, uint32_t seq, uint64_t signal) {
  drm_wait_vblank w{};
  w.request.type = static_cast<drm_vblank_seq_type>(type);  // CRTC 0
  w.request.sequence = seq;
  w.request.signal = signal;
  return f.ioctl(DRM_IOCTL_WAIT_VBLANK, &w);
}

class HostileMoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.kind = drivers::Kind::soc;
    ASSERT_EQ(Server::create(o, &server_), 0);
    backend_ = shim::remote_backend(server_->socket_path());
    ASSERT_NE(backend_, nullptr);
    std::shared_ptr<shim::File> f;
    ASSERT_EQ(backend_->open("card0", O_RDWR, &f), 0);
    good_ = std::make_unique<RemoteClient>(f);  // the first opener: DRM master
  }
  void TearDown() override {
    for (auto& b : bufs_) good_->destroy_buffer(&b);
    good_.reset();
    if (server_) server_->shutdown();
  }
  // The good client lights the output (atomic modeset) with two framebuffers to flip.
  void light_up() {
    ASSERT_EQ(good_->enable_atomic(), 0);
    ASSERT_EQ(good_->find_output(&out_), 0);
    bufs_.resize(2);
    for (uint32_t i = 0; i < 2; ++i)
      ASSERT_EQ(good_->create_buffer(out_.mode.hdisplay, out_.mode.vdisplay, 70 + i, &bufs_[i]), 0);
    ASSERT_EQ(good_->atomic_modeset(out_, bufs_[0].fb), 0);
  }
  // The good client flips with an event and reads it.
  void expect_good_flip(uint64_t ud) {
    ASSERT_EQ(good_->atomic_flip(out_, bufs_[ud & 1].fb, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT, ud), 0);
    drm_event_vblank ev{};
    EXPECT_EQ(good_->read_event(&ev), DRM_EVENT_FLIP_COMPLETE);
    EXPECT_EQ(ev.user_data, ud);
  }
  bool files_back_to(int n) {
    const std::string want = "files count=" + std::to_string(n) + "\n";
    return eventually([&] { return server_->files_summary().rfind(want, 0) == 0; });
  }

  std::unique_ptr<Server> server_;
  shim::Backend* backend_ = nullptr;
  std::unique_ptr<RemoteClient> good_;
  Output out_;
  std::vector<Buffer> bufs_;
};

// A process opening card0 thousands of times: the server serves at most max_connections (256)
// files; every open over that is refused with an errno (never a hang or a crash), the good
// client keeps working, closing them releases every file, and rounds of it leave the server's
// memory bounded.
TEST_F(HostileMoreTest, ThousandsOfOpenFilesAreRefusedOverTheLimitAndMemoryStaysBounded) {
  constexpr int kOpens = 2000, kRounds = 4;
  long rss_after_first = 0;
  std::map<int, int> errnos;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::shared_ptr<shim::File>> files;
    int refused = 0;
    for (int i = 0; i < kOpens; ++i) {
      std::shared_ptr<shim::File> f;
      const int r = backend_->open("card0", O_RDWR, &f);
      if (r == 0) {
        files.push_back(std::move(f));
      } else {
        ++refused;
        ++errnos[r];
        // udrm-run answers an open over its connection limit with EMFILE (the kernel's answer
        // to a process over RLIMIT_NOFILE) and closes the connection.
        EXPECT_EQ(r, -EMFILE) << "open " << i;
      }
    }
    EXPECT_GE(files.size(), 200u) << "round " << round;
    EXPECT_LE(files.size(), 255u) << "round " << round;  // 256 connections, one is the good client's
    EXPECT_EQ(refused + static_cast<int>(files.size()), kOpens);
    EXPECT_EQ(good_->driver_name(), "udrm-soc") << "round " << round;
    drm_version v{};
    EXPECT_EQ(files.back()->ioctl(DRM_IOCTL_VERSION, &v), 0);  // the newest one works too
    for (auto& f : files) {
      f->close();
      ::close(f->fd());
    }
    files.clear();
    EXPECT_TRUE(files_back_to(1)) << server_->files_summary();
    EXPECT_TRUE(eventually([&] { return server_->connection_count() == 1; }));
    if (round == 0) rss_after_first = rss_kib();
  }
  const long rss_end = rss_kib();
  ASSERT_GT(rss_after_first, 0);
  std::string seen;
  for (auto& [e, n] : errnos) seen += std::to_string(e) + "x" + std::to_string(n) + " ";
  RecordProperty("refused_errnos", seen);
  RecordProperty("rss_kib_after_round_1", std::to_string(rss_after_first));
  RecordProperty("rss_kib_after_last_round", std::to_string(rss_end));
  std::printf("hostile: %d opens x %d rounds, refused with %s; RSS %ld KiB after round 1, %ld KiB after round %d\n",
              kOpens, kRounds, seen.c_str(), rss_after_first, rss_end, kRounds);
#if defined(UDRM_ASAN) || defined(UDRM_TSAN)
  // The sanitizer runtimes keep freed memory (ASan's quarantine, up to 256 MiB) and shadow:
  // the server's RSS says nothing about its own growth there (clang ASan: +44 MiB over the
  // rounds). The plain build holds the bound; LSan checks the server's leaks at its exit.
  std::printf("hostile: RSS bound not checked under a sanitizer\n");
#else
  EXPECT_LT(rss_end - rss_after_first, 32 * 1024) << "the server's memory grew with rounds of opens";
#endif
}

// A client that asks for vblank events and never reads them: its 4096-byte budget runs out
// after 128 events and the next request is -ENOMEM (drm_event_reserve_init_locked); the good
// client's events are unaffected; one read returns budget, and the requests work again.
TEST_F(HostileMoreTest, NeverReadingEventsExhaustsTheBudgetWithEnomem) {
  light_up();
  std::shared_ptr<shim::File> lazy;
  ASSERT_EQ(backend_->open("card0", O_RDWR, &lazy), 0);
  int queued = 0, r = 0;
  while (queued < 1000 && (r = wait_vblank(*lazy, _DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT, 1, 1000 + queued)) == 0)
    ++queued;
  EXPECT_EQ(r, -ENOMEM);
  EXPECT_EQ(queued, DrmFile::kEventSpace / static_cast<int>(sizeof(drm_event_vblank)));
  EXPECT_EQ(wait_vblank(*lazy, _DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT, 1, 1), -ENOMEM);  // still
  expect_good_flip(1);
  // One read (blocking: the first events arrive a frame later) returns the budget of what it read.
  alignas(8) char buf[sizeof(drm_event_vblank)];
  ASSERT_EQ(lazy->read(buf, sizeof(buf), false), static_cast<long>(sizeof(buf)));
  EXPECT_EQ(wait_vblank(*lazy, _DRM_VBLANK_RELATIVE | _DRM_VBLANK_EVENT, 1, 9), 0);
  lazy->close();
  ::close(lazy->fd());
  EXPECT_TRUE(files_back_to(1));
  expect_good_flip(2);
}

// The master floods nonblocking flips with events without waiting: each one while the previous
// is pending is -EBUSY (drm_atomic_helper_setup_commit), nothing else; another client is
// served meanwhile; every accepted flip's event arrives, in order.
TEST_F(HostileMoreTest, CommitFloodGetsEbusyAndTheServerStaysResponsive) {
  light_up();
  std::shared_ptr<shim::File> other;
  ASSERT_EQ(backend_->open("card0", O_RDWR, &other), 0);
  RemoteClient bystander(other);
  std::atomic<bool> flooding{true};
  std::atomic<int> bystander_ok{0}, bystander_bad{0};
  std::thread t([&] {
    while (flooding.load()) {
      if (bystander.driver_name() == "udrm-soc") {
        ++bystander_ok;
      } else {
        ++bystander_bad;
      }
    }
  });
  constexpr int kFlood = 2000;
  int accepted = 0, busy = 0;
  std::vector<uint64_t> want;
  const auto t0 = Clock::now();
  for (int i = 1; i <= kFlood; ++i) {
    const int r = good_->atomic_flip(out_, bufs_[i & 1].fb, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT,
                                     static_cast<uint64_t>(i));
    if (r == 0) {
      ++accepted;
      want.push_back(static_cast<uint64_t>(i));
    } else if (r == -EBUSY) {
      ++busy;
    } else {
      ADD_FAILURE() << "flip " << i << ": " << r;
      break;
    }
    // Read what has arrived without waiting (the budget would run out otherwise).
    alignas(8) char buf[4096];
    long n;
    while ((n = good_->file().read(buf, sizeof(buf), true)) > 0) {
      for (long off = 0; off + static_cast<long>(sizeof(drm_event_vblank)) <= n; off += sizeof(drm_event_vblank)) {
        drm_event_vblank ev;
        std::memcpy(&ev, buf + off, sizeof(ev));
        if (want.empty()) {
          ADD_FAILURE() << "an event for no accepted flip: " << ev.user_data;
          break;
        }
        EXPECT_EQ(ev.user_data, want.front());
        want.erase(want.begin());
      }
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  flooding.store(false);
  t.join();
  while (!want.empty()) {  // the last accepted flips complete
    drm_event_vblank ev{};
    ASSERT_EQ(good_->read_event(&ev), DRM_EVENT_FLIP_COMPLETE);
    EXPECT_EQ(ev.user_data, want.front());
    want.erase(want.begin());
  }
  std::printf("hostile: flood of %d nonblocking flips in %.2f s: %d accepted, %d EBUSY; bystander served %d times\n",
              kFlood, secs, accepted, busy, bystander_ok.load());
  EXPECT_GT(accepted, 0);
  EXPECT_GT(busy, 0) << "back-to-back nonblocking flips must meet a pending one";
  EXPECT_EQ(accepted + busy, kFlood);
  EXPECT_GT(bystander_ok.load(), 0) << "another client was not served during the flood";
  EXPECT_EQ(bystander_bad.load(), 0);
  bystander.close();
  EXPECT_TRUE(files_back_to(1));
}

// Wild pointers, top level and nested: -EFAULT, never a crash of either side.
TEST_F(HostileMoreTest, WildPointersGetEfault) {
  auto* wild = reinterpret_cast<void*>(uintptr_t{0x10});
  EXPECT_EQ(good_->ioctl(DRM_IOCTL_VERSION, wild), -EFAULT);
  drm_mode_create_blob b{};
  b.data = 0xdead0000;  // nothing mapped there: the client's PEEK answer is an error
  b.length = 64;
  EXPECT_EQ(good_->ioctl(DRM_IOCTL_MODE_CREATEPROPBLOB, &b), -EFAULT);
  drm_mode_card_res res{};
  EXPECT_EQ(good_->ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res), 0);
  ASSERT_GT(res.count_crtcs, 0u);
  drm_version v{};
  v.name_len = 64;
  v.name = reinterpret_cast<char*>(uintptr_t{0x8});  // copy_to_user to a wild pointer
  const int r = good_->ioctl(DRM_IOCTL_VERSION, &v);
  EXPECT_TRUE(r == -EFAULT || r == 0) << r;  // POKE has no answer: the server cannot see it
  EXPECT_EQ(good_->driver_name(), "udrm-soc");
}

// A process SIGKILLed while the server runs its blocking WAIT_VBLANK: the good client is served
// meanwhile, and the dead client's file is released (at the latest when the wait ends: the
// kernel's 3 s bound, -EBUSY) — the server does not hang on the dead connection.
TEST_F(HostileMoreTest, ProcessKilledInABlockingWaitVblankIsCleanedUp) {
  light_up();
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const std::string sock = server_->socket_path();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    shim::Backend* b = shim::remote_backend(sock);
    std::shared_ptr<shim::File> f;
    if (!b || b->open("card0", O_RDWR, &f)) _exit(1);
    char c = 'x';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    wait_vblank(*f, _DRM_VBLANK_RELATIVE, 100000, 0);  // blocks in the server
    _exit(2);
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  EXPECT_TRUE(files_back_to(2)) << server_->files_summary();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // inside the wait by now
  const auto t0 = Clock::now();
  kill(pid, SIGKILL);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  expect_good_flip(1);  // not held up by the dead client's wait
  EXPECT_TRUE(files_back_to(1)) << server_->files_summary();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("hostile: file of the killed client released %.2f s after SIGKILL\n", secs);
  EXPECT_LT(secs, 5.0);
  expect_good_flip(2);
}

}  // namespace
}  // namespace udrm::run::test
