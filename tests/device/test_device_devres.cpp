// The driver core's devres call sites: kernel-semantics.md §1.6 (rules 29–32), scenarios D15–D18,
// deferred probe, CONFIG_DEBUG_TEST_DRIVER_REMOVE, and the kunit suites of §1.7.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
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
using Log = std::vector<std::string>;

/// A driver whose hooks are set per test.
class FnDriver : public Driver {
 public:
  explicit FnDriver(std::string name) : Driver(std::move(name)) {}
  std::function<int(Device&, const Bound&)> on_probe;
  std::function<void(Device&, const Bound&)> on_remove;
  int probes = 0;
  int removes = 0;
  int probe(Device& d, const Bound& b) override {
    ++probes;
    return on_probe ? on_probe(d, b) : 0;
  }
  void remove(Device& d, const Bound& b) override {
    ++removes;
    if (on_remove) on_remove(d, b);
  }
};

/// Counts live instances, to prove nothing devm-managed outlives its binding.
struct Obj {
  static inline int live = 0;
  int v;
  explicit Obj(int vv) : v(vv) { ++live; }
  ~Obj() { --live; }
};

class DeviceCore : public ::testing::Test {
 protected:
  void SetUp() override { Obj::live = 0; }
  void TearDown() override {
    // Unregister whatever a test left registered (unbinding it), then nothing devm-managed
    // may remain.
    run([&] {
      for (auto& d : bus.devices()) bus.del_device(*d);
    });
    EXPECT_EQ(Obj::live, 0) << "devm-managed objects leaked";
  }

  /// Run `body` as the main task of the simulated machine; fail the test on deadlock/livelock.
  void run(std::function<void()> body) {
    auto r = sim.run(std::move(body));
    ASSERT_TRUE(r) << r.report;
  }
  /// An action that appends `name` to the log when released.
  int add_logged(Device& d, std::string name) {
    return devm_add_action(d, [this, name] { log.push_back(name); }, "logged");
  }
  Ref<Device> make(const char* name, const char* compatible = "", Device* parent = nullptr) {
    return Device::create(w, name, parent, compatible);
  }

  // Order matters: state and drivers must outlive the World (its destruction unbinds).
  Log log;
  FnDriver drv{"drv"};
  FnDriver other{"other"};
  SimExecutor sim;
  World w{sim};
  Bus& bus = w.bus();
};

// D1 through the driver core: probe adds A, B, C; unbind releases C, B, A.
TEST_F(DeviceCore, D1_UnbindReleasesProbeResourcesLifo) {
  drv.on_probe = [&](Device& d, const Bound&) {
    for (const char* n : {"A", "B", "C"}) EXPECT_EQ(add_logged(d, n), 0);
    return 0;
  };
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("d1", "drv");
    ASSERT_EQ(bus.add_device(*d), 0);
    EXPECT_TRUE(log.empty());
    ASSERT_EQ(bus.unbind("d1"), 0);
    EXPECT_EQ(log, (Log{"C", "B", "A"}));
  });
}

// ---- D15: probe failure -----------------------------------------------------------------------

