// udrm-run/trace.h — a Chrome Trace Event JSON writer ({"traceEvents":[...]}): one complete
// ("X") event per ioctl, instant ("i") events for open/close/unbind/bind. Loadable in
// chrome://tracing and Perfetto. Minimal on purpose (issue 7 extends it).
//
// Lifetime: opened by the server at start, finished (closing bracket written) by finish() or
// the destructor. Context: any thread (one mutex around the file).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace udrm::run {

class Trace {
 public:
  /// Opens (truncates) path; ok() tells whether it worked.
  explicit Trace(const std::string& path);
  ~Trace();
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  bool ok() const noexcept { return f_ != nullptr; }
  /// Microseconds since the trace started.
  int64_t now_us() const;
  void complete(const char* name, pid_t pid, uint64_t tid, int64_t ts_us, int64_t dur_us, long result);
  void instant(const char* name, pid_t pid, uint64_t tid, const std::string& detail = "");
  void finish();

 private:
  void begin_event();
  std::mutex mu_;
  FILE* f_ = nullptr;
  bool first_ = true;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace udrm::run
