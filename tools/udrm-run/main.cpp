// udrm-run: run an unmodified, dynamically linked program against a udrm device hosted by this
// process (tools/udrm-run/server.h). See --help.
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server.h"
#include "udrm/base/log.h"

extern char** environ;

namespace {

using udrm::run::Server;

constexpr const char* kUsage =
    "usage: udrm-run [--driver simple|soc] [--unbind-after-ms N] [--rebind-after-ms M]\n"
    "                [--trace FILE] [--record-ioctls FILE] [--debug CATS] [--verbose]\n"
    "                -- PROGRAM [ARGS...]\n"
    "Runs PROGRAM with /dev/dri/card0 (and renderD128) served by a udrm device hosted by\n"
    "udrm-run (drm names udrm-simple / udrm-soc). PROGRAM's environment gets UDRM_SOCKET\n"
    "(what udrmctl uses) and LD_PRELOAD=libudrm-preload.so. --unbind-after-ms unbinds the\n"
    "device N ms after start; --rebind-after-ms binds it again M ms after that unbind.\n"
    "--trace writes a Chrome/Perfetto JSON timeline: ioctls per client, commit phases per CRTC, vblanks, IRQs, unbind/unplug, devm/drmm releases, events (docs/trace.md). --record-ioctls writes every ioctl\n"
    "with its argument and the client memory it touched (tests/fuzz/make_corpus.sh).\n"
    "--debug CATS sets the debug categories (like drm.debug; default $UDRM_DEBUG): a comma\n"
    "list of core,devres,drmm,component,module,drm,kms,atomic,vblank,driver,explorer, +CAT /\n"
    "-CAT to add/remove, a mask (0x..), none or all; `udrmctl debug` changes them at run time.\n"
    "WARNs (what the kernel would WARN on) are printed as they happen and counted at exit.\n"
    "Exit status: PROGRAM's (128+signal if it was killed); 125 if udrm-run itself failed,\n"
    "127 if PROGRAM could not be started.\n";

std::atomic<pid_t> g_child{0};

void forward_signal(int sig) {
  pid_t c = g_child.load();
  if (c > 0) ::kill(c, sig);
}

bool parse_ms(const char* s, long* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno || !end || *end || v < 0 || v > INT_MAX) return false;
  *out = v;
  return true;
}

bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// libudrm-preload.so: where `cmake --install` puts it relative to the installed udrm-run
// (UDRM_PRELOAD_RELDIR, e.g. ../lib/udrm), next to the executable, in the build tree's shim/,
// or where the build put it.
std::string find_preload() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) {
    buf[n] = '\0';
    std::string dir(buf);
    dir = dir.substr(0, dir.rfind('/'));
    for (const char* rel : {
#ifdef UDRM_PRELOAD_RELDIR
             "/" UDRM_PRELOAD_RELDIR "/libudrm-preload.so",
#endif
             "/libudrm-preload.so", "/../lib/libudrm-preload.so", "/../shim/libudrm-preload.so"})
      if (is_file(dir + rel)) {
        // Without the "..": LD_PRELOAD reads as the installed file's path.
        std::string found = dir + rel;
        if (char* canon = ::realpath(found.c_str(), nullptr)) {
          found = canon;
          std::free(canon);
        }
        return found;
      }
  }
#ifdef UDRM_PRELOAD_PATH
  if (is_file(UDRM_PRELOAD_PATH)) return UDRM_PRELOAD_PATH;
#endif
  return "";
}

