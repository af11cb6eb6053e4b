// udrm-trace-plot's model of a timeline: the tracks, spans and instants of a Chrome Trace Event
// file as udrm writes it (udrm/trace/timeline.h, udrm-run --trace): metadata M (process_name,
// thread_name, thread_sort_index), async spans b/e matched by (cat, id) and nested, complete
// events X, instants i. Other phases are counted and ignored.
//
// Lifetime: values. Context: any thread; no udrm state involved.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace udrm::traceplot {

struct Track {
  int64_t pid = 0, tid = 0;
  std::string process;        // from process_name ("pid N" when never named)
  std::string name;           // the row's label: thread_name ("tid N" when never named),
                              // prefixed "process: " outside the first process
  int64_t sort_index = 0;     // thread_sort_index (default: the tid, as viewers do)
  std::size_t first = 0;      // first event on it, for a stable order between processes
};

struct Box {
  std::size_t track = 0;  // index into Model::tracks (after sorting)
  double t0 = 0, t1 = 0;  // milliseconds
  std::string name, cat;
  int depth = 0;          // 0: a span or an X event; 1+: a sub-slice nested in an open span
  bool open_at_end = false;
  bool failed = false;    // an X event whose args.result is negative (an ioctl's -errno)
};

struct Tick {
  std::size_t track = 0;
  double t = 0;  // milliseconds
  std::string name, cat;
};

struct Model {
  std::vector<Track> tracks;  // in display order, top to bottom
  std::vector<Box> boxes;
  std::vector<Tick> ticks;
  double t_min = 0, t_max = 0;  // over every timed event (ms)
  std::size_t ignored = 0;      // events of other phases
  std::string first_process;    // its tracks are labelled without the process name
};

/// Builds the model from the file's text. Returns 0, or -EINVAL with *err saying what is wrong
/// (not JSON, no traceEvents array, an event without ph/ts/pid/tid, an `e` with no open span).
/// Spans still open at the end are closed at t_max and marked open_at_end.
int load(const std::string& text, Model* out, std::string* err);

}  // namespace udrm::traceplot
