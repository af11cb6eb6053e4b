// drivers/soc/soc_pmu.cpp — the display controller's PMU "udrm-soc-dc": counters of vblanks,
// completed flips (FLIP_DONE), underruns and commits, readable through counter events
// (udrm/perf/perf_event.h) with overflow notifications.
//
// The counts live in DcHw (the dc binding); the IRQ handler and the commit tail bump them and
// report them to the PMU (perf_pmu_count) for overflow accounting. The PMU is registered in the
// dc bind before the IRQ is requested, so devm (LIFO) frees the IRQ first and then unregisters
// the PMU: after that no op below runs again (pmu_unregister replaces them), which is what lets
// SocPmuData keep a plain DcHw pointer that dies with the binding. Events that stay open keep
// SocPmuData (and the module) alive until their close and read -ENODEV.
//
// Lifetime: SocPmuData from dc bind to the last of (dc unbind, last event close).
// Context: ops: process context under the PMU's mutex, only while registered.
#include "soc_drv.h"
#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/core/devres.h"
#include "udrm/perf/perf_event.h"

namespace udrm::drivers::soc {

namespace {

struct SocPmuData {
  DcHw* hw = nullptr;  // valid while the PMU is registered (ops never run after)
};

int soc_pmu_event_init(Pmu&, PerfEvent& ev) {
  if (ev.config() >= kPmuCounters) return -EINVAL;
  ev.hw = ev.config();
  return 0;
}

uint64_t soc_pmu_read(Pmu& pmu, PerfEvent& ev) { return pmu.data<SocPmuData>()->hw->pmu_counts[ev.hw].load(); }

constexpr PmuOps kSocPmuOps{soc_pmu_event_init, nullptr, nullptr, soc_pmu_read};

}  // namespace

int soc_pmu_register(World& w, Device& comp, DcHw& hw) {
  auto data = std::make_shared<SocPmuData>();
  data->hw = &hw;
  Ref<Pmu> pmu;
  int ret = pmu_register(pmu_registry(w), kPmuName, kSocPmuOps, data, &pmu);
  if (ret == -EEXIST) {
    log_info(LogCat::driver, "udrm-soc-dc: PMU '%s' taken by another display; none for this one", kPmuName);
    return 0;
  }
  if (ret) return ret;
  hw.pmu.store(pmu.get());
  return devm_add_action_or_reset(
      comp,
      [hwp = &hw, pmu] {
        hwp->pmu.store(nullptr);
        pmu_unregister(*pmu);  // events still open go to the error state
      },
      "soc_pmu_unregister");
}

void soc_pmu_count(DcHw& hw, SocPmuCounter c) {
  hw.pmu_counts[c].fetch_add(1);
  if (Pmu* pmu = hw.pmu.load()) perf_pmu_count(*pmu, c, 1);
}

void soc_pmu_commit(SocDrm& drm) {
  if (auto g = drm.dev_enter()) {
    SocCrtc* crtc = drm.crtc[0];
    if (crtc && crtc->hw) soc_pmu_count(*crtc->hw, kPmuCommit);
  }
}

}  // namespace udrm::drivers::soc
