// udrm-trace-plot: the model of a hand-written timeline (tracks in viewer order, nested spans,
// failed ioctls, spans left open), bad traces rejected with the reason, the script drawing what
// is in the window, and the tool end to end (PNG when gnuplot is installed, exit statuses).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include "plot.h"
#include "trace_model.h"

namespace udrm::traceplot {
namespace {

// Two processes: the server (pid 10: two named tracks, sorted by index, not by tid; a third
// named but without events, not drawn) and a client (pid 20, one unnamed connection track).
const char* kTrace = R"json({"traceEvents":[
 {"name":"process_name","ph":"M","pid":10,"tid":0,"ts":0,"args":{"name":"udrm"}},
 {"name":"thread_name","ph":"M","pid":10,"tid":10,"ts":0,"args":{"name":"crtc crtc-0"}},
 {"name":"thread_sort_index","ph":"M","pid":10,"tid":10,"ts":0,"args":{"sort_index":10}},
 {"name":"thread_name","ph":"M","pid":10,"tid":1,"ts":0,"args":{"name":"device lifetime"}},
 {"name":"thread_sort_index","ph":"M","pid":10,"tid":1,"ts":0,"args":{"sort_index":0}},
 {"name":"thread_name","ph":"M","pid":10,"tid":1000,"ts":0,"args":{"name":"file 0 (unused)"}},
 {"name":"process_name","ph":"M","pid":20,"tid":0,"ts":0,"args":{"name":"client pid 20"}},
 {"name":"ATOMIC","cat":"ioctl","ph":"X","pid":20,"tid":3,"ts":1000,"dur":500,"args":{"result":0}},
 {"name":"commit #1","cat":"commit","ph":"b","pid":10,"tid":10,"ts":1200,"id":7},
 {"name":"swap","cat":"commit","ph":"b","pid":10,"tid":10,"ts":1200,"id":7},
 {"name":"swap","cat":"commit","ph":"e","pid":10,"tid":10,"ts":1300,"id":7},
 {"name":"hw_done","cat":"commit","ph":"b","pid":10,"tid":10,"ts":1300,"id":7},
 {"name":"vblank","cat":"vblank","ph":"i","pid":10,"tid":10,"ts":17000,"s":"t","args":{"seq":2}},
 {"name":"hw_done","cat":"commit","ph":"e","pid":10,"tid":10,"ts":17000,"id":7},
 {"name":"commit #1","cat":"commit","ph":"e","pid":10,"tid":10,"ts":17100,"id":7},
 {"name":"unbind dc","cat":"device","ph":"b","pid":10,"tid":1,"ts":20000,"id":8},
 {"name":"devm: dc.regs","cat":"devm","ph":"i","pid":10,"tid":1,"ts":20500,"s":"t"},
 {"name":"ATOMIC","cat":"ioctl","ph":"X","pid":20,"tid":3,"ts":21000,"dur":100,"args":{"result":-19}},
 {"name":"C","ph":"C","pid":10,"tid":1,"ts":21000,"args":{"x":1}}
]})json";

Model loaded(const char* text = kTrace) {
  Model m;
  std::string err;
  EXPECT_EQ(load(text, &m, &err), 0) << err;
  return m;
}

TEST(TracePlotModel, TracksInViewerOrderWithProcessPrefixOutsideTheFirst) {
  Model m = loaded();
  ASSERT_EQ(m.tracks.size(), 3u);
  EXPECT_EQ(m.tracks[0].name, "device lifetime");  // sort index 0 before 10
  EXPECT_EQ(m.tracks[1].name, "crtc crtc-0");
  EXPECT_EQ(m.tracks[2].name, "client pid 20: tid 3");
  EXPECT_EQ(m.first_process, "udrm");  // named first; its tracks carry no process prefix
  EXPECT_DOUBLE_EQ(m.t_min, 1.0);
  EXPECT_DOUBLE_EQ(m.t_max, 21.1);  // the end of the last X
  EXPECT_EQ(m.ignored, 1u);         // the counter event
}

