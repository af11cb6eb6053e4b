// Loadable driver modules and module pinning (udrm/core/module.h; kernel-observed.md "Module
// lifetime"). The same driver module (tests/plugins/test_driver.h) runs as a real plugin
// (libudrm_test_plugin.so, dlopen'd; its udrm symbols resolve against this executable) and as a
// built-in module (load_builtin). Both must follow the same rules:
//  - load binds matching devices; unload with nothing pinning runs exit (unbinding devices,
//    releasing devm and drmm) and frees the module (dlclose for the plugin);
//  - an open DrmFile pins the module: unload is -EAGAIN and changes nothing;
//  - after unbind with a file still open, drmm nodes (plugin code) remain reachable: still
//    -EAGAIN while the file pins; when only a drmm node pins (a leaked DrmDevice reference),
//    unload runs exit, WARNs, returns -EBUSY and the module stays loaded until it is free;
//  - devm/drmm nodes created by the module's code carry it (code pins).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "plugins/plugin_api.h"
#include "plugins/test_driver.h"
#include "udrm/base/asio_executor.h"
#include "udrm/base/completion.h"
#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/module.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/testing/warn.h"

#ifndef UDRM_TEST_PLUGIN
#error "UDRM_TEST_PLUGIN (path of libudrm_test_plugin.so) must be defined by tests/plugins/CMakeLists.txt"
#endif

// The plugin's observer: referenced by the plugin, resolved against this executable.
extern "C" {
udrm_test::PluginObserver udrm_test_plugin_observer;
}

namespace udrm {
namespace {

using namespace std::chrono_literals;

udrm_test::PluginObserver g_builtin_obs;
TestModule* g_builtin_module = nullptr;

enum class Kind { plugin, builtin };

std::string kind_name(const ::testing::TestParamInfo<Kind>& info) {
  return info.param == Kind::plugin ? "Plugin" : "Builtin";
}

/// Is the plugin's shared object mapped in this process?
bool plugin_mapped(const char* path) {
  void* h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (!h) return false;
  dlclose(h);
  return true;
}

class ModuleLifetime : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    obs().clear();
    g_builtin_module = nullptr;
    ASSERT_FALSE(plugin_mapped(UDRM_TEST_PLUGIN)) << "the plugin is still mapped from an earlier test";
  }
  void TearDown() override {
    EXPECT_FALSE(plugin_mapped(UDRM_TEST_PLUGIN)) << "the plugin is still mapped at the end of the test";
  }

  bool is_plugin() const { return GetParam() == Kind::plugin; }
  udrm_test::PluginObserver& obs() { return is_plugin() ? udrm_test_plugin_observer : g_builtin_obs; }
  std::string name() const { return is_plugin() ? "udrm_test_plugin" : "udrm_test_builtin"; }
  std::string driver_name() const { return is_plugin() ? "udrm-test" : "udrm-test-builtin"; }
  /// Devices this module's driver binds to.
  std::string compatible() const { return driver_name(); }
  /// "The module's code is gone": dlclose'd for the plugin; nothing to check for built-ins.
  bool code_unmapped() const { return is_plugin() ? !plugin_mapped(UDRM_TEST_PLUGIN) : true; }

  int load(World& w, Module** out = nullptr) {
    if (is_plugin()) return w.modules().load(UDRM_TEST_PLUGIN, out);
    return w.modules().load_builtin(
        "udrm_test_builtin",
        [](World& world, Module& m) {
          return test_module_init(world, m, &g_builtin_obs, "udrm-test-builtin", &g_builtin_module);
        },
        [](World&, Module& m) {
          test_module_exit(m, g_builtin_module, &g_builtin_obs);
          g_builtin_module = nullptr;
        },
        out);
  }

  Ref<Device> add_device(World& w, const char* dev_name) {
    auto dev = Device::create(w, dev_name, nullptr, compatible());
    EXPECT_EQ(w.bus("platform").add_device(*dev), 0);
    return dev;
  }
};

void run_sim(SimExecutor& sim, Task body) {
  auto r = sim.run(std::move(body));
  ASSERT_TRUE(r) << r.report;
}

// ---------------------------------------------------------------------------------------------

