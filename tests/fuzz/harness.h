// tests/fuzz/harness.h — runs one fuzz input (decoder.h) against a fresh reference display.
//
// Each input gets its own SimExecutor (virtual clock: ticks and blocking ioctls advance it, so
// vblanks and flips complete deterministically), World and display; nothing survives from one
// input to the next. The user arena (set_user_arena) is a heap block of exactly kArenaSize
// bytes, so an ioctl that reads or writes past a user buffer the framework accepted is an
// AddressSanitizer report. Oracles, after every op: no lifetime violation, no new WARN, every
// ioctl result allowed by oracle.h, reads return whole events; at the end, with every mapping
// gone, every file closed and every device unbound: no live DRM device, no fake hardware left
// on, no WARN when the World goes. A failed oracle prints what happened and calls abort(), which
// libFuzzer records as a crash.
//
// Bounds per input: kMaxOps ops, kMaxFiles files, kMaxMaps mappings, kVirtualBudget of virtual
// time (ops after it are skipped); a simulation that deadlocks or exceeds its own budget fails.
//
// Lifetime: run_input returns when the input's world is gone. Context: a normal thread (not a
// simulated task); not reentrant (one input at a time per process, as libFuzzer runs them).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace udrm::fuzz {

constexpr std::chrono::seconds kVirtualBudget{30};

/// Totals over the inputs run by this process (the replay summary).
struct Stats {
  uint64_t inputs = 0, ops = 0, ioctls = 0, ioctls_ok = 0;
  uint64_t modesets_ok = 0;   // SETCRTC or ATOMIC with ALLOW_MODESET that returned 0
  uint64_t flips_ok = 0;      // PAGE_FLIP or nonblocking ATOMIC that returned 0
  uint64_t event_bytes = 0;   // bytes of events read
  uint64_t maps_ok = 0, unbinds = 0;
  std::map<int, uint64_t> errnos;  // -ret -> count
};

/// Once per process: quiet informational logs (WARNs still print).
void init();
/// Run one input; abort() on a failed oracle.
void run_input(const uint8_t* data, std::size_t size);
/// UDRM_FUZZ_VERBOSE=1 prints every op and its result to stderr.
const Stats& stats();

}  // namespace udrm::fuzz