TEST(TracePlotModel, SpansNestAndOpenOnesCloseAtTheEnd) {
  Model m = loaded();
  int commits = 0, subs = 0, ioctls = 0, failed = 0, open = 0;
  for (const Box& b : m.boxes) {
    if (b.name == "commit #1") {
      ++commits;
      EXPECT_EQ(b.depth, 0);
      EXPECT_EQ(b.track, 1u);
      EXPECT_DOUBLE_EQ(b.t0, 1.2);
      EXPECT_DOUBLE_EQ(b.t1, 17.1);
    }
    if (b.name == "swap" || b.name == "hw_done") {
      ++subs;
      EXPECT_EQ(b.depth, 1) << b.name;
    }
    if (b.cat == "ioctl") {
      ++ioctls;
      EXPECT_EQ(b.track, 2u);
      failed += b.failed;
    }
    if (b.open_at_end) {
      ++open;
      EXPECT_EQ(b.name, "unbind dc");
      EXPECT_DOUBLE_EQ(b.t1, m.t_max);
    }
  }
  EXPECT_EQ(commits, 1);
  EXPECT_EQ(subs, 2);
  EXPECT_EQ(ioctls, 2);
  EXPECT_EQ(failed, 1);  // result -19 (ENODEV)
  EXPECT_EQ(open, 1);
  ASSERT_EQ(m.ticks.size(), 2u);
  EXPECT_EQ(m.ticks[0].name, "vblank");
  EXPECT_EQ(m.ticks[1].track, 0u);
}

