// udrm/perf/perf_event.h — counter events opened by clients on a Pmu, overflow notifications.
//
// perf_event_open(registry or world, pmu name, attr, &handle) validates the config with the
// PMU's event_init and returns a handle (a file: close() releases it). Calls: read (the count),
// enable, disable, refresh(n) (enable and disable again after exactly n more overflows), close.
//
// Overflows: with attr.sample_period = P the driver's interrupt handler reports what it counted
// with perf_pmu_count(); every P counted events are one overflow. An overflow never runs client
// code in interrupt context: it accounts a pending notification in the event's own counter
// (pending_notify, separate from the refresh/disable bookkeeping pending_disable) and queues the
// event's deferred work (udrm/perf/task_work.h). The work runs when the client's current call on
// this handle returns (any call: read, enable, ..., close) and delivers one notification per
// overflow to attr.on_overflow, in the client's context. A racing disable, enable, re-enable or
// reschedule may consume pending_disable (it applies the disable) but never pending_notify: every
// overflow produces exactly one notification (the lost-SIGTRAP fix of kernel commit ca6c21327c6a).
// With a refresh limit the overflow that reaches it stops counting at once and the deferred work
// (or a racing reschedule) turns the event off: exactly n overflows.
//
// After pmu_unregister: state() == error, read returns -ENODEV (with the final count), enable,
// disable and refresh return -ENODEV and cannot revive it, close works and returns 0. Calls on a
// closed handle return -EBADF. The Pmu reference and the module pin go at close.
//
// Lifetime: Ref<PerfEvent> is the handle; close() (or the final put, which closes) releases the
// Pmu reference and the module pin; memory goes at the final put.
// Context: open/read/enable/disable/refresh/close: process context, may sleep (the Pmu's mutex,
// the deferred work); callable after unregister. perf_pmu_count: any context (interrupts
// included), never sleeps. The final put of a handle that was not closed: process context.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>

#include "udrm/base/refcount.h"
#include "udrm/base/spinlock.h"
#include "udrm/base/waitqueue.h"
#include "udrm/perf/pmu.h"
#include "udrm/perf/task_work.h"

namespace udrm {

enum class PerfEventState : uint8_t { off, active, error, closed };

struct PerfNotification {
  uint64_t seq = 0;    ///< 1, 2, ... per event, in overflow order
  uint64_t count = 0;  ///< the event's count when the notification was delivered
};

struct PerfEventAttr {
  uint64_t config = 0;          ///< PMU-specific counter selector
  uint64_t sample_period = 0;   ///< 0: counting only; else an overflow every sample_period counts
  bool disabled = true;         ///< start off (enable() or refresh() starts it)
  /// Called in the client's context (deferred work), once per overflow. May be empty. It may
  /// call read/enable/disable/refresh on the event; close() from it returns -EDEADLK.
  std::function<void(PerfEvent&, const PerfNotification&)> on_overflow;
};

class PerfEvent : public RefCounted<PerfEvent> {
 public:
  ~PerfEvent();
  PerfEvent(const PerfEvent&) = delete;
  PerfEvent& operator=(const PerfEvent&) = delete;

  /// The count into *value (may be null). 0, or the error state's errno (-ENODEV after
  /// unregister; *value still gets the final count), -EBADF after close.
  int read(uint64_t* value);
  /// 0; -ENODEV in the error state (unchanged); -EBADF after close. On an active event it
  /// reschedules it (stop, start), which applies a pending refresh-limit disable.
  int enable();
  /// 0; -ENODEV in the error state; -EBADF after close.
  int disable();
  /// Add n (> 0) overflows to the limit and enable. -EINVAL (n == 0 or no sample_period),
  /// -ENODEV in the error state, -EBADF after close.
  int refresh(unsigned n);
  /// Stop, deliver pending notifications, drop the Pmu reference and the module pin.
  /// 0, -EBADF when already closed, -EDEADLK from this event's own on_overflow (close after
  /// the call returns).
  int close();

  PerfEventState state() const noexcept { return state_.load(std::memory_order_acquire); }
  /// The error of the error state (0 otherwise).
  int error() const noexcept { return err_.load(std::memory_order_acquire); }
  uint64_t config() const noexcept { return attr_.config; }
  /// Overflows generated so far / notifications delivered so far.
  uint64_t overflows() const noexcept { return overflows_.load(std::memory_order_acquire); }
  uint64_t notifications() const noexcept { return delivered_.load(std::memory_order_acquire); }
  /// Driver scratch (like hw_perf_event): set by event_init, used by the PMU's ops.
  uint64_t hw = 0;

  void kref_release() noexcept;

 private:
  friend struct detail::PerfCore;
  explicit PerfEvent(const PerfEventAttr& a) : attr_(a) {}

  PerfEventAttr attr_;
  Ref<Pmu> pmu_;             // until close
  Module* module_ = nullptr;  // pinned until close
  std::atomic<PerfEventState> state_{PerfEventState::off};  // written under pmu mutex
  std::atomic<int> err_{0};
  uint64_t count_ = 0, prev_ = 0;  // under pmu mutex
  // Overflow bookkeeping, under lock_ (interrupt context writes it).
  SpinLock lock_;
  bool counting_ = false;       // perf_pmu_count may count this event
  int64_t period_left_ = 0;
  uint64_t limit_ = 0;          // overflows left before the refresh disable (0: unlimited)
  bool pending_disable_ = false;  // refresh limit reached: turn off (deferred / at resched)
  uint64_t pending_notify_ = 0;   // overflows not yet notified — never touched by disable paths
  std::atomic<uint64_t> overflows_{0}, delivered_{0};
  std::atomic<const void*> delivering_{nullptr};  // the task running on_overflow
  TaskWorkList work_;
  TaskWork notify_work_;
  // Calls in flight vs close.
  SpinLock call_lock_;
  int users_ = 0;
  bool closed_ = false;
  WaitQueue users_wq_{"perf.event_users"};
};

/// Open an event on the PMU called `pmu`. 0, -ENOENT (no such PMU), -ENODEV (PMU going or its
/// module going), -EINVAL (null out, sample_period too large), the PMU's event_init error, -ENOMEM.
int perf_event_open(PmuRegistry& reg, std::string_view pmu, const PerfEventAttr& attr, Ref<PerfEvent>* out);
int perf_event_open(World& w, std::string_view pmu, const PerfEventAttr& attr, Ref<PerfEvent>* out);

/// The driver counted `delta` events of `config` (interrupt handler or any other context).
/// Accounts overflows of the matching enabled sampling events; returns how many it generated.
/// Ignored after pmu_unregister started.
unsigned perf_pmu_count(Pmu& pmu, uint64_t config, uint64_t delta = 1);

}  // namespace udrm