TEST_P(ModuleLifetime, LoadBindsMatchingDevices) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Bus& bus = w.bus("platform");
    auto dev = add_device(w, "card0");
    EXPECT_FALSE(dev->is_bound()) << "bound before the module was loaded";
    Module* m = nullptr;
    ASSERT_EQ(load(w, &m), 0);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(w.modules().find(name()), m);
    EXPECT_EQ(m->name(), name());
    EXPECT_EQ(m->state(), Module::State::live);
    EXPECT_EQ(m->refcount(), 0);
    EXPECT_EQ(obs().init_calls, 1);
    ASSERT_TRUE(dev->is_bound());
    EXPECT_EQ(dev->driver()->owner(), m);
    EXPECT_NE(bus.find_driver(driver_name()), nullptr);
    EXPECT_EQ(obs().probes, 1);
    EXPECT_EQ(obs().probe_module.load(), m) << "probe did not run inside the module's scope";
    DrmDevice* drm = obs().drm;
    ASSERT_NE(drm, nullptr);
    EXPECT_TRUE(drm->is_registered());
    EXPECT_EQ(drm->owner(), m);
    EXPECT_TRUE(!is_plugin() || plugin_mapped(UDRM_TEST_PLUGIN)) << "the plugin must stay mapped";
    // A device that shows up later binds as well.
    auto dev2 = add_device(w, "card1");
    EXPECT_TRUE(dev2->is_bound());
    EXPECT_EQ(obs().probes, 2);
    ASSERT_EQ(w.modules().unload(name()), 0);
    EXPECT_FALSE(dev->is_bound());
    EXPECT_FALSE(dev2->is_bound());
    bus.del_device(*dev);
    bus.del_device(*dev2);
  });
}

TEST_P(ModuleLifetime, UnloadWithNothingPinningRunsExitAndFreesTheModule) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Bus& bus = w.bus("platform");
    auto dev = add_device(w, "card0");
    Module* m = nullptr;
    ASSERT_EQ(load(w, &m), 0);
    ASSERT_TRUE(dev->is_bound());
    EXPECT_GT(m->code_pins(), 0);
    EXPECT_EQ(w.modules().unload(name()), 0);
    // m is gone now.
    EXPECT_EQ(obs().exit_calls, 1);
    EXPECT_EQ(obs().try_get_in_exit, 0) << "try_module_get succeeded on a going module";
    EXPECT_FALSE(dev->is_bound());
    EXPECT_EQ(dev->driver(), nullptr);
    EXPECT_EQ(obs().removes, 1);
    EXPECT_EQ(obs().devm_released, 2) << "devm actions not released at unbind";
    EXPECT_EQ(obs().drmm_released, 1) << "drmm action not released (no file was open)";
    EXPECT_EQ(obs().containers_freed, 1);
    EXPECT_EQ(dev->devres().count(), 0u);
    EXPECT_EQ(bus.find_driver(driver_name()), nullptr);
    EXPECT_EQ(w.modules().find(name()), nullptr);
    EXPECT_TRUE(code_unmapped()) << "the plugin was not dlclose'd";
    // The device stays registered, driverless; it can go away normally.
    EXPECT_TRUE(dev->is_registered());
    bus.del_device(*dev);
  });
}

