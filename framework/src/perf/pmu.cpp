// framework/src/perf/pmu.cpp — Pmu, PmuRegistry, pmu_register/pmu_unregister (see udrm/perf/pmu.h).
#include "udrm/perf/pmu.h"

#include <cerrno>
#include <mutex>

#include "perf_internal.h"
#include "udrm/base/context.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/core/module.h"
#include "udrm/core/world.h"

namespace udrm {

namespace {
int closed_event_init(Pmu&, PerfEvent&) { return -ENODEV; }
void closed_start_stop(Pmu&, PerfEvent&) {}
uint64_t closed_read(Pmu&, PerfEvent&) { return 0; }
}  // namespace

const PmuOps detail::PerfCore::kClosedOps{closed_event_init, closed_start_stop, closed_start_stop, closed_read};

Pmu::Pmu(std::string name, const PmuOps& ops, std::shared_ptr<void> data, Module* m)
    : name_(std::move(name)), ops_copy_(ops), ops_(&ops_copy_), data_(std::move(data)), module_(m) {}

Pmu::~Pmu() {
  // Events hold references: none can be left. Registered means the registry's reference was
  // dropped without pmu_unregister.
  UDRM_WARN_ON(!events_.empty(), LogCat::core);
}

std::size_t Pmu::nr_events() const {
  std::lock_guard<SpinLock> l(lock_);
  return events_.size();
}

PmuRegistry::~PmuRegistry() {
  for (auto& [name, pmu] : pmus_) warn(LogCat::core, "pmu '%s' still registered at registry teardown", name.c_str());
}

Ref<Pmu> PmuRegistry::find(std::string_view name) {
  std::lock_guard<Mutex> l(mu_);
  auto it = pmus_.find(name);
  if (it == pmus_.end() || !it->second->get_unless_zero()) return {};
  return adopt_ref(it->second.get());
}

std::size_t PmuRegistry::size() {
  std::lock_guard<Mutex> l(mu_);
  return pmus_.size();
}

PmuRegistry& pmu_registry(World& w) { return w.ext<PmuRegistry>(); }

int pmu_register(PmuRegistry& reg, std::string name, const PmuOps& ops, std::shared_ptr<void> data, Ref<Pmu>* out) {
  if (!out || name.empty() || !ops.event_init || !ops.read) return -EINVAL;
  might_sleep("pmu_register");
  auto* p = new (std::nothrow) Pmu(std::move(name), ops, std::move(data), current_module());
  if (!p) return -ENOMEM;
  Ref<Pmu> pmu = adopt_ref(p);
  std::lock_guard<Mutex> l(reg.mu_);
  if (reg.pmus_.count(pmu->name())) return -EEXIST;
  pmu->registry_ = &reg;
  reg.pmus_.emplace(pmu->name(), pmu);
  *out = std::move(pmu);
  return 0;
}

void pmu_unregister(Pmu& pmu) {
  might_sleep("pmu_unregister");
  Ref<Pmu> registry_ref;
  if (PmuRegistry* reg = pmu.registry_) {
    std::lock_guard<Mutex> l(reg->mu_);
    auto it = reg->pmus_.find(pmu.name());
    if (it != reg->pmus_.end() && it->second.get() == &pmu) {
      registry_ref = std::move(it->second);
      reg->pmus_.erase(it);
    }
  }
  UDRM_POINT("pmu.unregister");
  {
    // Waits for every operation in flight: they all run under this mutex.
    std::lock_guard<Mutex> l(pmu.mu_);
    if (UDRM_WARN_ON(pmu.dead_.load(), LogCat::core)) return;
    std::vector<PerfEvent*> evs;
    {
      std::lock_guard<SpinLock> g(pmu.lock_);
      evs = pmu.events_;  // events leave the list only under mu_ (close): stable here
    }
    for (PerfEvent* ev : evs) detail::PerfCore::force_error(pmu, *ev, -ENODEV);
    pmu.ops_.store(&detail::PerfCore::kClosedOps, std::memory_order_release);
    pmu.dead_.store(true, std::memory_order_release);
  }
  log_dbg(LogCat::core, "pmu '%s' unregistered (%zu events open)", pmu.name().c_str(), pmu.nr_events());
  // registry_ref goes here; the driver's and the events' references remain.
}

}  // namespace udrm
