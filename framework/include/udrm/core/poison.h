// udrm/core/poison.h — released devm memory is poisoned and quarantined, not freed at once.
//
// While poisoning is enabled (the explorer enables it for its runs), a devres node's memory is
// not returned to the allocator at release: it goes to a bounded FIFO quarantine, recorded with
// what it was (device, resource name, size) and where it was released (simulated task and the
// last scheduling point it passed). In AddressSanitizer builds the payload is poisoned with
// ASan's manual poisoning, so any stray access aborts with ASan's report, followed by udrm's
// note naming the release point. Otherwise the payload is filled with a pattern (0x6b, as slab
// poisoning) and checked when the block leaves the quarantine or at poison_check(): a write
// through a stray pointer is then reported naming the block and its release point.
//
// Context: any thread; never sleeps. poison_check()/poison_flush(): process context.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace udrm {

/// Enable poisoning while this object lives (nests; process-wide).
class ScopedPoison {
 public:
  ScopedPoison();
  ~ScopedPoison();
  ScopedPoison(const ScopedPoison&) = delete;
  ScopedPoison& operator=(const ScopedPoison&) = delete;
};

bool poison_enabled() noexcept;

/// Take ownership of released devm memory [block, block+size) whose payload is
/// [payload, payload+payload_size). Returns false (the caller frees) when poisoning is off.
/// `block` must come from std::malloc/calloc.
bool poison_quarantine(void* block, void* payload, std::size_t payload_size, const char* owner, const char* name);

/// Check every quarantined block; returns one line per block written after its release.
std::vector<std::string> poison_check();
/// Check, then free everything in the quarantine; returns what poison_check() found.
std::vector<std::string> poison_flush();

namespace detail {
/// The release note for an address inside a quarantined block ("" if none) — used by the
/// ASan report callback; exposed for tests.
std::string poison_describe(const void* addr);
}  // namespace detail

}  // namespace udrm
