// udrm-run/trace.h — udrm-run's --trace FILE: a Chrome Trace Event / Perfetto JSON timeline.
//
// A framework timeline (udrm/trace/timeline.h: commit phases per CRTC, vblanks, IRQs, bind/
// unbind/unplug, devm/drmm releases by name, DRM file open/close, every event's fate) plus
// what only the server sees: one complete ("X") event per ioctl on its client's track (process
// = client pid, thread = connection id), open/close per connection, and the server's
// unbind/bind/shutdown instants (server pid, thread 0 "udrm-run control"). A connection's DRM
// file is bound to its track, so the events delivered to a client appear next to its ioctls.
//
// Lifetime: opened by the server at start, finished (closing bracket written) by finish() or
// the destructor. Context: any thread; finish() and the destructor from process context.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "udrm/trace/timeline.h"

namespace udrm::run {

class Trace {
 public:
  /// Opens (truncates) path and starts recording; ok() tells whether it worked (if not, errno
  /// and error() hold the reason: -errno of fopen, -EBUSY if the trace hook is taken).
  explicit Trace(const std::string& path);
  ~Trace();
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  bool ok() const noexcept { return error_ == 0; }
  int error() const noexcept { return error_; }
  /// Microseconds on the timeline's clock.
  double now_us() const;
  void complete(const char* name, pid_t pid, uint64_t tid, double ts_us, double dur_us, long result);
  void instant(const char* name, pid_t pid, uint64_t tid, const std::string& detail = "");
  /// A connection opened `file` (node name in detail): an "open" instant, and the file's
  /// framework events go to the connection's track from now on.
  void open_file(const void* file, pid_t pid, uint64_t tid, const std::string& node);
  void finish();

 private:
  void name_track(pid_t pid, uint64_t tid);
  udrm::trace::Timeline tl_;
  int error_ = 0;
  std::mutex mu_;  // named_
  std::set<std::pair<pid_t, uint64_t>> named_;
};

}  // namespace udrm::run
