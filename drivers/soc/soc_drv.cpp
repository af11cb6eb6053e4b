// drivers/soc/soc_drv.cpp — the `udrm-soc` aggregate: the display-subsystem device's driver
// (component master), its bind/unbind and the DRM device container. See soc_drv.h.
#include "soc_drv.h"

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/core/world.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/vblank.h"

namespace udrm::drivers::soc {

SocPlatform::SocPlatform(World& w, fakehw::Board& b) : world(w), board(b), wq(w.executor(), "soc-system-wq", false) {}

SocDrm::SocDrm(std::shared_ptr<Tracker> t, fakehw::DmaSpace* d) : tracker(std::move(t)), dma(d) {
  tracker->live_drm.fetch_add(1);
}

SocDrm::~SocDrm() { tracker->live_drm.fetch_sub(1); }

const DrmDriver& soc_drm_driver() {
  static const DrmDriver drv = [] {
    DrmDriver d;
    d.name = kDriverName;
    d.desc = "udrm SoC display (dc + HDMI bridge + DSI panel)";
    d.date = "20260101";
    d.features = DRIVER_GEM | DRIVER_MODESET | DRIVER_ATOMIC;
    return d;
  }();
  return drv;
}

namespace {

const ModeConfigHelperFuncs kModeConfigHelpers = [] {
  ModeConfigHelperFuncs f;
  f.atomic_commit_tail = soc_commit_tail;
  return f;
}();

// No commit of this device may still be running when the members unbind: a nonblocking commit
// queued before the unplug can still be in its cleanup (cleanup_fb touches the DMA space, its
// planes the dc binding). Shutdown waited for their hw_done and flip_done; wait for cleanup_done.
void wait_for_commits_idle(SocDrm& drm) {
  for (SocCrtc* crtc : drm.crtc) {
    if (!crtc) continue;
    std::vector<Ref<CrtcCommit>> commits;
    {
      std::lock_guard<SpinLock> l(crtc->commit_lock);
      for (CrtcCommit& c : crtc->commit_list) commits.emplace_back(&c);
    }
    for (auto& c : commits) {
      Completion& done = c->cleanup_done;
      if (!done.wait_queue().wait_event_timeout([&] { return done.done(); }, std::chrono::seconds(10)))
        log_err(LogCat::driver, "udrm-soc: %s: commit cleanup timed out at unbind", crtc->name.c_str());
    }
  }
}

}  // namespace

int SocMasterDriver::probe(Device& dev, const Bound&) {
  // The DT's "ports" list: the members, matched by device name.
  ComponentMatch* match = nullptr;
  component_match_add(dev, &match, component_compare_dev_name, const_cast<char*>(kDcDevName));
  component_match_add(dev, &match, component_compare_dev_name, const_cast<char*>(kHdmiDevName));
  component_match_add(dev, &match, component_compare_dev_name, const_cast<char*>(kPanelDevName));
  int ret = component_master_add_with_match(dev, *this, match);
  if (ret && ret != -EPROBE_DEFER) plat_.last_err.store(ret);
  return ret;
}

void SocMasterDriver::remove(Device& dev, const Bound&) { component_master_del(dev, *this); }

int SocMasterDriver::bind(Device& master) {
  UDRM_POINT("soc.master_bind");
  int err = 0;
  SocDrm* drm = devm_drm_dev_alloc<SocDrm>(master, soc_drm_driver(), &err, plat_.tracker, &plat_.dc->dma());
  if (!drm) return err;
  if ((err = drmm_mode_config_init(*drm))) return err;
  ModeConfig* mc = mode_config(*drm);
  mc->min_width = 16;
  mc->min_height = 16;
  mc->max_width = 4096;
  mc->max_height = 4096;
  mc->cursor_width = 64;
  mc->cursor_height = 64;
  mc->preferred_depth = 24;
  mc->helper_private = &kModeConfigHelpers;
  if ((err = drm_vblank_init(*drm, kPipes))) return err;
  // dc (CRTCs, planes), hdmi (encoder, connector), panel (encoder, connector): match order.
  if ((err = component_bind_all(master, drm))) return err;
  mode_config_reset(*drm);
  if ((err = drm->register_device())) {
    component_unbind_all(master, drm);
    return err;
  }
  master.set_drvdata(drm);
  {
    std::lock_guard<SpinLock> l(plat_.lock);
    plat_.drm = drm;
  }
  log_dbg(LogCat::driver, "udrm-soc: bound, card%d", drm->minor_primary);
  return 0;
}

void SocMasterDriver::unbind(Device& master) {
  auto* drm = master.drvdata<SocDrm>();
  if (UDRM_WARN_ON(!drm, LogCat::driver)) return;
  {
    std::lock_guard<SpinLock> l(plat_.lock);
    plat_.drm = nullptr;
  }
  UDRM_POINT("soc.master_unbind");
  // Userspace first: every ioctl -ENODEV from here on, the nodes are gone.
  drm->unplug();
  {
    // The hardware second: the teardown section lets this task's gated disable paths (CRTC,
    // planes, bridge, panel) still reach the hardware, which no member has released yet.
    auto teardown = drm->teardown_scope();
    atomic_helper_shutdown(*drm);
    wait_for_commits_idle(*drm);
  }
  // The members last, in reverse match order; each releases its devm hardware.
  component_unbind_all(master, drm);
  master.set_drvdata(nullptr);
}

}  // namespace udrm::drivers::soc
