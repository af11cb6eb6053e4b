// tests/plugins/test_driver.h — the test driver module's code.
//
// Included by the plugin (test_plugin.cpp) and by tests/module (as a built-in module); every
// definition has internal linkage, so each side runs its own copy (the plugin's is the code
// that must stay mapped while anything can still call it).
//
// Probe: two devm actions (function and closure form), devm_drm_dev_alloc of a container
// deriving DrmDevice, a drmm action, drm register. remove(): drm unplug.
#pragma once
#include "plugins/plugin_api.h"
#include "udrm/base/errno.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/module.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/managed.h"

namespace {

struct TestDrm : udrm::DrmDevice {
  explicit TestDrm(udrm_test::PluginObserver* o) : obs(o) {}
  ~TestDrm() override { obs->containers_freed.fetch_add(1); }
  udrm_test::PluginObserver* obs;
};

const udrm::DrmDriver kTestDrmDriver = [] {
  udrm::DrmDriver d;
  d.name = "udrm-test";
  d.desc = "udrm test driver module";
  return d;
}();

void test_devm_fini(udrm_test::PluginObserver* obs) { obs->devm_released.fetch_add(1); }

void test_drmm_fini(udrm::DrmDevice&, udrm_test::PluginObserver* obs) { obs->drmm_released.fetch_add(1); }

class TestDriver final : public udrm::Driver {
 public:
  TestDriver(const char* name, udrm::Module* owner, udrm_test::PluginObserver* obs)
      : udrm::Driver(name, owner), obs_(obs) {}

  int probe(udrm::Device& dev, const udrm::Bound&) override {
    obs_->probes.fetch_add(1);
    obs_->probe_module.store(udrm::current_module());
    if (int e = obs_->probe_error.load()) return e;
    int ret = udrm::devm_add_action(dev, &test_devm_fini, obs_, "test.devm_fini");
    if (ret) return ret;
    ret = udrm::devm_add_action(dev, [o = obs_] { o->devm_released.fetch_add(1); }, "test.devm_closure");
    if (ret) return ret;
    int err = 0;
    TestDrm* drm = udrm::devm_drm_dev_alloc<TestDrm>(dev, kTestDrmDriver, &err, obs_);
    if (!drm) return err;
    ret = udrm::drmm_add_action(*drm, &test_drmm_fini, obs_, "test.drmm_fini");
    if (ret) return ret;
    ret = drm->register_device();
    if (ret) return ret;
    dev.set_drvdata(drm);
    obs_->drm.store(drm);
    if (udrm::Module* m = udrm::current_module()) obs_->code_pins_after_probe.store(m->code_pins());
    return 0;
  }

  void remove(udrm::Device& dev, const udrm::Bound&) override {
    obs_->removes.fetch_add(1);
    if (auto* drm = dev.drvdata<TestDrm>()) drm->unplug();
  }

 private:
  udrm_test::PluginObserver* obs_;
};

struct TestModule {
  TestModule(const char* drv_name, udrm::Module* m, udrm_test::PluginObserver* obs) : drv(drv_name, m, obs) {}
  TestDriver drv;
  udrm::Bus* bus = nullptr;
};

/// udrm_module_init's body: register the driver on the platform bus (binding matching devices).
[[maybe_unused]] int test_module_init(udrm::World& w, udrm::Module& m, udrm_test::PluginObserver* obs,
                                      const char* drv_name, TestModule** out) {
  obs->init_calls.fetch_add(1);
  if (int e = obs->init_error.load()) return e;
  auto* tm = new TestModule(drv_name, &m, obs);
  tm->bus = &w.bus("platform");
  int ret = tm->bus->register_driver(tm->drv);
  if (ret) {
    delete tm;
    return ret;
  }
  *out = tm;
  return 0;
}

/// udrm_module_exit's body: unregister the driver (unbinding its devices).
[[maybe_unused]] void test_module_exit(udrm::Module& m, TestModule* tm, udrm_test::PluginObserver* obs) {
  obs->exit_calls.fetch_add(1);
  bool got = udrm::try_module_get(&m);
  obs->try_get_in_exit.store(got ? 1 : 0);
  if (got) udrm::module_put(&m);
  if (!tm) return;
  tm->bus->unregister_driver(tm->drv);
  delete tm;
}

}  // namespace
