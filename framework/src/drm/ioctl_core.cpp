// Core (non-KMS) ioctls: VERSION, GET_UNIQUE, SET_VERSION, GET_CAP, SET_CLIENT_CAP, master,
// and the hollowed-out legacy ones (drm_ioctl.c, drm_auth.c).
#include <drm.h>

#include <atomic>
#include <cstring>
#include <string>

#include "udrm/base/errno.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/mode_config.h"
#include "ioctl_internal.h"

namespace udrm::ioctl {
namespace {

constexpr int kIfMajor = 1, kIfMinor = 4;  // DRM_IF_MAJOR / DRM_IF_MINOR

// drm_copy_field: copy what fits, always report the full length; a null buffer is skipped.
int copy_field(char* buf, __kernel_size_t* buf_len, const char* value) {
  const std::size_t full = std::strlen(value ? value : "");
  std::size_t len = full;
  if (len > *buf_len) len = *buf_len;
  *buf_len = full;
  if (len && buf) return copy_to_user(reinterpret_cast<uintptr_t>(buf), value, len) ? -EFAULT : 0;
  return 0;
}

// The bus id SET_VERSION(1.1+) gives the master (dev->unique: the parent device's name).
std::string unique_of(DrmDevice& dev) { return dev.dev() ? dev.dev()->name() : std::string(dev.driver().name); }

}  // namespace

ModeConfig* kms(DrmDevice& dev) { return dev.has_feature(DRIVER_MODESET) ? dev.mode_config : nullptr; }

int version(DrmDevice& dev, void* data, DrmFile&) {
  auto* v = static_cast<drm_version*>(data);
  const DrmDriver& drv = dev.driver();
  v->version_major = drv.major;
  v->version_minor = drv.minor;
  v->version_patchlevel = drv.patchlevel;
  int err = copy_field(v->name, &v->name_len, drv.name);
  if (!err) err = copy_field(v->date, &v->date_len, drv.date);
  if (!err) err = copy_field(v->desc, &v->desc_len, drv.desc);
  return err;
}

// drm_getunique: empty until SET_VERSION asked for an interface >= 1.1 (libdrm's open-by-name
// skips any node whose unique is not empty).
int get_unique(DrmDevice& dev, void* data, DrmFile& file) {
  auto* u = static_cast<drm_unique*>(data);
  std::string unique = file.unique_set ? unique_of(dev) : std::string();
  if (u->unique_len >= unique.size()) {
    if (copy_to_user(reinterpret_cast<uintptr_t>(u->unique), unique.data(), unique.size())) return -EFAULT;
  }
  u->unique_len = unique.size();
  return 0;
}

int get_magic(DrmDevice&, void* data, DrmFile& file) {
  static std::atomic<drm_magic_t> next{1};
  auto* m = static_cast<drm_auth*>(data);
  if (!file.magic) file.magic = next.fetch_add(1, std::memory_order_relaxed);
  m->magic = file.magic;
  return 0;
}

int auth_magic(DrmDevice&, void* data, DrmFile&) {
  // Every udrm client is authenticated already; a magic of 0 is still rejected.
  auto* m = static_cast<drm_auth*>(data);
  return m->magic ? 0 : -EINVAL;
}

int get_client(DrmDevice&, void* data, DrmFile& file) {
  auto* c = static_cast<drm_client*>(data);
  if (c->idx != 0) return -EINVAL;
  c->auth = file.authenticated;
  c->pid = 0;
  c->uid = 65534;  // overflowuid
  c->magic = 0;
  c->iocs = 0;
  return 0;
}

int get_stats(DrmDevice&, void* data, DrmFile&) {
  std::memset(data, 0, sizeof(drm_stats));
  return 0;
}

int get_cap(DrmDevice& dev, void* data, DrmFile&) {
  auto* req = static_cast<drm_get_cap*>(data);
  req->value = 0;
  switch (req->capability) {
    case DRM_CAP_TIMESTAMP_MONOTONIC:
      req->value = 1;
      return 0;
    case DRM_CAP_PRIME:
      req->value = 0;  // no dma-buf in udrm
      return 0;
    case DRM_CAP_SYNCOBJ:
    case DRM_CAP_SYNCOBJ_TIMELINE:
      req->value = 0;  // no DRIVER_SYNCOBJ
      return 0;
    default:
      break;
  }
  if (!dev.has_feature(DRIVER_MODESET)) return -EOPNOTSUPP;
  const ModeConfig* mc = dev.mode_config;
  switch (req->capability) {
    case DRM_CAP_DUMB_BUFFER:
      req->value = dev.has_feature(DRIVER_GEM) ? 1 : 0;
      break;
    case DRM_CAP_VBLANK_HIGH_CRTC:
      req->value = 1;
      break;
    case DRM_CAP_DUMB_PREFERRED_DEPTH:
      req->value = mc ? mc->preferred_depth : 0;
      break;
    case DRM_CAP_DUMB_PREFER_SHADOW:
      req->value = mc ? mc->prefer_shadow : 0;
      break;
    case DRM_CAP_ASYNC_PAGE_FLIP:
      req->value = mc ? mc->async_page_flip : 0;
      break;
    case DRM_CAP_PAGE_FLIP_TARGET:
      // 1 only if every CRTC has page_flip_target; udrm CRTCs have none (vacuously 1 with none).
      req->value = (!mc || mc->crtcs.empty()) ? 1 : 0;
      break;
    case DRM_CAP_CURSOR_WIDTH:
      req->value = (mc && mc->cursor_width) ? mc->cursor_width : 64;
      break;
    case DRM_CAP_CURSOR_HEIGHT:
      req->value = (mc && mc->cursor_height) ? mc->cursor_height : 64;
      break;
    case DRM_CAP_ADDFB2_MODIFIERS:
      req->value = 1;  // !fb_modifiers_not_supported
      break;
    case DRM_CAP_CRTC_IN_VBLANK_EVENT:
      req->value = 1;
      break;
    default:
      return -EINVAL;
  }
  return 0;
}

int set_client_cap(DrmDevice& dev, void* data, DrmFile& file) {
  auto* req = static_cast<drm_set_client_cap*>(data);
  if (!dev.has_feature(DRIVER_MODESET)) return -EOPNOTSUPP;
  switch (req->capability) {
    case DRM_CLIENT_CAP_STEREO_3D:
      if (req->value > 1) return -EINVAL;
      file.stereo_allowed = req->value;
      break;
    case DRM_CLIENT_CAP_UNIVERSAL_PLANES:
      if (req->value > 1) return -EINVAL;
      file.universal_planes = req->value;
      break;
    case DRM_CLIENT_CAP_ATOMIC:
      if (!dev.has_feature(DRIVER_ATOMIC)) return -EOPNOTSUPP;
      if (req->value > 2) return -EINVAL;
      file.atomic = req->value;
      file.universal_planes = req->value;
      file.aspect_ratio_allowed = req->value;
      break;
    case DRM_CLIENT_CAP_ASPECT_RATIO:
      if (req->value > 1) return -EINVAL;
      file.aspect_ratio_allowed = req->value;
      break;
    case DRM_CLIENT_CAP_WRITEBACK_CONNECTORS:
      if (!file.atomic) return -EINVAL;
      if (req->value > 1) return -EINVAL;
      file.writeback_connectors = req->value;
      break;
    default:
      return -EINVAL;
  }
  return 0;
}

int set_version(DrmDevice& dev, void* data, DrmFile& file) {
  auto* sv = static_cast<drm_set_version*>(data);
  int ret = 0;
  if (sv->drm_di_major != -1) {
    if (sv->drm_di_major != kIfMajor || sv->drm_di_minor < 0 || sv->drm_di_minor > kIfMinor) {
      ret = -EINVAL;
    } else if (sv->drm_di_minor >= 1) {
      file.unique_set = true;  // drm_set_busid
    }
  }
  if (!ret && sv->drm_dd_major != -1) {
    if (sv->drm_dd_major != dev.driver().major || sv->drm_dd_minor < 0 || sv->drm_dd_minor > dev.driver().minor)
      ret = -EINVAL;
  }
  sv->drm_di_major = kIfMajor;
  sv->drm_di_minor = kIfMinor;
  sv->drm_dd_major = dev.driver().major;
  sv->drm_dd_minor = dev.driver().minor;
  return ret;
}

int set_master(DrmDevice&, void*, DrmFile& file) { return file.set_master(); }
int drop_master(DrmDevice&, void*, DrmFile& file) { return file.drop_master(); }

// drm_legacy_modeset_ctl_ioctl: a no-op for KMS drivers.
int modeset_ctl(DrmDevice&, void*, DrmFile&) { return 0; }
int noop(DrmDevice&, void*, DrmFile&) { return 0; }
int invalid_op(DrmDevice&, void*, DrmFile&) { return -EINVAL; }
int not_supported(DrmDevice&, void*, DrmFile&) { return -EOPNOTSUPP; }

}  // namespace udrm::ioctl
