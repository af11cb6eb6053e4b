// libdrm's real tools (libdrm-tests: modetest, proptest, vbltest, modeprint, drmdevice), run
// unmodified under udrm-run, on both reference drivers. Assertions are on what the device saw
// (udrmctl state: mode, active, the scanout CRC against the CRC of the framebuffer memory the
// tool drew into; the --trace of ioctls), not only on exit codes.
#include <gtest/gtest.h>

#include <string>

#include "tools_run.h"

namespace udrm::run::test {
namespace {

class ToolsTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
#ifndef UDRM_PRELOAD_PATH
    GTEST_SKIP() << "libudrm-preload.so is not built (shim/CMakeLists.txt has no udrm_preload)";
#endif
    if (!have_tool("modetest")) GTEST_SKIP() << "libdrm-tests is not installed (apt-get install libdrm-tests)";
    drv_ = GetParam();
    name_ = "udrm-" + drv_;
    RunResult r = udrm_run(drv_, "modetest -M " + name_ + " -c && udrmctl state");
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_TRUE(first_connected(r.out, &conn_, &mode_)) << r.out;
    auto dpms = lines_with(r.out, " DPMS:");
    ASSERT_FALSE(dpms.empty()) << r.out;
    dpms_ = std::to_string(std::stoi(dpms[0]));  // "\t18 DPMS:" -> property id
    auto crtcs = lines_with(r.out, "crtc id=");
    ASSERT_FALSE(crtcs.empty()) << r.out;
    crtc_ = value_of(crtcs[0], "id");
    auto planes = lines_with(r.out, "type=primary");
    ASSERT_FALSE(planes.empty()) << r.out;
    plane_ = value_of(planes[0], "id");
  }
  // The state line of the CRTC the tools use.
  std::string crtc_line(const std::string& state) {
    auto l = lines_with(state, "crtc id=" + crtc_ + " ");
    return l.empty() ? "" : l[0];
  }
  void expect_scanout_of_drawn_pattern(const std::string& state) {
    std::string l = crtc_line(state);
    EXPECT_EQ(value_of(l, "active"), "1") << state;
    EXPECT_EQ(value_of(l, "mode").rfind(mode_ + "@", 0), 0u) << state;
    EXPECT_NE(value_of(l, "crc_hw"), "none") << state;
    EXPECT_EQ(value_of(l, "crc_hw"), value_of(l, "crc_sw")) << state;
    EXPECT_EQ(value_of(l, "crc_match"), "1") << state;
    auto conn = lines_with(state, "connector id=" + conn_ + " ");
    ASSERT_EQ(conn.size(), 1u) << state;
    EXPECT_EQ(value_of(conn[0], "crtc"), crtc_) << state;
    EXPECT_EQ(value_of(conn[0], "status"), "connected") << state;
  }

  std::string drv_, name_, conn_, mode_, crtc_, plane_, dpms_;
};

