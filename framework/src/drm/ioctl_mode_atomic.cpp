// The ATOMIC ioctl (drm_atomic_uapi.c: drm_mode_atomic_ioctl, prepare_signaling).
#include <drm_mode.h>

#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/event.h"
#include "udrm/drm/file.h"
#include "udrm/drm/ioctl.h"
#include "udrm/kms/atomic.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/object.h"
#include "udrm/kms/property.h"
#include "ioctl_internal.h"
#include "ioctl_mode_util.h"

namespace udrm::ioctl {
namespace {

// prepare_signaling: one FLIP_COMPLETE event per CRTC in the update, reserved against the file.
// Events left in the new states on failure are cancelled when the update is freed.
int prepare_signaling(DrmDevice& dev, AtomicState& state, const drm_mode_atomic& arg, DrmFile& file) {
  if (!(arg.flags & DRM_MODE_PAGE_FLIP_EVENT)) return 0;
  unsigned crtcs = 0;
  for (auto& e : state.crtcs) {
    if (!e.ptr || !e.new_state) continue;
    ++crtcs;
    PendingVblankEvent* ev = nullptr;
    if (int ret = create_flip_event(dev, file, arg.user_data, &ev)) return ret;
    ev->ev.vbl.crtc_id = e.ptr->id;
    ev->pipe = e.ptr->index;
    e.new_state->event = ev;
  }
  // An event was asked for but no CRTC would ever deliver it.
  if (crtcs == 0) return -EINVAL;
  return 0;
}

}  // namespace

int mode_atomic(DrmDevice& dev, void* data, DrmFile& file) {
  auto* arg = static_cast<drm_mode_atomic*>(data);
  ModeConfig* mc = kms(dev);
  if (!mc || !dev.has_feature(DRIVER_ATOMIC)) return -EOPNOTSUPP;
  if (!file.atomic) return -EINVAL;  // clients that did not set the ATOMIC cap
  if (arg->flags & ~uint32_t{DRM_MODE_ATOMIC_FLAGS}) return -EINVAL;
  if (arg->reserved) return -EINVAL;
  if ((arg->flags & DRM_MODE_PAGE_FLIP_ASYNC) && !mc->async_page_flip) return -EINVAL;
  // Cannot test and ask for an event at once.
  if ((arg->flags & DRM_MODE_ATOMIC_TEST_ONLY) && (arg->flags & DRM_MODE_PAGE_FLIP_EVENT)) return -EINVAL;

  std::lock_guard<Mutex> l(mc->mutex);
  Ref<AtomicState> state = atomic_state_alloc(dev);
  if (!state) return -ENOMEM;
  state->file = &file;
  state->allow_modeset = arg->flags & DRM_MODE_ATOMIC_ALLOW_MODESET;

  uint32_t copied_props = 0;
  for (uint32_t i = 0; i < arg->count_objs; ++i) {
    uint32_t obj_id, count_props;
    if (get_user_u32(arg->objs_ptr, i, &obj_id)) return -EFAULT;
    ModeObject* obj = mc->idr.find(obj_id, DRM_MODE_OBJECT_ANY);
    if (!obj) return -ENOENT;
    struct Put {
      ModeObject* o;
      ~Put() { mode_object_put(o); }
    } put{obj};
    if (!obj->properties) return -ENOENT;
    if (get_user_u32(arg->count_props_ptr, i, &count_props)) return -EFAULT;
    for (uint32_t j = 0; j < count_props; ++j) {
      uint32_t prop_id;
      uint64_t value;
      if (get_user_u32(arg->props_ptr, copied_props, &prop_id)) return -EFAULT;
      Property* prop = find_prop_id(*obj, prop_id);
      if (!prop) return -ENOENT;
      if (copy_from_user(&value, arg->prop_values_ptr + uint64_t{copied_props} * sizeof(value), sizeof(value)))
        return -EFAULT;
      if (int ret = atomic_set_property(*state, &file, *obj, *prop, value)) return ret;
      ++copied_props;
    }
  }
  if (int ret = prepare_signaling(dev, *state, *arg, file)) return ret;
  if (arg->flags & DRM_MODE_ATOMIC_TEST_ONLY) return atomic_check_only(*state);
  if (arg->flags & DRM_MODE_ATOMIC_NONBLOCK) return atomic_nonblocking_commit(*state);
  return atomic_commit(*state);
}

}  // namespace udrm::ioctl
