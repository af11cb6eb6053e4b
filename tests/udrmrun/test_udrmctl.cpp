// udrmctl, every command against a real udrm-run (both reference drivers): devices, drivers,
// unbind/bind/rebind, state, debug (set/get round trip that changes what the server logs),
// --help / -h / help for every command, and the exit codes (0 ok, 1 failed operation with the
// errno name, 2 usage). Server::parse_debug is also checked directly.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "server.h"
#include "tools_run.h"

namespace udrm::run::test {
namespace {

const std::vector<std::string> kCommands = {"devices", "drivers", "unbind", "bind", "rebind",
                                            "state",   "debug",   "explore", "help"};

// The script's "rc:NAME=N" markers (echo "rc:NAME=$?" after each command).
std::map<std::string, int> exit_codes(const std::string& out) {
  std::map<std::string, int> rc;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("rc:", 0) != 0) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    rc[line.substr(3, eq - 3)] = std::stoi(line.substr(eq + 1));
  }
  return rc;
}

// Text between the lines "@from" (from "": the start) and "@to" of the script's output.
std::string between(const std::string& out, const std::string& from, const std::string& to) {
  auto a = from.empty() ? 0 : out.find("@" + from + "\n");
  auto b = out.find("@" + to + "\n");
  if (a == std::string::npos || b == std::string::npos || b < a) return "<markers " + from + ".." + to + " missing>";
  if (!from.empty()) a += from.size() + 2;
  return out.substr(a, b - a);
}

// `line` is a whole line of text (udrmctl's output, not the server's log line that ends alike).
bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

// No WARN in the server (udrm-run is another process: the test's WARN listener cannot see it).
void expect_no_warn(const RunResult& r) {
  EXPECT_EQ(r.out.find("udrm WARNING"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("WARN(s) during the run"), std::string::npos) << r.out;
}

TEST(Udrmctl, TopLevelHelpListsEveryCommand) {
  for (const char* flag : {"--help", "-h"}) {
    RunResult r = sh("env -u UDRM_SOCKET udrmctl " + std::string(flag));
    EXPECT_EQ(r.status, 0) << r.out;
    for (const auto& c : kCommands) EXPECT_NE(r.out.find("\n  " + c), std::string::npos) << c << "\n" << r.out;
    EXPECT_NE(r.out.find("Exit status: 0 ok, 1 the operation failed"), std::string::npos) << r.out;
  }
  RunResult r = sh("env -u UDRM_SOCKET udrmctl help");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("rebind DEVICE"), std::string::npos) << r.out;
}

TEST(Udrmctl, EveryCommandHasItsOwnHelp) {
  for (const auto& c : kCommands) {
    if (c == "explore") continue;  // udrm-explore's own help (below)
    for (const std::string& how : {c + " --help", c + " -h", "help " + c}) {
      RunResult r = sh("env -u UDRM_SOCKET udrmctl " + how);
      EXPECT_EQ(r.status, 0) << how << "\n" << r.out;
      EXPECT_NE(r.out.find("usage: udrmctl [--socket PATH] " + c), std::string::npos) << how << "\n" << r.out;
      EXPECT_EQ(r.out.find("commands:"), std::string::npos) << how << ": the command's help, not the list\n" << r.out;
    }
  }
  // --help after the command's argument too, and with a socket that does not exist (no server
  // is contacted for help).
  RunResult r = sh("udrmctl --socket /nonexistent/udrm.sock unbind dc --help");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("usage: udrmctl [--socket PATH] unbind DEVICE"), std::string::npos) << r.out;
  r = sh("env -u UDRM_SOCKET udrmctl explore --help");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("usage"), std::string::npos) << r.out;
}

