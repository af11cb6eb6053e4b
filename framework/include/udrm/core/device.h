// udrm/core/device.h — struct device, struct device_driver, struct bus_type.
//
// A Device is a refcounted object on a Bus; a Driver binds to matching devices through
// probe() and leaves through remove(). The driver core here follows drivers/base/dd.c:
//  - probe is refused with -EBUSY if the device already has devres ("Resources present before
//    probing"); any probe error, -EPROBE_DEFER included, releases the devres the probe took;
//  - -EPROBE_DEFER parks the device on the deferred list; every successful bind triggers a
//    retry of all deferred devices on the executor (and a bind that happened *during* a probe
//    that then deferred re-triggers, so no wake-up is lost);
//  - unbind calls remove() while every devm resource is still alive, then releases them LIFO;
//  - unregistering a device unbinds it and releases devres even when the device was never
//    bound (driverless devices); resources added after that are released at the final put;
//  - a debug mode (the kernel's CONFIG_DEBUG_TEST_DRIVER_REMOVE) removes and re-probes after
//    every successful probe.
// bind/unbind by name are the moral equivalent of writing to sysfs bind/unbind.
//
// Lifetime: Ref<Device> keeps the object; the Bus holds a reference while it is registered.
// drvdata and devm resources live only while bound. A Driver must stay registered while bound.
// Context: bus operations and probe/remove run in process context and may sleep; the device
// lock is held across probe and remove (never call unbind of the same device from them).
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "udrm/base/mutex.h"
#include "udrm/base/refcount.h"
#include "udrm/base/waitqueue.h"
#include "udrm/core/devres.h"

namespace udrm {

class Bus;
class Device;
class Driver;
class Module;
class World;

/// Proof that the code holding it runs while `device()` is bound and its devm resources are
/// alive (probe, remove, and paths the framework runs inside the binding). Only the driver core
/// creates one; pass it down by const reference. The Rust-for-Linux Device<Bound> idea.
class Bound {
 public:
  Device& device() const noexcept { return dev_; }
  Bound(const Bound&) = delete;
  Bound& operator=(const Bound&) = delete;

 private:
  friend class Bus;
  friend class ComponentRegistry;
  explicit Bound(Device& d) noexcept : dev_(d) {}
  Device& dev_;
};

class Device : public RefCounted<Device> {
 public:
  /// Create an unregistered device. `compatible` is what drivers match on (default: name).
  static Ref<Device> create(World& world, std::string name, Device* parent = nullptr, std::string compatible = "");

  const std::string& name() const noexcept { return name_; }
  const std::string& compatible() const noexcept { return compatible_; }
  World& world() const noexcept { return world_; }
  Device* parent() const noexcept { return parent_.get(); }
  Bus* bus() const noexcept { return bus_; }
  /// The bound driver, or nullptr.
  Driver* driver() const noexcept { return driver_; }
  bool is_bound() const noexcept { return driver_ != nullptr && bound_; }
  bool is_registered() const noexcept { return registered_; }
  DevresHead& devres() noexcept { return devres_; }
  /// device_lock: held by the driver core across probe and remove.
  Mutex& lock() noexcept { return lock_; }

  void set_drvdata(void* p) noexcept { drvdata_ = p; }
  template <class T = void>
  T* drvdata() const noexcept {
    return static_cast<T*>(drvdata_);
  }

  /// Called on the final put (device_release). Not for direct use.
  void kref_release() noexcept;

 private:
  friend class Bus;
  Device(World& w, std::string name, Device* parent, std::string compatible);
  ~Device();

  World& world_;
  std::string name_;
  std::string compatible_;
  Ref<Device> parent_;
  Bus* bus_ = nullptr;
  Driver* driver_ = nullptr;
  bool bound_ = false;
  bool registered_ = false;
  bool deferred_ = false;
  void* drvdata_ = nullptr;
  Mutex lock_{"device_lock"};
  DevresHead devres_{*this};
};

class Driver {
 public:
  explicit Driver(std::string name, Module* owner = nullptr) : name_(std::move(name)), owner_(owner) {}
  /// A driver destroyed while still registered WARNs and unregisters itself first (unbinding
  /// its devices and releasing their devres) instead of leaving the bus with a dangling
  /// pointer. Its own remove() cannot run then (the derived object is already gone).
  virtual ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  const std::string& name() const noexcept { return name_; }
  /// The module whose code this driver is (nullptr: built in).
  Module* owner() const noexcept { return owner_; }
  Bus* bus() const noexcept { return bus_; }

  /// Does this driver handle dev? Default: dev.compatible() == name().
  virtual bool match(const Device& dev) const { return dev.compatible() == name_; }
  /// Bind to dev. Return 0, or a negative errno (-EPROBE_DEFER to be retried later).
  virtual int probe(Device& dev, const Bound& bound) = 0;
  /// Unbind from dev. devm resources are still alive here and released right after.
  virtual void remove(Device& /*dev*/, const Bound& /*bound*/) {}

 private:
  friend class Bus;
  std::string name_;
  Module* owner_;
  Bus* bus_ = nullptr;
};

class Bus {
 public:
  Bus(World& world, std::string name);
  ~Bus();
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  const std::string& name() const noexcept { return name_; }
  World& world() const noexcept { return world_; }

  /// device_add: register and probe a matching driver (synchronously). Returns 0 or an errno
  /// for the registration itself (-EEXIST duplicate name, -EINVAL already registered
  /// elsewhere, -ENOMEM injected); a probe failure is not a registration failure.
  int add_device(Device& dev);
  /// device_del: unbind, release devres (also of driverless devices), drop the bus reference.
  void del_device(Device& dev);
  /// driver_register: attach to every matching unbound device. -EEXIST duplicate name.
  int register_driver(Driver& drv);
  /// driver_unregister: forget drv (no new bind can find it), then unbind every device bound
  /// to it; when this returns no device is bound to drv.
  void unregister_driver(Driver& drv);

  /// sysfs bind: bind device `dev_name` to driver `drv_name`. 0 on success; -ENODEV unknown
  /// device or driver, or driver does not match; -EBUSY already bound; else probe's error.
  int bind(std::string_view dev_name, std::string_view drv_name);
  /// sysfs unbind: unbind `dev_name` (from `drv_name` if given). -ENODEV if not bound (to it).
  int unbind(std::string_view dev_name, std::string_view drv_name = {});

  Ref<Device> find_device(std::string_view name);
  Driver* find_driver(std::string_view name);
  std::vector<Ref<Device>> devices();
  std::vector<Ref<Device>> deferred_devices();

  /// wait_for_device_probe: wait until no deferred-probe retry is queued or running.
  void wait_for_probe();
  /// CONFIG_DEBUG_TEST_DRIVER_REMOVE: remove + re-probe after every successful probe.
  void set_debug_test_driver_remove(bool on) noexcept { debug_remove_ = on; }

 private:
  int probe_device(Device& dev, Driver& drv);     // really_probe; device lock held
  void release_driver(Device& dev);               // __device_release_driver; device lock held
  int attach(Device& dev);                        // try every driver (device lock held)
  void trigger_deferred();
  void deferred_work();

  World& world_;
  std::string name_;
  Mutex mu_{"bus"};
  std::vector<Ref<Device>> devices_;
  std::vector<Driver*> drivers_;
  std::vector<Ref<Device>> deferred_;
  uint64_t trigger_count_ = 0;
  std::atomic<bool> work_queued_{false};   // written under mu_, read by wait_for_probe without it
  std::atomic<bool> work_running_{false};
  WaitQueue probe_wq_{"deferred_probe"};
  bool debug_remove_ = false;
};

}  // namespace udrm