// Unbind after N ms, rebind M ms after that; cancellable.
class DeviceTimer {
 public:
  DeviceTimer(Server& s, long unbind_ms, long rebind_ms) {
    if (unbind_ms < 0) return;
    t_ = std::thread([this, &s, unbind_ms, rebind_ms] {
      if (!sleep(unbind_ms)) return;
      // What happens to the device object, narrated: it outlives the unbind while files are
      // open, and goes at the last close (drmm releases run then).
      const auto t_unbind = std::chrono::steady_clock::now();
      if (int r = s.unbind("")) {
        std::fprintf(stderr, "udrm-run: unbind: %s\n", std::strerror(-r));
        return;
      }
      const int alive = s.display().live_drm_devices();
      std::fprintf(stderr,
                   "udrm-run: unbound after %ld ms: remove() returned, the hardware is released (devm); %d DRM "
                   "device object(s) still alive, held by the open files\n",
                   unbind_ms, alive);
      const long until = rebind_ms < 0 ? 10'000 : rebind_ms;
      bool freed = alive == 0;
      long waited = 0;
      for (; !freed && waited < until; waited += 5) {
        if (!sleep(5)) return;
        freed = s.display().live_drm_devices() == 0;
      }
      if (freed && alive > 0) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t_unbind);
        std::fprintf(stderr, "udrm-run: the old DRM device was freed at its last close, %lld ms after the unbind (drmm released)\n",
                     static_cast<long long>(ms.count()));
      }
      if (rebind_ms < 0 || !sleep(std::max(0L, rebind_ms - waited))) return;
      if (int r = s.bind("")) {
        std::fprintf(stderr, "udrm-run: bind: %s\n", std::strerror(-r));
        return;
      }
      std::fprintf(stderr, "udrm-run: bound again %ld ms after the unbind: a new DRM device (a new minor)\n", rebind_ms);
    });
  }
  ~DeviceTimer() {
    {
      std::lock_guard<std::mutex> l(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
    if (t_.joinable()) t_.join();
  }

 private:
  bool sleep(long ms) {
    std::unique_lock<std::mutex> l(mu_);
    return !cv_.wait_for(l, std::chrono::milliseconds(ms), [this] { return cancelled_; });
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  std::thread t_;
};

}  // namespace

int main(int argc, char** argv) {
  udrm::run::ServerOptions opts;
  long unbind_ms = -1, rebind_ms = -1;
  bool verbose = false;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char** out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (a == "--") {
      ++i;
      break;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--verbose" || a == "-v") {
      verbose = true;
    } else if (a == "--driver" && value(&v)) {
      if (std::strcmp(v, "simple") == 0) {
        opts.kind = udrm::drivers::Kind::simple;
      } else if (std::strcmp(v, "soc") == 0) {
        opts.kind = udrm::drivers::Kind::soc;
      } else {
        std::fprintf(stderr, "udrm-run: unknown driver '%s' (simple or soc)\n%s", v, kUsage);
        return 2;
      }
    } else if (a == "--unbind-after-ms" && value(&v) && parse_ms(v, &unbind_ms)) {
    } else if (a == "--rebind-after-ms" && value(&v) && parse_ms(v, &rebind_ms)) {
    } else if (a == "--trace" && value(&v)) {
      opts.trace_path = v;
    } else if (a == "--record-ioctls" && value(&v)) {
      opts.record_path = v;
    } else if (a == "--debug" && value(&v)) {
      uint32_t mask = 0;
      std::string err;
      if (Server::parse_debug({v}, udrm::log_mask(), &mask, &err)) {
        std::fprintf(stderr, "udrm-run: %s", err.c_str());
        return 2;
      }
      udrm::log_set_mask(mask);
    } else {
      std::fprintf(stderr, "udrm-run: bad argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (i >= argc) {
    std::fprintf(stderr, "udrm-run: no program given\n%s", kUsage);
    return 2;
  }
  if (rebind_ms >= 0 && unbind_ms < 0) {
    std::fprintf(stderr, "udrm-run: --rebind-after-ms needs --unbind-after-ms\n");
    return 2;
  }

  std::string preload = find_preload();
  if (preload.empty()) std::fprintf(stderr, "udrm-run: warning: libudrm-preload.so not found; running without it\n");

  std::unique_ptr<Server> server;
  if (int r = Server::create(opts, &server)) {
    std::fprintf(stderr, "udrm-run: cannot start the device server: %s\n", std::strerror(-r));
    return 125;
  }
  if (verbose) std::fprintf(stderr, "udrm-run: socket %s\n", server->socket_path().c_str());

  // The child's environment: ours plus UDRM_SOCKET and LD_PRELOAD (prepended).
  std::vector<std::string> env;
  std::string old_preload;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "UDRM_SOCKET=", 12) == 0) continue;
    if (std::strncmp(*e, "LD_PRELOAD=", 11) == 0) {
      old_preload = *e + 11;
      continue;
    }
    env.emplace_back(*e);
  }
  env.push_back("UDRM_SOCKET=" + server->socket_path());
  if (!preload.empty()) env.push_back("LD_PRELOAD=" + preload + (old_preload.empty() ? "" : ":" + old_preload));
  else if (!old_preload.empty()) env.push_back("LD_PRELOAD=" + old_preload);
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);

  struct sigaction sa{};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &sa, nullptr);

  pid_t pid = 0;
  int r = ::posix_spawnp(&pid, argv[i], nullptr, nullptr, argv + i, envp.data());
  if (r) {
    std::fprintf(stderr, "udrm-run: cannot run %s: %s\n", argv[i], std::strerror(r));
    server.reset();
    return 127;
  }
  g_child.store(pid);
  int status = 0;
  {
    DeviceTimer timer(*server, unbind_ms, rebind_ms);
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) {
        status = 125 << 8;
        break;
      }
    }
    g_child.store(0);
  }
  server->shutdown();
  server.reset();
  if (uint64_t n = udrm::warn_count())
    std::fprintf(stderr, "udrm-run: %llu WARN(s) during the run; last: %s\n", static_cast<unsigned long long>(n),
                 udrm::last_warning().c_str());
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 125;
}
