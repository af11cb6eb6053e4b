// udrm/core/poison.h — released devm memory is poisoned and quarantined, not freed at once.
//
// While poisoning is enabled (the explorer enables it for its runs), a devres node's memory is
// not returned to the allocator at release: it goes to a bounded FIFO quarantine, recorded with
// what it was (device, resource name, size) and where it was released (simulated task and the
// last scheduling point it passed). In AddressSanitizer builds the payload is poisoned with
// ASan's manual poisoning, so any stray access aborts with ASan's report, followed by udrm's
// note naming the release point. Otherwise the payload is filled with a pattern (0x6b, as slab
// poisoning) and checked when the block leaves the quarantine or at poison_check(): a write
// through a stray pointer is then reported naming the block and its release point. In the
// plain (non-sanitizer) builds, small blocks allocated while poisoning is on also get pages of
// their own (poison_calloc), made inaccessible at release: a stray READ faults, is recorded
// with the reading task and point, and completes on the pattern (the kernel's KFENCE).
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

/// Zeroed memory for a devres node: guarded pages while poisoning is on (plain builds, blocks
/// up to 4 pages, while the reserved region lasts), else calloc. Free with poison_free() or
/// hand to poison_quarantine().
void* poison_calloc(std::size_t size);
/// Free a block from poison_calloc() that is not quarantined.
void poison_free(void* block);

/// Take ownership of released devm memory [block, block+size) whose payload is
/// [payload, payload+payload_size). Returns false (the caller frees) when poisoning is off.
/// `block` must come from poison_calloc().
bool poison_quarantine(void* block, void* payload, std::size_t payload_size, const char* owner, const char* name);

/// Check every quarantined block; returns one line per block written after its release, and
/// one per recorded access (read or write) to a guarded released block.
std::vector<std::string> poison_check();
/// Check, then free everything in the quarantine; returns what poison_check() found.
std::vector<std::string> poison_flush();

namespace detail {
/// The release note for an address inside a quarantined block ("" if none) — used by the
/// ASan report callback; exposed for tests.
std::string poison_describe(const void* addr);
}  // namespace detail

}  // namespace udrm