TEST_P(ModuleLifetime, UnloadWhileAFileIsOpenIsEagainAndChangesNothing) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Bus& bus = w.bus("platform");
    auto dev = add_device(w, "card0");
    Module* m = nullptr;
    ASSERT_EQ(load(w, &m), 0);
    DrmDevice* drm = obs().drm;
    ASSERT_NE(drm, nullptr);
    Ref<DrmFile> f;
    ASSERT_EQ(DrmFile::open(*drm, &f), 0);
    EXPECT_EQ(m->refcount(), 1) << "an open file must pin the module";
    long pins = m->code_pins();

    EXPECT_EQ(w.modules().unload(name()), -EAGAIN);
    // Nothing changed.
    EXPECT_EQ(w.modules().find(name()), m);
    EXPECT_EQ(m->state(), Module::State::live);
    EXPECT_EQ(m->refcount(), 1);
    EXPECT_EQ(m->code_pins(), pins);
    EXPECT_EQ(obs().exit_calls, 0);
    EXPECT_TRUE(dev->is_bound());
    EXPECT_EQ(bus.find_driver(driver_name()), dev->driver());
    EXPECT_EQ(obs().removes, 0);
    EXPECT_EQ(obs().devm_released, 0);
    EXPECT_FALSE(drm->is_unplugged());
    EXPECT_EQ(f->call([](DrmDevice&) { return 7; }), 7);
    EXPECT_TRUE(try_module_get(m)) << "a refused unload must leave the module live";
    module_put(m);
    EXPECT_TRUE(!is_plugin() || plugin_mapped(UDRM_TEST_PLUGIN)) << "the plugin must stay mapped";
    EXPECT_EQ(w.modules().unload(name()), -EAGAIN) << "a retry while still pinned";

    EXPECT_EQ(f->close(), 0);
    EXPECT_EQ(m->refcount(), 0);
    EXPECT_EQ(w.modules().unload(name()), 0);
    EXPECT_EQ(obs().exit_calls, 1);
    EXPECT_FALSE(dev->is_bound());
    EXPECT_EQ(obs().drmm_released, 1);
    EXPECT_EQ(obs().containers_freed, 1);
    EXPECT_EQ(w.modules().find(name()), nullptr);
    EXPECT_TRUE(code_unmapped());
    bus.del_device(*dev);
  });
}

TEST_P(ModuleLifetime, UnbindWithAFileOpenKeepsDrmmCodeReachableAndTheModulePinned) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Bus& bus = w.bus("platform");
    auto dev = add_device(w, "card0");
    Module* m = nullptr;
    ASSERT_EQ(load(w, &m), 0);
    DrmDevice* drm = obs().drm;
    ASSERT_NE(drm, nullptr);
    Ref<DrmFile> f;
    ASSERT_EQ(DrmFile::open(*drm, &f), 0);

    ASSERT_EQ(bus.unbind("card0"), 0);
    EXPECT_FALSE(dev->is_bound());
    EXPECT_EQ(obs().removes, 1);
    EXPECT_EQ(obs().devm_released, 2);
    EXPECT_EQ(dev->devres().count(), 0u);
    EXPECT_EQ(obs().drmm_released, 0) << "drmm released while a file still holds the device";
    EXPECT_EQ(obs().containers_freed, 0);
    EXPECT_TRUE(drm->is_unplugged());
    EXPECT_EQ(f->call([](DrmDevice&) { return 0; }), -ENODEV);
    // The drmm nodes (the plugin's drmm action among them) and the container (its destructor is
    // the module's code) still pin the module's code.
    EXPECT_EQ(m->code_pins(), static_cast<long>(drm->drmm_count()) + 1);
    EXPECT_GT(m->code_pins(), 0);

    EXPECT_EQ(w.modules().unload(name()), -EAGAIN) << "the open file pins the module";
    EXPECT_EQ(w.modules().find(name()), m);
    EXPECT_EQ(m->state(), Module::State::live);
    EXPECT_EQ(obs().exit_calls, 0);
    EXPECT_NE(bus.find_driver(driver_name()), nullptr);
    EXPECT_TRUE(!is_plugin() || plugin_mapped(UDRM_TEST_PLUGIN)) << "the plugin must stay mapped";

    EXPECT_EQ(f->close(), 0);  // final put: the drmm action in the module's code runs now
    EXPECT_EQ(obs().drmm_released, 1);
    EXPECT_EQ(obs().containers_freed, 1);
    EXPECT_EQ(m->code_pins(), 0);
    EXPECT_EQ(m->refcount(), 0);
    EXPECT_EQ(w.modules().unload(name()), 0);
    EXPECT_EQ(obs().exit_calls, 1);
    EXPECT_EQ(w.modules().find(name()), nullptr);
    EXPECT_TRUE(code_unmapped());
    bus.del_device(*dev);
  });
}

