// tests/pmu/pmu_test_util.h — a test PMU whose operations record every call (and any call made
// after pmu_unregister returned), with data whose destructor sets a flag.
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "udrm/base/context.h"
#include "udrm/base/errno.h"
#include "udrm/perf/perf_event.h"
#include "udrm/perf/pmu.h"

namespace udrm::pmutest {

inline constexpr uint64_t kCounters = 4;

/// An attr (designated initializers would leave on_overflow out: -Wmissing-field-initializers).
inline PerfEventAttr attr(uint64_t config, uint64_t period = 0, bool disabled = true) {
  PerfEventAttr a;
  a.config = config;
  a.sample_period = period;
  a.disabled = disabled;
  return a;
}

struct TestPmuData {
  explicit TestPmuData(bool* freed) : freed(freed) {}
  ~TestPmuData() {
    if (freed) *freed = true;
  }
  bool* freed;
  std::atomic<uint64_t> hwcount[kCounters] = {};  // the "hardware" counters
  int calls = 0;                     // every op call
  int calls_after_unregister = 0;    // must stay 0
  bool unregistered = false;         // set by the test once pmu_unregister returned
};

inline void record(Pmu& p) {
  auto* d = p.data<TestPmuData>();
  ++d->calls;
  if (d->unregistered) ++d->calls_after_unregister;
}

inline int test_event_init(Pmu& p, PerfEvent& ev) {
  record(p);
  return ev.config() < kCounters ? 0 : -EINVAL;
}
inline void test_start(Pmu& p, PerfEvent&) { record(p); }
inline void test_stop(Pmu& p, PerfEvent&) { record(p); }
inline uint64_t test_read(Pmu& p, PerfEvent& ev) {
  record(p);
  return p.data<TestPmuData>()->hwcount[ev.config()];
}
inline constexpr PmuOps kTestOps{test_event_init, test_start, test_stop, test_read};

/// Register "test-pmu" on `reg`.
struct TestPmu {
  TestPmu(PmuRegistry& reg, bool* freed, const char* name = "test-pmu") {
    auto d = std::make_shared<TestPmuData>(freed);
    data = d.get();
    EXPECT_EQ(pmu_register(reg, name, kTestOps, d, &pmu), 0);
  }
  void unregister() {
    pmu_unregister(*pmu);
    data->unregistered = true;
  }
  /// The "interrupt handler": count n of config in atomic context.
  unsigned irq(uint64_t config, uint64_t n = 1) {
    AtomicSection a;
    data->hwcount[config] += n;
    return perf_pmu_count(*pmu, config, n);
  }
  Ref<Pmu> pmu;
  TestPmuData* data = nullptr;
};

}  // namespace udrm::pmutest
