// udrm/core/world.h — one simulated machine: executor, buses, component and module registries.
//
// Everything with global state in the kernel (the bus lists, the component registry, the
// module list, DRM minor tables) lives in a World, so tests and the explorer can build and
// destroy whole machines cheaply and run many side by side.
//
// Lifetime: outlives every device, driver and module registered with it. Destroying a World
// unregisters what is still registered (WARNing about leaks).
// Context: construction/destruction from process context.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <typeinfo>

#include "udrm/base/executor.h"
#include "udrm/base/mutex.h"
#include "udrm/base/spinlock.h"
#include "udrm/core/violation.h"

namespace udrm {

class Bus;
class ComponentRegistry;
class ModuleRegistry;

class World {
 public:
  /// Process-wide registry of live Worlds (what the in-process libdrm shim searches for a
  /// device node): run fn on each, newest first, under the registry lock, until fn returns
  /// true. A World leaves the registry at the start of its destructor, so a World passed to fn
  /// stays alive until fn returns. fn may sleep; it must not create or destroy a World. The
  /// registry lock is a plain process-wide mutex (Worlds run on different executors), so on a
  /// SimExecutor two tasks must not be inside for_each at once (the second would block the
  /// simulation thread): the in-process libdrm shim's open is the only caller.
  static bool for_each(const std::function<bool(World&)>& fn);

  explicit World(Executor& ex);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  Executor& executor() noexcept { return ex_; }
  /// The bus named `name`, created on first use ("platform" is the usual one).
  Bus& bus(const std::string& name = "platform");
  ComponentRegistry& components();
  ModuleRegistry& modules();

  /// Lifetime violations caught so far (see udrm/core/violation.h).
  std::vector<Violation> violations() const;
  void clear_violations();
  void add_violation(Violation v);

  /// Per-world extension slots for later layers (e.g. DRM minor tables), keyed by type name.
  template <class T>
  T& ext() {
    return *ext_shared<T>();
  }
  /// The same slot as a shared pointer: work that may still run after the World is destroyed
  /// (a deferred free posted to the executor) keeps the extension alive with it.
  template <class T>
  std::shared_ptr<T> ext_shared() {
    std::lock_guard<Mutex> l(ext_mu_);
    auto& p = ext_[typeid(T).name()];
    if (!p) p = std::shared_ptr<void>(new T(*this), [](void* q) { delete static_cast<T*>(q); });
    return std::shared_ptr<T>(p, static_cast<T*>(p.get()));
  }

 private:
  Executor& ex_;
  Mutex mu_{"world"};
  std::map<std::string, std::unique_ptr<Bus>> buses_;
  std::unique_ptr<ComponentRegistry> components_;
  std::unique_ptr<ModuleRegistry> modules_;
  mutable SpinLock violations_lock_;
  std::vector<Violation> violations_;
  Mutex ext_mu_{"world.ext"};
  std::map<std::string, std::shared_ptr<void>> ext_;
};

}  // namespace udrm