TEST_P(ModuleLifetime, OnlyADrmmNodePinningMakesUnloadEbusyWarnAndKeepTheModule) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Bus& bus = w.bus("platform");
    auto dev = add_device(w, "card0");
    Module* m = nullptr;
    ASSERT_EQ(load(w, &m), 0);
    ASSERT_NE(obs().drm.load(), nullptr);
    // A leaked DrmDevice reference: no file, so the module has no references, but its drmm
    // nodes (the module's code) stay reachable after exit unbinds the device.
    Ref<DrmDevice> leaked(obs().drm.load());
    EXPECT_EQ(m->refcount(), 0);
    {
      testing::ExpectWarn w1(1, "still referenced after exit");
      EXPECT_EQ(w.modules().unload(name()), -EBUSY);
    }
    EXPECT_EQ(obs().exit_calls, 1);
    EXPECT_EQ(obs().try_get_in_exit, 0);
    EXPECT_FALSE(dev->is_bound());
    EXPECT_EQ(obs().devm_released, 2);
    EXPECT_EQ(obs().drmm_released, 0);
    EXPECT_EQ(bus.find_driver(driver_name()), nullptr) << "exit unregistered the driver";
    // Still loaded (the code must stay mapped), but going: no new pins.
    ASSERT_EQ(w.modules().find(name()), m);
    EXPECT_EQ(m->state(), Module::State::going);
    EXPECT_GT(m->code_pins(), 0);
    EXPECT_EQ(m->code_pins(), static_cast<long>(leaked->drmm_count()) + 1);  // + the container
    EXPECT_FALSE(try_module_get(m));
    EXPECT_EQ(m->refcount(), 0);
    EXPECT_TRUE(!is_plugin() || plugin_mapped(UDRM_TEST_PLUGIN)) << "the plugin must stay mapped";
    // A retry while still pinned: -EBUSY again, exit does not run twice, no new WARN.
    EXPECT_EQ(w.modules().unload(name()), -EBUSY);
    EXPECT_EQ(obs().exit_calls, 1);
    // A second load of the same name is refused while it lingers.
    EXPECT_EQ(load(w), -EEXIST);

    leaked.reset();  // the final put runs the module's drmm action: its code is still mapped
    EXPECT_EQ(obs().drmm_released, 1);
    EXPECT_EQ(obs().containers_freed, 1);
    EXPECT_EQ(m->code_pins(), 0);
    EXPECT_EQ(w.modules().unload(name()), 0) << "the lingering module is freed once nothing pins it";
    EXPECT_EQ(obs().exit_calls, 1);
    EXPECT_EQ(w.modules().find(name()), nullptr);
    EXPECT_TRUE(code_unmapped());
    bus.del_device(*dev);
  });
}

TEST_P(ModuleLifetime, DevmAndDrmmNodesCreatedByModuleCodeCarryTheModule) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Bus& bus = w.bus("platform");
    auto dev = add_device(w, "card0");
    Module* m = nullptr;
    ASSERT_EQ(load(w, &m), 0);
    DrmDevice* drm = obs().drm;
    ASSERT_NE(drm, nullptr);
    // Every devm node of the binding and every drmm node was created by the module's probe.
    long nodes = static_cast<long>(dev->devres().count() + drm->drmm_count());
    EXPECT_EQ(nodes, 5) << "probe: 2 devm actions + devm_drm_dev_alloc's action, 2 drmm nodes";
    // One more pin: the DrmDevice container, whose destructor is the module's code.
    EXPECT_EQ(m->code_pins(), nodes + 1);
    EXPECT_EQ(obs().code_pins_after_probe, nodes + 1);
    // Nodes created by code outside the module are not attributed to it.
    ASSERT_EQ(devm_add_action(*dev, [] {}, "test.outside_module"), 0);
    EXPECT_EQ(m->code_pins(), nodes + 1);
    {
      ModuleScope scope(m);  // ...and inside a scope they are
      ASSERT_EQ(devm_add_action(*dev, [] {}, "test.inside_scope"), 0);
      EXPECT_EQ(current_module(), m);
    }
    EXPECT_EQ(current_module(), nullptr);
    EXPECT_EQ(m->code_pins(), nodes + 2);

    ASSERT_EQ(bus.unbind("card0"), 0);
    EXPECT_EQ(m->code_pins(), 0) << "unbind (no file open) must release every node of the module";
    EXPECT_EQ(obs().drmm_released, 1);
    EXPECT_EQ(w.modules().find(name()), m);
    // Rebinding attributes the new nodes again.
    ASSERT_EQ(bus.bind("card0", driver_name()), 0);
    EXPECT_EQ(m->code_pins(), nodes + 1);
    EXPECT_EQ(w.modules().unload(name()), 0);
    bus.del_device(*dev);
  });
}

