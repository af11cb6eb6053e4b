// udrmctl: control a running udrm-run (devices, unbind, bind, state). See --help.
#include <unistd.h>

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
    "The socket defaults to $UDRM_SOCKET (set by udrm-run for the programs it runs).\n"
    "Exit status: 0 ok, 1 the operation failed, 2 usage error.\n";

int usage(const char* why) {
  if (why) std::fprintf(stderr, "udrmctl: %s\n", why);
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
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
