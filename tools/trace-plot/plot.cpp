// The gnuplot script (plot.h). One row per track with something in the window, in the model's
// order; y grows downwards.
#include "plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

namespace udrm::traceplot {

namespace {

constexpr double kLeft = 0.17, kRight = 0.985;  // plot area, fraction of the width
constexpr int kRowPx = 34, kExtraPx = 150;      // pixels per track; title, axis and legend
constexpr double kCharPx = 6.2;                 // an 8 pt character, roughly

// A gnuplot single-quoted string: '' is a quote, nothing else is special.
std::string quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) {
    if (c == '\'') o += '\'';
    if (static_cast<unsigned char>(c) >= 0x20) o += c;
  }
  return o + "'";
}

struct Style {
  const char* legend;
  const char* rgb;
};

Style box_style(const Box& b) {
  if (b.depth > 0) {
    if (b.name == "swap") return {"swap", "#fd8d3c"};
    if (b.name == "hw_done") return {"until hw_done", "#9e9ac8"};
    if (b.name == "flip_done") return {"until flip_done", "#74c476"};
    return {"phase", "#bdbdbd"};
  }
  if (b.name.rfind("check #", 0) == 0) return {"atomic check", "#c6dbef"};
  if (b.name.rfind("commit #", 0) == 0) return {"commit (swap to cleanup_done)", "#6baed6"};
  if (b.cat == "device") return {"unbind", "#fb6a4a"};
  if (b.cat == "ioctl") return b.failed ? Style{"ioctl failed", "#de2d26"} : Style{"ioctl", "#41b6c4"};
  return {"span", "#bdbdbd"};
}

Style tick_style(const Tick& k) {
  if (k.cat == "vblank") return {"vblank", "#969696"};
  if (k.cat == "irq") return {"irq", "#525252"};
  if (k.cat == "event")
    return k.name.find("delivered") != std::string::npos ? Style{"event delivered", "#238b45"}
                                                          : Style{"event dropped", "#cb181d"};
  if (k.cat == "devm") return {"devm release", "#e6550d"};
  if (k.cat == "drmm") return {"drmm release", "#8c2d04"};
  if (k.cat == "file") return {"file", "#08519c"};
  if (k.cat == "device") return {"device", "#3182bd"};
  if (k.cat == "commit") return {"late flip_done", "#74c476"};
  if (k.cat == "udrm-run") return {"udrm-run", "#54278f"};
  return {"instant", "#252525"};
}

// Instants worth a text label: lifetime steps, not the periodic ones.
bool labelled(const Tick& k) {
  return k.cat == "device" || k.cat == "file" || k.cat == "udrm-run" || k.cat == "devm" || k.cat == "drmm" ||
         (k.cat == "event" && k.name.find("delivered") == std::string::npos);
}

struct Window {
  double from, to, px_per_ms;
  std::vector<int> row;  // per track: its row, or -1 when nothing of it is in the window
  int rows = 0;
};

bool in_window(const Window& w, const Box& b) { return !(b.t1 < w.from || b.t0 > w.to); }
bool in_window(const Window& w, const Tick& k) { return !(k.t < w.from || k.t > w.to); }

Window window(const Model& m, const PlotOptions& o) {
  Window w{};
  plot_window(m, o, &w.from, &w.to);
  w.px_per_ms = (kRight - kLeft) * o.width / (w.to - w.from);
  std::vector<bool> seen(m.tracks.size(), false);
  for (const Box& b : m.boxes)
    if (in_window(w, b)) seen[b.track] = true;
  for (const Tick& k : m.ticks)
    if (in_window(w, k)) seen[k.track] = true;
  w.row.assign(m.tracks.size(), -1);
  for (std::size_t i = 0; i < m.tracks.size(); ++i)
    if (seen[i]) w.row[i] = w.rows++;
  return w;
}

