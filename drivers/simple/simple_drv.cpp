// udrm-simple device and driver (vkms_drv.c): the platform driver whose probe builds the whole
// DRM device against the carrier device, kernel-style, and whose remove unplugs and shuts the
// outputs down. Everything userspace can reach is drmm (the SimpleDevice container and its KMS
// objects, the composer workqueue); the hardware (timing generator) is devm.
#include <mutex>

#include "simple_drv.h"
#include "udrm/base/log.h"
#include "udrm/core/world.h"
#include "udrm/base/point.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/framebuffer.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/vblank.h"

namespace udrm::drivers::simple {

SimpleDevice::SimpleDevice(std::shared_ptr<Tracker> t, bool immediate)
    : tracker(std::move(t)),
      immediate_vblank(immediate),
      composer_work("simple.composer", [this] { simple_composer_worker(*this); }) {
  tracker->live_devices.fetch_add(1, std::memory_order_relaxed);
}

SimpleDevice::~SimpleDevice() { tracker->live_devices.fetch_sub(1, std::memory_order_acq_rel); }

namespace {

/// The fake silicon of one binding: the timing generator, registered with the Display's
/// tracker so leaks() can see a generator left running. devm-owned.
struct SimpleHw {
  SimpleHw(Executor& ex, std::shared_ptr<Tracker> t) : tracker(std::move(t)), tg(ex, "udrm-simple.vblank") {
    std::lock_guard<SpinLock> l(tracker->lock);
    tracker->generators.push_back(&tg);
  }
  ~SimpleHw() {
    const bool was_running = tg.running();
    tg.stop();  // process context (devm release): waits for a running callback
    std::lock_guard<SpinLock> l(tracker->lock);
    std::erase(tracker->generators, &tg);
    if (was_running) tracker->left_on.push_back("timing generator " + tg.name() + " still running at devm release");
  }
  std::shared_ptr<Tracker> tracker;
  fakehw::TimingGenerator tg;
};

const DrmDriver kSimpleDrmDriver = [] {
  DrmDriver d;
  d.name = kDriverName;
  d.desc = "udrm virtual display (vkms-like)";
  d.date = "20260101";
  d.features = DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC | DRIVER_RENDER;
  return d;
}();

const ModeConfigFuncs kModeConfigFuncs = [] {
  ModeConfigFuncs f;
  f.fb_create = gem_fb_create;
  f.atomic_check = atomic_helper_check;
  f.atomic_commit = atomic_helper_commit;
  return f;
}();

const ModeConfigHelperFuncs kModeConfigHelpers = [] {
  ModeConfigHelperFuncs f;
  f.atomic_commit_tail = simple_atomic_commit_tail;
  return f;
}();

int simple_modeset_init(SimpleDevice& s) {
  int ret = drmm_mode_config_init(s);
  if (ret) return ret;
  ModeConfig* mc = mode_config(s);
  mc->min_width = 10;
  mc->min_height = 10;
  mc->max_width = 8192;
  mc->max_height = 8192;
  mc->cursor_width = 64;
  mc->cursor_height = 64;
  mc->preferred_depth = 24;
  mc->funcs = &kModeConfigFuncs;
  mc->helper_private = &kModeConfigHelpers;

  if ((ret = simple_planes_init(s))) return ret;
  if ((ret = simple_crtc_init(s))) return ret;
  if ((ret = simple_output_init(s))) return ret;
  return simple_composer_init(s);
}

class SimpleDriver final : public Driver {
 public:
  SimpleDriver(std::shared_ptr<Tracker> t, bool immediate)
      : Driver(kDriverName), tracker_(std::move(t)), immediate_(immediate) {}

  int probe(Device& dev, const Bound&) override {
    int ret = do_probe(dev);
    tracker_->last_probe_err.store(ret, std::memory_order_relaxed);
    return ret;
  }

  void remove(Device& dev, const Bound&) override {
    auto* s = dev.drvdata<SimpleDevice>();
    if (!s) return;
    UDRM_POINT("simple.remove");
    // Unplug first: ioctls stop, the device disappears. The shutdown commit then runs in the
    // DRM device's teardown section, so the gated disable paths still stop the timer.
    s->unplug();
    {
      // (atomic_helper_shutdown opens the same section; being explicit keeps the driver
      // correct whichever helper it calls.)
      auto teardown = s->teardown_scope();
      atomic_helper_shutdown(*s);
    }
    dev.set_drvdata(nullptr);
  }

 private:
  int do_probe(Device& dev) {
    int ret = 0;
    auto* s = devm_drm_dev_alloc<SimpleDevice>(dev, kSimpleDrmDriver, &ret, tracker_, immediate_);
    if (!s) return ret;
    if ((ret = drm_vblank_init(*s, 1))) return ret;
    if ((ret = simple_modeset_init(*s))) return ret;

    auto* hw = devm_new<SimpleHw>(dev, "simple.hw", dev.world().executor(), tracker_);
    if (!hw) return -ENOMEM;
    if (immediate_ && (ret = hw->tg.set_immediate(true))) return ret;
    hw->tg.set_vblank_handler([s](uint64_t frame, TimePoint ts) { simple_vblank_irq(*s, frame, ts); });
    s->tg = &hw->tg;

    mode_config_reset(*s);
    dev.set_drvdata(s);
    if ((ret = s->register_device())) {
      dev.set_drvdata(nullptr);
      return ret;
    }
    return 0;
  }

  std::shared_ptr<Tracker> tracker_;
  bool immediate_;
};

}  // namespace

std::unique_ptr<Driver> simple_driver_create(std::shared_ptr<Tracker> tracker, bool immediate_vblank) {
  return std::make_unique<SimpleDriver>(std::move(tracker), immediate_vblank);
}

void simple_atomic_commit_tail(AtomicState& old_state) {
  DrmDevice& dev = old_state.dev();
  SimpleDevice& s = to_simple(dev);
  UDRM_POINT("simple.commit_tail");
  atomic_helper_commit_modeset_disables(dev, old_state);
  atomic_helper_commit_planes(dev, old_state, 0);
  atomic_helper_commit_modeset_enables(dev, old_state);
  atomic_helper_fake_vblank(old_state);
  atomic_helper_commit_hw_done(old_state);
  atomic_helper_wait_for_flip_done(dev, old_state);
  // The composer may still read the old CRTC state and its planes' framebuffers.
  for (auto& e : old_state.crtcs)
    if (e.ptr) s.composer_wq->flush_work(s.composer_work);
  UDRM_POINT("simple.commit_tail.cleanup");
  atomic_helper_cleanup_planes(dev, old_state);
}

}  // namespace udrm::drivers::simple
