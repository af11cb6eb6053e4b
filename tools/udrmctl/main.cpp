// udrmctl: control a running udrm-run (devices, unbind, bind, state); run a scenario under the
// explorer (explore, by running udrm-explore from udrmctl's own directory). See --help.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "udrm/shim/protocol.h"

namespace {

namespace p = udrm::shim::proto;

constexpr const char* kUsage =
    "usage: udrmctl [--socket PATH] COMMAND\n"
    "commands:\n"
    "  devices         one line per device: NAME DRIVER bound|unbound\n"
    "  unbind DEVICE   driver unbind of DEVICE (returns when the DRM device is unplugged)\n"
    "  bind DEVICE     bind DEVICE again\n"
    "  state           connectors, CRTCs (scanout CRC vs. software CRC), planes, open files,\n"
    "                  pending commits; one item per line, key=value\n"
    "  explore [OPTIONS] SCENARIO\n"
    "                  sweep a scenario of the reference drivers under the explorer and print\n"
    "                  its report (runs udrm-explore; no udrm-run needed; see explore --help)\n"
    "The socket defaults to $UDRM_SOCKET (set by udrm-run for the programs it runs).\n"
    "Exit status: 0 ok, 1 the operation failed (explore: a bug was found), 2 usage error.\n";

int usage(const char* why) {
  if (why) std::fprintf(stderr, "udrmctl: %s\n", why);
  std::fputs(kUsage, stderr);
  return 2;
}

// `udrmctl explore ARGS...` is `udrm-explore ARGS...` from udrmctl's directory. The explorer
// needs no server; LD_PRELOAD (the shim, under udrm-run) is dropped for it.
int run_explore(int argc, char** argv, int first) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    std::fprintf(stderr, "udrmctl: explore: cannot find my own directory\n");
    return 1;
  }
  self[n] = 0;
  std::string path(self);
  path = path.substr(0, path.rfind('/') + 1) + "udrm-explore";
  char* av[66];
  int k = 0;
  av[k++] = const_cast<char*>("udrm-explore");
  for (int i = first; i < argc; ++i) {
    if (k >= 64) return usage("explore: too many arguments");
    av[k++] = argv[i];
  }
  av[k] = nullptr;
  unsetenv("LD_PRELOAD");
  execv(path.c_str(), av);
  std::fprintf(stderr, "udrmctl: explore: %s: %s\n", path.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {  // the first word decides; explore has options of its own
    std::string a = argv[i];
    if (a == "--socket") {
      ++i;
      continue;
    }
    if (a == "explore") return run_explore(argc, argv, i + 1);
    if (a.rfind("--", 0) != 0) break;
  }
  std::string sock;
  if (const char* e = std::getenv("UDRM_SOCKET")) sock = e;
  std::string line;
  int words = 0;
  std::string cmd;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--socket") {
      if (i + 1 >= argc) return usage("--socket needs a path");
      sock = argv[++i];
      continue;
    }
    if (a.rfind("--", 0) == 0) return usage(("unknown option " + a).c_str());
    if (words++ == 0) cmd = a;
    line += (line.empty() ? "" : " ") + a;
  }
  if (cmd.empty()) return usage("no command");
  const bool one = cmd == "devices" || cmd == "state";
  const bool two = cmd == "unbind" || cmd == "bind";
  if (!one && !two) return usage(("unknown command " + cmd).c_str());
  if ((one && words != 1) || (two && words != 2)) return usage(("wrong arguments for " + cmd).c_str());
  if (sock.empty()) return usage("no socket: run under udrm-run or pass --socket PATH");

  int s = p::connect_to(sock);
  if (s < 0) {
    std::fprintf(stderr, "udrmctl: %s: %s\n", sock.c_str(), std::strerror(-s));
    return 1;
  }
  p::Header h;
  h.op = p::kOpCtl;
  if (int r = p::send_msg(s, h, line.data(), line.size())) {
    std::fprintf(stderr, "udrmctl: send: %s\n", std::strerror(-r));
    return 1;
  }
  std::string text;
  int status = 0;
  p::Msg m;
  for (;;) {
    if (int r = p::recv_msg(s, &m)) {
      std::fprintf(stderr, "udrmctl: no answer from udrm-run: %s\n", std::strerror(-r));
      return 1;
    }
    p::close_fd(m.fd);
    if (m.h.op != p::kOpCtl || !(m.h.flags & p::kFlagReply)) {
      std::fprintf(stderr, "udrmctl: unexpected answer from udrm-run\n");
      return 1;
    }
    text.append(reinterpret_cast<const char*>(m.payload()), m.len());
    status = m.h.status;
    if (!(m.h.flags & p::kFlagMore)) break;
  }
  p::close_fd(s);
  if (status) {
    std::fprintf(stderr, "udrmctl: %s: %s\n", line.c_str(), std::strerror(-status));
    if (!text.empty()) std::fputs(text.c_str(), stderr);
    return 1;
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}
