// Bus bookkeeping: registration errors, sysfs-like bind/unbind by name, driver unregistration.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/testing/warn.h"

namespace udrm {
namespace {

using namespace std::chrono_literals;

class HookDriver : public Driver {
 public:
  explicit HookDriver(std::string name) : Driver(std::move(name)) {}
  std::function<int(Device&)> on_probe;
  std::function<void(Device&)> on_remove;
  std::function<bool(const Device&)> on_match;
  int probes = 0;
  int removes = 0;
  bool match(const Device& d) const override { return on_match ? on_match(d) : Driver::match(d); }
  int probe(Device& d, const Bound&) override {
    ++probes;
    return on_probe ? on_probe(d) : 0;
  }
  void remove(Device& d, const Bound&) override {
    ++removes;
    if (on_remove) on_remove(d);
  }
};

class BusTest : public ::testing::Test {
 protected:
  void run(std::function<void()> body) {
    auto r = sim.run(std::move(body));
    ASSERT_TRUE(r) << r.report;
  }
  Ref<Device> make(const char* name, const char* compatible = "") { return Device::create(w, name, nullptr, compatible); }

  HookDriver a{"a"};
  HookDriver b{"b"};
  SimExecutor sim;
  World w{sim};
  Bus& bus = w.bus();
};

TEST_F(BusTest, AddDeviceDuplicateNameIsEexist) {
  run([&] {
    Ref<Device> d1 = make("dup"), d2 = make("dup");
    EXPECT_EQ(bus.add_device(*d1), 0);
    EXPECT_EQ(bus.add_device(*d2), -EEXIST);
    EXPECT_FALSE(d2->is_registered());
    EXPECT_EQ(bus.devices().size(), 1u);
    EXPECT_EQ(bus.find_device("dup"), d1);
  });
}

TEST_F(BusTest, AddDeviceTwiceIsEinval) {
  run([&] {
    Ref<Device> d = make("twice");
    EXPECT_EQ(bus.add_device(*d), 0);
    EXPECT_EQ(bus.add_device(*d), -EINVAL);
    Bus& other_bus = w.bus("other");
    EXPECT_EQ(other_bus.add_device(*d), -EINVAL) << "registered elsewhere";
    EXPECT_EQ(bus.devices().size(), 1u);
    EXPECT_TRUE(other_bus.devices().empty());
  });
}

TEST_F(BusTest, AddDeviceInjectedFailureRegistersNothing) {
  run([&] {
    Ref<Device> d = make("inj", "a");
    ASSERT_EQ(bus.register_driver(a), 0);
    {
      FailNth inj(1, "device.add");
      ScopedFaultInjector s(inj);
      EXPECT_EQ(bus.add_device(*d), -ENOMEM);
      EXPECT_TRUE(inj.fired());
    }
    EXPECT_FALSE(d->is_registered());
    EXPECT_EQ(a.probes, 0);
    EXPECT_EQ(bus.add_device(*d), 0) << "can be added once the fault is gone";
    EXPECT_TRUE(d->is_bound());
  });
}

TEST_F(BusTest, DelDeviceOfUnregisteredDeviceWarns) {
  run([&] {
    Ref<Device> d = make("never");
    {
      testing::ExpectWarn wn(1, "not registered");
      bus.del_device(*d);
    }
    ASSERT_EQ(bus.add_device(*d), 0);
    bus.del_device(*d);
    {
      testing::ExpectWarn wn(1, "not registered");
      bus.del_device(*d);  // twice
    }
    Ref<Device> e = make("elsewhere");
    ASSERT_EQ(w.bus("other").add_device(*e), 0);
    {
      testing::ExpectWarn wn(1, "not registered");
      bus.del_device(*e);  // wrong bus
    }
    EXPECT_TRUE(e->is_registered());
    EXPECT_EQ(d->refcount(), 1u) << "a failed del must not drop a reference";
  });
}

TEST_F(BusTest, RegisterDriverTwiceFails) {
  run([&] {
    EXPECT_EQ(bus.register_driver(a), 0);
    EXPECT_NE(bus.register_driver(a), 0) << "same driver twice";
    EXPECT_EQ(bus.register_driver(a), -EBUSY);
    HookDriver a2{"a"};
    EXPECT_EQ(bus.register_driver(a2), -EEXIST) << "another driver with the same name";
    EXPECT_EQ(a2.bus(), nullptr);
    EXPECT_EQ(bus.find_driver("a"), &a);
    bus.unregister_driver(a);
    EXPECT_EQ(bus.find_driver("a"), nullptr);
    EXPECT_EQ(a.bus(), nullptr);
    EXPECT_EQ(bus.register_driver(a), 0) << "can register again after unregister";
  });
}

TEST_F(BusTest, UnregisterOfUnregisteredDriverWarns) {
  run([&] {
    testing::ExpectWarn wn(1, "not registered");
    bus.unregister_driver(a);
  });
}

TEST_F(BusTest, BindUnknownDeviceOrDriverIsEnodev) {
  run([&] {
    ASSERT_EQ(bus.register_driver(a), 0);
    Ref<Device> d = make("d", "a");
    ASSERT_EQ(bus.add_device(*d), 0);
    ASSERT_EQ(bus.unbind("d"), 0);
    EXPECT_EQ(bus.bind("nope", "a"), -ENODEV);
    EXPECT_EQ(bus.bind("d", "nope"), -ENODEV);
    EXPECT_EQ(bus.bind("d", ""), -ENODEV);
    EXPECT_EQ(a.probes, 1);
  });
}

TEST_F(BusTest, BindWhenAlreadyBoundIsEbusy) {
  b.on_match = [](const Device&) { return true; };
  run([&] {
    ASSERT_EQ(bus.register_driver(a), 0);
    Ref<Device> d = make("d", "a");
    ASSERT_EQ(bus.add_device(*d), 0);
    ASSERT_EQ(d->driver(), &a);
    ASSERT_EQ(bus.register_driver(b), 0);
    EXPECT_EQ(bus.bind("d", "a"), -EBUSY);
    EXPECT_EQ(bus.bind("d", "b"), -EBUSY);
    EXPECT_EQ(a.probes, 1);
    EXPECT_EQ(b.probes, 0);
    EXPECT_EQ(d->driver(), &a);
  });
}

TEST_F(BusTest, BindNonMatchingDriverIsEnodev) {
  run([&] {
    ASSERT_EQ(bus.register_driver(b), 0);
    Ref<Device> d = make("d", "a");
    ASSERT_EQ(bus.add_device(*d), 0);
    EXPECT_EQ(bus.bind("d", "b"), -ENODEV);
    EXPECT_EQ(b.probes, 0);
    EXPECT_EQ(d->driver(), nullptr);
  });
}

TEST_F(BusTest, BindOfDeletedDeviceIsEnodev) {
  run([&] {
    ASSERT_EQ(bus.register_driver(a), 0);
    Ref<Device> d = make("d", "a");
    ASSERT_EQ(bus.add_device(*d), 0);
    bus.del_device(*d);
    EXPECT_EQ(bus.bind("d", "a"), -ENODEV);
    EXPECT_EQ(bus.unbind("d"), -ENODEV);
  });
}

TEST_F(BusTest, UnbindErrors) {
  run([&] {
    ASSERT_EQ(bus.register_driver(a), 0);
    Ref<Device> unbound = make("unbound", "zzz");
    ASSERT_EQ(bus.add_device(*unbound), 0);
    EXPECT_EQ(bus.unbind("unbound"), -ENODEV) << "not bound";
    EXPECT_EQ(bus.unbind("unbound", "a"), -ENODEV);
    EXPECT_EQ(bus.unbind("nope"), -ENODEV) << "unknown device";

    Ref<Device> d = make("d", "a");
    ASSERT_EQ(bus.add_device(*d), 0);
    EXPECT_EQ(bus.unbind("d", "b"), -ENODEV) << "bound, but not to that driver";
    EXPECT_EQ(d->driver(), &a);
    EXPECT_EQ(a.removes, 0);
    EXPECT_EQ(bus.unbind("d", "a"), 0);
    EXPECT_EQ(a.removes, 1);
    EXPECT_EQ(bus.unbind("d", "a"), -ENODEV) << "already unbound";
    EXPECT_EQ(a.removes, 1);
  });
}

TEST_F(BusTest, SysfsBindRebindsAfterUnbind) {
  run([&] {
    ASSERT_EQ(bus.register_driver(a), 0);
    Ref<Device> d = make("d", "a");
    ASSERT_EQ(bus.add_device(*d), 0);
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(bus.unbind("d"), 0);
      EXPECT_FALSE(d->is_bound());
      ASSERT_EQ(bus.bind("d", "a"), 0);
      EXPECT_TRUE(d->is_bound());
    }
    EXPECT_EQ(a.probes, 4);
    EXPECT_EQ(a.removes, 3);
  });
}

TEST_F(BusTest, FirstMatchingDriverThatSucceedsWins) {
  a.on_match = [](const Device& d) { return d.compatible() == "x"; };
  b.on_match = [](const Device& d) { return d.compatible() == "x"; };
  a.on_probe = [](Device&) { return -ENODEV; };
  run([&] {
    ASSERT_EQ(bus.register_driver(a), 0);
    ASSERT_EQ(bus.register_driver(b), 0);
    Ref<Device> d = make("d", "x");
    ::testing::internal::CaptureStderr();
    ASSERT_EQ(bus.add_device(*d), 0);
    ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(a.probes, 1);
    EXPECT_EQ(b.probes, 1);
    EXPECT_EQ(d->driver(), &b);
  });
}

/// Switches from the task named `from` to the ready task named `to` at the n-th point named
/// `point` that `from` passes once armed.
class SwitchAtPoint : public SimStrategy {
 public:
  SwitchAtPoint(const char* from, const char* to, const char* point, int nth) : from_(from), to_(to), point_(point), nth_(nth) {}
  bool armed = false;
  bool fired = false;
  SimTask* at_point(SimExecutor&, const Point& p, SimTask* cur, std::span<SimTask* const> ready) override {
    if (!armed || fired || std::strcmp(cur->name(), from_) != 0 || std::strcmp(p.name, point_) != 0) return nullptr;
    if (--nth_ > 0) return nullptr;
    for (SimTask* t : ready)
      if (std::strcmp(t->name(), to_) == 0) {
        fired = true;
        return t;
      }
    return nullptr;
  }