TEST_F(DeviceCore, D15_ProbeErrorReleasesResourcesLifoBeforeReturning) {
  int drvdata_tag = 0;
  int err = 0;
  bool driver_seen_in_release = false, drvdata_seen_in_release = false;
  drv.on_probe = [&](Device& d, const Bound&) {
    log.push_back("probe");
    EXPECT_EQ(add_logged(d, "r1"), 0);
    EXPECT_EQ(devm_add_action(
                  d,
                  [&, pd = &d] {
                    log.push_back("r2");
                    // As dd.c: devres goes first, the driver pointer and drvdata after.
                    driver_seen_in_release = pd->driver() == &drv;
                    drvdata_seen_in_release = pd->drvdata() == &drvdata_tag;
                  },
                  "r2"),
              0);
    EXPECT_NE(devm_new<Obj>(d, "obj", 1), nullptr);
    d.set_drvdata(&drvdata_tag);
    return err;
  };
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    int n = 0;
    for (int e : {-EINVAL, -ENODEV, -ENXIO, -ENOMEM, -EIO}) {
      SCOPED_TRACE(e);
      err = e;
      log.clear();
      driver_seen_in_release = drvdata_seen_in_release = false;
      Ref<Device> d = make(("d15-" + std::to_string(n++)).c_str(), "drv");
      EXPECT_EQ(bus.add_device(*d), 0) << "a probe failure is not a registration failure";
      EXPECT_EQ(log, (Log{"probe", "r2", "r1"})) << "released LIFO before add_device returned";
      EXPECT_TRUE(driver_seen_in_release);
      EXPECT_TRUE(drvdata_seen_in_release);
      EXPECT_EQ(d->driver(), nullptr) << "driver pointer cleared";
      EXPECT_EQ(d->drvdata(), nullptr) << "drvdata cleared";
      EXPECT_FALSE(d->is_bound());
      EXPECT_TRUE(d->devres().empty());
      EXPECT_EQ(Obj::live, 0);
      EXPECT_TRUE(bus.deferred_devices().empty()) << "only -EPROBE_DEFER parks a device";

      // The same through sysfs bind: the probe's error comes back, the cleanup is the same.
      log.clear();
      EXPECT_EQ(bus.bind(d->name(), "drv"), e);
      EXPECT_EQ(log, (Log{"probe", "r2", "r1"}));
      EXPECT_EQ(d->driver(), nullptr);
      EXPECT_TRUE(d->devres().empty());
      bus.del_device(*d);
    }
  });
}

TEST_F(DeviceCore, D15_ProbeFailureViaRegisterDriver) {
  drv.on_probe = [&](Device& d, const Bound&) {
    EXPECT_EQ(add_logged(d, d.name() + ".r1"), 0);
    EXPECT_EQ(add_logged(d, d.name() + ".r2"), 0);
    return -EINVAL;
  };
  run([&] {
    Ref<Device> a = make("a", "drv"), b = make("b", "drv");
    ASSERT_EQ(bus.add_device(*a), 0);
    ASSERT_EQ(bus.add_device(*b), 0);
    EXPECT_EQ(bus.register_driver(drv), 0) << "per-device probe errors do not fail registration";
    EXPECT_EQ(log, (Log{"a.r2", "a.r1", "b.r2", "b.r1"}));
    EXPECT_EQ(a->driver(), nullptr);
    EXPECT_EQ(b->driver(), nullptr);
    bus.unregister_driver(drv);
  });
}

TEST_F(DeviceCore, D15_ProbeDeferReleasesResourcesAndParksDevice) {
  drv.on_probe = [&](Device& d, const Bound&) {
    log.push_back("probe");
    EXPECT_EQ(add_logged(d, "r1"), 0);
    EXPECT_EQ(add_logged(d, "r2"), 0);
    EXPECT_NE(devm_new<Obj>(d, "obj", 1), nullptr);
    return -EPROBE_DEFER;
  };
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("consumer", "drv");
    EXPECT_EQ(bus.add_device(*d), 0);
    EXPECT_EQ(log, (Log{"probe", "r2", "r1"}));
    EXPECT_EQ(d->driver(), nullptr);
    EXPECT_TRUE(d->devres().empty());
    EXPECT_EQ(Obj::live, 0);
    auto deferred = bus.deferred_devices();
    ASSERT_EQ(deferred.size(), 1u);
    EXPECT_EQ(deferred[0], d);
    // No bind happened: nothing retries it.
    bus.wait_for_probe();
    EXPECT_EQ(drv.probes, 1);
    EXPECT_EQ(bus.bind("consumer", "drv"), -EPROBE_DEFER) << "sysfs bind reports the deferral";
    EXPECT_EQ(drv.probes, 2);
    EXPECT_EQ(log, (Log{"probe", "r2", "r1", "probe", "r2", "r1"}));
    EXPECT_EQ(bus.deferred_devices().size(), 1u) << "parked once, not twice";
    bus.del_device(*d);
    EXPECT_TRUE(bus.deferred_devices().empty()) << "del_device forgets a deferred device";
  });
}

