// framework/src/perf/perf_internal.h — what pmu.cpp and perf_event.cpp share.
#pragma once
#include "udrm/perf/perf_event.h"
#include "udrm/perf/pmu.h"

namespace udrm::detail {

struct PerfCore {
  /// The operations that replace a driver's at unregister: never driver code.
  static const PmuOps kClosedOps;
  /// Under pmu.mu_, pmu alive: fold the hardware delta into the count.
  static void fold(Pmu& pmu, PerfEvent& ev);
  /// Under pmu.mu_, pmu alive: stop counting (fold, ops.stop). Returns whether a pending
  /// refresh-limit disable was consumed (the caller turns the event off).
  static bool sched_out(Pmu& pmu, PerfEvent& ev);
  /// Under pmu.mu_, pmu alive: start counting.
  static void sched_in(Pmu& pmu, PerfEvent& ev);
  /// pmu_unregister, under pmu.mu_ with the driver's ops still in place: stop `ev` for good.
  static void force_error(Pmu& pmu, PerfEvent& ev, int err);
  /// The deferred notification work (perf_pending_task), in the client's context.
  static void pending_work(TaskWork& w);
  static int open(PmuRegistry& reg, std::string_view name, const PerfEventAttr& attr, Ref<PerfEvent>* out);
  static unsigned count(Pmu& pmu, uint64_t config, uint64_t delta);
  static Mutex& mutex(Pmu& pmu) { return pmu.mu_; }
  static const PmuOps& ops(Pmu& pmu) { return *pmu.ops_.load(std::memory_order_acquire); }
};

}  // namespace udrm::detail
