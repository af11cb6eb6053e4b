// Chrome Trace Event JSON writer (trace.h).
#include "trace.h"

#include <cinttypes>

namespace udrm::run {

namespace {
// Names and details are ours (ioctl names, device names): escape quotes/backslashes anyway.
std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    o += c;
  }
  return o;
}
}  // namespace

Trace::Trace(const std::string& path) : t0_(std::chrono::steady_clock::now()) {
  f_ = std::fopen(path.c_str(), "w");
  if (f_) std::fputs("{\"traceEvents\":[\n", f_);
}

Trace::~Trace() { finish(); }

int64_t Trace::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0_).count();
}

void Trace::begin_event() {
  if (!first_) std::fputs(",\n", f_);
  first_ = false;
}

void Trace::complete(const char* name, pid_t pid, uint64_t tid, int64_t ts_us, int64_t dur_us, long result) {
  std::lock_guard<std::mutex> l(mu_);
  if (!f_) return;
  begin_event();
  std::fprintf(f_,
               "{\"name\":\"%s\",\"cat\":\"ioctl\",\"ph\":\"X\",\"pid\":%d,\"tid\":%" PRIu64 ",\"ts\":%" PRId64
               ",\"dur\":%" PRId64 ",\"args\":{\"result\":%ld}}",
               escape(name).c_str(), static_cast<int>(pid), tid, ts_us, dur_us, result);
}

void Trace::instant(const char* name, pid_t pid, uint64_t tid, const std::string& detail) {
  std::lock_guard<std::mutex> l(mu_);
  if (!f_) return;
  begin_event();
  std::fprintf(f_,
               "{\"name\":\"%s\",\"cat\":\"device\",\"ph\":\"i\",\"s\":\"p\",\"pid\":%d,\"tid\":%" PRIu64
               ",\"ts\":%" PRId64 ",\"args\":{\"detail\":\"%s\"}}",
               escape(name).c_str(), static_cast<int>(pid), tid, now_us(), escape(detail).c_str());
}

void Trace::finish() {
  std::lock_guard<std::mutex> l(mu_);
  if (!f_) return;
  std::fputs("\n]}\n", f_);
  std::fclose(f_);
  f_ = nullptr;
}

}  // namespace udrm::run