TEST_P(ModuleLifetime, LoadingTheSameModuleTwiceIsEexist) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Module* m = nullptr;
    ASSERT_EQ(load(w, &m), 0);
    Module* m2 = nullptr;
    EXPECT_EQ(load(w, &m2), -EEXIST);
    EXPECT_EQ(m2, nullptr);
    EXPECT_EQ(obs().init_calls, 1) << "init ran for a duplicate";
    EXPECT_EQ(w.modules().find(name()), m);
    EXPECT_EQ(m->state(), Module::State::live);
    EXPECT_EQ(w.modules().unload(name()), 0);
    EXPECT_EQ(w.modules().find(name()), nullptr);
    // And it can be loaded again once unloaded.
    ASSERT_EQ(load(w, &m), 0);
    EXPECT_EQ(obs().init_calls, 2);
    EXPECT_EQ(w.modules().unload(m->name()), 0) << "unload by the module's own name (a view into it)";
  });
}

TEST_P(ModuleLifetime, InitErrorIsReturnedAndTheModuleIsNotRegistered) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    auto dev = add_device(w, "card0");
    obs().init_error = -ENODEV;
    Module* m = nullptr;
    EXPECT_EQ(load(w, &m), -ENODEV);
    EXPECT_EQ(m, nullptr);
    EXPECT_EQ(obs().init_calls, 1);
    EXPECT_EQ(obs().exit_calls, 0) << "exit must not run after a failed init";
    EXPECT_EQ(w.modules().find(name()), nullptr);
    EXPECT_EQ(w.modules().unload(name()), -ENOENT);
    EXPECT_FALSE(dev->is_bound());
    EXPECT_TRUE(code_unmapped()) << "a module whose init failed must be dlclose'd";
    // A later load that succeeds works normally.
    obs().init_error = 0;
    ASSERT_EQ(load(w, &m), 0);
    EXPECT_TRUE(dev->is_bound());
    EXPECT_EQ(w.modules().unload(name()), 0);
    w.bus("platform").del_device(*dev);
  });
}

TEST_P(ModuleLifetime, ProbeErrorLeavesTheDeviceUnboundAndNoCodePins) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    auto dev = add_device(w, "card0");
    obs().probe_error = -EIO;
    Module* m = nullptr;
    ASSERT_EQ(load(w, &m), 0) << "a probe failure is not an init failure";
    EXPECT_EQ(obs().probes, 1);
    EXPECT_FALSE(dev->is_bound());
    EXPECT_EQ(m->code_pins(), 0);
    EXPECT_EQ(m->refcount(), 0) << "probe's module reference leaked";
    EXPECT_EQ(w.modules().unload(name()), 0);
    w.bus("platform").del_device(*dev);
  });
}

INSTANTIATE_TEST_SUITE_P(Both, ModuleLifetime, ::testing::Values(Kind::plugin, Kind::builtin), kind_name);

// ---------------------------------------------------------------------------------------------
// Loader errors and registry edge cases.

TEST(ModuleLoad, MissingFileIsEnoent) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Module* m = nullptr;
    EXPECT_EQ(w.modules().load("/nonexistent/dir/libudrm_nope.so", &m), -ENOENT);
    EXPECT_EQ(m, nullptr);
    EXPECT_EQ(w.modules().find("udrm_nope"), nullptr);
  });
}

TEST(ModuleLoad, SharedObjectWithoutInitIsEnoexec) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Module* m = nullptr;
    EXPECT_EQ(w.modules().load(UDRM_TEST_PLUGIN_NOINIT, &m), -ENOEXEC);
    EXPECT_EQ(m, nullptr);
    EXPECT_EQ(w.modules().find("udrm_test_plugin_noinit"), nullptr);
    EXPECT_FALSE(plugin_mapped(UDRM_TEST_PLUGIN_NOINIT)) << "the rejected object was not dlclose'd";
  });
}

