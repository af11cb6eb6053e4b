// CRTC init/cleanup and lookups (udrm/kms/crtc.h).
#include "udrm/kms/crtc.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <new>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"

namespace udrm {

int crtc_init_with_planes(DrmDevice& dev, Crtc& crtc, Plane* primary, Plane* cursor, const CrtcFuncs* funcs,
                          const char* name) {
  ModeConfig* mc = dev.mode_config;
  if (UDRM_WARN_ON(!mc, LogCat::kms)) return -EINVAL;
  if (UDRM_WARN_ON(mc->crtcs.size() >= 32, LogCat::kms)) return -EINVAL;
  if (UDRM_WARN_ON(crtc.dev != nullptr, LogCat::kms)) return -EINVAL;  // initialised twice
  UDRM_WARN_ON(primary && primary->type != PlaneType::primary, LogCat::kms);
  UDRM_WARN_ON(cursor && cursor->type != PlaneType::cursor, LogCat::kms);

  crtc.index = static_cast<unsigned>(mc->crtcs.size());
  if (name) {
    crtc.name = name;
  } else {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "crtc-%u", crtc.index);
    crtc.name = buf;
  }
  if (int ret = mc->idr.add(&crtc, DRM_MODE_OBJECT_CRTC)) return ret;
  crtc.dev = &dev;
  crtc.funcs = funcs;
  crtc.primary = primary;
  crtc.cursor = cursor;
  crtc.debug_name = crtc.name.c_str();
  crtc.props = ObjectProperties{};
  crtc.properties = &crtc.props;
  mc->crtcs.push_back(&crtc);

  if (dev.has_feature(DRIVER_ATOMIC)) {
    object_attach_property(crtc, *mc->props.crtc_active, 0);
    object_attach_property(crtc, *mc->props.crtc_mode_id, 0);
  }
  if (funcs && funcs->reset)
    funcs->reset(crtc);
  else
    atomic_helper_crtc_reset(crtc);
  if (!crtc.state) {
    crtc_cleanup(crtc);
    return -ENOMEM;
  }
  return 0;
}

namespace {
void crtc_cleanup_action(DrmDevice&, Crtc* crtc) { crtc_cleanup(*crtc); }
}  // namespace

int drmm_crtc_init_with_planes(DrmDevice& dev, Crtc& crtc, Plane* primary, Plane* cursor, const CrtcFuncs* funcs,
                               const char* name) {
  if (int ret = crtc_init_with_planes(dev, crtc, primary, cursor, funcs, name)) return ret;
  return drmm_add_action_or_reset(dev, &crtc_cleanup_action, &crtc, "drm_crtc_cleanup");
}

void crtc_cleanup(Crtc& crtc) {
  DrmDevice* dev = crtc.dev;
  if (!dev) return;
  if (crtc.state) {
    if (crtc.funcs && crtc.funcs->atomic_destroy_state)
      crtc.funcs->atomic_destroy_state(crtc, crtc.state);
    else
      atomic_helper_crtc_destroy_state(crtc, crtc.state);
    crtc.state = nullptr;
  }
  // Commits still linked (a commit whose cleanup never ran): the list's references.
  std::vector<CrtcCommit*> left;
  {
    std::lock_guard<SpinLock> l(crtc.commit_lock);
    while (!crtc.commit_list.empty()) {
      left.push_back(&crtc.commit_list.front());
      crtc.commit_list.pop_front();
    }
  }
  for (CrtcCommit* c : left) c->put();
  crtc.gamma_store.clear();
  crtc.gamma_size = 0;
  if (ModeConfig* mc = dev->mode_config) {
    mc->idr.unregister(&crtc);
    auto it = std::find(mc->crtcs.begin(), mc->crtcs.end(), &crtc);
    if (it != mc->crtcs.end()) mc->crtcs.erase(it);
  }
  crtc.properties = nullptr;
  crtc.dev = nullptr;
}

int mode_crtc_set_gamma_size(Crtc& crtc, uint32_t size) {
  if (UDRM_WARN_ON(!crtc.dev, LogCat::kms)) return -EINVAL;
  if (size > (1u << 16)) return -EINVAL;
  try {
    crtc.gamma_store.assign(std::size_t{size} * 3, 0);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  crtc.gamma_size = size;
  for (uint32_t i = 0; i < size; ++i) {
    const auto v = static_cast<uint16_t>(i << 8);
    crtc.gamma_store[i] = v;
    crtc.gamma_store[size + i] = v;
    crtc.gamma_store[2 * size + i] = v;
  }
  ModeConfig* mc = crtc.dev->mode_config;
  if (size > 0 && mc) {
    object_attach_property(crtc, *mc->props.gamma_lut, 0);
    object_attach_property(crtc, *mc->props.gamma_lut_size, size);
  }
  return 0;
}

Crtc* crtc_from_index(DrmDevice& dev, unsigned index) {
  if (!dev.mode_config) return nullptr;
  for (Crtc* c : dev.mode_config->crtcs)
    if (c->index == index) return c;
  return nullptr;
}

Crtc* crtc_find(DrmDevice& dev, uint32_t id) {
  if (!dev.mode_config) return nullptr;
  return static_cast<Crtc*>(dev.mode_config->idr.find(id, DRM_MODE_OBJECT_CRTC));
}

}  // namespace udrm
