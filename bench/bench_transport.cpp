// The udrm-run transport's cost, all in one run: a bare SOCK_SEQPACKET request/response round
// trip between two threads (the floor: what any out-of-process ioctl costs at least), a real
// syscall (FIONREAD on a pipe), GET_CAP and GETRESOURCES through the remote backend against an
// in-process udrm-run server (its connection thread does the work, as for a real client), and
// GET_CAP through drm_ioctl in process. Target: remote GET_CAP <= 1.2x the bare round trip.
#include <benchmark/benchmark.h>

#include <drm.h>
#include <drm_mode.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "server.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/shim/backend.h"
#include "udrm/shim/protocol.h"

namespace {

namespace p = udrm::shim::proto;

// A SEQPACKET pair whose far end a thread echoes: the bare request/response round trip, with
// request and reply of the same sizes as a remote GET_CAP (header + struct drm_get_cap).
class Echo {
 public:
  Echo() {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv_)) return;
    ok_ = true;
    thread_ = std::thread([fd = sv_[1]] {
      char buf[256];
      for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0 || send(fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return;
      }
    });
  }
  ~Echo() {
    if (!ok_) return;
    shutdown(sv_[0], SHUT_RDWR);
    thread_.join();
    close(sv_[0]);
    close(sv_[1]);
  }
  bool ok() const { return ok_; }
  void round_trip() {
    send(sv_[0], msg_, sizeof(msg_), MSG_NOSIGNAL);
    benchmark::DoNotOptimize(recv(sv_[0], in_, sizeof(in_), 0));
  }

 private:
  int sv_[2] = {-1, -1};
  bool ok_ = false;
  std::thread thread_;
  char msg_[sizeof(p::Header) + sizeof(drm_get_cap)] = {};
  char in_[256];
};

void BM_SeqpacketRoundTrip(benchmark::State& state) {
  Echo echo;
  if (!echo.ok()) {
    state.SkipWithError("socketpair");
    return;
  }
  for (auto _ : state) echo.round_trip();
}
BENCHMARK(BM_SeqpacketRoundTrip)->UseRealTime();

void BM_SyscallFionread(benchmark::State& state) {
  int pfd[2];
  if (pipe(pfd)) {
    state.SkipWithError("pipe");
    return;
  }
  int n = 0;
  for (auto _ : state) benchmark::DoNotOptimize(ioctl(pfd[0], FIONREAD, &n));
  close(pfd[0]);
  close(pfd[1]);
}
BENCHMARK(BM_SyscallFionread);

// One server for the remote benchmarks (simple driver).
struct Remote {
  std::unique_ptr<udrm::run::Server> server;
  std::shared_ptr<udrm::shim::File> file;
  Remote() {
    udrm::run::ServerOptions o;
    o.kind = udrm::drivers::Kind::simple;
    o.immediate_vblank = true;
    if (udrm::run::Server::create(o, &server)) return;
    udrm::shim::Backend* b = udrm::shim::remote_backend(server->socket_path());
    if (!b || b->open("card0", O_RDWR, &file)) file.reset();
  }
  ~Remote() {
    if (file) {
      file->close();
      close(file->fd());
    }
    file.reset();
    if (server) server->shutdown();
  }
};

Remote& remote() {
  static Remote r;
  return r;
}

void BM_RemoteGetCap(benchmark::State& state) {
  auto& f = remote().file;
  if (!f) {
    state.SkipWithError("no remote file");
    return;
  }
  drm_get_cap cap{DRM_CAP_DUMB_BUFFER, 0};
  for (auto _ : state) {
    int r = f->ioctl(DRM_IOCTL_GET_CAP, &cap);
    benchmark::DoNotOptimize(r);
  }
  if (cap.value != 1) state.SkipWithError("GET_CAP gave a wrong value");
}
BENCHMARK(BM_RemoteGetCap)->UseRealTime();

// Remote GET_CAP and the bare round trip interleaved, iteration by iteration, so both see the
// same host state (on this VM a cross-thread wake-up drifts by 2x between runs, which makes
// two separately run benchmarks a poor ratio). Counters: both means and their ratio.
void BM_RemoteGetCapVsBare(benchmark::State& state) {
  auto& f = remote().file;
  Echo echo;
  if (!f || !echo.ok()) {
    state.SkipWithError("no remote file or socketpair");
    return;
  }
  drm_get_cap cap{DRM_CAP_DUMB_BUFFER, 0};
  double bare_s = 0, remote_s = 0;
  using C = std::chrono::steady_clock;
  for (auto _ : state) {
    auto t0 = C::now();
    echo.round_trip();
    auto t1 = C::now();
    benchmark::DoNotOptimize(f->ioctl(DRM_IOCTL_GET_CAP, &cap));
    auto t2 = C::now();
    bare_s += std::chrono::duration<double>(t1 - t0).count();
    remote_s += std::chrono::duration<double>(t2 - t1).count();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["bare_us"] = n ? bare_s / n * 1e6 : 0;
  state.counters["remote_us"] = n ? remote_s / n * 1e6 : 0;
  state.counters["ratio"] = bare_s > 0 ? remote_s / bare_s : 0;
  if (cap.value != 1) state.SkipWithError("GET_CAP gave a wrong value");
}
BENCHMARK(BM_RemoteGetCapVsBare)->UseRealTime();

// Two-pass GETRESOURCES: the second pass POKEs four arrays (nested pointers).
void BM_RemoteGetResources(benchmark::State& state) {
  auto& f = remote().file;
  if (!f) {
    state.SkipWithError("no remote file");
    return;
  }
  uint32_t ids[4][16];
  for (auto _ : state) {
    drm_mode_card_res res{};
    f->ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res);
    res.fb_id_ptr = reinterpret_cast<uintptr_t>(ids[0]);
    res.crtc_id_ptr = reinterpret_cast<uintptr_t>(ids[1]);
    res.connector_id_ptr = reinterpret_cast<uintptr_t>(ids[2]);
    res.encoder_id_ptr = reinterpret_cast<uintptr_t>(ids[3]);
    benchmark::DoNotOptimize(f->ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res));
  }
}
BENCHMARK(BM_RemoteGetResources)->UseRealTime();

void BM_InProcessGetCap(benchmark::State& state) {
  auto& r = remote();
  if (!r.server) {
    state.SkipWithError("no server");
    return;
  }
  udrm::Ref<udrm::DrmFile> f;
  if (r.server->display().open(&f)) {
    state.SkipWithError("open");
    return;
  }
  drm_get_cap cap{DRM_CAP_DUMB_BUFFER, 0};
  for (auto _ : state) benchmark::DoNotOptimize(udrm::drm_ioctl(*f, DRM_IOCTL_GET_CAP, &cap));
  f->close();
}
BENCHMARK(BM_InProcessGetCap);

}  // namespace

BENCHMARK_MAIN();