TEST_F(DeviceCore, D15_DeferredDeviceRetriedAfterAnotherDriverBinds) {
  Ref<Device> supplier = make("supplier", "other");
  drv.on_probe = [&](Device& d, const Bound&) {
    EXPECT_EQ(add_logged(d, "consumer.res"), 0);
    if (!supplier->is_bound()) return -EPROBE_DEFER;
    EXPECT_NE(devm_new<Obj>(d, "obj", 2), nullptr);
    return 0;
  };
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> consumer = make("consumer", "drv");
    ASSERT_EQ(bus.add_device(*consumer), 0);
    ASSERT_EQ(bus.add_device(*supplier), 0);  // no driver for it yet: no bind, no retry
    bus.wait_for_probe();
    EXPECT_EQ(drv.probes, 1);
    EXPECT_FALSE(consumer->is_bound());
    EXPECT_EQ(log, (Log{"consumer.res"}));

    ASSERT_EQ(bus.register_driver(other), 0);  // binds the supplier -> triggers deferred probe
    EXPECT_TRUE(supplier->is_bound());
    bus.wait_for_probe();
    EXPECT_EQ(drv.probes, 2) << "retried after the other driver bound";
    EXPECT_TRUE(consumer->is_bound());
    EXPECT_EQ(consumer->driver(), &drv);
    EXPECT_TRUE(bus.deferred_devices().empty());
    EXPECT_EQ(Obj::live, 1);
    EXPECT_EQ(consumer->devres().count(), 2u) << "only the successful probe's resources";
    bus.del_device(*consumer);
    EXPECT_EQ(Obj::live, 0);
  });
}

// Rule 31, second half: a bind that completes *while* a probe is running, which then defers,
// must re-trigger: the deferring device is retried without any further bind.
TEST_F(DeviceCore, D15_BindDuringDeferringProbeRetriggers_NestedRegistration) {
  Ref<Device> supplier = make("supplier", "other");
  drv.on_probe = [&](Device& d, const Bound&) {
    EXPECT_EQ(add_logged(d, "res"), 0);
    if (drv.probes == 1) {
      // The first probe registers the supplier, whose driver binds right away; its trigger
      // finds nobody deferred yet. Then this probe defers.
      EXPECT_EQ(bus.add_device(*supplier), 0);
      EXPECT_TRUE(supplier->is_bound());
      return -EPROBE_DEFER;
    }
    return supplier->is_bound() ? 0 : -EPROBE_DEFER;
  };
  run([&] {
    ASSERT_EQ(bus.register_driver(other), 0);
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> consumer = make("consumer", "drv");
    ASSERT_EQ(bus.add_device(*consumer), 0);
    EXPECT_FALSE(consumer->is_bound());
    bus.wait_for_probe();
    EXPECT_EQ(drv.probes, 2) << "the deferral must be retried: a bind happened during the probe";
    EXPECT_TRUE(consumer->is_bound());
    EXPECT_TRUE(bus.deferred_devices().empty());
    EXPECT_EQ(log, (Log{"res"})) << "first probe's resource released, second's alive";
  });
}

TEST_F(DeviceCore, D15_BindDuringDeferringProbeRetriggers_ConcurrentTask) {
  Ref<Device> supplier = make("supplier", "other");
  drv.on_probe = [&](Device&, const Bound&) {
    if (supplier->is_bound()) return 0;
    if (drv.probes == 1) {
      // Checked "supplier missing", now sleeps; meanwhile another task binds the supplier.
      w.executor().post([&] { EXPECT_EQ(bus.add_device(*supplier), 0); }, "add_supplier");
      sleep_for(1ms);
      EXPECT_TRUE(supplier->is_bound());
    }
    return -EPROBE_DEFER;  // based on the stale check
  };
  run([&] {
    ASSERT_EQ(bus.register_driver(other), 0);
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> consumer = make("consumer", "drv");
    ASSERT_EQ(bus.add_device(*consumer), 0);
    bus.wait_for_probe();
    EXPECT_EQ(drv.probes, 2);
    EXPECT_TRUE(consumer->is_bound());
  });
}

