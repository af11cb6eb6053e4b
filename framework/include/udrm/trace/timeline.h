// udrm/trace/timeline.h — a Chrome Trace Event / Perfetto JSON timeline of the framework.
//
// start(path) registers the framework's trace hook (udrm/base/trace_hook.h) and records every
// tracepoint into {"traceEvents":[...]}, loadable in chrome://tracing, ui.perfetto.dev and
// other viewers of that format. Tracks (threads of the process `udrm`, named with "M" events):
//   "device lifetime"  bind (i), unbind (async b/e span), unplug (i), devm:/drmm: releases (i)
//   "atomic updates"   check #N (async b/e, args: ret)
//   "crtc <name>"      vblank (i, args: seq), commit #N (async b/e) with nested swap / hw_done /
//                      flip_done sub-slices, each starting at the phase it names
//   "irq <name>"       every fake-IRQ dispatch (i)
//   "file <n> (<drv>)" open / close / last close, event <TYPE> <fate> (i); a file bound with
//                      bind_file() reports on its client's track instead
// Callers add their own events (udrm-run: one X event per ioctl on the client's track).
// Timestamps are microseconds of the framework clock (udrm/base/time.h): the virtual clock for
// code running in a SimExecutor task (it starts at 0, so a simulated trace is deterministic),
// otherwise the steady clock since start().
//
// Several timelines may record at once (at most 4); each sees every tracepoint. The hook runs
// in the firing context: it formats the event and appends it to a buffer under a spinlock,
// never sleeps and never writes the file; flush() (process context) and finish() write.
//
// Lifetime: finish() (or the destructor) unregisters the hook — after it returns no tracepoint
// touches this object — and writes the closing bracket. Context: start/flush/finish/destructor:
// process context, may sleep. complete/instant/name_*/bind_file/now_us: any context.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace udrm::trace {

class Timeline {
 public:
  Timeline();
  ~Timeline();
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;

  /// Open (truncate) path and start recording. 0; -EINVAL for an empty path; -EALREADY if
  /// this timeline records already; -EBUSY if 4 timelines record already or a module holds
  /// the trace hook; -errno of fopen.
  int start(const std::string& path);
  bool active() const noexcept;
  /// The framework pid used for the framework's own tracks.
  int pid() const noexcept;
  /// Microseconds on the timeline's clock (see above).
  double now_us() const noexcept;

  /// A complete ("X") event; args_json is a JSON object ("{}" or "" for none).
  void complete(std::string_view name, std::string_view cat, int pid, uint64_t tid, double ts_us, double dur_us,
                std::string_view args_json = "");
  /// A thread-scoped instant ("i") event at now_us().
  void instant(std::string_view name, std::string_view cat, int pid, uint64_t tid, std::string_view args_json = "");
  /// Name a track / a process ("M" thread_name / process_name events).
  void name_thread(int pid, uint64_t tid, std::string_view name);
  void name_process(int pid, std::string_view name);
  /// Report the DRM file's framework events (open/close/events) on (pid, tid) from now on.
  void bind_file(const void* file, int pid, uint64_t tid);

  /// Write what is buffered. 0 or -errno.
  int flush();
  /// Stop recording, write everything and the closing bracket, close the file. 0 or -errno
  /// (-EBADF if not started). Idempotent.
  int finish();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace udrm::trace
