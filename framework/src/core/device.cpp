// Device, driver and bus core (udrm/core/device.h). Semantics: drivers/base/{core,dd}.c.
#include "udrm/core/device.h"

#include <algorithm>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/base/trace_hook.h"
#include "udrm/core/module.h"
#include "udrm/core/world.h"

namespace udrm {

// ---- Device ---------------------------------------------------------------------------------

Device::Device(World& w, std::string name, Device* parent, std::string compatible)
    : world_(w), name_(std::move(name)), compatible_(compatible.empty() ? name_ : std::move(compatible)), parent_(parent) {}

Device::~Device() = default;  // devres_ releases whatever is left (resources added after del)

Ref<Device> Device::create(World& world, std::string name, Device* parent, std::string compatible) {
  return adopt_ref(new Device(world, std::move(name), parent, std::move(compatible)));
}

void Device::kref_release() noexcept {
  log_dbg(LogCat::core, "%s: device_release", name_.c_str());
  UDRM_WARN_ON(registered_, LogCat::core);
  delete this;
}

Driver::~Driver() {
  if (bus_) {
    warn(LogCat::core, "driver %s destroyed while registered on bus %s", name_.c_str(), bus_->name().c_str());
    bus_->unregister_driver(*this);
  }
}

// ---- Bus ------------------------------------------------------------------------------------

Bus::Bus(World& world, std::string name) : world_(world), name_(std::move(name)) {}

Bus::~Bus() {
  wait_for_probe();
  for (auto& d : devices()) del_device(*d);
  std::lock_guard<Mutex> l(mu_);
  for (Driver* drv : drivers_) drv->bus_ = nullptr;
}

Ref<Device> Bus::find_device(std::string_view name) {
  std::lock_guard<Mutex> l(mu_);
  for (auto& d : devices_)
    if (d->name() == name) return d;
  return nullptr;
}

Driver* Bus::find_driver(std::string_view name) {
  std::lock_guard<Mutex> l(mu_);
  for (Driver* d : drivers_)
    if (d->name() == name) return d;
  return nullptr;
}

std::vector<Ref<Device>> Bus::devices() {
  std::lock_guard<Mutex> l(mu_);
  return devices_;
}

std::vector<Ref<Device>> Bus::deferred_devices() {
  std::lock_guard<Mutex> l(mu_);
  return deferred_;
}

int Bus::add_device(Device& dev) {
  UDRM_POINT("device.add");
  if (UDRM_SHOULD_FAIL("device.add")) return -ENOMEM;
  {
    std::lock_guard<Mutex> l(mu_);
    if (dev.bus_ || dev.registered_) return -EINVAL;
    for (auto& d : devices_)
      if (d->name() == dev.name()) return -EEXIST;
    dev.bus_ = this;
    dev.registered_ = true;
    devices_.emplace_back(&dev);
  }
  log_dbg(LogCat::core, "%s: added to bus %s", dev.name().c_str(), name_.c_str());
  std::lock_guard<Mutex> l(dev.lock());
  attach(dev);
  return 0;
}

void Bus::del_device(Device& dev) {
  UDRM_POINT("device.del");
  Ref<Device> keep(&dev);  // the bus reference may be the last one
  {
    std::lock_guard<Mutex> l(mu_);
    if (dev.bus_ != this || !dev.registered_) {
      warn(LogCat::core, "%s: device_del of a device not registered on bus %s", dev.name().c_str(), name_.c_str());
      return;
    }
  }
  {
    std::lock_guard<Mutex> l(dev.lock());
    release_driver(dev);
    dev.registered_ = false;
  }
  // Driverless devices too: release at unregistration, even if references remain.
  dev.devres().release_all();
  std::lock_guard<Mutex> l(mu_);
  devices_.erase(std::remove(devices_.begin(), devices_.end(), keep), devices_.end());
  deferred_.erase(std::remove(deferred_.begin(), deferred_.end(), keep), deferred_.end());
}

int Bus::register_driver(Driver& drv) {
  {
    std::lock_guard<Mutex> l(mu_);
    if (drv.bus_) return -EBUSY;
    for (Driver* d : drivers_)
      if (d->name() == drv.name()) return -EEXIST;
    drv.bus_ = this;
    drivers_.push_back(&drv);
  }
  log_dbg(LogCat::core, "driver %s registered on %s", drv.name().c_str(), name_.c_str());
  for (auto& d : devices()) {
    std::lock_guard<Mutex> l(d->lock());
    if (d->registered_ && !d->driver_ && drv.match(*d)) {
      int ret = probe_device(*d, drv);
      (void)ret;  // per-device probe errors are logged by probe_device
    }
  }
  return 0;
}

void Bus::unregister_driver(Driver& drv) {
  {
    std::lock_guard<Mutex> l(mu_);
    if (drv.bus_ != this) {
      warn(LogCat::core, "driver %s is not registered on bus %s", drv.name().c_str(), name_.c_str());
      return;
    }
    // bus_remove_driver: make the driver unfindable first (bind by name, attach, deferred
    // retries), then detach it. probe_device re-checks registration under the device lock, so
    // a probe that started earlier is waited for below and one that starts later fails.
    drivers_.erase(std::remove(drivers_.begin(), drivers_.end(), &drv), drivers_.end());
  }
  for (auto& d : devices()) {
    std::lock_guard<Mutex> l(d->lock());
    if (d->driver_ == &drv) release_driver(*d);
  }
  std::lock_guard<Mutex> l(mu_);
  drv.bus_ = nullptr;
}

int Bus::bind(std::string_view dev_name, std::string_view drv_name) {
  Ref<Device> dev = find_device(dev_name);
  Driver* drv = find_driver(drv_name);
  if (!dev || !drv) return -ENODEV;
  std::lock_guard<Mutex> l(dev->lock());
  if (!dev->registered_) return -ENODEV;
  if (dev->driver_) return -EBUSY;
  if (!drv->match(*dev)) return -ENODEV;
  return probe_device(*dev, *drv);
}

int Bus::unbind(std::string_view dev_name, std::string_view drv_name) {
  Ref<Device> dev = find_device(dev_name);
  if (!dev) return -ENODEV;
  std::lock_guard<Mutex> l(dev->lock());
  if (!dev->driver_ || (!drv_name.empty() && dev->driver_->name() != drv_name)) return -ENODEV;
  release_driver(*dev);
  return 0;
}

int Bus::attach(Device& dev) {
  // __device_attach: a driver may have bound the device since it was published on the bus
  // (add_device drops the bus lock before taking the device lock).
  if (dev.driver_) return 0;
  std::vector<Driver*> drivers;
  {
    std::lock_guard<Mutex> l(mu_);
    drivers = drivers_;
  }
  for (Driver* drv : drivers) {
    if (!drv->match(dev)) continue;
    int ret = probe_device(dev, *drv);
    if (ret == 0 || ret == -EPROBE_DEFER) return ret;
  }
  return -ENODEV;
}

// really_probe(). Device lock held.
int Bus::probe_device(Device& dev, Driver& drv) {
  UDRM_POINT("driver.probe");
  // __driver_probe_device: never probe an unregistered or already bound device.
  if (!dev.registered_) return -ENODEV;
  if (dev.driver_) return -EBUSY;
  uint64_t triggers_before;
  {
    std::lock_guard<Mutex> l(mu_);
    // The driver may have been unregistered since the caller found it (bind by name, a
    // deferred retry's snapshot of the driver list): never bind to it then.
    if (std::find(drivers_.begin(), drivers_.end(), &drv) == drivers_.end()) return -ENODEV;
    triggers_before = trigger_count_;
  }
  if (!dev.devres().empty()) {
    log_err(LogCat::core, "%s: Resources present before probing", dev.name().c_str());
    return -EBUSY;
  }
  // CONFIG_DEBUG_TEST_DRIVER_REMOVE: one remove + re-probe after the first successful probe
  // (a local, as in dd.c; the bus-wide flag is only read).
  bool test_remove = debug_remove_;
  int ret;
  for (;;) {
    if (!try_module_get(drv.owner())) return -ENODEV;  // the driver's module is going away
    dev.driver_ = &drv;
    {
      ModuleScope scope(drv.owner());
      Bound bound(dev);
      ret = drv.probe(dev, bound);
    }
    module_put(drv.owner());
    if (ret) break;
    dev.bound_ = true;
    if (!test_remove) break;
    test_remove = false;
    log_info(LogCat::core, "%s: DEBUG_TEST_DRIVER_REMOVE: removing and re-probing", dev.name().c_str());
    release_driver(dev);
  }
  if (ret) {
    dev.devres().release_all();
    dev.driver_ = nullptr;
    dev.drvdata_ = nullptr;
    if (ret == -EPROBE_DEFER) {
      log_dbg(LogCat::core, "%s: probe with driver %s deferred", dev.name().c_str(), drv.name().c_str());
      bool retrigger;
      {
        std::lock_guard<Mutex> l(mu_);
        Ref<Device> ref(&dev);
        if (std::find(deferred_.begin(), deferred_.end(), ref) == deferred_.end()) deferred_.push_back(ref);
        dev.deferred_ = true;
        retrigger = trigger_count_ != triggers_before;  // a bind happened meanwhile
      }
      if (retrigger) trigger_deferred();
    } else {
      log_err(LogCat::core, "%s: probe with driver %s failed with error %d (%s)", dev.name().c_str(),
              drv.name().c_str(), ret, errno_name(ret));
    }
    return ret;
  }
  {
    std::lock_guard<Mutex> l(mu_);
    if (dev.deferred_) {
      Ref<Device> ref(&dev);
      deferred_.erase(std::remove(deferred_.begin(), deferred_.end(), ref), deferred_.end());
      dev.deferred_ = false;
    }
  }
  trace_device(TraceDevice::bind, dev.name().c_str());
  log_dbg(LogCat::core, "%s: bound to driver %s", dev.name().c_str(), drv.name().c_str());
  trigger_deferred();
  return 0;
}

// __device_release_driver(). Device lock held.
void Bus::release_driver(Device& dev) {
  Driver* drv = dev.driver_;
  if (!drv) return;
  UDRM_POINT("driver.remove");
  trace_device(TraceDevice::unbind, dev.name().c_str());
  {
    ModuleScope scope(drv->owner());
    Bound bound(dev);
    drv->remove(dev, bound);
  }
  dev.devres().release_all();
  dev.driver_ = nullptr;
  dev.bound_ = false;
  dev.drvdata_ = nullptr;
  trace_device(TraceDevice::unbind_done, dev.name().c_str());
  log_dbg(LogCat::core, "%s: unbound from driver %s", dev.name().c_str(), drv->name().c_str());
}

void Bus::trigger_deferred() {
  bool post = false;
  {
    std::lock_guard<Mutex> l(mu_);
    ++trigger_count_;
    if (!deferred_.empty() && !work_queued_) {
      work_queued_ = true;
      post = true;
    }
  }
  if (post) world_.executor().post([this] { deferred_work(); }, "deferred_probe_work");
}

void Bus::deferred_work() {
  std::vector<Ref<Device>> pending;
  {
    std::lock_guard<Mutex> l(mu_);
    work_running_ = true;  // before clearing queued: wait_for_probe must never see both false
    work_queued_ = false;
    pending.swap(deferred_);
    for (auto& d : pending) d->deferred_ = false;
  }
  for (auto& d : pending) {
    std::lock_guard<Mutex> l(d->lock());
    if (d->registered_ && !d->driver_) attach(*d);
  }
  pending.clear();
  // Under the wait queue's lock: a waiter may destroy the bus as soon as it sees this.
  probe_wq_.wake_up_all([this] { work_running_ = false; });
}

void Bus::wait_for_probe() {
  probe_wq_.wait_event([this] {
    return !work_queued_ && !work_running_;
  });
}

}  // namespace udrm
