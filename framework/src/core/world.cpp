// World: the per-machine registries (udrm/core/world.h).
#include "udrm/core/world.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <vector>

#include "udrm/base/log.h"

#include "udrm/core/component.h"
#include "udrm/core/device.h"
#include "udrm/core/module.h"

namespace udrm {

namespace {
// Leaf lock (a plain mutex: it is held across fn, which may sleep on real threads, and the
// registry is process-wide, outside any one World's executor).
std::mutex& registry_lock() {
  static std::mutex m;
  return m;
}
std::vector<World*>& registry() {
  static std::vector<World*> v;
  return v;
}
}  // namespace

bool World::for_each(const std::function<bool(World&)>& fn) {
  std::lock_guard<std::mutex> l(registry_lock());
  auto& v = registry();
  for (auto it = v.rbegin(); it != v.rend(); ++it)
    if (fn(**it)) return true;
  return false;
}

World::World(Executor& ex)
    : ex_(ex), components_(std::make_unique<ComponentRegistry>(*this)), modules_(std::make_unique<ModuleRegistry>(*this)) {
  std::lock_guard<std::mutex> l(registry_lock());
  registry().push_back(this);
}

World::~World() {
  {
    std::lock_guard<std::mutex> l(registry_lock());
    auto& v = registry();
    v.erase(std::remove(v.begin(), v.end(), this), v.end());
  }
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

std::vector<Violation> World::violations() const {
  std::lock_guard<SpinLock> l(violations_lock_);
  return violations_;
}

void World::clear_violations() {
  std::lock_guard<SpinLock> l(violations_lock_);
  violations_.clear();
}

void World::add_violation(Violation v) {
  std::lock_guard<SpinLock> l(violations_lock_);
  violations_.push_back(std::move(v));
}

void report_violation(World& w, const char* kind, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  warn(LogCat::core, "LIFETIME VIOLATION (%s): %s", kind, buf);
  w.add_violation(Violation{kind, buf});
}

ComponentRegistry& World::components() { return *components_; }
ModuleRegistry& World::modules() { return *modules_; }

}  // namespace udrm
