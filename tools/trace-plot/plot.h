// udrm-trace-plot's renderer: the model (trace_model.h) as a gnuplot script that draws one row
// per track, spans as boxes (sub-slices as thinner boxes inside), instants as ticks, colours by
// phase and category, with a legend; pngcairo output.
//
// Lifetime: values. Context: any thread.
#pragma once
#include <string>

#include "trace_model.h"

namespace udrm::traceplot {

struct PlotOptions {
  std::string png;          // output file the script writes (required)
  std::string title;        // default: the input's process name
  double from = 0, to = 0;  // window in ms; to <= from: the whole trace
  int width = 1400;         // pixels; the height follows the number of tracks
};

/// The window actually drawn: opts' if set, else the trace's extent (at least 1 ms wide).
void plot_window(const Model& m, const PlotOptions& opts, double* from, double* to);

/// The gnuplot script. Boxes and ticks outside the window are left out; boxes are clipped.
std::string gnuplot_script(const Model& m, const PlotOptions& opts);

/// Counts of what the script draws (for tests and the tool's summary line).
struct PlotCounts {
  int rows = 0, boxes = 0, ticks = 0, labels = 0;
};
PlotCounts plot_counts(const Model& m, const PlotOptions& opts);

}  // namespace udrm::traceplot