TEST_F(DeviceCore, D15_ManualBindOfDeferredDeviceUnparksIt) {
  bool ready = false;
  drv.on_probe = [&](Device&, const Bound&) { return ready ? 0 : -EPROBE_DEFER; };
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("d", "drv");
    ASSERT_EQ(bus.add_device(*d), 0);
    ASSERT_EQ(bus.deferred_devices().size(), 1u);
    ready = true;
    EXPECT_EQ(bus.bind("d", "drv"), 0);
    EXPECT_TRUE(bus.deferred_devices().empty());
    bus.wait_for_probe();
    EXPECT_EQ(drv.probes, 2);
  });
}

// ---- D16: remove ordering ---------------------------------------------------------------------

class D16 : public DeviceCore {
 protected:
  Obj* obj = nullptr;
  void arm() {
    drv.on_probe = [&](Device& d, const Bound&) {
      obj = devm_new<Obj>(d, "obj", 42);
      EXPECT_NE(obj, nullptr);
      EXPECT_EQ(devm_add_action(d, [this] { log.push_back("a1 live=" + std::to_string(Obj::live)); }, "a1"), 0);
      EXPECT_NE(devm_kzalloc(d, 128, "buf"), nullptr);
      EXPECT_EQ(devm_add_action(d, [this] { log.push_back("a2 live=" + std::to_string(Obj::live)); }, "a2"), 0);
      d.set_drvdata(obj);
      return 0;
    };
    drv.on_remove = [&](Device& d, const Bound& b) {
      EXPECT_EQ(&b.device(), &d);
      EXPECT_EQ(Obj::live, 1) << "devm object alive in remove()";
      EXPECT_EQ(d.drvdata<Obj>(), obj);
      EXPECT_EQ(d.drvdata<Obj>()->v, 42);
      EXPECT_EQ(d.devres().count(), 4u) << "every devm resource still registered in remove()";
      EXPECT_TRUE(d.is_bound());
      log.push_back("remove");
    };
  }
  void check_after() {
    EXPECT_EQ(log, (Log{"remove", "a2 live=1", "a1 live=1"})) << "remove first, then devres LIFO";
    EXPECT_EQ(Obj::live, 0);
  }
};

TEST_F(D16, D16_SysfsUnbindCallsRemoveBeforeReleasingLifo) {
  arm();
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("d16", "drv");
    ASSERT_EQ(bus.add_device(*d), 0);
    ASSERT_TRUE(d->is_bound());
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(bus.unbind("d16"), 0);
    check_after();
    EXPECT_EQ(d->driver(), nullptr);
    EXPECT_EQ(d->drvdata(), nullptr);
    EXPECT_TRUE(d->devres().empty());
  });
}

TEST_F(D16, D16_DriverUnregisterCallsRemoveBeforeReleasingLifo) {
  arm();
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("d16", "drv");
    ASSERT_EQ(bus.add_device(*d), 0);
    bus.unregister_driver(drv);
    check_after();
    EXPECT_EQ(d->driver(), nullptr);
  });
}

TEST_F(D16, D16_DeviceDelCallsRemoveBeforeReleasingLifo) {
  arm();
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("d16", "drv");
    ASSERT_EQ(bus.add_device(*d), 0);
    bus.del_device(*d);
    check_after();
    EXPECT_FALSE(d->is_registered());
  });
}

// ---- D17: driverless devices (platform-device-test.c, root-device-test.c) -----------------------

// platform_device_devm_register_unregister_test
TEST_F(DeviceCore, D17_DriverlessActionRunsAtDeviceDel) {
  run([&] {
    Ref<Device> d = make("pdev");
    ASSERT_EQ(bus.add_device(*d), 0);
    ASSERT_EQ(add_logged(*d, "action"), 0);
    EXPECT_TRUE(log.empty());
    bus.del_device(*d);
    EXPECT_EQ(log, (Log{"action"})) << "released at unregistration";
    EXPECT_TRUE(d->devres().empty());
  });
}