TEST(Udrmctl, UsageErrorsExitTwo) {
  struct Case {
    std::string args, says;
  };
  const std::vector<Case> cases = {
      {"", "no command"},
      {"frobnicate", "unknown command frobnicate"},
      {"--frob devices", "unknown option --frob"},
      {"devices extra", "wrong number of arguments for devices"},
      {"drivers extra", "wrong number of arguments for drivers"},
      {"state extra", "wrong number of arguments for state"},
      {"unbind", "wrong number of arguments for unbind"},
      {"bind a b", "wrong number of arguments for bind"},
      {"rebind", "wrong number of arguments for rebind"},
      {"unbind -f dc", "unknown option -f"},
      {"help nosuch", "help: unknown command nosuch"},
      {"--socket", "--socket needs a path"},
      {"devices", "no socket"},
  };
  for (const Case& c : cases) {
    RunResult r = sh("env -u UDRM_SOCKET udrmctl " + c.args);
    EXPECT_EQ(r.status, 2) << "udrmctl " << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find("udrmctl: " + c.says), std::string::npos) << "udrmctl " << c.args << "\n" << r.out;
  }
}

TEST(Udrmctl, NoServerIsAFailedOperation) {
  RunResult r = sh("udrmctl --socket /nonexistent/udrm.sock devices");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("ENOENT (No such file or directory)"), std::string::npos) << r.out;
}

class UdrmctlDriver : public ::testing::TestWithParam<const char*> {
 protected:
  std::string drv_ = GetParam();
  bool soc_ = drv_ == "soc";
  std::string dev_ = soc_ ? "hdmi" : "simple";  // the device unbound and bound again
};

TEST_P(UdrmctlDriver, DevicesAndDrivers) {
  RunResult r = udrm_run(drv_,
                         "udrmctl devices; echo rc:devices=$?; echo @a; udrmctl drivers; echo rc:drivers=$?; echo @b; "
                         "udrmctl unbind " + dev_ + "; echo rc:unbind=$?; echo @c; udrmctl devices; echo @d; "
                         "udrmctl drivers; echo @e; udrmctl bind " + dev_ + "; echo rc:bind=$?");
  ASSERT_EQ(r.status, 0) << r.out;
  auto rc = exit_codes(r.out);
  EXPECT_EQ(rc["devices"], 0);
  EXPECT_EQ(rc["drivers"], 0);
  EXPECT_EQ(rc["unbind"], 0);
  EXPECT_EQ(rc["bind"], 0);
  std::string devices = r.out.substr(0, r.out.find("rc:devices"));
  std::string drivers = between(r.out, "a", "b");
  if (soc_) {
    for (const char* line : {"dc udrm-soc-dc bound", "hdmi udrm-soc-hdmi bound", "panel udrm-soc-panel bound"})
      EXPECT_NE(devices.find(line), std::string::npos) << line << "\n" << r.out;
    for (const char* line : {"udrm-soc soc-display\n", "udrm-soc-dc dc\n", "udrm-soc-hdmi hdmi\n",
                             "udrm-soc-panel panel\n"})
      EXPECT_NE(drivers.find(line), std::string::npos) << line << "\n" << r.out;
    EXPECT_NE(between(r.out, "c", "d").find("hdmi udrm-soc-hdmi unbound"), std::string::npos) << r.out;
    EXPECT_NE(between(r.out, "d", "e").find("udrm-soc-hdmi -\n"), std::string::npos) << r.out;
  } else {
    EXPECT_NE(devices.find("simple udrm-simple bound"), std::string::npos) << r.out;
    EXPECT_NE(drivers.find("udrm-simple udrm-simple\n"), std::string::npos) << r.out;
    EXPECT_NE(between(r.out, "c", "d").find("simple udrm-simple unbound"), std::string::npos) << r.out;
    EXPECT_NE(between(r.out, "d", "e").find("udrm-simple -\n"), std::string::npos) << r.out;
  }
  expect_no_warn(r);
}

