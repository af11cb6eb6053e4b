// The Display of udrm-simple (udrm/drivers/display.h): the carrier platform device, the
// platform driver, and the sysfs-like operations tests and tools drive.
#include <cstring>
#include <mutex>

#include "simple_drv.h"
#include "udrm/core/world.h"
#include "udrm/drivers/simple.h"
#include "udrm/drm/file.h"
#include "udrm/drm/minor.h"
#include "udrm/fakehw/board.h"

namespace udrm::drivers {
namespace {

using simple::kDriverName;
using simple::SimpleDevice;
using simple::Tracker;

SimpleDevice* as_simple(DrmDevice& drm) {
  if (std::strcmp(drm.driver().name, kDriverName) != 0) return nullptr;
  return &simple::to_simple(drm);
}

class SimpleDisplay final : public Display {
 public:
  SimpleDisplay(World& world, const DisplayOptions& opts)
      : world_(world),
          board_(world),
        tracker_(std::make_shared<Tracker>()),
        driver_(simple::simple_driver_create(tracker_, opts.immediate_vblank)) {
    bus().register_driver(*driver_);
    dev_ = Device::create(world_, kDriverName, nullptr, kDriverName);
  }

  ~SimpleDisplay() override {
    if (dev_ && dev_->is_registered()) bus().del_device(*dev_);
    if (driver_->bus()) bus().unregister_driver(*driver_);
  }

  const char* drm_name() const override { return kDriverName; }
  Kind kind() const override { return Kind::simple; }
  fakehw::Board& board() override { return board_; }
  std::vector<std::string> device_names() const override { return {"simple"}; }
  Device* device(const std::string& short_name) override {
    return (short_name.empty() || short_name == "simple") ? dev_.get() : nullptr;
  }

  int bind() override {
    if (!dev_) return -ENODEV;
    tracker_->last_probe_err.store(0, std::memory_order_relaxed);
    if (!dev_->is_registered()) {
      if (int ret = bus().add_device(*dev_)) return ret;
      if (dev_->is_bound()) return 0;
      int err = tracker_->last_probe_err.load(std::memory_order_relaxed);
      return err ? err : -ENODEV;
    }
    return bus().bind(dev_->name(), kDriverName);
  }

  int unbind(const std::string& short_name) override {
    if (!device(short_name) || !dev_->is_registered()) return -ENODEV;
    return bus().unbind(dev_->name(), kDriverName);
  }

  int rebind(const std::string& short_name) override {
    if (!device(short_name) || !dev_->is_registered()) return -ENODEV;
    return bus().bind(dev_->name(), kDriverName);
  }

  void remove() override {
    if (dev_ && dev_->is_registered()) bus().del_device(*dev_);
  }

  int rescan() override {
    if (dev_ && dev_->is_registered()) return 0;  // still present: nothing to rediscover
    dev_ = Device::create(world_, kDriverName, nullptr, kDriverName);
    return bind();
  }

  DrmDevice* drm() override {
    if (!dev_ || !dev_->is_bound()) return nullptr;
    return dev_->drvdata<SimpleDevice>();
  }

  int open(Ref<DrmFile>* out, MinorType type) override {
    DrmDevice* d = drm();
    if (!d) return -ENODEV;
    int index = drm_minor_index(*d, type);
    if (index < 0) return -ENOENT;
    return drm_open_minor(world_, index, out);
  }

  std::vector<std::string> leaks() const override {
    std::vector<std::string> out = board_.leaks();
    std::lock_guard<SpinLock> l(tracker_->lock);
    out.insert(out.end(), tracker_->left_on.begin(), tracker_->left_on.end());
    for (fakehw::TimingGenerator* tg : tracker_->generators) {
      if (tg->running()) out.push_back("timing generator " + tg->name() + " running");
      if (!dev_ || !dev_->is_bound()) out.push_back("timing generator " + tg->name() + " still allocated");
    }
    return out;
  }

  int live_drm_devices() const override { return tracker_->live_devices.load(std::memory_order_acquire); }

 private:
  Bus& bus() { return world_.bus("platform"); }

  World& world_;
  fakehw::Board board_;
  std::shared_ptr<Tracker> tracker_;
  std::unique_ptr<Driver> driver_;
  Ref<Device> dev_;
};

}  // namespace

std::unique_ptr<Display> create_simple_display(World& world, const DisplayOptions& opts) {
  return std::make_unique<SimpleDisplay>(world, opts);
}

bool simple_vblank_timer_running(DrmDevice& drm) {
  SimpleDevice* s = as_simple(drm);
  if (!s) return false;
  if (auto g = s->dev_enter()) return s->tg->running();
  return false;
}

uint64_t simple_vblank_timer_frames(DrmDevice& drm) {
  SimpleDevice* s = as_simple(drm);
  if (!s) return 0;
  if (auto g = s->dev_enter()) return s->tg->frame_count();
  return 0;
}

uint64_t simple_frames_composed(DrmDevice& drm) {
  SimpleDevice* s = as_simple(drm);
  if (!s) return 0;
  return s->frames_composed.load(std::memory_order_relaxed);
}

void simple_set_composer_delay(DrmDevice& drm, Duration d) {
  if (SimpleDevice* s = as_simple(drm)) s->tracker->composer_delay_ns.store(d.count(), std::memory_order_relaxed);
}

}  // namespace udrm::drivers
