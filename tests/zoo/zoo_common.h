// zoo_common.h — the shared plumbing of the bug zoo (tests/zoo/zoo_NN_*.cpp): a scenario base
// that builds one platform device with a tiny DRM driver on the run's world, a register block
// for the driver's fake hardware, and the domain events (sysfs unbind, device removal, the
// client's close, rebind). Each entry writes its broken driver and its body.
//
// Lifetime: everything is created in setup() and destroyed in teardown() (the run's World dies
// after teardown); the register block outlives every mapping of it (unbind before it goes).
// Context: explorer tasks (process context, may sleep).
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/executor.h"
#include "udrm/base/point.h"
#include "udrm/core/device.h"
#include "udrm/core/devres.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/explore/explorer.h"
#include "udrm/fakehw/mmio.h"
#include "udrm/testing/explore.h"

namespace udrm::zoo {

/// The registers of every zoo device: a control register (bit 0: output enable) and a
/// per-file context register.
inline std::vector<fakehw::RegDesc> zoo_regs() { return {{0x00, "CTRL"}, {0x04, "CTX"}, {0x08, "SCANOUT"}}; }
inline constexpr uint32_t kCtrl = 0x00, kCtx = 0x04, kScanout = 0x08;

/// Options for a zoo sweep: the given events only, no token files, quiet.
inline explore::Options zoo_options(std::vector<explore::Event> events, std::string point_filter = "") {
  explore::Options o;
  o.events = std::move(events);
  o.point_filter = std::move(point_filter);
  o.replay_dir = "-";
  return o;
}

/// Base scenario: one platform device `dev_name` bound to make_driver()'s driver.
class ZooScenario : public explore::Scenario {
 public:
  explicit ZooScenario(std::string name, std::string line) : name_(std::move(name)), line_(std::move(line)) {}
  std::string name() const override { return name_; }
  std::string description() const override { return line_; }
  std::vector<explore::Event> events() const override { return {explore::Event::unbind, explore::Event::unplug}; }

  int setup(explore::Run& run) override {
    world_ = &run.world();
    file_.reset();
    removed_ = unbound_ = false;
    regs_ = std::make_unique<fakehw::RegisterBlock>(*world_, name_ + ".regs", zoo_regs());
    drv_ = make_driver();
    if (int r = bus().register_driver(*drv_)) return r;
    dev_ = Device::create(*world_, name_, nullptr, drv_->name());
    if (int r = bus().add_device(*dev_)) return r;
    if (!dev_->is_bound()) return -ENODEV;
    auto* drm = dev_->drvdata<DrmDevice>();
    if (!drm) return -ENODEV;
    return DrmFile::open(*drm, &file_);
  }

  void teardown(explore::Run& run) override {
    if (file_ && file_->is_open()) file_->close();
    file_.reset();
    if (dev_ && dev_->is_registered()) bus().del_device(*dev_);
    sleep_for(std::chrono::milliseconds(20));
    end_checks(run);
    if (drv_ && drv_->bus()) bus().unregister_driver(*drv_);
    dev_.reset();
    drv_.reset();
    regs_.reset();
    world_ = nullptr;
  }

  int unbind(explore::Run&) override {
    int r = bus().unbind(dev_->name(), drv_->name());
    if (r == 0) unbound_ = true;
    return r;
  }
  int unplug(explore::Run&) override {
    bus().del_device(*dev_);
    removed_ = true;
    return 0;
  }
  int close(explore::Run&) override { return file_ && file_->is_open() ? file_->close() : -EBADF; }
  int rebind(explore::Run&) override {
    int r = bus().bind(dev_->name(), drv_->name());
    if (r == 0) unbound_ = false;
    return r;
  }

 protected:
  virtual std::unique_ptr<Driver> make_driver() = 0;
  /// Checks after everything was unbound and the last file closed (default: none).
  virtual void end_checks(explore::Run&) {}

  Bus& bus() { return world_->bus("platform"); }
  fakehw::RegisterBlock& regs() { return *regs_; }

  std::string name_, line_;
  World* world_ = nullptr;
  std::unique_ptr<fakehw::RegisterBlock> regs_;
  std::unique_ptr<Driver> drv_;
  Ref<Device> dev_;
  Ref<DrmFile> file_;
  bool removed_ = false, unbound_ = false;
};

/// Sweep, print the report and the wall time (no timed assertion), return the report.
inline ::testing::AssertionResult zoo_finds(explore::Scenario& s, const std::string& oracle, explore::Report* rep,
                                            explore::Options o) {
  auto r = udrm::testing::explore_finds(s, oracle, rep, std::move(o));
  std::printf("[zoo] %s: %s\n[zoo] %s: %llu runs, %.3f s wall\n", s.name().c_str(), s.description().c_str(),
              s.name().c_str(), static_cast<unsigned long long>(rep->runs), rep->seconds);
  return r;
}

/// Under AddressSanitizer a stray access aborts in ASan's own report before the explorer can
/// report it: the sweep then runs in a death test, which must die with ASan's report followed
/// by udrm's note naming the released devm block (core/poison.cpp's report callback).
#define UDRM_ZOO_EXPECT_ASAN_REPORT(statement, block)                                              \
  do {                                                                                             \
    GTEST_FLAG_SET(death_test_style, "threadsafe");                                                \
    EXPECT_DEATH(statement, "AddressSanitizer: (use-after-poison|heap-use-after-free).*"           \
                            "udrm: the address is in released devm memory: devm '" block "'");     \
  } while (0)

/// The fixed control: the same sweep must come back clean.
inline ::testing::AssertionResult zoo_clean(explore::Scenario& s, explore::Options o) {
  auto r = udrm::testing::explore_clean(s, std::move(o));
  std::printf("[zoo] %s (fixed control): %s\n", s.name().c_str(), r ? "clean" : "NOT clean");
  return r;
}

}  // namespace udrm::zoo
