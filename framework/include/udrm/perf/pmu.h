// udrm/perf/pmu.h — performance-monitoring units: a registry of named counter providers whose
// data outlives the driver that registered them while counter events still exist.
//
// A driver registers a Pmu with its operations (PmuOps: validate a config, start/stop counting,
// read the hardware count) and its private data (freed at the Pmu's final put). Clients open
// counter events on it by name (udrm/perf/perf_event.h). Each event holds a reference to the
// Pmu (so the data survives the unbind) and pins the module that registered it (try_module_get
// at open, module_put at close: the data's destructor is that module's code).
//
// pmu_unregister (driver unbind; the kernel's perf_pmu_unregister made usable with live
// events): the name disappears (new opens fail -ENOENT), in-flight operations are waited for
// (they run under the Pmu's mutex), every active event is stopped one last time (its final
// count folded), every event is forced into the error state (-ENODEV), counting from the
// driver's interrupt handler is ignored, and the operations are replaced by closed ones: no
// method of the driver is called after pmu_unregister returns. Pending overflow notifications
// are still delivered. The registry's reference is dropped; the driver drops its own; the data
// is freed at the last event's close.
//
// Lifetime: a Pmu is refcounted (Ref<Pmu>, get/put): registry while registered, the driver's
// handle, every open event. The PmuRegistry lives in the World (pmu_registry()).
// Context: pmu_register/pmu_unregister/find: process context, may sleep. get/put: any context;
// the final put runs the data's destructor in the caller's context. Pmu accessors: any.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "udrm/base/mutex.h"
#include "udrm/base/refcount.h"
#include "udrm/base/spinlock.h"

namespace udrm {

class Module;
class World;
class Pmu;
class PerfEvent;
class PmuRegistry;
namespace detail {
struct PerfCore;
}

/// The driver's methods. Called only under the Pmu's mutex (process context, may sleep), never
/// after pmu_unregister has returned.
struct PmuOps {
  /// Accept event.config() (0) or refuse it (-EINVAL, -EOPNOTSUPP, ...). Required.
  int (*event_init)(Pmu&, PerfEvent&) = nullptr;
  /// Counting begins / ends (optional: e.g. enable an interrupt the counter needs).
  void (*start)(Pmu&, PerfEvent&) = nullptr;
  void (*stop)(Pmu&, PerfEvent&) = nullptr;
  /// The hardware count now (monotonic; the framework keeps the deltas). Required.
  uint64_t (*read)(Pmu&, PerfEvent&) = nullptr;
};

class Pmu : public RefCounted<Pmu> {
 public:
  ~Pmu();
  Pmu(const Pmu&) = delete;
  Pmu& operator=(const Pmu&) = delete;

  const std::string& name() const noexcept { return name_; }
  /// The module whose code registered it (nullptr: built-in). Pinned by every open event.
  Module* module() const noexcept { return module_; }
  /// False once pmu_unregister started.
  bool registered() const noexcept { return !dead_.load(std::memory_order_acquire); }
  /// The driver's data given at registration.
  template <class T>
  T* data() const noexcept {
    return static_cast<T*>(data_.get());
  }
  /// Open events (racy snapshot).
  std::size_t nr_events() const;

  void kref_release() noexcept { delete this; }

 private:
  friend class PmuRegistry;
  friend class PerfEvent;
  friend struct detail::PerfCore;
  friend int pmu_register(PmuRegistry&, std::string, const PmuOps&, std::shared_ptr<void>, Ref<Pmu>*);
  friend void pmu_unregister(Pmu&);
  Pmu(std::string name, const PmuOps& ops, std::shared_ptr<void> data, Module* m);

  std::string name_;
  PmuOps ops_copy_;
  std::atomic<const PmuOps*> ops_;  // &ops_copy_, then the closed ops
  std::shared_ptr<void> data_;
  Module* module_;
  PmuRegistry* registry_ = nullptr;
  /// The "context mutex": serializes event calls, operations and unregister.
  Mutex mu_{"pmu.mutex"};
  std::atomic<bool> dead_{false};  // written under mu_
  /// Open events; under lock_ (the overflow path walks it in interrupt context).
  mutable SpinLock lock_;
  std::vector<PerfEvent*> events_;
};

class PmuRegistry {
 public:
  PmuRegistry() = default;
  explicit PmuRegistry(World&) {}
  ~PmuRegistry();
  PmuRegistry(const PmuRegistry&) = delete;
  PmuRegistry& operator=(const PmuRegistry&) = delete;

  /// A reference to the registered Pmu called `name`, or null.
  Ref<Pmu> find(std::string_view name);
  std::size_t size();

 private:
  friend int pmu_register(PmuRegistry&, std::string, const PmuOps&, std::shared_ptr<void>, Ref<Pmu>*);
  friend void pmu_unregister(Pmu&);
  Mutex mu_{"pmu.registry"};
  std::map<std::string, Ref<Pmu>, std::less<>> pmus_;
};

/// The World's registry (World::ext).
PmuRegistry& pmu_registry(World& w);

/// Register `name`. 0, -EINVAL (empty name, ops without event_init or read, null out),
/// -EEXIST (name taken), -ENOMEM. On success *out is the driver's reference; the module is
/// current_module(). Call pmu_unregister, then drop *out.
int pmu_register(PmuRegistry& reg, std::string name, const PmuOps& ops, std::shared_ptr<void> data, Ref<Pmu>* out);

/// See the file comment. Idempotent (a second call WARNs and does nothing).
void pmu_unregister(Pmu& pmu);

}  // namespace udrm