TEST_F(DeviceCore, D17_DriverlessActionRunsAtDeviceDelWhileAnotherRefIsHeld) {
  run([&] {
    Ref<Device> d = make("pdev");
    ASSERT_EQ(bus.add_device(*d), 0);
    Ref<Device> extra = d;
    ASSERT_EQ(add_logged(*d, "action"), 0);
    bus.del_device(*d);
    EXPECT_EQ(log, (Log{"action"})) << "not deferred to the final put";
    EXPECT_GE(d->refcount(), 2u);
  });
}

// A resource added after device_del runs at the final put.
TEST_F(DeviceCore, D17_ResourceAddedAfterDelRunsAtFinalPut) {
  run([&] {
    Ref<Device> parent = make("parent");
    Ref<Device> d = make("child", "", parent.get());
    EXPECT_EQ(parent->refcount(), 2u);
    ASSERT_EQ(bus.add_device(*d), 0);
    ASSERT_EQ(add_logged(*d, "before-del"), 0);
    bus.del_device(*d);
    EXPECT_EQ(log, (Log{"before-del"}));
    ASSERT_EQ(add_logged(*d, "after-del"), 0);
    EXPECT_NE(devm_new<Obj>(*d, "obj", 1), nullptr);
    Ref<Device> extra = d;
    d.reset();
    EXPECT_EQ(log, (Log{"before-del"})) << "not the final put yet";
    EXPECT_EQ(Obj::live, 1);
    extra.reset();  // final put
    EXPECT_EQ(log, (Log{"before-del", "after-del"}));
    EXPECT_EQ(Obj::live, 0);
    EXPECT_EQ(parent->refcount(), 1u) << "the child was freed";
  });
}

// platform_device_devm_register_get_unregister_with_devm_test: the extra reference is dropped by
// the devm action itself, so only a release at device_del can ever free the device.
TEST_F(DeviceCore, D17_DriverlessActionDropsExtraRefAndDeviceIsFreed) {
  run([&] {
    Ref<Device> parent = make("parent");
    Device* raw;
    {
      Ref<Device> d = make("child", "", parent.get());
      ASSERT_EQ(bus.add_device(*d), 0);
      raw = d.get();
      raw->get();  // the extra reference the action will drop
      ASSERT_EQ(devm_add_action(
                    *raw,
                    [this, raw] {
                      log.push_back("put");
                      raw->put();
                    },
                    "put_device"),
                0);
    }
    // Now: the bus reference and the extra one.
    EXPECT_EQ(raw->refcount(), 2u);
    EXPECT_EQ(parent->refcount(), 2u);
    bus.del_device(*raw);
    EXPECT_EQ(log, (Log{"put"}));
    EXPECT_EQ(parent->refcount(), 1u) << "the device was freed: no leak";
  });
}

// probed_platform_device_devm_register_unregister_test (+ the _get_ variant).
TEST_F(DeviceCore, D17_ProbedDeviceActionAddedAfterProbeRunsAtUnregister) {
  bool probed = false;
  drv.on_probe = [&](Device&, const Bound&) {
    probed = true;
    return 0;
  };
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> parent = make("parent");
    Device* raw;
    {
      Ref<Device> d = make("child", "drv", parent.get());
      ASSERT_EQ(bus.add_device(*d), 0);
      ASSERT_TRUE(probed);
      raw = d.get();
      ASSERT_EQ(add_logged(*raw, "plain"), 0);
      raw->get();
      ASSERT_EQ(devm_add_action(
                    *raw,
                    [this, raw] {
                      log.push_back("put");
                      raw->put();
                    },
                    "put_device"),
                0);
    }
    bus.del_device(*raw);
    EXPECT_EQ(log, (Log{"put", "plain"}));
    EXPECT_EQ(drv.removes, 1);
    EXPECT_EQ(parent->refcount(), 1u) << "the device was freed";
  });
}