TEST_P(ToolsTest, ModetestListsConnectorsAndPlanes) {
  RunResult c = udrm_run(drv_, "modetest -M " + name_ + " -c");
  ASSERT_EQ(c.status, 0) << c.out;
  EXPECT_NE(c.out.find("connected"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("EDID"), std::string::npos) << c.out;
  RunResult p = udrm_run(drv_, "modetest -M " + name_ + " -p");
  ASSERT_EQ(p.status, 0) << p.out;
  EXPECT_NE(p.out.find("CRTCs:"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("Planes:"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("\n" + plane_ + "\t"), std::string::npos) << p.out;
}

TEST_P(ToolsTest, LegacyModesetScansOutWhatModetestDrew) {
  std::string out = temp_path(drv_ + "-legacy.state");
  RunResult r = udrm_run(drv_, "(sleep 1; udrmctl state > " + out + "; echo) | modetest -M " + name_ + " -s " +
                                   conn_ + ":" + mode_);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("setting mode " + mode_), std::string::npos) << r.out;
  std::string st = slurp(out);
  expect_scanout_of_drawn_pattern(st);
  EXPECT_NE(st.find("files count=1"), std::string::npos) << st;
}

TEST_P(ToolsTest, PageFlipsWithEventsAndTrace) {
  std::string out = temp_path(drv_ + "-flip.state"), trace = temp_path(drv_ + "-flip.json");
  RunResult r = udrm_run(drv_,
                         "(sleep 2; udrmctl state > " + out + "; echo) | modetest -M " + name_ + " -s " + conn_ + ":" +
                             mode_ + " -v",
                         "--trace " + trace);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("freq: "), std::string::npos) << r.out;  // modetest counted flip events
  std::string st = slurp(out);
  EXPECT_EQ(value_of(crtc_line(st), "active"), "1") << st;
  std::string tr = slurp(trace);
  EXPECT_EQ(tr.rfind("{\"traceEvents\":[", 0), 0u);
  EXPECT_NE(tr.find("\n]}"), std::string::npos);
  EXPECT_GT(lines_with(tr, "\"name\":\"MODE_PAGE_FLIP\"").size(), 20u);
  EXPECT_TRUE(lines_with(tr, "\"name\":\"MODE_PAGE_FLIP\",\"cat\":\"ioctl\"").size() > 0);
  EXPECT_FALSE(lines_with(tr, "\"name\":\"open\"").empty());
}

TEST_P(ToolsTest, AtomicModesetWithPlane) {
  std::string out = temp_path(drv_ + "-atomic.state");
  RunResult r = udrm_run(drv_, "(sleep 1; udrmctl state > " + out + "; echo) | modetest -M " + name_ + " -a -s " +
                                   conn_ + ":" + mode_ + " -P " + plane_ + "@" + crtc_ + ":" + mode_);
  ASSERT_EQ(r.status, 0) << r.out;
  std::string st = slurp(out);
  expect_scanout_of_drawn_pattern(st);
  auto pl = lines_with(st, "plane id=" + plane_ + " ");
  ASSERT_EQ(pl.size(), 1u) << st;
  EXPECT_EQ(value_of(pl[0], "crtc"), crtc_) << st;
  EXPECT_NE(value_of(pl[0], "fb"), "0") << st;
}

TEST_P(ToolsTest, SetPropertyWithModetestAndProptest) {
  if (!have_tool("proptest")) GTEST_SKIP() << "proptest not installed";
  // modetest -d drops master after the modeset, so the property setters can become master.
  std::string a = temp_path(drv_ + "-dpms-off.state"), b = temp_path(drv_ + "-dpms-on.state");
  RunResult r = udrm_run(drv_, "(sleep 1; modetest -M " + name_ + " -w " + conn_ + ":DPMS:3 && udrmctl state > " + a +
                                   " && proptest -M " + name_ + " " + conn_ + " connector " + dpms_ +
                                   " 0 && udrmctl state > " +
                                   b + "; echo) | modetest -M " + name_ + " -d -s " + conn_ + ":" + mode_);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(value_of(crtc_line(slurp(a)), "active"), "0") << slurp(a) << r.out;
  EXPECT_EQ(value_of(crtc_line(slurp(b)), "active"), "1") << slurp(b) << r.out;
}

TEST_P(ToolsTest, ProptestReadsProperties) {
  if (!have_tool("proptest")) GTEST_SKIP() << "proptest not installed";
  RunResult r = udrm_run(drv_, "proptest -M " + name_);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Connector " + conn_), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("DPMS"), std::string::npos) << r.out;
}

TEST_P(ToolsTest, VbltestCountsVblanksWhileAModeIsSet) {
  if (!have_tool("vbltest")) GTEST_SKIP() << "vbltest not installed";
  std::string out = temp_path(drv_ + "-vbl.out");
  // vbltest needs a lit CRTC: modetest holds the mode while vbltest runs (a second client of
  // the same device); vbltest stops when its stdin becomes readable (hence `sleep |`) and
  // never ends by itself (hence timeout; stdbuf keeps its output when SIGINT ends it).
  RunResult r = udrm_run(drv_, "(sleep 1; sleep 4 | timeout -s INT 3 stdbuf -oL vbltest -M " + name_ + " > " + out +
                                   " 2>&1; echo) | modetest -M " + name_ + " -s " + conn_ + ":" + mode_);
  ASSERT_EQ(r.status, 0) << r.out;
  std::string v = slurp(out);
  EXPECT_NE(v.find("starting count: "), std::string::npos) << v;
  EXPECT_NE(v.find("freq: "), std::string::npos) << v;  // 60 vblank events arrived
  EXPECT_EQ(v.find("failed"), std::string::npos) << v;
}

TEST_P(ToolsTest, ModeprintAndDrmdevice) {
  if (!have_tool("modeprint") || !have_tool("drmdevice")) GTEST_SKIP() << "modeprint/drmdevice not installed";
  RunResult m = udrm_run(drv_, "modeprint " + name_);
  ASSERT_EQ(m.status, 0) << m.out;
  EXPECT_NE(m.out.find("Connector: "), std::string::npos) << m.out;
  EXPECT_NE(m.out.find(mode_), std::string::npos) << m.out;
  RunResult d = udrm_run(drv_, "drmdevice");
  ASSERT_EQ(d.status, 0) << d.out;
  EXPECT_NE(d.out.find("--- Devices reported 1 ---"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("/dev/dri/card0"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("udrm," + name_), std::string::npos) << d.out;
  EXPECT_EQ(d.out.find("/dev/dri/renderD128") != std::string::npos, drv_ == "simple") << d.out;
}

TEST_P(ToolsTest, UdrmctlDevicesAndExitCodes) {
  RunResult r = udrm_run(drv_, "udrmctl devices");
  ASSERT_EQ(r.status, 0) << r.out;
  auto lines = lines_with(r.out, " bound");
  EXPECT_EQ(lines.size(), drv_ == "simple" ? 1u : 3u) << r.out;
  EXPECT_EQ(r.out.rfind(drv_ == "simple" ? "simple " : "dc ", 0), 0u) << r.out;
  EXPECT_EQ(udrm_run(drv_, "udrmctl unbind nosuchdevice").status, 1);
  EXPECT_EQ(udrm_run(drv_, "udrmctl frobnicate").status, 2);
  EXPECT_EQ(sh("env -u UDRM_SOCKET udrmctl devices").status, 2);
  EXPECT_EQ(udrm_run(drv_, "exit 7").status, 7);  // udrm-run exits with the program's status
  EXPECT_EQ(udrm_run(drv_, "kill -TERM $$").status, 128 + 15);
}

TEST_P(ToolsTest, UnbindFromInsideTheProgramWhileItHoldsTheFile) {
  // modetest flips (-v); the program's own child unbinds the device through udrmctl. The
  // unbind completes while modetest holds its file; modetest then sees ENODEV (its exit-time
  // DESTROY_DUMB fails), the server survives, and the device is freed at the last close.
  std::string dev = drv_ == "simple" ? "simple" : "dc";
  std::string a = temp_path(drv_ + "-unbind.devices"), b = temp_path(drv_ + "-unbind.state"),
              trace = temp_path(drv_ + "-unbind.json");
  RunResult r = udrm_run(drv_,
                         "(sleep 1; udrmctl unbind " + dev + " && udrmctl devices > " + a + " && udrmctl state > " + b +
                             "; sleep 1; echo) | modetest -M " + name_ + " -s " + conn_ + ":" + mode_ +
                             " -v; modetest -M " + name_ + " -c; udrmctl bind " + dev + " && modetest -M " + name_ +
                             " -c > /dev/null && echo rebound-ok",
                         "--trace " + trace);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("No such device"), std::string::npos) << r.out;
  EXPECT_NE(slurp(a).find(dev + " "), std::string::npos);
  EXPECT_NE(lines_with(slurp(a), dev + " ")[0].find("unbound"), std::string::npos) << slurp(a);
  std::string st = slurp(b);
  EXPECT_NE(st.find("bound=0"), std::string::npos) << st;
  EXPECT_NE(st.find("files count=1"), std::string::npos) << st;  // modetest still holds it
  EXPECT_NE(r.out.find("rebound-ok"), std::string::npos) << r.out;
  std::string tr = slurp(trace);
  EXPECT_FALSE(lines_with(tr, "\"name\":\"unbind\"").empty());
  // Every ioctl after the unbind failed with ENODEV (-19), none crashed the server.
  EXPECT_FALSE(lines_with(tr, "\"result\":-19").empty()) << tr.substr(0, 2000);
}

TEST_P(ToolsTest, UnbindAfterMsDuringFlips) {
  std::string trace = temp_path(drv_ + "-timer.json");
  RunResult r = udrm_run(drv_, "(sleep 2; echo) | modetest -M " + name_ + " -s " + conn_ + ":" + mode_ + " -v",
                         "--unbind-after-ms 800 --rebind-after-ms 200 --trace " + trace);
  EXPECT_EQ(r.status, 0) << r.out;
  std::string tr = slurp(trace);
  EXPECT_FALSE(lines_with(tr, "\"name\":\"unbind\"").empty());
  EXPECT_FALSE(lines_with(tr, "\"name\":\"bind\"").empty());
  EXPECT_FALSE(lines_with(tr, "\"result\":-19").empty());
}

INSTANTIATE_TEST_SUITE_P(Drivers, ToolsTest, ::testing::Values("simple", "soc"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace udrm::run::test
