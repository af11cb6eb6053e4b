// udrm/core/violation.h — lifetime violations: the bugs udrm exists to name.
//
// A violation is a use of something after its lifetime ended that udrm caught instead of
// letting it corrupt memory: an MMIO access through a mapping that devm released, a handler
// invoked after free_irq, a revoked resource touched without its guard. Each is recorded in the
// World (for tests and the explorer's oracles) and emitted as a WARN naming what was accessed
// and where its lifetime ended.
//
// Context: any; never sleeps.
#pragma once
#include <string>
#include <vector>

namespace udrm {

class World;

struct Violation {
  std::string kind;     ///< short tag, e.g. "mmio-after-unmap"
  std::string message;  ///< what was accessed, and where its lifetime ended
};

/// Record a violation in `w` and WARN.
void report_violation(World& w, const char* kind, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace udrm
