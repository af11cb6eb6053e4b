// The state of a Timeline (udrm/trace/timeline.h), shared by the writer (timeline.cpp) and
// the tracepoint handlers (timeline_events.cpp). Internal.
//
// Lifetime: owned by its Timeline. Context: every member below `lock` is guarded by it (a
// spinlock: tracepoints fire in interrupt context); the FILE by file_mu (process context).
#pragma once
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "udrm/base/spinlock.h"
#include "udrm/base/time.h"
#include "udrm/base/trace_hook.h"
#include "udrm/trace/timeline.h"

namespace udrm::trace {

/// Appends JSON text; strings are escaped.
void json_escape(std::string& out, std::string_view s);

struct Timeline::Impl {
  // Fixed tracks of the framework process.
  static constexpr uint64_t kDeviceTid = 1, kUpdatesTid = 2, kFirstCrtcTid = 10, kFirstIrqTid = 100,
                            kFirstFileTid = 1000;

  std::mutex file_mu;
  std::FILE* f = nullptr;
  int slot = -1;  // index in the sink table while recording
  bool finished = false;
  int pid = 0;
  TimePoint origin{};

  SpinLock lock;
  std::string buf;     // formatted events not yet written
  bool first = true;   // no event written yet (separator)

  struct Track {
    int pid = 0;
    uint64_t tid = 0;
  };
  std::map<std::string, uint64_t> crtc_tids, irq_tids;
  std::unordered_map<const void*, Track> files;  // open DRM files
  uint64_t next_file = 0;
  uint64_t next_id = 1;  // async span ids
  uint64_t next_update = 0;
  struct Update {
    uint64_t n = 0;
    uint64_t check_id = 0;  // open check span (0: none)
  };
  std::unordered_map<const void*, Update> updates;  // AtomicState -> update number
  struct Span {
    uint64_t id = 0, n = 0, tid = 0;
    std::string crtc;
    const char* sub = nullptr;  // open sub-slice
  };
  std::unordered_map<const void*, Span> spans;  // CrtcCommit -> open commit span
  std::unordered_map<const void*, const void*> flipped_at_setup;  // CrtcCommit -> its update
  std::deque<std::pair<const void*, Span>> closed;  // recent, for a flip_done after cleanup_done
  std::map<std::string, std::deque<uint64_t>> unbinds;  // device -> open unbind span ids

  double now_us() const noexcept;
  // Caller holds lock. args: a JSON object or empty.
  void event_locked(std::string_view ph, std::string_view name, std::string_view cat, int pid, uint64_t tid,
                    double ts, std::string_view extra, std::string_view args);
  void instant_locked(std::string_view name, std::string_view cat, uint64_t tid, std::string_view args);
  void async_locked(char ph, std::string_view name, uint64_t id, uint64_t tid, std::string_view args);
  void meta_locked(std::string_view what, int pid, uint64_t tid, std::string_view name);
  void sort_locked(uint64_t tid, int index);
  uint64_t crtc_tid_locked(const char* crtc);
  Track file_track_locked(const void* file, const char* drv);

  // Tracepoints (timeline_events.cpp).
  void on_irq(const char* name);
  void on_commit(TraceCommit phase, const void* update, const void* commit, const char* crtc, int ret);
  void on_vblank(const char* crtc, uint64_t seq);
  void on_device(TraceDevice ev, const char* dev);
  void on_release(TraceRelease kind, const char* owner, const char* name);
  void on_file(TraceFile ev, const void* file, const char* drv);
  void on_event(const void* file, uint32_t type, TraceEventFate fate);
};

}  // namespace udrm::trace
