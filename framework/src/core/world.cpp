// World: the per-machine registries (udrm/core/world.h).
#include "udrm/core/world.h"

#include "udrm/core/component.h"
#include "udrm/core/device.h"
#include "udrm/core/module.h"

namespace udrm {

World::World(Executor& ex)
    : ex_(ex), components_(std::make_unique<ComponentRegistry>(*this)), modules_(std::make_unique<ModuleRegistry>(*this)) {}

World::~World() {
  // Unload modules (their exit unbinds their drivers' devices), then unbind everything else
  // (remove() may still call component_del), then drop the component registry.
  ext_.clear();
  modules_.reset();
  buses_.clear();
  components_.reset();
}

Bus& World::bus(const std::string& name) {
  std::lock_guard<Mutex> l(mu_);
  auto& b = buses_[name];
  if (!b) b = std::make_unique<Bus>(*this, name);
  return *b;
}

ComponentRegistry& World::components() { return *components_; }
ModuleRegistry& World::modules() { return *modules_; }

}  // namespace udrm