TEST_P(UdrmctlDriver, UnbindBindRebindAndTheirFailures) {
  RunResult r = udrm_run(drv_,
                         "udrmctl unbind " + dev_ + "; echo rc:unbind=$?; "
                         "udrmctl unbind " + dev_ + "; echo rc:unbind_again=$?; echo @a; "
                         "udrmctl bind " + dev_ + "; echo rc:bind=$?; "
                         "udrmctl bind " + dev_ + "; echo rc:bind_again=$?; echo @b; "
                         "udrmctl rebind " + dev_ + "; echo rc:rebind=$?; udrmctl devices; echo @c; "
                         "udrmctl unbind " + dev_ + "; udrmctl rebind " + dev_ + "; echo rc:rebind_unbound=$?; "
                         "udrmctl state; echo rc:state=$?; echo @d; "
                         "udrmctl unbind nosuch; echo rc:unbind_nosuch=$?; echo @e; "
                         "udrmctl bind nosuch; echo rc:bind_nosuch=$?; "
                         "udrmctl rebind nosuch; echo rc:rebind_nosuch=$?");
  ASSERT_EQ(r.status, 0) << r.out;
  auto rc = exit_codes(r.out);
  EXPECT_EQ(rc["unbind"], 0) << r.out;
  EXPECT_EQ(rc["unbind_again"], 1) << r.out;
  EXPECT_NE(between(r.out, "", "a").find("unbind " + dev_ + ": ENODEV (No such device)"), std::string::npos) << r.out;
  EXPECT_EQ(rc["bind"], 0) << r.out;
  EXPECT_EQ(rc["bind_again"], 1) << r.out;
  EXPECT_NE(between(r.out, "a", "b").find("bind " + dev_ + ": EBUSY (Device or resource busy)"), std::string::npos)
      << r.out;
  EXPECT_EQ(rc["rebind"], 0) << r.out;
  EXPECT_NE(between(r.out, "b", "c").find(dev_ + " udrm-" + (soc_ ? "soc-hdmi" : "simple") + " bound"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(rc["rebind_unbound"], 0) << r.out;
  EXPECT_EQ(rc["state"], 0) << r.out;
  EXPECT_NE(between(r.out, "c", "d").find("device " + dev_ + " bound=1"), std::string::npos) << r.out;
  EXPECT_EQ(rc["unbind_nosuch"], 1) << r.out;
  std::string nosuch = between(r.out, "d", "e");
  EXPECT_NE(nosuch.find("udrmctl: unbind nosuch: ENODEV (No such device)"), std::string::npos) << r.out;
  EXPECT_NE(nosuch.find("unknown device (devices: "), std::string::npos) << r.out;
  EXPECT_EQ(rc["bind_nosuch"], 1) << r.out;
  EXPECT_EQ(rc["rebind_nosuch"], 1) << r.out;
  expect_no_warn(r);
}

TEST_P(UdrmctlDriver, DebugSetGetRoundTripChangesWhatTheServerLogs) {
  // Segments: categories off (a..b), core on (b..c), core off again (d..e); each rebinds the
  // device, which logs "bound to driver" in the core category.
  RunResult r = udrm_run(drv_,
                         "udrmctl debug none; echo rc:none=$?; echo @a; udrmctl rebind " + dev_ +
                             "; echo @b; udrmctl debug core; echo rc:core=$?; udrmctl rebind " + dev_ +
                             "; echo @c; udrmctl debug -core,vblank +kms; echo rc:minus=$?; echo @d; "
                             "udrmctl rebind " + dev_ + "; echo @e; udrmctl debug; echo rc:get=$?; "
                             "udrmctl debug 0x3; udrmctl debug all; udrmctl debug none; echo @f");
  ASSERT_EQ(r.status, 0) << r.out;
  auto rc = exit_codes(r.out);
  EXPECT_EQ(rc["none"], 0);
  EXPECT_EQ(rc["core"], 0);
  EXPECT_EQ(rc["minus"], 0);
  EXPECT_EQ(rc["get"], 0);
  EXPECT_TRUE(has_line(r.out, "mask=0x0 categories=none")) << r.out;
  EXPECT_TRUE(has_line(r.out, "mask=0x1 categories=core")) << r.out;
  EXPECT_EQ(count(between(r.out, "a", "b"), "udrm dbg [core]"), 0u) << r.out;
  const std::string on = between(r.out, "b", "c");
  EXPECT_NE(on.find("udrm dbg [core] " + std::string(soc_ ? "hdmi" : "udrm-simple") + ": bound to driver"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(count(between(r.out, "d", "e"), "udrm dbg [core]"), 0u) << r.out;
  const std::string tail = between(r.out, "e", "f");
  EXPECT_TRUE(has_line(tail, "mask=0x40 categories=kms")) << r.out;  // the get
  EXPECT_TRUE(has_line(tail, "mask=0x3 categories=core,devres")) << r.out;
  EXPECT_TRUE(
      has_line(tail, "mask=0x7ff categories=core,devres,drmm,component,module,drm,kms,atomic,vblank,driver,explorer"))
      << r.out;
  expect_no_warn(r);
}

TEST_P(UdrmctlDriver, DebugBadArgumentsAreUsageErrors) {
  RunResult r = udrm_run(drv_,
                         "udrmctl debug kms; udrmctl debug bogus; echo rc:bogus=$?; udrmctl debug +nosuch; "
                         "echo rc:plus=$?; udrmctl debug 0x10000; echo rc:mask=$?; udrmctl debug kms,,drm; "
                         "echo rc:empty=$?; udrmctl debug; echo @a");
  ASSERT_EQ(r.status, 0) << r.out;
  auto rc = exit_codes(r.out);
  EXPECT_EQ(rc["bogus"], 2) << r.out;
  EXPECT_EQ(rc["plus"], 2) << r.out;
  EXPECT_EQ(rc["mask"], 2) << r.out;
  EXPECT_EQ(rc["empty"], 2) << r.out;
  EXPECT_NE(r.out.find("unknown category 'bogus' (categories: core devres"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown category '+nosuch'"), std::string::npos) << r.out;
  // A rejected argument changes nothing.
  EXPECT_EQ(count("\n" + r.out, "\nmask=0x40 categories=kms\n"), 2u) << r.out;
  expect_no_warn(r);
}

TEST_P(UdrmctlDriver, UdrmRunDebugOption) {
  RunResult r = udrm_run(drv_, "udrmctl debug", "--debug core,drm");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has_line(r.out, "mask=0x21 categories=core,drm")) << r.out;
  // Set before the device is bound: its probe is logged.
  EXPECT_NE(r.out.find("udrm dbg [core] " + std::string(soc_ ? "hdmi" : "udrm-simple") + ": bound to driver"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("udrm dbg [drm] udrm-" + drv_ + ": registered"), std::string::npos) << r.out;
  r = udrm_run(drv_, "true", "--debug bogus");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("udrm-run: debug: unknown category 'bogus'"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Drivers, UdrmctlDriver, ::testing::Values("simple", "soc"));

TEST(UdrmRunDebug, ParseDebug) {
  struct Case {
    std::vector<std::string> args;
    uint32_t from, want;
  };
  const std::vector<Case> ok = {
      {{"kms"}, 0x1, 0x40},           {{"kms,atomic"}, 0, 0xc0},   {{"kms", "atomic"}, 0x1, 0xc0},
      {{"+kms"}, 0x1, 0x41},          {{"-core"}, 0x41, 0x40},     {{"+kms,atomic"}, 0x1, 0xc1},
      {{"-kms,+core"}, 0x40, 0x1},    {{"0x3"}, 0x40, 0x3},        {{"5"}, 0, 0x5},
      {{"none"}, 0x7ff, 0},           {{"all"}, 0, 0x7ff},         {{"all", "-explorer"}, 0, 0x3ff},
      {{"+all"}, 0x1, 0x7ff},         {{"-all"}, 0x7ff, 0},        {{}, 0x21, 0x21},
  };
  for (const Case& c : ok) {
    uint32_t got = 0xdead;
    std::string err;
    std::string what;
    for (const auto& a : c.args) what += a + " ";
    EXPECT_EQ(Server::parse_debug(c.args, c.from, &got, &err), 0) << what << err;
    EXPECT_EQ(got, c.want) << what;
  }
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"bogus"}, {"+"}, {"kms,"}, {"0x800"}, {"0xzz"}, {"kms", "-nosuch"}}) {
    uint32_t got = 0xdead;
    std::string err;
    EXPECT_EQ(Server::parse_debug(bad, 0x1, &got, &err), -EINVAL) << bad.back();
    EXPECT_EQ(got, 0xdeadu) << "unchanged on error";
    EXPECT_NE(err.find("categories: core devres drmm"), std::string::npos) << err;
  }
  EXPECT_EQ(Server::debug_text(0), "mask=0x0 categories=none\n");
  EXPECT_EQ(Server::debug_text(0x180), "mask=0x180 categories=atomic,vblank\n");
}

}  // namespace
}  // namespace udrm::run::test
