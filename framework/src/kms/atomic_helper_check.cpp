// Atomic check helpers (udrm/kms/atomic_helper.h "check"): drm_atomic_helper_check_modeset,
// _check_planes, _check_plane_state and drm_atomic_helper_check.
#include <algorithm>
#include <cstdint>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/encoder.h"
#include "udrm/kms/mode_config.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"

namespace udrm {

namespace {

// The connector's encoder: the driver's choice, else the only one attached.
Encoder* pick_encoder(Connector& c, AtomicState& state) {
  if (c.helper_private && c.helper_private->atomic_best_encoder) return c.helper_private->atomic_best_encoder(c, state);
  ModeConfig* mc = mode_config(state.dev());
  if (!mc) return nullptr;
  Encoder* found = nullptr;
  for (Encoder* e : mc->encoders) {
    if (!(c.possible_encoders & e->mask())) continue;
    if (found) {
      log_dbg(LogCat::atomic, "[CONNECTOR:%u:%s] has several encoders and no best_encoder hook", c.id, c.name.c_str());
      return found;
    }
    found = e;
  }
  return found;
}

int update_connector_routing(AtomicState& state, Connector& c, ConnectorState& old_s, ConnectorState& new_s) {
  if (old_s.crtc && old_s.crtc != new_s.crtc) {
    if (CrtcState* cs = atomic_get_new_crtc_state(state, *old_s.crtc)) cs->connectors_changed = true;
  }
  if (!new_s.crtc) {
    new_s.best_encoder = nullptr;
    return 0;
  }
  CrtcState* cs = atomic_get_new_crtc_state(state, *new_s.crtc);
  if (UDRM_WARN_ON(!cs, LogCat::atomic)) return -EINVAL;
  if (old_s.crtc != new_s.crtc) cs->connectors_changed = true;
  Encoder* enc = pick_encoder(c, state);
  if (!enc) {
    log_dbg(LogCat::atomic, "no suitable encoder found for [CONNECTOR:%u:%s]", c.id, c.name.c_str());
    return -EINVAL;
  }
  if (!(enc->possible_crtcs & new_s.crtc->mask())) {
    log_dbg(LogCat::atomic, "[ENCODER:%u:%s] incompatible with [CRTC:%u]", enc->id, enc->name.c_str(), new_s.crtc->id);
    return -EINVAL;
  }
  // An encoder drives one connector: another connector of the update must not keep it.
  for (auto& e : state.connectors) {
    if (e.ptr == &c || e.new_state->best_encoder != enc) continue;
    if (e.new_state->crtc && e.new_state->crtc != new_s.crtc) {
      log_dbg(LogCat::atomic, "[ENCODER:%u:%s] already in use", enc->id, enc->name.c_str());
      return -EINVAL;
    }
    e.new_state->best_encoder = nullptr;  // steal_encoder
  }
  if (new_s.best_encoder != enc) {
    new_s.best_encoder = enc;
    cs->connectors_changed = true;
  }
  return 0;
}

int mode_valid(AtomicState& state) {
  for (auto& e : state.connectors) {
    Crtc* crtc = e.new_state->crtc;
    if (!crtc || !e.new_state->best_encoder) continue;
    CrtcState* cs = atomic_get_new_crtc_state(state, *crtc);
    if (!cs || (!cs->mode_changed && !cs->connectors_changed)) continue;
    if (crtc->helper_private && crtc->helper_private->mode_valid) {
      if (crtc->helper_private->mode_valid(*crtc, cs->mode) != 0) {
        log_dbg(LogCat::atomic, "[CRTC:%u:%s] mode %s rejected by mode_valid", crtc->id, crtc->name.c_str(),
                cs->mode.name.c_str());
        return -EINVAL;
      }
    }
  }
  // CRTCs without connectors in the update but with a new mode (disabling has no mode).
  for (auto& e : state.crtcs) {
    if (!e.new_state->enable || !e.new_state->mode_changed) continue;
    const CrtcHelperFuncs* f = e.ptr->helper_private;
    if (f && f->mode_valid && f->mode_valid(*e.ptr, e.new_state->mode) != 0) return -EINVAL;
  }
  return 0;
}

int mode_fixup(AtomicState& state) {
  for (auto& e : state.connectors) {
    Crtc* crtc = e.new_state->crtc;
    Encoder* enc = e.new_state->best_encoder;
    if (!crtc || !enc) continue;
    CrtcState* cs = atomic_get_new_crtc_state(state, *crtc);
    if (!cs || !cs->needs_modeset()) continue;
    if (enc->helper_private && enc->helper_private->atomic_check) {
      if (int ret = enc->helper_private->atomic_check(*enc, *cs, *e.new_state)) {
        log_dbg(LogCat::atomic, "[ENCODER:%u:%s] check failed: %d", enc->id, enc->name.c_str(), ret);
        return ret;
      }
    }
  }
  return 0;
}

// drm_calc_scale / drm_rect_calc_{h,v}scale: src in 16.16, dst in pixels.
int calc_scale(int64_t src, int64_t dst, int min_scale, int max_scale) {
  if (src < 0 || dst < 0) return -EINVAL;
  if (dst == 0) return 0;
  int64_t scale = src > (dst << 16) ? (src + dst - 1) / dst : src / dst;
  if (scale < min_scale || scale > max_scale) return -ERANGE;
  return static_cast<int>(scale);
}

// Keep the scaling ratio when clipping `clip` pixels off a dst of length dst (src in 16.16);
// rounds towards 1.0 so that clipping never turns upscaling into downscaling.
int64_t clip_scaled(int64_t src, int64_t dst, int64_t* clip) {
  if (dst == 0) return 0;
  *clip = std::min(*clip, dst);
  const int64_t tmp = src * (dst - *clip);
  return src < (dst << 16) ? (tmp + dst - 1) / dst : tmp / dst;
}

bool clip_rect_scaled(PlaneState::Rect* src, PlaneState::Rect* dst, const PlaneState::Rect& clip) {
  int64_t d = static_cast<int64_t>(clip.x1) - dst->x1;
  if (d > 0) {
    int64_t w = clip_scaled(static_cast<int64_t>(src->x2) - src->x1, static_cast<int64_t>(dst->x2) - dst->x1, &d);
    src->x1 = static_cast<int32_t>(src->x2 - w);
    dst->x1 = clip.x1;
  }
  d = static_cast<int64_t>(clip.y1) - dst->y1;
  if (d > 0) {
    int64_t h = clip_scaled(static_cast<int64_t>(src->y2) - src->y1, static_cast<int64_t>(dst->y2) - dst->y1, &d);
    src->y1 = static_cast<int32_t>(src->y2 - h);
    dst->y1 = clip.y1;
  }
  d = static_cast<int64_t>(dst->x2) - clip.x2;
  if (d > 0) {
    int64_t w = clip_scaled(static_cast<int64_t>(src->x2) - src->x1, static_cast<int64_t>(dst->x2) - dst->x1, &d);
    src->x2 = static_cast<int32_t>(src->x1 + w);
    dst->x2 = clip.x2;
  }
  d = static_cast<int64_t>(dst->y2) - clip.y2;
  if (d > 0) {
    int64_t h = clip_scaled(static_cast<int64_t>(src->y2) - src->y1, static_cast<int64_t>(dst->y2) - dst->y1, &d);
    src->y2 = static_cast<int32_t>(src->y1 + h);
    dst->y2 = clip.y2;
  }
  return dst->x2 > dst->x1 && dst->y2 > dst->y1;
}

}  // namespace

int atomic_helper_check_modeset(DrmDevice& dev, AtomicState& state) {
  const bool has_vblank = drm_dev_has_vblank(dev);
  for (auto& e : state.crtcs) {
    CrtcState& o = *e.old_state;
    CrtcState& n = *e.new_state;
    if (!(o.mode == n.mode)) {
      log_dbg(LogCat::atomic, "[CRTC:%u:%s] mode changed", e.ptr->id, e.ptr->name.c_str());
      n.mode_changed = true;
    }
    if (o.enable != n.enable) {
      log_dbg(LogCat::atomic, "[CRTC:%u:%s] enable changed", e.ptr->id, e.ptr->name.c_str());
      n.mode_changed = true;
      n.connectors_changed = true;
    }
    if (o.active != n.active) {
      log_dbg(LogCat::atomic, "[CRTC:%u:%s] active changed", e.ptr->id, e.ptr->name.c_str());
      n.active_changed = true;
    }
    if (n.enable != (n.connector_mask != 0)) {
      log_dbg(LogCat::atomic, "[CRTC:%u:%s] enabled/connectors mismatch (enable %d, connectors %#x)", e.ptr->id,
              e.ptr->name.c_str(), n.enable, n.connector_mask);
      return -EINVAL;
    }
    // Without vblank support the helpers send the event themselves (fake vblank).
    n.no_vblank = !has_vblank;
  }
  for (std::size_t i = 0; i < state.connectors.size(); ++i) {
    auto& e = state.connectors[i];
    if (int ret = update_connector_routing(state, *e.ptr, *e.old_state, *e.new_state)) return ret;
    const ConnectorHelperFuncs* f = e.ptr->helper_private;
    if (f && f->atomic_check) {
      if (int ret = f->atomic_check(*e.ptr, state)) return ret;
    }
  }
  // Connectors and planes of a CRTC that needs a modeset join the update.
  for (std::size_t i = 0; i < state.crtcs.size(); ++i) {
    Crtc& crtc = *state.crtcs[i].ptr;
    if (!state.crtcs[i].new_state->needs_modeset()) continue;
    if (int ret = atomic_add_affected_connectors(state, crtc)) return ret;
    if (int ret = atomic_add_affected_planes(state, crtc)) return ret;
  }
  for (std::size_t i = 0; i < state.connectors.size(); ++i) {
    auto& e = state.connectors[i];
    Crtc* crtc = e.new_state->crtc;
    CrtcState* cs = crtc ? atomic_get_new_crtc_state(state, *crtc) : nullptr;
    if (!cs || !cs->needs_modeset()) continue;
    // Routing of connectors pulled in above.
    if (!e.new_state->best_encoder) {
      if (int ret = update_connector_routing(state, *e.ptr, *e.old_state, *e.new_state)) return ret;
    }
  }
  if (int ret = mode_valid(state)) return ret;
  return mode_fixup(state);
}

int atomic_helper_check_planes(DrmDevice&, AtomicState& state) {
  for (std::size_t i = 0; i < state.planes.size(); ++i) {
    auto& e = state.planes[i];
    for (Crtc* c : {e.old_state->crtc, e.new_state->crtc}) {
      if (!c) continue;
      CrtcState* cs = atomic_get_new_crtc_state(state, *c);
      if (UDRM_WARN_ON(!cs, LogCat::atomic)) continue;
      cs->planes_changed = true;
    }
    const PlaneHelperFuncs* f = e.ptr->helper_private;
    if (!f || !f->atomic_check) continue;
    if (int ret = f->atomic_check(*e.ptr, state)) {
      log_dbg(LogCat::atomic, "[PLANE:%u:%s] atomic driver check failed", e.ptr->id, e.ptr->name.c_str());
      return ret;
    }
  }
  for (std::size_t i = 0; i < state.crtcs.size(); ++i) {
    auto& e = state.crtcs[i];
    const CrtcHelperFuncs* f = e.ptr->helper_private;
    if (!f || !f->atomic_check) continue;
    if (int ret = f->atomic_check(*e.ptr, state)) {
      log_dbg(LogCat::atomic, "[CRTC:%u:%s] atomic driver check failed", e.ptr->id, e.ptr->name.c_str());
      return ret;
    }
  }
  return 0;
}

int atomic_helper_check(DrmDevice& dev, AtomicState& state) {
  if (int ret = atomic_helper_check_modeset(dev, state)) return ret;
  return atomic_helper_check_planes(dev, state);
}

int atomic_helper_check_plane_state(PlaneState& ps, const CrtcState* cs, int min_scale, int max_scale,
                                    bool can_position, bool can_update_disabled) {
  Framebuffer* fb = ps.fb.get();
  UDRM_WARN_ON(ps.crtc && cs && ps.crtc != cs->crtc, LogCat::atomic);
  ps.src = {static_cast<int32_t>(ps.src_x), static_cast<int32_t>(ps.src_y),
            static_cast<int32_t>(static_cast<int64_t>(ps.src_x) + ps.src_w),
            static_cast<int32_t>(static_cast<int64_t>(ps.src_y) + ps.src_h)};
  ps.dst = {ps.crtc_x, ps.crtc_y, static_cast<int32_t>(static_cast<int64_t>(ps.crtc_x) + ps.crtc_w),
            static_cast<int32_t>(static_cast<int64_t>(ps.crtc_y) + ps.crtc_h)};
  if (!fb) {
    ps.visible = false;
    return 0;
  }
  // A CRTC is only missing when disabling (no fb).
  if (UDRM_WARN_ON(!ps.crtc || !cs, LogCat::atomic)) {
    ps.visible = false;
    return 0;
  }
  if (!cs->enable && !can_update_disabled) {
    log_dbg(LogCat::atomic, "cannot update plane of a disabled CRTC");
    return -EINVAL;
  }
  const int hscale =
      calc_scale(static_cast<int64_t>(ps.src.x2) - ps.src.x1, static_cast<int64_t>(ps.dst.x2) - ps.dst.x1, min_scale, max_scale);
  const int vscale =
      calc_scale(static_cast<int64_t>(ps.src.y2) - ps.src.y1, static_cast<int64_t>(ps.dst.y2) - ps.dst.y1, min_scale, max_scale);
  if (hscale < 0 || vscale < 0) {
    log_dbg(LogCat::atomic, "invalid scaling of plane");
    return -ERANGE;
  }
  PlaneState::Rect clip{};
  if (cs->enable) {
    clip.x2 = cs->mode.hdisplay;
    clip.y2 = cs->mode.vdisplay;
  }
  ps.visible = clip_rect_scaled(&ps.src, &ps.dst, clip);
  if (!ps.visible) return 0;
  if (!can_position && !(ps.dst.x1 == clip.x1 && ps.dst.y1 == clip.y1 && ps.dst.x2 == clip.x2 && ps.dst.y2 == clip.y2)) {
    log_dbg(LogCat::atomic, "plane must cover entire CRTC");
    return -EINVAL;
  }
  return 0;
}

int crtc_mode_valid_max_vrefresh(const DisplayMode& mode, int max_hz) {
  if (mode.clock <= 0 || mode.htotal == 0 || mode.vtotal == 0) return -EINVAL;
  // Compare clock / (htotal * vtotal) > max_hz without rounding: clock is in kHz.
  const int64_t pixels_per_frame = static_cast<int64_t>(mode.htotal) * mode.vtotal;
  if (static_cast<int64_t>(mode.clock) * 1000 > pixels_per_frame * max_hz) {
    log_dbg(LogCat::atomic, "mode %s refresh above %d Hz rejected", mode.name.c_str(), max_hz);
    return -EINVAL;
  }
  return 0;
}

}  // namespace udrm