// Walks what is drawn; emit(nullptr) when only counting.
PlotCounts draw(const Model& m, const PlotOptions& o, std::ostringstream* g) {
  const Window w = window(m, o);
  PlotCounts c;
  c.rows = w.rows;
  std::map<std::string, const char*> legend;  // legend text -> colour, of what is drawn
  std::vector<double> label_end(m.tracks.size(), -1e300);  // per row, in ms
  int obj = 0;
  const double min_w = 2.0 / w.px_per_ms, char_ms = kCharPx / w.px_per_ms;

  // Outer spans first, then sub-slices over them.
  std::vector<const Box*> boxes;
  for (const Box& b : m.boxes) boxes.push_back(&b);
  // (Not std::stable_sort: clang with libstdc++ 12 warns on its get_temporary_buffer.)
  std::sort(boxes.begin(), boxes.end(), [](const Box* a, const Box* b) {
    return a->depth != b->depth ? a->depth < b->depth : a < b;  // same depth: file order
  });
  for (const Box* b : boxes) {
    if (!in_window(w, *b)) continue;
    const double x0 = std::max(b->t0, w.from), x1 = std::min(std::max(b->t1, b->t0 + min_w), w.to);
    const double y = w.row[b->track];
    const double y0 = b->depth ? y - 0.02 : y - 0.42, y1 = b->depth ? y + 0.40 : y + 0.42;
    const Style s = box_style(*b);
    legend.emplace(s.legend, s.rgb);
    ++c.boxes;
    if (g)
      *g << "set object " << ++obj << " rect from " << x0 << "," << y0 << " to " << x1 << "," << y1
         << " fc rgb '" << s.rgb << "' fs solid 0.9 border lc rgb '#4d4d4d' lw 0.5 back\n";
    // The span's name in its upper half when it fits; sub-slices are told apart by colour.
    const double text_ms = (static_cast<double>(b->name.size()) + 1) * char_ms;
    if (b->depth == 0 && x1 - x0 > text_ms && x0 > label_end[b->track]) {
      ++c.labels;
      label_end[b->track] = x0 + text_ms;
      if (g)
        *g << "set label " << quote(b->name + (b->open_at_end ? " ..." : "")) << " at " << x0 + char_ms / 2 << ","
           << y - 0.2 << " front font ',8' noenhanced\n";
    }
  }
  for (const Tick& k : m.ticks) {
    if (!in_window(w, k)) continue;
    const Style s = tick_style(k);
    legend.emplace(s.legend, s.rgb);
    ++c.ticks;
    const double y = w.row[k.track];
    if (g)
      *g << "set arrow from " << k.t << "," << y - 0.42 << " to " << k.t << "," << y + 0.42 << " nohead lc rgb '"
         << s.rgb << "' lw 1.5 front\n";
    if (labelled(k) && k.t > label_end[k.track]) {
      const double text_ms = (static_cast<double>(k.name.size()) + 2) * char_ms;
      label_end[k.track] = k.t + text_ms;
      ++c.labels;
      if (g)
        *g << "set label " << quote(k.name) << " at " << k.t + char_ms << "," << y - 0.2
           << " front font ',8' noenhanced tc rgb '" << s.rgb << "'\n";
    }
  }
  if (g) {
    *g << "plot NaN notitle";
    for (auto& [text, rgb] : legend)
      *g << ", NaN with boxes fs solid 0.9 lc rgb '" << rgb << "' title " << quote(text);
    *g << "\n";
  }
  return c;
}

}  // namespace

void plot_window(const Model& m, const PlotOptions& o, double* from, double* to) {
  *from = o.from;
  *to = o.to;
  if (*to <= *from) {  // the whole trace, with room on the right for the last labels
    *from = m.t_min;
    *to = m.t_max + (m.t_max - m.t_min) * 0.08;
  }
  if (*to - *from < 1.0) {
    const double mid = (*from + *to) / 2;
    *from = mid - 0.5;
    *to = mid + 0.5;
  }
}

PlotCounts plot_counts(const Model& m, const PlotOptions& o) { return draw(m, o, nullptr); }

std::string gnuplot_script(const Model& m, const PlotOptions& o) {
  const Window w = window(m, o);
  const int rows = std::max(1, w.rows);
  std::ostringstream g;
  g.precision(12);
  g << "# udrm-trace-plot: one row per track; time in ms\n"
    << "set terminal pngcairo size " << o.width << "," << rows * kRowPx + kExtraPx
    << " noenhanced font 'sans,9'\n"
    << "set output " << quote(o.png) << "\n"
    << "set title " << quote(o.title.empty() ? (m.first_process.empty() ? "udrm timeline" : m.first_process)
                                             : o.title)
    << "\n"
    << "set lmargin at screen " << kLeft << "\nset rmargin at screen " << kRight << "\n"
    << "set xrange [" << w.from << ":" << w.to << "]\n"
    << "set yrange [" << rows - 0.5 << ":-0.5]\n"
    << "set format x '%g ms'\nset grid xtics lc rgb '#dddddd'\nset border 3\nset xtics nomirror\n"
    << "set key outside bottom center horizontal font ',8' samplen 2\n"
    << "set ytics nomirror scale 0 (";
  for (std::size_t i = 0; i < m.tracks.size(); ++i)
    if (w.row[i] >= 0) g << (w.row[i] ? ", " : "") << quote(m.tracks[i].name) << " " << w.row[i];
  g << ")\n";
  for (int i = 0; i + 1 < w.rows; ++i)
    g << "set arrow from graph 0, first " << i + 0.5 << " to graph 1, first " << i + 0.5
      << " nohead lc rgb '#eeeeee' back\n";
  draw(m, o, &g);
  return g.str();
}

}  // namespace udrm::traceplot