// root_device_devm_register_unregister_test: a bus-less device; unregister = the final put.
TEST_F(DeviceCore, D17_BuslessDeviceActionRunsAtFinalPut) {
  run([&] {
    Ref<Device> d = make("root");
    ASSERT_EQ(add_logged(*d, "action"), 0);
    EXPECT_TRUE(log.empty());
    d.reset();
    EXPECT_EQ(log, (Log{"action"}));
  });
}

// kunit_device_driver_test: probe at register, remove at unregister, devm action runs,
// re-registering with the same driver probes again.
TEST_F(DeviceCore, D17_KunitDeviceDriverReRegisterProbesAgain) {
  drv.on_probe = [&](Device& d, const Bound&) { return add_logged(d, "devm-" + std::to_string(drv.probes)); };
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    for (int i = 1; i <= 2; ++i) {
      Ref<Device> d = make("kunit-dev", "drv");
      ASSERT_EQ(bus.add_device(*d), 0);
      EXPECT_EQ(drv.probes, i);
      EXPECT_EQ(log.size(), static_cast<size_t>(i - 1)) << "action not run before unregister";
      bus.del_device(*d);
      EXPECT_EQ(drv.removes, i);
      EXPECT_EQ(log.back(), "devm-" + std::to_string(i));
    }
  });
}

// ---- D18: probe guard -------------------------------------------------------------------------

TEST_F(DeviceCore, D18_ResourcesBeforeProbeRefuseProbeWithEbusy) {
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("d18", "drv");
    ASSERT_EQ(add_logged(*d, "early"), 0);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(bus.add_device(*d), 0);
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("Resources present before probing"), std::string::npos) << err;
    EXPECT_EQ(drv.probes, 0) << "probe must not be called";
    EXPECT_FALSE(d->is_bound());
    EXPECT_EQ(d->driver(), nullptr);
    EXPECT_EQ(bus.bind("d18", "drv"), -EBUSY);
    EXPECT_EQ(drv.probes, 0);
    EXPECT_TRUE(log.empty()) << "the early resource is left alone";
    EXPECT_EQ(d->devres().count(), 1u);
    bus.del_device(*d);
    EXPECT_EQ(log, (Log{"early"})) << "released with the (driverless) device";
  });
}

TEST_F(DeviceCore, D18_GroupMarkerAloneAlsoBlocksProbe) {
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("d18g", "drv");
    ASSERT_NE(devres_open_group(*d, nullptr), nullptr);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(bus.add_device(*d), 0);
    ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(bus.bind("d18g", "drv"), -EBUSY);
    EXPECT_EQ(drv.probes, 0);
  });
}

TEST_F(DeviceCore, D18_ProbeAllowedAgainOnceResourcesAreGone) {
  run([&] {
    ASSERT_EQ(bus.add_device(*make("dummy")), 0);
    Ref<Device> d = make("d18r", "drv");
    ASSERT_EQ(add_logged(*d, "early"), 0);
    ASSERT_EQ(bus.add_device(*d), 0);
    ::testing::internal::CaptureStderr();
    ASSERT_EQ(bus.register_driver(drv), 0);
    ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(drv.probes, 0);
    d->devres().release_all();
    EXPECT_EQ(bus.bind("d18r", "drv"), 0);
    EXPECT_EQ(drv.probes, 1);
  });
}

// ---- CONFIG_DEBUG_TEST_DRIVER_REMOVE ----------------------------------------------------------

