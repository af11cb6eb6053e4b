// A tiny DRM driver and world for the file / ioctl suites: a platform device "tdrm0" whose
// driver does devm_drm_dev_alloc + register_device in probe and unplug (or, on request, only
// unregister) in remove. The DrmDevice container counts the driver's file hooks.
//
// Lifetime: a Rig lives inside one SimExecutor run. Context: the test task.
#pragma once
#include <gtest/gtest.h>

#include <drm.h>
#include <drm_mode.h>
#include <sys/ioctl.h>

#include <functional>
#include <string>

#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/base/time.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/drm/minor.h"

namespace udrm::testrig {

struct TDrm : DrmDevice {
  TDrm() { ++live; }
  ~TDrm() override { --live; }
  int opens = 0, postcloses = 0, lastcloses = 0;
  int fail_open = 0;  // returned by the open hook when non-zero
  static inline int live = 0;
};

inline int hook_open(DrmDevice& d, DrmFile&) {
  auto& t = static_cast<TDrm&>(d);
  if (t.fail_open) return t.fail_open;
  ++t.opens;
  return 0;
}
inline void hook_postclose(DrmDevice& d, DrmFile&) { ++static_cast<TDrm&>(d).postcloses; }
inline void hook_lastclose(DrmDevice& d) { ++static_cast<TDrm&>(d).lastcloses; }

class TDriver final : public Driver {
 public:
  explicit TDriver(uint32_t features = DRIVER_GEM | DRIVER_MODESET) : Driver("tdrm") {
    drv_.name = "udrm-test";
    drv_.desc = "udrm test driver";
    drv_.date = "20260101";
    drv_.major = 1;
    drv_.minor = 2;
    drv_.patchlevel = 3;
    drv_.features = features;
    drv_.open = &hook_open;
    drv_.postclose = &hook_postclose;
    drv_.lastclose = &hook_lastclose;
  }
  int probe(Device& dev, const Bound&) override {
    int err = 0;
    TDrm* drm = devm_drm_dev_alloc<TDrm>(dev, drv_, &err);
    if (!drm) return err;
    if (setup) {
      if (int ret = setup(*drm)) return ret;
    }
    if (int ret = drm->register_device()) return ret;
    dev.set_drvdata(drm);
    last_ = drm;
    return 0;
  }
  void remove(Device& dev, const Bound&) override {
    auto* drm = dev.drvdata<TDrm>();
    if (unregister_only) {
      drm->unregister_device();
    } else {
      drm->unplug();
    }
    last_ = nullptr;
  }
  TDrm* drm() const { return last_; }
  DrmDriver drv_;
  bool unregister_only = false;
  std::function<int(TDrm&)> setup;

 private:
  TDrm* last_ = nullptr;
};

struct Rig {
  explicit Rig(Executor& ex, uint32_t features = DRIVER_GEM | DRIVER_MODESET) : w(ex), drv(features) {
    EXPECT_EQ(w.bus().register_driver(drv), 0);
    dev = Device::create(w, "tdrm0", nullptr, "tdrm");
    EXPECT_EQ(w.bus().add_device(*dev), 0);
    EXPECT_TRUE(dev->is_bound());
  }
  ~Rig() {
    if (dev) w.bus().del_device(*dev);
    // Deferred work (a commit's state freed on a worker) may hold the last device reference:
    // let it run before the driver description it points to goes away.
    for (int i = 0; i < 1000 && TDrm::live; ++i) sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(TDrm::live, 0) << "a DRM device outlived its test";
    w.bus().unregister_driver(drv);
  }
  TDrm* drm() const { return drv.drm(); }
  Ref<DrmFile> open(MinorType type = MinorType::primary) {
    Ref<DrmFile> f;
    EXPECT_EQ(DrmFile::open(*drm(), &f, type), 0);
    return f;
  }
  int unbind() { return w.bus().unbind("tdrm0"); }
  int bind() { return w.bus().bind("tdrm0", "tdrm"); }

  World w;
  TDriver drv;
  Ref<Device> dev;
};

inline void run_sim(const std::function<void(SimExecutor&)>& body) {
  SimExecutor sim;
  auto r = sim.run([&] { body(sim); });
  ASSERT_TRUE(r) << r.report;
}

/// An ioctl returning the kernel's negative errno (udrm's convention).
inline int io(DrmFile& f, unsigned long cmd, void* arg) { return drm_ioctl(f, cmd, arg); }

inline uint64_t uptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

}  // namespace udrm::testrig