TEST(TracePlotModel, BadTracesAreRejectedWithTheReason) {
  struct Case {
    const char* text;
    const char* reason;
  } cases[] = {
      {"{\"traceEvents\":[", "not JSON"},
      {"[]", "no traceEvents"},
      {"{\"traceEvents\":{}}", "no traceEvents"},
      {"{\"traceEvents\":[1]}", "event 0: not an object"},
      {"{\"traceEvents\":[{\"ph\":\"i\",\"pid\":1,\"tid\":1}]}", "event 0: no numeric ts"},
      {"{\"traceEvents\":[{\"ph\":\"i\",\"ts\":1}]}", "no numeric pid/tid"},
      {"{\"traceEvents\":[{\"ph\":\"e\",\"pid\":1,\"tid\":1,\"ts\":1,\"id\":3,\"name\":\"x\"}]}", "no open span"},
      {"{\"traceEvents\":[{\"ph\":\"b\",\"pid\":1,\"tid\":1,\"ts\":1,\"name\":\"x\"}]}", "without an id"},
      {"{\"traceEvents\":[{\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":1,\"dur\":-2}]}", "X without a dur"},
  };
  for (const Case& c : cases) {
    Model m;
    std::string err;
    EXPECT_EQ(load(c.text, &m, &err), -EINVAL) << c.text;
    EXPECT_NE(err.find(c.reason), std::string::npos) << c.text << " -> " << err;
  }
  Model m;
  std::string err;
  EXPECT_EQ(load("{\"traceEvents\":[]}", &m, &err), 0);  // empty: valid, nothing to draw
  PlotOptions o;
  o.png = "x.png";
  EXPECT_NE(gnuplot_script(m, o).find("plot NaN"), std::string::npos);
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(TracePlotScript, DrawsWhatIsInTheWindow) {
  Model m = loaded();
  PlotOptions o;
  o.png = "out.png";
  const std::string all = gnuplot_script(m, o);
  PlotCounts c = plot_counts(m, o);
  EXPECT_EQ(c.rows, 3);
  EXPECT_EQ(c.boxes, 6);  // commit, swap, hw_done, unbind, two ioctls
  EXPECT_EQ(c.ticks, 2);
  EXPECT_EQ(count(all, "set object "), 6u);
  EXPECT_NE(all.find("set output 'out.png'"), std::string::npos);
  EXPECT_NE(all.find("'device lifetime' 0"), std::string::npos);
  EXPECT_NE(all.find("'client pid 20: tid 3' 2"), std::string::npos);
  EXPECT_NE(all.find("title 'ioctl failed'"), std::string::npos);
  EXPECT_NE(all.find("title 'until hw_done'"), std::string::npos);
  EXPECT_EQ(all.find("set label 'vblank'"), std::string::npos);  // a periodic instant: no label

  o.from = 19.5;  // only the unbind, its devm release and the failed ioctl
  o.to = 22;
  c = plot_counts(m, o);
  EXPECT_EQ(c.rows, 2);  // the CRTC has nothing in the window: no row
  EXPECT_EQ(c.boxes, 2);
  EXPECT_EQ(c.ticks, 1);
  const std::string win = gnuplot_script(m, o);
  EXPECT_NE(win.find("set xrange [19.5:22]"), std::string::npos);
  EXPECT_NE(win.find("set ytics nomirror scale 0 ('device lifetime' 0, 'client pid 20: tid 3' 1)"), std::string::npos);
  EXPECT_EQ(win.find("title 'until hw_done'"), std::string::npos);  // the legend lists what is drawn
  EXPECT_NE(win.find("title 'unbind'"), std::string::npos);
  EXPECT_NE(win.find("set label 'devm: dc.regs'"), std::string::npos);  // a lifetime step: labelled

  o.title = "it's";  // a quote in a gnuplot string is doubled
  EXPECT_NE(gnuplot_script(m, o).find("set title 'it''s'"), std::string::npos);
}

// The tool itself, on the trace above.
class TracePlotTool : public ::testing::Test {
 protected:
  void SetUp() override {
    tool_ = UDRM_TRACE_PLOT_BIN;
    dir_ = ::testing::TempDir() + "udrm_trace_plot_";
    std::ofstream(dir_ + "in.json") << kTrace;
    std::ofstream(dir_ + "bad.json") << "{\"traceEvents\":[{\"ph\":\"e\"}]}";
  }
  int run(const std::string& args) {
    const std::string gnuplot = UDRM_GNUPLOT_BIN;
    const int st = std::system(("GNUPLOT='" + gnuplot + "' " + tool_ + " " + args + " >/dev/null 2>&1").c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  static bool have_gnuplot() {
    const std::string g = UDRM_GNUPLOT_BIN;
    return !g.empty() && g.find("NOTFOUND") == std::string::npos;
  }
  std::string tool_, dir_;
};

TEST_F(TracePlotTool, WritesTheScriptAndExitStatusesSayWhatWentWrong) {
  std::remove((dir_ + "s.gp").c_str());
  EXPECT_EQ(run("--no-render " + dir_ + "in.json " + dir_ + "s.png"), 0);
  std::ifstream gp(dir_ + "s.gp");
  std::stringstream ss;
  ss << gp.rdbuf();
  EXPECT_NE(ss.str().find("set terminal pngcairo"), std::string::npos);
  EXPECT_EQ(run("--no-render --around 'unbind ' --span 4 " + dir_ + "in.json " + dir_ + "s.png"), 0);
  EXPECT_EQ(run("--no-render --around 'no such' " + dir_ + "in.json " + dir_ + "s.png"), 1);
  EXPECT_EQ(run(dir_ + "missing.json " + dir_ + "s.png"), 1);
  EXPECT_EQ(run(dir_ + "bad.json " + dir_ + "s.png"), 1);
  EXPECT_EQ(run(dir_ + "in.json"), 2);
  EXPECT_EQ(run("--width 5 " + dir_ + "in.json " + dir_ + "s.png"), 2);
  EXPECT_EQ(run("--bogus " + dir_ + "in.json " + dir_ + "s.png"), 2);
  EXPECT_EQ(run("--around x --from 1 " + dir_ + "in.json " + dir_ + "s.png"), 2);
}

TEST_F(TracePlotTool, RendersAPng) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot is not installed (tools/dev.sh deps installs gnuplot-nox)";
  const std::string png = dir_ + "out.png";
  std::remove(png.c_str());
  ASSERT_EQ(run(dir_ + "in.json " + png), 0);
  std::ifstream f(png, std::ios::binary);
  std::string head(8, '\0');
  ASSERT_TRUE(f.read(head.data(), 8));
  EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8));
  f.seekg(0, std::ios::end);
  EXPECT_GT(f.tellg(), 5000);  // a drawn plot, not an empty canvas
}

}  // namespace
}  // namespace udrm::traceplot
