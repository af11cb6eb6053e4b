// Logging and WARN accounting (see udrm/base/log.h).
#include "udrm/base/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace udrm {
namespace {

constexpr const char* kCatNames[] = {"core", "devres", "drmm", "component", "module", "drm",
                                     "kms",  "atomic", "vblank", "driver", "explorer"};
static_assert(sizeof(kCatNames) / sizeof(kCatNames[0]) == static_cast<size_t>(LogCat::count_));

uint32_t parse_mask(const char* s) {
  if (!s || !*s) return 0;
  char* end = nullptr;
  unsigned long v = std::strtoul(s, &end, 0);
  if (end && *end == '\0') return static_cast<uint32_t>(v);
  uint32_t mask = 0;
  std::string list(s);
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    bool known = item.empty() || item == "none";
    if (item == "all") {
      mask |= (1u << static_cast<size_t>(LogCat::count_)) - 1;
      known = true;
    }
    for (size_t i = 0; i < static_cast<size_t>(LogCat::count_); ++i)
      if (item == kCatNames[i]) {
        mask |= 1u << i;
        known = true;
      }
    // A typo must not silently turn debugging off (stderr directly: this runs at first use).
    if (!known) std::fprintf(stderr, "udrm: UDRM_DEBUG: unknown category '%s' ignored\n", item.c_str());
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return mask;
}

std::atomic<uint32_t>& mask_ref() {
  static std::atomic<uint32_t> m{parse_mask(std::getenv("UDRM_DEBUG"))};
  return m;
}
std::atomic<uint64_t> g_warns{0};
std::atomic<int> g_warn_quiet{0};
std::mutex g_last_mu;
std::string g_last;

void vemit(const char* level, LogCat c, const char* fmt, va_list ap) {
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::fprintf(stderr, "udrm %s [%s] %s\n", level, log_cat_name(c), buf);
}

}  // namespace

const char* log_cat_name(LogCat c) noexcept {
  auto i = static_cast<size_t>(c);
  return i < static_cast<size_t>(LogCat::count_) ? kCatNames[i] : "?";
}
void log_set_mask(uint32_t mask) noexcept { mask_ref().store(mask, std::memory_order_relaxed); }
uint32_t log_mask() noexcept { return mask_ref().load(std::memory_order_relaxed); }
bool log_enabled(LogCat c) noexcept { return (log_mask() >> static_cast<unsigned>(c)) & 1u; }

void log_dbg(LogCat c, const char* fmt, ...) {
  if (!log_enabled(c)) return;
  va_list ap;
  va_start(ap, fmt);
  vemit("dbg", c, fmt, ap);
  va_end(ap);
}
void log_info(LogCat c, const char* fmt, ...) {
  if (g_warn_quiet.load(std::memory_order_relaxed) != 0 || std::getenv("UDRM_QUIET")) return;
  va_list ap;
  va_start(ap, fmt);
  vemit("info", c, fmt, ap);
  va_end(ap);
}
void log_err(LogCat c, const char* fmt, ...) {
  if (g_warn_quiet.load(std::memory_order_relaxed) != 0) return;
  va_list ap;
  va_start(ap, fmt);
  vemit("err", c, fmt, ap);
  va_end(ap);
}
bool warn(LogCat c, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (g_warn_quiet.load(std::memory_order_relaxed) == 0)
    std::fprintf(stderr, "udrm WARNING [%s] %s\n", log_cat_name(c), buf);
  {
    std::lock_guard<std::mutex> l(g_last_mu);
    g_last = buf;
  }
  g_warns.fetch_add(1, std::memory_order_relaxed);
  return true;
}
ScopedQuietWarnings::ScopedQuietWarnings() { g_warn_quiet.fetch_add(1, std::memory_order_relaxed); }
ScopedQuietWarnings::~ScopedQuietWarnings() { g_warn_quiet.fetch_sub(1, std::memory_order_relaxed); }

uint64_t warn_count() noexcept { return g_warns.load(std::memory_order_relaxed); }
std::string last_warning() {
  std::lock_guard<std::mutex> l(g_last_mu);
  return g_last;
}

}  // namespace udrm
