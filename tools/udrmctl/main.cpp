// udrmctl: control a running udrm-run (devices, drivers, unbind, bind, rebind, state, debug
// categories); run a scenario under the explorer (explore, by running udrm-explore from
// udrmctl's own directory). `udrmctl --help`, `udrmctl COMMAND --help`.
//
// Exit status: 0 ok; 1 the operation failed (message with the errno name and text on stderr;
// explore: a bug was found); 2 usage error (unknown command or option, wrong arguments, no
// socket, an argument the server rejected as malformed such as an unknown debug category).
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "udrm/shim/protocol.h"

namespace {

namespace p = udrm::shim::proto;

struct Command {
  const char* name;
  int min_args, max_args;  // max -1: any number
  const char* synopsis;
  const char* brief;  // one line for the command list
  const char* help;
};

constexpr Command kCommands[] = {
    {"devices", 0, 0, "devices", "list devices: NAME DRIVER bound|unbound",
     "One line per device of the display: NAME DRIVER bound|unbound.\n"},
    {"drivers", 0, 0, "drivers", "list registered drivers and their bound devices",
     "One line per registered driver: NAME then its bound devices (comma list, - if none).\n"},
    {"unbind", 1, 1, "unbind DEVICE", "driver unbind (returns when the DRM device is unplugged)",
     "Driver unbind of DEVICE (sysfs unbind): returns when the DRM device is unplugged and\n"
     "every devm resource released; open files stay (their ioctls get ENODEV).\n"
     "Fails with ENODEV for an unknown or unbound device.\n"},
    {"bind", 1, 1, "bind DEVICE", "bind DEVICE again",
     "Bind DEVICE to its driver again (sysfs bind). EBUSY if already bound.\n"},
    {"rebind", 1, 1, "rebind DEVICE", "unbind then bind; 0 only when bound again",
     "Unbind DEVICE (if bound), then bind it; exit 0 only when it is bound again\n"
     "(EIO if the bind returned but the device stayed unbound, e.g. a deferred probe).\n"},
    {"state", 0, 0, "state", "KMS state, CRCs, open files; key=value lines",
     "Connectors, CRTCs (scanout CRC vs. software CRC), planes, open files, pending\n"
     "commits; one item per line, key=value.\n"},
    {"debug", 0, -1, "debug [CAT...|+CAT|-CAT|0xMASK|none|all]", "show or set the debug categories (drm.debug)",
     "Show (no argument) or set the server's debug categories, like drm.debug; prints the\n"
     "result as \"mask=0x... categories=a,b\". Categories: core devres drmm component module\n"
     "drm kms atomic vblank driver explorer. Bare names (or a comma list, a mask, none, all)\n"
     "replace the set; +CAT adds, -CAT removes. Debug lines go to udrm-run's stderr.\n"
     "An unknown category is a usage error (exit 2).\n"},
    {"explore", 0, -1, "explore [OPTIONS] SCENARIO", "run a scenario under the explorer, print its report",
     "Sweep a scenario of the reference drivers under the explorer and print its report\n"
     "(runs udrm-explore; no udrm-run needed; `udrmctl explore --help` lists its options).\n"
     "Exit 1 when a bug was found.\n"},
    {"help", 0, 1, "help [COMMAND]", "this text, or one command's", "This text, or COMMAND's.\n"},
};

const Command* find_command(const std::string& name) {
  for (const Command& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

std::string usage_text() {
  std::string s = "usage: udrmctl [--socket PATH] COMMAND [ARGS...]\n       udrmctl COMMAND --help\ncommands:\n";
  for (const Command& c : kCommands) {
    std::string syn = c.synopsis;
    if (syn.size() < 26) syn.resize(26, ' ');
    else syn += "\n" + std::string(28, ' ');
    s += "  " + syn + c.brief + "\n";
  }
  s +=
      "The socket defaults to $UDRM_SOCKET (set by udrm-run for the programs it runs).\n"
      "Exit status: 0 ok, 1 the operation failed (explore: a bug was found), 2 usage error.\n";
  return s;
}

std::string command_help(const Command& c) {
  return std::string("usage: udrmctl [--socket PATH] ") + c.synopsis + "\n" + c.help +
         "Exit status: 0 ok, 1 the operation failed, 2 usage error.\n";
}

int usage(const std::string& why, const Command* c = nullptr) {
  if (!why.empty()) std::fprintf(stderr, "udrmctl: %s\n", why.c_str());
  std::fputs((c ? command_help(*c) : usage_text()).c_str(), stderr);
  return 2;
}

std::string errno_text(int err) {
  const char* name = ::strerrorname_np(err);
  return std::string(name ? name : "E?") + " (" + ::strerror(err) + ")";
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
  std::fprintf(stderr, "udrmctl: explore: %s: %s\n", path.c_str(), errno_text(errno).c_str());
  return 1;
}

// One CTL round trip: send `line`, collect the text. 0 with *status / *usage_error set, or 1
// (connection failure, message printed).
int ctl(const std::string& sock, const std::string& line, std::string* text, int* status, bool* usage_error) {
  int s = p::connect_to(sock);
  if (s < 0) {
    std::fprintf(stderr, "udrmctl: %s: %s\n", sock.c_str(), errno_text(-s).c_str());
    return 1;
  }
  p::Header h;
  h.op = p::kOpCtl;
  if (int r = p::send_msg(s, h, line.data(), line.size())) {
    std::fprintf(stderr, "udrmctl: send: %s\n", errno_text(-r).c_str());
    p::close_fd(s);
    return 1;
  }
  p::Msg m;
  for (;;) {
    if (int r = p::recv_msg(s, &m)) {
      std::fprintf(stderr, "udrmctl: no answer from udrm-run: %s\n", errno_text(-r).c_str());
      p::close_fd(s);
      return 1;
    }
    p::close_fd(m.fd);
    m.fd = -1;
    if (m.h.op != p::kOpCtl || !(m.h.flags & p::kFlagReply)) {
      std::fprintf(stderr, "udrmctl: unexpected answer from udrm-run (op %u, status %d)\n", m.h.op, m.h.status);
      p::close_fd(s);
      return 1;
    }
    text->append(reinterpret_cast<const char*>(m.payload()), m.len());
    *status = m.h.status;
    *usage_error = m.h.a0 == p::kCtlUsageError;
    if (!(m.h.flags & p::kFlagMore)) break;
  }
  p::close_fd(s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string sock;
  if (const char* e = std::getenv("UDRM_SOCKET")) sock = e;
  const Command* cmd = nullptr;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!cmd && a == "explore") return run_explore(argc, argv, i + 1);  // its own options
    if (a == "--help" || a == "-h") {
      std::fputs((cmd ? command_help(*cmd) : usage_text()).c_str(), stdout);
      return 0;
    }
    if (a == "--socket") {
      if (i + 1 >= argc) return usage("--socket needs a path");
      sock = argv[++i];
      continue;
    }
    if (a.rfind("--socket=", 0) == 0) {
      sock = a.substr(9);
      continue;
    }
    if (!cmd) {
      if (a.size() > 1 && a[0] == '-') return usage("unknown option " + a);
      cmd = find_command(a);
      if (!cmd) return usage("unknown command " + a);
      continue;
    }
    // debug takes -CAT; every other command has no options.
    if (a.size() > 1 && a[0] == '-' && std::string(cmd->name) != "debug") return usage("unknown option " + a, cmd);
    args.push_back(a);
  }
  if (!cmd) return usage("no command");
  const int n = static_cast<int>(args.size());
  if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args))
    return usage(std::string("wrong number of arguments for ") + cmd->name, cmd);
  if (std::string(cmd->name) == "help") {
    if (args.empty()) {
      std::fputs(usage_text().c_str(), stdout);
      return 0;
    }
    const Command* c = find_command(args[0]);
    if (!c) return usage("help: unknown command " + args[0]);
    std::fputs(command_help(*c).c_str(), stdout);
    return 0;
  }
  if (sock.empty()) return usage("no socket: run under udrm-run or pass --socket PATH");

  std::string line = cmd->name;
  for (const std::string& a : args) line += " " + a;
  std::string text;
  int status = 0;
  bool usage_error = false;
  if (int r = ctl(sock, line, &text, &status, &usage_error)) return r;
  if (usage_error) {
    std::fprintf(stderr, "udrmctl: %s", text.empty() ? "bad command line\n" : text.c_str());
    std::fputs(command_help(*cmd).c_str(), stderr);
    return 2;
  }
  if (status) {
    const std::string head = line + ": " + errno_text(-status);
    std::fprintf(stderr, "udrmctl: %s\n", head.c_str());
    if (!text.empty() && text != head + "\n") std::fputs(text.c_str(), stderr);  // the server's detail
    return 1;
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}