 private:
  const char* from_;
  const char* to_;
  const char* point_;
  int nth_;
};

// device_add publishes the device on the bus before it takes the device lock to attach a
// driver; a driver registered in that window binds it first. The attach that follows must see
// the device bound (dd.c: __driver_probe_device returns -EBUSY if dev->driver is set) instead of
// probing it a second time.
TEST_F(BusTest, AddDeviceRacingRegisterDriverProbesOnce) {
  // main's points inside add_device: "device.add", mutex.lock (bus), mutex.lock (device).
  SwitchAtPoint strategy("main", "registrar", "mutex.lock", 2);
  sim.set_strategy(&strategy);
  run([&] {
    Ref<Device> d = make("racy", "a");
    w.executor().post([&] { EXPECT_EQ(bus.register_driver(a), 0); }, "registrar");
    strategy.armed = true;
    ASSERT_EQ(bus.add_device(*d), 0);
    strategy.armed = false;
    sleep_for(1ms);
    EXPECT_TRUE(strategy.fired) << "the schedule did not hit the window";
    EXPECT_EQ(a.probes, 1) << "a bound device was probed again";
    EXPECT_EQ(d->driver(), &a);
    bus.del_device(*d);
    EXPECT_EQ(a.removes, 1);
  });
  sim.set_strategy(nullptr);
}

// Driver unregistration must leave no device bound to the driver, even if a bind by name
// races with it (bus_remove_driver makes the driver unfindable before detaching it).
TEST_F(BusTest, NoDeviceBoundToDriverAfterUnregisterDespiteConcurrentBind) {
  bool allow_d2 = false;
  a.on_probe = [&](Device& d) { return d.name() == "d2" && !allow_d2 ? -ENODEV : 0; };
  a.on_remove = [&](Device& d) {
    if (d.name() != "d1") return;
    // While the core is inside remove() of d1, another task binds d2 by name.
    w.executor().post([&] { bus.bind("d2", "a"); }, "sysfs_bind");
    sleep_for(1ms);
  };
  run([&] {
    Ref<Device> d2 = make("d2", "a");
    Ref<Device> d1 = make("d1", "a");
    ASSERT_EQ(bus.add_device(*d2), 0);  // listed first: the unregister walk passes it first
    ASSERT_EQ(bus.add_device(*d1), 0);
    ::testing::internal::CaptureStderr();
    ASSERT_EQ(bus.register_driver(a), 0);
    ::testing::internal::GetCapturedStderr();
    ASSERT_EQ(d1->driver(), &a);
    ASSERT_EQ(d2->driver(), nullptr);
    allow_d2 = true;
    bus.unregister_driver(a);
    sleep_for(2ms);  // let the racing bind finish whichever way it goes
    EXPECT_EQ(d1->driver(), nullptr);
    EXPECT_EQ(d2->driver(), nullptr) << "d2 got bound to a driver that is unregistered";
    EXPECT_EQ(a.probes - a.removes, 1) << "one failed probe of d2 at registration, nothing left bound";
  });
}

// A deferred retry that runs while the driver is being unregistered must not bind to it.
TEST_F(BusTest, DeferredRetryDoesNotBindToUnregisteringDriver) {
  bool ready = false;
  a.on_probe = [&](Device& d) {
    if (d.name() == "late") return ready ? 0 : -EPROBE_DEFER;
    return 0;
  };
  a.on_remove = [&](Device& d) {
    if (d.name() != "early") return;
    // A successful bind elsewhere triggers the deferred retry while we are in remove().
    ready = true;
    EXPECT_EQ(bus.bind("trigger", "b"), 0);
    sleep_for(1ms);
  };
  run([&] {
    ASSERT_EQ(bus.register_driver(a), 0);
    ASSERT_EQ(bus.register_driver(b), 0);
    Ref<Device> late = make("late", "a");
    Ref<Device> early = make("early", "a");
    Ref<Device> trigger = make("trigger", "b");
    ASSERT_EQ(bus.add_device(*late), 0);
    ASSERT_EQ(bus.add_device(*early), 0);
    ASSERT_EQ(bus.add_device(*trigger), 0);
    ASSERT_EQ(bus.unbind("trigger"), 0);
    ASSERT_EQ(bus.deferred_devices().size(), 1u);
    bus.unregister_driver(a);
    bus.wait_for_probe();
    EXPECT_EQ(early->driver(), nullptr);
    EXPECT_EQ(late->driver(), nullptr) << "deferred retry bound a device to an unregistered driver";
    EXPECT_EQ(a.probes - a.removes, 1) << "only the first (deferred) probe of 'late' is unmatched";
  });
}

}  // namespace
}  // namespace udrm
