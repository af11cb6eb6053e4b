// Legacy uAPI on top of atomic (udrm/kms/atomic_helper.h "legacy"): SETCRTC, SETPLANE,
// PAGE_FLIP, GAMMA and DPMS through atomic updates, as drm_atomic_helper.c implements them.
// Callers (the ioctl layer) hold mode_config(dev)->mutex.
#include <vector>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/event.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"

namespace udrm {

namespace {

// update_output_state: the CRTC's connectors are exactly `connectors`; CRTCs left without
// connectors are switched off.
int update_output_state(AtomicState& state, Crtc& crtc, Connector* const* connectors, unsigned n) {
  if (int ret = atomic_add_affected_connectors(state, crtc)) return ret;
  for (std::size_t i = 0; i < state.connectors.size(); ++i) {
    ConnectorState* cs = state.connectors[i].new_state;
    if (cs->crtc == &crtc) {
      if (int ret = atomic_set_crtc_for_connector(*cs, nullptr)) return ret;
    }
  }
  for (unsigned i = 0; i < n; ++i) {
    ConnectorState* cs = atomic_get_connector_state(state, *connectors[i]);
    if (!cs) return -ENOMEM;
    if (int ret = atomic_set_crtc_for_connector(*cs, &crtc)) return ret;
  }
  for (std::size_t i = 0; i < state.crtcs.size(); ++i) {
    auto& e = state.crtcs[i];
    if (e.ptr == &crtc) continue;
    if (!e.new_state->connector_mask) {
      if (int ret = atomic_set_mode_prop_for_crtc(*e.new_state, nullptr)) return ret;
      e.new_state->active = false;
    }
  }
  return 0;
}

}  // namespace

int atomic_helper_set_config(Crtc& crtc, Framebuffer* fb, const DisplayMode* mode, uint32_t x, uint32_t y,
                             Connector* const* connectors, unsigned num_connectors, DrmFile* file) {
  Ref<AtomicState> state = atomic_state_alloc(*crtc.dev);
  if (!state) return -ENOMEM;
  state->file = file;
  state->allow_modeset = true;
  CrtcState* cs = atomic_get_crtc_state(*state, crtc);
  if (!cs) return -ENOMEM;
  if (UDRM_WARN_ON(!crtc.primary, LogCat::atomic)) return -EINVAL;
  PlaneState* ps = atomic_get_plane_state(*state, *crtc.primary);
  if (!ps) return -ENOMEM;
  int ret;
  if (!mode) {
    UDRM_WARN_ON(fb != nullptr, LogCat::atomic);
    UDRM_WARN_ON(num_connectors != 0, LogCat::atomic);
    if ((ret = atomic_set_mode_for_crtc(*cs, nullptr))) return ret;
    cs->active = false;
    if ((ret = atomic_set_crtc_for_plane(*ps, nullptr))) return ret;
    atomic_set_fb_for_plane(*ps, nullptr);
  } else {
    UDRM_WARN_ON(fb == nullptr, LogCat::atomic);
    UDRM_WARN_ON(num_connectors == 0, LogCat::atomic);
    if ((ret = atomic_set_mode_for_crtc(*cs, mode))) return ret;
    cs->active = true;
    if ((ret = atomic_set_crtc_for_plane(*ps, &crtc))) return ret;
    atomic_set_fb_for_plane(*ps, fb);
    ps->crtc_x = 0;
    ps->crtc_y = 0;
    ps->crtc_w = mode->hdisplay;
    ps->crtc_h = mode->vdisplay;
    ps->src_x = x << 16;
    ps->src_y = y << 16;
    ps->src_w = static_cast<uint32_t>(mode->hdisplay) << 16;
    ps->src_h = static_cast<uint32_t>(mode->vdisplay) << 16;
  }
  if ((ret = update_output_state(*state, crtc, connectors, num_connectors))) return ret;
  return atomic_commit(*state);
}

int atomic_helper_update_plane(Plane& plane, Crtc& crtc, Framebuffer* fb, int32_t crtc_x, int32_t crtc_y,
                               uint32_t crtc_w, uint32_t crtc_h, uint32_t src_x, uint32_t src_y, uint32_t src_w,
                               uint32_t src_h, bool legacy_cursor, DrmFile* file) {
  Ref<AtomicState> state = atomic_state_alloc(*plane.dev);
  if (!state) return -ENOMEM;
  state->file = file;
  state->allow_modeset = true;
  PlaneState* ps = atomic_get_plane_state(*state, plane);
  if (!ps) return -ENOMEM;
  if (int ret = atomic_set_crtc_for_plane(*ps, &crtc)) return ret;
  atomic_set_fb_for_plane(*ps, fb);
  ps->crtc_x = crtc_x;
  ps->crtc_y = crtc_y;
  ps->crtc_w = crtc_w;
  ps->crtc_h = crtc_h;
  ps->src_x = src_x;
  ps->src_y = src_y;
  ps->src_w = src_w;
  ps->src_h = src_h;
  if (legacy_cursor || &plane == crtc.cursor) state->legacy_cursor_update = true;
  return atomic_commit(*state);
}

int atomic_helper_disable_plane(Plane& plane, DrmFile* file) {
  Ref<AtomicState> state = atomic_state_alloc(*plane.dev);
  if (!state) return -ENOMEM;
  state->file = file;
  state->allow_modeset = true;
  PlaneState* ps = atomic_get_plane_state(*state, plane);
  if (!ps) return -ENOMEM;
  if (ps->crtc && ps->crtc->cursor == &plane) state->legacy_cursor_update = true;
  if (int ret = atomic_set_crtc_for_plane(*ps, nullptr)) return ret;
  atomic_set_fb_for_plane(*ps, nullptr);
  ps->crtc_x = ps->crtc_y = 0;
  ps->crtc_w = ps->crtc_h = 0;
  ps->src_x = ps->src_y = ps->src_w = ps->src_h = 0;
  return atomic_commit(*state);
}

int atomic_helper_page_flip(Crtc& crtc, Framebuffer* fb, uint32_t flags, uint64_t user_data, DrmFile* file) {
  DrmDevice& dev = *crtc.dev;
  if (UDRM_WARN_ON(!crtc.primary, LogCat::atomic)) return -EINVAL;
  Ref<AtomicState> state = atomic_state_alloc(dev);
  if (!state) return -ENOMEM;
  state->file = file;
  CrtcState* cs = atomic_get_crtc_state(*state, crtc);
  if (!cs) return -ENOMEM;
  if (flags & DRM_MODE_PAGE_FLIP_EVENT) {
    if (!file) return -EINVAL;
    PendingVblankEvent* e = nullptr;
    if (int ret = create_flip_event(dev, *file, user_data, &e)) return ret;
    e->ev.vbl.crtc_id = crtc.id;
    cs->event = e;  // cancelled with the state if the flip is refused
  }
  PlaneState* ps = atomic_get_plane_state(*state, *crtc.primary);
  if (!ps) return -ENOMEM;
  if (int ret = atomic_set_crtc_for_plane(*ps, &crtc)) return ret;
  atomic_set_fb_for_plane(*ps, fb);
  // Make sure this never turns into a full modeset.
  state->allow_modeset = false;
  if (!cs->active) {
    log_dbg(LogCat::atomic, "[CRTC:%u:%s] disabled, rejecting legacy flip", crtc.id, crtc.name.c_str());
    return -EINVAL;
  }
  return atomic_nonblocking_commit(*state);
}

int atomic_helper_legacy_gamma_set(Crtc& crtc, const uint16_t* r, const uint16_t* g, const uint16_t* b,
                                   uint32_t size) {
  DrmDevice& dev = *crtc.dev;
  if (size == 0) return -EINVAL;
  std::vector<drm_color_lut> lut(size);
  for (uint32_t i = 0; i < size; ++i) lut[i] = drm_color_lut{r[i], g[i], b[i], 0};
  Ref<PropertyBlob> blob;
  if (int ret = property_blob_create(dev, lut.data(), lut.size() * sizeof(drm_color_lut), &blob)) return ret;
  Ref<AtomicState> state = atomic_state_alloc(dev);
  if (!state) return -ENOMEM;
  state->allow_modeset = true;
  CrtcState* cs = atomic_get_crtc_state(*state, crtc);
  if (!cs) return -ENOMEM;
  cs->color_mgmt_changed |= property_replace_blob(&cs->gamma_lut, blob.get());
  return atomic_commit(*state);
}

int atomic_helper_connector_dpms(Connector& c, int mode) {
  // drm_atomic_connector_commit_dpms: anything but On is Off; no change → no commit.
  const int old_mode = c.dpms;
  if (mode != DRM_MODE_DPMS_ON) mode = DRM_MODE_DPMS_OFF;
  if (c.dpms == mode) return 0;
  c.dpms = mode;
  Crtc* crtc = c.state ? c.state->crtc : nullptr;
  if (!crtc) return 0;
  Ref<AtomicState> state = atomic_state_alloc(*c.dev);
  if (!state) {
    c.dpms = old_mode;
    return -ENOMEM;
  }
  state->allow_modeset = true;
  int ret = atomic_add_affected_connectors(*state, *crtc);
  CrtcState* cs = ret ? nullptr : atomic_get_crtc_state(*state, *crtc);
  if (!ret && !cs) ret = -ENOMEM;
  if (cs) {
    // The CRTC stays active while any of its connectors is On.
    bool active = false;
    for (const auto& e : state->connectors) {
      if (e.new_state && e.new_state->crtc == crtc && e.ptr->dpms == DRM_MODE_DPMS_ON) {
        active = true;
        break;
      }
    }
    cs->active = active;
    ret = atomic_commit(*state);
  }
  if (ret) c.dpms = old_mode;
  return ret;
}

}  // namespace udrm
