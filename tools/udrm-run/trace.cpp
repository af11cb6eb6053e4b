// udrm-run's --trace timeline (trace.h).
#include "trace.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "udrm/trace/timeline.h"

namespace udrm::run {

namespace {
std::string detail_args(const std::string& detail) {
  if (detail.empty()) return "";
  std::string o = "{\"detail\":\"";
  for (char c : detail) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    o += c;
  }
  return o + "\"}";
}
}  // namespace

Trace::Trace(const std::string& path) {
  error_ = tl_.start(path);
  if (error_) {
    errno = -error_;
    return;
  }
  tl_.name_thread(tl_.pid(), 0, "udrm-run control");
  tl_.name_process(tl_.pid(), "udrm-run (server)");
}

Trace::~Trace() { finish(); }

double Trace::now_us() const { return tl_.now_us(); }

void Trace::name_track(pid_t pid, uint64_t tid) {
  if (pid == tl_.pid()) return;
  std::lock_guard<std::mutex> l(mu_);
  if (named_.emplace(pid, UINT64_MAX).second) tl_.name_process(pid, "client pid " + std::to_string(pid));
  if (named_.emplace(pid, tid).second) tl_.name_thread(pid, tid, "connection " + std::to_string(tid));
}

void Trace::complete(const char* name, pid_t pid, uint64_t tid, double ts_us, double dur_us, long result) {
  name_track(pid, tid);
  tl_.complete(name, "ioctl", pid, tid, ts_us, dur_us, "{\"result\":" + std::to_string(result) + "}");
}

void Trace::instant(const char* name, pid_t pid, uint64_t tid, const std::string& detail) {
  name_track(pid, tid);
  tl_.instant(name, "udrm-run", pid, tid, detail_args(detail));
}

void Trace::open_file(const void* file, pid_t pid, uint64_t tid, const std::string& node) {
  tl_.bind_file(file, pid, tid);
  instant("open", pid, tid, node);
}

void Trace::finish() { tl_.finish(); }

}  // namespace udrm::run
