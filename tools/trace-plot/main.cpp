// udrm-trace-plot: a udrm timeline (udrm-run --trace, UDRM_TRACE, ScopedTimeline) as a PNG,
// one row per track, through gnuplot. docs/trace.md, "A picture".
//
//   udrm-trace-plot [options] TRACE.json OUT.png
//
// Exit status: 0 drawn; 1 the trace is not a timeline, a file cannot be written or gnuplot
// failed (the script is kept); 2 usage.
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "plot.h"
#include "trace_model.h"

extern char** environ;

namespace {

using namespace udrm::traceplot;

constexpr const char* kUsage =
    "usage: udrm-trace-plot [options] TRACE.json OUT.png\n"
    "Draws a udrm timeline (udrm-run --trace, UDRM_TRACE) with gnuplot: one row per track, spans\n"
    "as boxes (commit phases inside), instants as ticks.\n"
    "  --from MS --to MS   the window, in trace milliseconds (default: all of it)\n"
    "  --around NAME       centre the window on the first span or instant whose name starts with\n"
    "                      NAME (e.g. 'unbind ')\n"
    "  --span MS           the window's width with --around (default 100)\n"
    "  --title TEXT        the title (default: the trace's process name)\n"
    "  --width PX          the image width (default 1400; the height follows the tracks)\n"
    "  --script FILE       where the gnuplot script goes (default: OUT.png with .gp)\n"
    "  --no-render         write the script only\n"
    "Exit status: 0 drawn, 1 failure (bad trace, gnuplot missing or failing), 2 usage.\n";

int usage_error(const std::string& what) {
  std::fprintf(stderr, "udrm-trace-plot: %s\n%s", what.c_str(), kUsage);
  return 2;
}

bool to_double(const char* s, double* out) {
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(s, &end);
  return errno == 0 && end != s && *end == '\0';
}

// Runs gnuplot on the script; returns its exit status, or -errno when it could not start.
int run_gnuplot(const std::string& script) {
  const char* gp = std::getenv("GNUPLOT");
  std::string prog = gp && *gp ? gp : "gnuplot";
  char* argv[] = {prog.data(), const_cast<char*>(script.c_str()), nullptr};
  pid_t pid;
  if (int e = posix_spawnp(&pid, prog.c_str(), nullptr, nullptr, argv, environ)) return -e;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -errno;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace

int main(int argc, char** argv) {
  PlotOptions o;
  std::string in, around, script;
  double span = 100;
  bool render = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char** v) {
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--from" || a == "--to" || a == "--span") {
      double d;
      if (!value(&v) || !to_double(v, &d)) return usage_error(a + " needs a number of milliseconds");
      (a == "--from" ? o.from : a == "--to" ? o.to : span) = d;
    } else if (a == "--width") {
      double d;
      if (!value(&v) || !to_double(v, &d) || d < 200 || d > 20000) return usage_error("--width needs 200..20000");
      o.width = static_cast<int>(d);
    } else if (a == "--around") {
      if (!value(&v) || !*v) return usage_error("--around needs a name");
      around = v;
    } else if (a == "--title") {
      if (!value(&v)) return usage_error("--title needs a text");
      o.title = v;
    } else if (a == "--script") {
      if (!value(&v) || !*v) return usage_error("--script needs a file");
      script = v;
    } else if (a == "--no-render") {
      render = false;
    } else if (!a.empty() && a[0] == '-') {
      return usage_error("unknown option " + a);
    } else if (in.empty()) {
      in = a;
    } else if (o.png.empty()) {
      o.png = a;
    } else {
      return usage_error("too many arguments");
    }
  }
  if (in.empty() || o.png.empty()) return usage_error("TRACE.json and OUT.png are needed");
  if (span <= 0) return usage_error("--span must be positive");
  if (!around.empty() && (o.from != 0 || o.to != 0)) return usage_error("--around and --from/--to exclude each other");
  if (script.empty()) {
    script = o.png;
    const auto dot = script.rfind('.');
    if (dot != std::string::npos && script.find('/', dot) == std::string::npos) script.resize(dot);
    script += ".gp";
  }

  std::ifstream f(in);
  if (!f) {
    std::fprintf(stderr, "udrm-trace-plot: %s: %s\n", in.c_str(), std::strerror(errno));
    return 1;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  Model m;
  std::string err;
  if (load(ss.str(), &m, &err)) {
    std::fprintf(stderr, "udrm-trace-plot: %s: not a udrm timeline: %s\n", in.c_str(), err.c_str());
    return 1;
  }
  if (!around.empty()) {
    double at = 0;
    bool found = false;
    for (const Box& b : m.boxes)
      if (b.name.rfind(around, 0) == 0 && (!found || b.t0 < at)) at = b.t0, found = true;
    for (const Tick& k : m.ticks)
      if (k.name.rfind(around, 0) == 0 && (!found || k.t < at)) at = k.t, found = true;
    if (!found) {
      std::fprintf(stderr, "udrm-trace-plot: %s: no span or instant named '%s...'\n", in.c_str(), around.c_str());
      return 1;
    }
    o.from = at - span / 2;
    o.to = at + span / 2;
  }

  const std::string text = gnuplot_script(m, o);
  {
    std::ofstream out(script);
    out << text;
    if (!out.flush()) {
      std::fprintf(stderr, "udrm-trace-plot: %s: cannot write\n", script.c_str());
      return 1;
    }
  }
  const PlotCounts c = plot_counts(m, o);
  double from, to;
  plot_window(m, o, &from, &to);
  std::printf("udrm-trace-plot: %d tracks, %d spans, %d instants, %.3f..%.3f ms -> %s\n", c.rows, c.boxes, c.ticks,
              from, to, render ? o.png.c_str() : script.c_str());
  if (!render) return 0;
  const int rc = run_gnuplot(script);
  if (rc < 0) {
    std::fprintf(stderr, "udrm-trace-plot: cannot run gnuplot: %s (apt-get install gnuplot-nox); script: %s\n",
                 std::strerror(-rc), script.c_str());
    return 1;
  }
  if (rc != 0) {
    std::fprintf(stderr, "udrm-trace-plot: gnuplot failed (status %d); script: %s\n", rc, script.c_str());
    return 1;
  }
  return 0;
}
