// udrm/base/log.h — kernel-like logging, WARN accounting.
//
// Categories mirror drm.debug bits. A WARN is what the kernel would WARN() on: it is printed
// with its category and counted; tests fail on unexpected WARNs (see udrm/testing/warn.h).
//
// Context: any thread, any execution context; never sleeps; callable after unplug.
#pragma once
#include <cstdarg>
#include <cstdint>
#include <string>

namespace udrm {

enum class LogCat : uint8_t { core, devres, drmm, component, module, drm, kms, atomic, vblank, driver, explorer, count_ };

const char* log_cat_name(LogCat c) noexcept;

/// Enable/disable debug output per category (bitmask of 1u << LogCat). Default from the
/// environment variable UDRM_DEBUG (a hex mask or a comma list of names), like drm.debug.
void log_set_mask(uint32_t mask) noexcept;
uint32_t log_mask() noexcept;
bool log_enabled(LogCat c) noexcept;

/// Debug message (printed when the category is enabled).
void log_dbg(LogCat c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
/// Informational message, always printed unless UDRM_QUIET is set.
void log_info(LogCat c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
/// Error message, printed (except under ScopedQuietWarnings); not a WARN.
void log_err(LogCat c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

/// Emit and count a warning (the kernel's WARN()). Returns true so it can sit in conditions.
bool warn(LogCat c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

/// While one exists (process-wide), WARNs are counted and remembered but not printed, and error
/// and info lines are dropped: the explorer's injected failures produce them by the thousand,
/// and it reports the ones that matter (WARNs) as findings.
class ScopedQuietWarnings {
 public:
  ScopedQuietWarnings();
  ~ScopedQuietWarnings();
  ScopedQuietWarnings(const ScopedQuietWarnings&) = delete;
  ScopedQuietWarnings& operator=(const ScopedQuietWarnings&) = delete;
};

/// Total WARNs emitted by this process so far.
uint64_t warn_count() noexcept;
/// Text of the most recent WARN ("" if none).
std::string last_warning();

}  // namespace udrm

/// UDRM_WARN_ON(cond, cat): evaluates to cond, warns when it holds (names the condition).
#define UDRM_WARN_ON(cond, cat)                                                                   \
  (__builtin_expect(!!(cond), 0) ? (::udrm::warn((cat), "WARN_ON(%s) at %s:%d", #cond, __FILE__, \
                                                 __LINE__),                                      \
                                    true)                                                        \
                                 : false)