TEST(ModuleLoad, UnloadOfAnUnknownNameIsEnoent) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] { EXPECT_EQ(w.modules().unload("no_such_module"), -ENOENT); });
}

TEST(ModuleLoad, BuiltinInitErrorIsReturnedAndNotRegistered) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    int exits = 0;
    Module* m = nullptr;
    EXPECT_EQ(w.modules().load_builtin(
                  "broken", [](World&, Module&) { return -EINVAL; }, [&](World&, Module&) { ++exits; }, &m),
              -EINVAL);
    EXPECT_EQ(m, nullptr);
    EXPECT_EQ(exits, 0);
    EXPECT_EQ(w.modules().find("broken"), nullptr);
    // The name is free again.
    EXPECT_EQ(w.modules().load_builtin("broken", nullptr, nullptr, &m), 0);
    EXPECT_EQ(w.modules().unload("broken"), 0);
  });
}

// A driver owned by a module, registered by a test-supplied init.
class OwnedDriver : public Driver {
 public:
  OwnedDriver(std::string name, Module* owner) : Driver(std::move(name), owner) {}
  int probe(Device& dev, const Bound&) override { return devm_add_action(dev, [] {}, "owned.action"); }
};

TEST(ModuleLoad, InitFailingWithCodeStillPinnedWarnsAndKeepsTheModuleUntilFree) {
  // A buggy init that registers a driver (which binds and creates devm nodes in the module's
  // code) and then fails without cleaning up: freeing the module would leave those nodes
  // pointing into its code. It is kept (going) with a WARN; once the pins are gone, unload
  // frees it. exit never runs (init failed).
  SimExecutor sim;
  std::unique_ptr<OwnedDriver> drv;
  World w(sim);
  run_sim(sim, [&] {
    Bus& bus = w.bus("platform");
    auto dev = Device::create(w, "owned0", nullptr, "owned");
    ASSERT_EQ(bus.add_device(*dev), 0);
    int exits = 0;
    Module* mod = nullptr;
    {
      testing::ExpectWarn warn1(1, "init failed");
      EXPECT_EQ(w.modules().load_builtin(
                    "leaky",
                    [&](World& world, Module& m) {
                      mod = &m;
                      drv = std::make_unique<OwnedDriver>("owned", &m);
                      EXPECT_EQ(world.bus("platform").register_driver(*drv), 0);
                      return -EIO;
                    },
                    [&](World&, Module&) { ++exits; }),
                -EIO);
    }
    ASSERT_NE(mod, nullptr);
    EXPECT_TRUE(dev->is_bound());
    EXPECT_EQ(w.modules().find("leaky"), mod);
    EXPECT_EQ(mod->state(), Module::State::going);
    EXPECT_FALSE(try_module_get(mod));
    EXPECT_EQ(mod->code_pins(), 1);
    EXPECT_EQ(w.modules().unload("leaky"), -EBUSY);
    bus.unregister_driver(*drv);  // the cleanup init should have done
    EXPECT_EQ(mod->code_pins(), 0);
    EXPECT_EQ(w.modules().unload("leaky"), 0);
    EXPECT_EQ(exits, 0) << "exit ran for a module whose init failed";
    EXPECT_EQ(w.modules().find("leaky"), nullptr);
    bus.del_device(*dev);
  });
}

// ---------------------------------------------------------------------------------------------
// try_module_get / module_put / ModuleScope.

