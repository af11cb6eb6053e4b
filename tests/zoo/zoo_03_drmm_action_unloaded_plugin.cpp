// Zoo 3: a helper module registers a drmm action on the caller's DRM device without pinning itself, is unloaded while a file keeps the device alive, and the final put calls into its unmapped code.
//
// Display drivers call helper libraries (panel, bridge, DSI helpers) from probe; when such a
// helper registers a drmm action, the action's code is the helper's. The node belongs to the
// caller's context (the driver's module), so nothing stops `rmmod` of the helper while a
// client still holds the DRM device open; the last close then runs the action from freed
// module text (the kernel oopses). udrm records every plugin's code at load and, at release,
// refuses to call into code of an unloaded module with a WARN naming the action and the module.
// The fix: the helper takes a reference on its own module (try_module_get) for as long as the
// action is registered — rmmod then says "in use" (-EAGAIN) until the last close.
#include <dlfcn.h>

#include "udrm/core/module.h"
#include "zoo/zoo3_api.h"
#include "zoo/zoo_common.h"

extern "C" UdrmZoo3Observer udrm_zoo3_observer;
UdrmZoo3Observer udrm_zoo3_observer;

namespace udrm::zoo {
namespace {

constexpr const char* kHelperModule = "udrm_zoo3_plugin";

struct Zoo3Drm : DrmDevice {};

const DrmDriver kZoo3Driver = [] {
  DrmDriver d;
  d.name = "zoo3";
  return d;
}();

class Zoo3Driver final : public Driver {
 public:
  Zoo3Driver(zoo3_helper_attach_t attach, bool pin) : Driver("zoo3"), attach_(attach), pin_(pin) {}
  int probe(Device& dev, const Bound&) override {
    int err = 0;
    auto* d = devm_drm_dev_alloc<Zoo3Drm>(dev, kZoo3Driver, &err);
    if (!d) return err;
    if ((err = attach_(*d, pin_ ? 1 : 0))) return err;  // the helper library's setup
    dev.set_drvdata(d);
    return d->register_device();
  }
  void remove(Device& dev, const Bound&) override {
    if (auto* d = dev.drvdata<DrmDevice>()) d->unplug();
    dev.set_drvdata(nullptr);
  }

 private:
  zoo3_helper_attach_t attach_;
  bool pin_;
};

class Zoo3Scenario : public ZooScenario {
 public:
  Zoo3Scenario(bool pin, std::string name)
      : ZooScenario(std::move(name), pin ? "the helper pins its module while its drmm action is registered"
                                         : "the helper's drmm action outlives its unloaded module"),
        pin_(pin) {}
  std::vector<explore::Event> events() const override {
    return {explore::Event::unbind, explore::Event::unplug, explore::Event::close};
  }

  int setup(explore::Run& run) override {
    udrm_zoo3_observer.cleanups = 0;
    rmmod_ret_ = 1;
    if (int r = run.world().modules().load(UDRM_ZOO3_PLUGIN)) return r;
    // The helper's entry point (a second dlopen reference, dropped at once: the module's own
    // keeps the object mapped).
    void* h = dlopen(UDRM_ZOO3_PLUGIN, RTLD_NOW | RTLD_NOLOAD);
    if (!h) return -ENOENT;
    attach_ = reinterpret_cast<zoo3_helper_attach_t>(dlsym(h, "zoo3_helper_attach"));
    dlclose(h);
    if (!attach_) return -ENOEXEC;
    return ZooScenario::setup(run);
  }

  void body(explore::Run& run) override {
    sleep_for(std::chrono::milliseconds(1));
    UDRM_POINT("zoo3.rmmod");
    rmmod_ret_ = run.world().modules().unload(kHelperModule);  // the bug: 0, the fix: -EAGAIN
    UDRM_POINT("zoo3.client.close");
    if (file_->is_open()) file_->close();
  }

  void teardown(explore::Run& run) override {
    ZooScenario::teardown(run);  // the last close and the removal: the final put runs the drmm list
    if (run.world().modules().find(kHelperModule)) {
      int r = run.world().modules().unload(kHelperModule);
      run.check(r == 0, "leak", "rmmod " + std::string(kHelperModule) + " after the last close: " + std::to_string(r));
    }
  }

 protected:
  std::unique_ptr<Driver> make_driver() override { return std::make_unique<Zoo3Driver>(attach_, pin_); }
  void end_checks(explore::Run& run) override {
    if (pin_)
      run.check(rmmod_ret_ == -EAGAIN || rmmod_ret_ == 1, "module",
                "rmmod while the helper's action was registered returned " + std::to_string(rmmod_ret_) +
                    ", not -EAGAIN (in use)");
    run.check(udrm_zoo3_observer.cleanups.load() == 1 || !pin_, "leak",
              "the helper's drmm cleanup ran " + std::to_string(udrm_zoo3_observer.cleanups.load()) +
                  " time(s), not once");
  }

 private:
  bool pin_;
  zoo3_helper_attach_t attach_ = nullptr;
  int rmmod_ret_ = 1;  // 1: rmmod not reached (an injected event ended the body first)
};

TEST(Zoo03, DrmmActionOfAnUnloadedHelperModuleIsNamed) {
  Zoo3Scenario sc(false, "zoo.03.drmm-action-unloaded-plugin");
  explore::Report rep;
  ASSERT_TRUE(zoo_finds(sc, "warn", &rep, zoo_options(sc.events()))) << rep.text();
  const std::string t = rep.text();
  EXPECT_NE(t.find("drmm action 'zoo3.helper_cleanup'"), std::string::npos) << t;
  EXPECT_NE(t.find("was in module 'udrm_zoo3_plugin', unloaded before the release ran"), std::string::npos) << t;
  EXPECT_EQ(udrm_zoo3_observer.cleanups.load(), 0) << "the action was called from unloaded code";
}

TEST(Zoo03, FixedControlPinningTheHelperModuleSweepsClean) {
  Zoo3Scenario sc(true, "zoo.03.fixed");
  EXPECT_TRUE(zoo_clean(sc, zoo_options(sc.events())));
}

}  // namespace
}  // namespace udrm::zoo
