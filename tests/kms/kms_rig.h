// A KMS test device for the object-model suites: a platform device "kms0" whose driver
// allocates a DrmDevice with a mode config, one CRTC (primary + overlay + cursor planes), one
// virtual encoder and one virtual connector, all drmm-managed, and registers it. Tests may
// change the hooks (KDrm's static tables) or add objects in `setup` before register.
//
// Lifetime: a KmsRig lives inside one SimExecutor run. Context: the test task.
#pragma once
#include <gtest/gtest.h>

#include <functional>

#include "udrm/base/errno.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/device.h"
#include "udrm/core/world.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"

namespace udrm::kmstest {

inline constexpr uint32_t kFormats[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888, DRM_FORMAT_RGB565};

struct KDrm : DrmDevice {
  Crtc crtc;
  Plane primary, overlay, cursor;
  Encoder encoder;
  Connector connector;
  ModeConfig& mc() { return *mode_config; }
};

inline int kms_setup(KDrm& d) {
  if (int ret = drmm_mode_config_init(d)) return ret;
  if (int ret = drmm_universal_plane_init(d, d.primary, 1, nullptr, kFormats, 3, nullptr, PlaneType::primary))
    return ret;
  if (int ret = drmm_universal_plane_init(d, d.overlay, 1, nullptr, kFormats, 3, nullptr, PlaneType::overlay))
    return ret;
  if (int ret = drmm_universal_plane_init(d, d.cursor, 1, nullptr, kFormats, 2, nullptr, PlaneType::cursor))
    return ret;
  if (int ret = drmm_crtc_init_with_planes(d, d.crtc, &d.primary, &d.cursor, nullptr)) return ret;
  if (int ret = drmm_encoder_init(d, d.encoder, DRM_MODE_ENCODER_VIRTUAL)) return ret;
  d.encoder.possible_crtcs = d.crtc.mask();
  if (int ret = drmm_connector_init(d, d.connector, nullptr, DRM_MODE_CONNECTOR_VIRTUAL)) return ret;
  return connector_attach_encoder(d.connector, d.encoder);
}

class KDriver final : public Driver {
 public:
  explicit KDriver(uint32_t features) : Driver("kmsdrv") {
    drv_.name = "udrm-kmstest";
    drv_.features = features;
  }
  int probe(Device& dev, const Bound&) override {
    int err = 0;
    KDrm* drm = devm_drm_dev_alloc<KDrm>(dev, drv_, &err);
    if (!drm) return err;
    if (int ret = kms_setup(*drm)) return ret;
    if (setup) {
      if (int ret = setup(*drm)) return ret;
    }
    if (int ret = drm->register_device()) return ret;
    dev.set_drvdata(drm);
    drm_ = drm;
    return 0;
  }
  void remove(Device& dev, const Bound&) override {
    KDrm* drm = dev.drvdata<KDrm>();
    drm->unplug();
    atomic_helper_shutdown(*drm);  // the kernel's remove() order; outputs go off
    drm_ = nullptr;
  }
  KDrm* drm() const { return drm_; }
  std::function<int(KDrm&)> setup;

 private:
  DrmDriver drv_;
  KDrm* drm_ = nullptr;
};

struct KmsRig {
  explicit KmsRig(Executor& ex, uint32_t features = DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC,
                  std::function<int(KDrm&)> setup = nullptr)
      : w(ex), drv(features) {
    drv.setup = std::move(setup);
    EXPECT_EQ(w.bus().register_driver(drv), 0);
    dev = Device::create(w, "kms0", nullptr, "kmsdrv");
    EXPECT_EQ(w.bus().add_device(*dev), 0);
    EXPECT_TRUE(dev->is_bound());
  }
  ~KmsRig() { teardown(); }
  void teardown() {
    if (done) return;
    done = true;
    if (dev) w.bus().del_device(*dev);
    dev.reset();
    w.bus().unregister_driver(drv);
  }
  KDrm& drm() const { return *drv.drm(); }
  Ref<DrmFile> open() {
    Ref<DrmFile> f;
    EXPECT_EQ(DrmFile::open(drm(), &f), 0);
    return f;
  }

  World w;
  KDriver drv;
  Ref<Device> dev;
  bool done = false;
};

inline void run_sim(const std::function<void(SimExecutor&)>& body) {
  SimExecutor sim;
  auto r = sim.run([&] { body(sim); });
  ASSERT_TRUE(r) << r.report;
}

}  // namespace udrm::kmstest
