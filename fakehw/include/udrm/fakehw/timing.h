// udrm/fakehw/timing.h — a display timing generator: the source of vblank.
//
// Given a mode's timings (pixel clock, htotal × vtotal) it fires a vblank callback once per
// frame period on the executor's clock (virtual in tests): the first vblank one period after
// start(), each next one re-armed from the previous *expiry* (never from "now"), so there is no
// drift. If the callback runs late by whole periods (a stalled CPU), the missed frames are
// counted as overruns and the frame counter skips them, as hrtimer_forward does. Periods below
// 1 ms (> 1000 Hz) are refused with -EINVAL (kernel-semantics §6 V8: an hrtimer storm).
//
// Immediate mode (benchmarks): no periodic timer; arm() — "a flip is armed" — schedules one
// vblank at now(). Several arm() calls before it fires coalesce into one vblank.
//
// The callback receives (frame, timestamp): frame counts vblanks since construction (it keeps
// counting across stop/start), timestamp is the ideal expiry time of that vblank.
//
// Lifetime: the owner keeps the generator alive while it runs; stop() (and the destructor)
// cancel the timer and wait for a running callback, after which the callback never runs again.
// The callback's captures must stay valid until stop() returned.
// Context: the callback runs in atomic context (a timer: must not sleep). start/arm/set_*: any
// context. stop(): any; from process context it also waits for a running callback (never call
// it from the callback itself expecting a wait: from atomic context it only cancels).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "udrm/base/executor.h"
#include "udrm/base/time.h"

namespace udrm::fakehw {

/// The timings the generator (and the scanout engine) need. Sizes in pixels / lines.
struct VideoTimings {
  uint32_t clock_khz = 0;
  uint32_t hdisplay = 0, htotal = 0;
  uint32_t vdisplay = 0, vtotal = 0;
};

/// Frame period of `t` in nanoseconds (htotal·vtotal / clock), or 0 if t is incomplete.
Duration frame_period(const VideoTimings& t) noexcept;
/// 0, or -EINVAL if t is incomplete (zero fields, display > total) or its period is < 1 ms.
int validate_timings(const VideoTimings& t) noexcept;

class TimingGenerator {
 public:
  using VblankFn = std::function<void(uint64_t frame, TimePoint timestamp)>;

  TimingGenerator(Executor& ex, std::string name);
  ~TimingGenerator();  // stop()
  TimingGenerator(const TimingGenerator&) = delete;
  TimingGenerator& operator=(const TimingGenerator&) = delete;

  const std::string& name() const noexcept;
  /// Program timings (validate_timings rules). Taking effect at the next start().
  int set_timings(const VideoTimings& t);
  VideoTimings timings() const;
  /// Install the vblank callback (before start; replacing it while running is allowed).
  void set_vblank_handler(VblankFn fn);
  /// Immediate mode on/off (only while stopped; -EBUSY while running).
  int set_immediate(bool on);
  bool immediate() const noexcept;

  /// Start producing vblanks. -EINVAL without valid timings (periodic mode); 0 if running.
  int start();
  /// Stop; no callback runs after this returns (see Context).
  void stop();
  bool running() const noexcept;
  /// Immediate mode: request one vblank now (no-op unless running in immediate mode).
  void arm();

  Duration period() const noexcept;
  /// Vblanks so far (overrun frames included, as the hardware counter would).
  uint64_t frame_count() const noexcept;
  /// Ideal timestamp of the last vblank (TimePoint{} before the first).
  TimePoint last_vblank() const noexcept;
  /// Frames missed because a callback ran more than one period late.
  uint64_t overruns() const noexcept;
  /// Callback invocations (≤ frame_count when there were overruns).
  uint64_t callbacks() const noexcept;

  struct Core;  // shared with pending timers (opaque)

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace udrm::fakehw