TEST_F(DeviceCore, DebugTestDriverRemoveProbesRemovesAndProbesAgain) {
  drv.on_probe = [&](Device& d, const Bound&) {
    int n = drv.probes;
    log.push_back("probe" + std::to_string(n));
    EXPECT_TRUE(d.devres().empty()) << "the first probe's resources are gone before the second";
    EXPECT_EQ(Obj::live, 0);
    EXPECT_NE(devm_new<Obj>(d, "obj", n), nullptr);
    return add_logged(d, "res" + std::to_string(n));
  };
  drv.on_remove = [&](Device&, const Bound&) { log.push_back("remove" + std::to_string(drv.removes)); };
  run([&] {
    bus.set_debug_test_driver_remove(true);
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("dbg", "drv");
    ASSERT_EQ(bus.add_device(*d), 0);
    EXPECT_EQ(drv.probes, 2);
    EXPECT_EQ(drv.removes, 1);
    EXPECT_EQ(log, (Log{"probe1", "remove1", "res1", "probe2"}));
    EXPECT_TRUE(d->is_bound());
    EXPECT_EQ(d->devres().count(), 2u);
    EXPECT_EQ(Obj::live, 1);
    // Only one remove+re-probe cycle per bind, also for a later sysfs bind.
    EXPECT_EQ(bus.unbind("dbg"), 0);
    EXPECT_EQ(drv.removes, 2);
    EXPECT_EQ(Obj::live, 0);
    EXPECT_EQ(bus.bind("dbg", "drv"), 0);
    EXPECT_EQ(drv.probes, 4);
    EXPECT_EQ(drv.removes, 3);
    bus.set_debug_test_driver_remove(false);
    EXPECT_EQ(bus.unbind("dbg"), 0);
    EXPECT_EQ(bus.bind("dbg", "drv"), 0);
    EXPECT_EQ(drv.probes, 5) << "debug mode off: a single probe";
    EXPECT_EQ(drv.removes, 4);
  });
}

TEST_F(DeviceCore, DebugTestDriverRemoveSecondProbeFailureLeavesDeviceUnbound) {
  drv.on_probe = [&](Device& d, const Bound&) {
    EXPECT_EQ(add_logged(d, "res" + std::to_string(drv.probes)), 0);
    return drv.probes == 1 ? 0 : -EIO;
  };
  run([&] {
    bus.set_debug_test_driver_remove(true);
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("dbg", "drv");
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(bus.add_device(*d), 0);
    ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(drv.probes, 2);
    EXPECT_EQ(drv.removes, 1);
    EXPECT_EQ(log, (Log{"res1", "res2"}));
    EXPECT_FALSE(d->is_bound());
    EXPECT_EQ(d->driver(), nullptr);
    EXPECT_TRUE(d->devres().empty());
  });
}

// ---- unbind / rebind cycles -------------------------------------------------------------------

TEST_F(DeviceCore, UnbindRebindCyclesLeaveNoResources) {
  drv.on_probe = [&](Device& d, const Bound&) {
    EXPECT_NE(devm_new<Obj>(d, "obj", 1), nullptr);
    EXPECT_NE(devm_kasprintf(d, "%s-%d", "name", drv.probes), nullptr);
    void* g = devres_open_group(d, nullptr);
    EXPECT_NE(g, nullptr);
    EXPECT_NE(devm_new<Obj>(d, "obj-in-group", 2), nullptr);
    devres_close_group(d, g);
    return devm_add_action(d, [this] { log.push_back("a"); }, "a");
  };
  run([&] {
    ASSERT_EQ(bus.register_driver(drv), 0);
    Ref<Device> d = make("cyc", "drv");
    ASSERT_EQ(bus.add_device(*d), 0);
    for (int i = 0; i < 100; ++i) {
      ASSERT_EQ(Obj::live, 2);
      ASSERT_EQ(bus.unbind("cyc", "drv"), 0);
      ASSERT_EQ(Obj::live, 0);
      ASSERT_TRUE(d->devres().empty());
      ASSERT_EQ(bus.bind("cyc", "drv"), 0);
    }
    EXPECT_EQ(drv.probes, 101);
    EXPECT_EQ(drv.removes, 100);
    EXPECT_EQ(log.size(), 100u);
    bus.unregister_driver(drv);
    EXPECT_EQ(Obj::live, 0);
    EXPECT_TRUE(d->devres().empty());
    EXPECT_EQ(d->refcount(), 2u) << "ours + the bus's: no reference leaked by bind cycles";
  });
}

}  // namespace
}  // namespace udrm