TEST(ModulePin, TryModuleGetFailsOnceTheModuleIsGoing) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    bool checked = false;
    Module* m = nullptr;
    ASSERT_EQ(w.modules().load_builtin(
                  "pin",
                  [](World&, Module& self) {
                    EXPECT_EQ(self.state(), Module::State::coming);
                    EXPECT_TRUE(try_module_get(&self)) << "a coming module can be pinned";
                    module_put(&self);
                    return 0;
                  },
                  [&](World&, Module& self) {
                    EXPECT_EQ(self.state(), Module::State::going);
                    EXPECT_FALSE(try_module_get(&self));
                    EXPECT_EQ(self.refcount(), 0) << "a failed try_module_get must not leave a reference";
                    module_get(&self);  // __module_get: unconditional
                    EXPECT_EQ(self.refcount(), 1);
                    module_put(&self);
                    checked = true;
                  },
                  &m),
              0);
    EXPECT_EQ(m->state(), Module::State::live);
    EXPECT_TRUE(try_module_get(m));
    EXPECT_EQ(m->refcount(), 1);
    EXPECT_EQ(w.modules().unload("pin"), -EAGAIN);
    EXPECT_EQ(m->state(), Module::State::live);
    module_put(m);
    EXPECT_EQ(w.modules().unload("pin"), 0);
    EXPECT_TRUE(checked);
    // Built-in code (nullptr) can always be pinned.
    EXPECT_TRUE(try_module_get(nullptr));
    module_get(nullptr);
    module_put(nullptr);
  });
}

TEST(ModulePin, ModulePutUnderflowWarnsAndDoesNotWrap) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Module* m = nullptr;
    ASSERT_EQ(w.modules().load_builtin("under", nullptr, nullptr, &m), 0);
    {
      testing::ExpectWarn warn1(1, "underflow");
      module_put(m);
    }
    EXPECT_EQ(m->refcount(), 0);
    EXPECT_EQ(w.modules().unload("under"), 0);
  });
}

TEST(ModulePin, ModuleScopeNestsAndFollowsTheSimulatedTask) {
  SimExecutor sim;
  World w(sim);
  run_sim(sim, [&] {
    Module *a = nullptr, *b = nullptr;
    ASSERT_EQ(w.modules().load_builtin("scope_a", nullptr, nullptr, &a), 0);
    ASSERT_EQ(w.modules().load_builtin("scope_b", nullptr, nullptr, &b), 0);
    EXPECT_EQ(current_module(), nullptr);
    Completion done("done");
    sim.post([&] {
      ModuleScope sa(a);
      sim.yield();
      EXPECT_EQ(current_module(), a);
      {
        ModuleScope sb(b);
        sim.yield();
        EXPECT_EQ(current_module(), b);
      }
      EXPECT_EQ(current_module(), a);
      done.complete();
    }, "task_a");
    {
      ModuleScope sb(b);
      sim.yield();
      EXPECT_EQ(current_module(), b) << "another task's scope leaked into this one";
      done.wait();
      EXPECT_EQ(current_module(), b);
    }
    EXPECT_EQ(current_module(), nullptr);
    EXPECT_EQ(w.modules().unload("scope_a"), 0);
    EXPECT_EQ(w.modules().unload("scope_b"), 0);
  });
}

TEST(ModulePin, ConcurrentUnloadsOfOneModuleExactlyOneSucceeds) {
  // Two threads unload the same module while its exit is running: exactly one unload frees it;
  // the other fails cleanly (-EBUSY while the first is in progress, -ENOENT after) and never
  // touches the freed module (ASan/TSan would see it).
  AsioExecutor ex(1);
  World w(ex);
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    std::atomic<int> exits{0};
    ASSERT_EQ(w.modules().load_builtin(
                  "twice", nullptr,
                  [&](World&, Module&) {
                    exits.fetch_add(1);
                    for (int i = 0; i < 20; ++i) std::this_thread::yield();
                  }),
              0);
    std::atomic<bool> go{false};
    std::atomic<int> ready{0};
    int ret[2] = {1, 1};
    std::thread t[2];
    for (int i = 0; i < 2; ++i) {
      t[i] = std::thread([&, i] {
        ready.fetch_add(1);
        while (!go.load()) std::this_thread::yield();
        ret[i] = w.modules().unload("twice");
      });
    }
    while (ready.load() != 2) std::this_thread::yield();
    go.store(true);
    t[0].join();
    t[1].join();
    EXPECT_EQ((ret[0] == 0) + (ret[1] == 0), 1) << ret[0] << " " << ret[1];
    for (int r : ret) EXPECT_TRUE(r == 0 || r == -EBUSY || r == -ENOENT) << r;
    EXPECT_EQ(exits.load(), 1);
    EXPECT_EQ(w.modules().find("twice"), nullptr);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace udrm
