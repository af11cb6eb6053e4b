// Default state reset/duplicate/destroy (drm_atomic_state_helper.c semantics; udrm/kms/atomic_helper.h).
#include <new>

#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/drm/event.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/connector.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/plane.h"
#include "udrm/kms/vblank.h"

namespace udrm {

namespace {

void free_event(PendingEvent* e) {
  if (!e) return;
  if (e->destroy)
    e->destroy(e);
  else
    delete e;
}

}  // namespace

void crtc_destroy_state(Crtc& crtc, CrtcState* s) {
  if (crtc.funcs && crtc.funcs->atomic_destroy_state)
    crtc.funcs->atomic_destroy_state(crtc, s);
  else
    atomic_helper_crtc_destroy_state(crtc, s);
}

void plane_destroy_state(Plane& plane, PlaneState* s) {
  if (plane.funcs && plane.funcs->atomic_destroy_state)
    plane.funcs->atomic_destroy_state(plane, s);
  else
    atomic_helper_plane_destroy_state(plane, s);
}

void connector_destroy_state(Connector& c, ConnectorState* s) {
  if (c.funcs && c.funcs->atomic_destroy_state)
    c.funcs->atomic_destroy_state(c, s);
  else
    atomic_helper_connector_destroy_state(c, s);
}

// ---- CRTC ------------------------------------------------------------------------------------

void atomic_helper_crtc_reset(Crtc& crtc) {
  if (crtc.state) crtc_destroy_state(crtc, crtc.state);
  crtc.state = nullptr;
  auto* s = new (std::nothrow) CrtcState();
  if (s) s->crtc = &crtc;
  if (crtc.dev && crtc.dev->vblank) crtc_vblank_reset(crtc);
  crtc.state = s;
}

void atomic_helper_crtc_duplicate_state_reset(CrtcState& s) {
  // The copy took references on the blobs (Ref<>); what belongs to one update only goes.
  s.state = nullptr;
  s.mode_changed = false;
  s.active_changed = false;
  s.planes_changed = false;
  s.connectors_changed = false;
  s.color_mgmt_changed = false;
  s.zpos_changed = false;
  s.commit.reset();
  s.event = nullptr;
  s.async_flip = false;
  s.target_vblank = 0;
}

CrtcState* atomic_helper_crtc_duplicate_state(Crtc& crtc) {
  if (UDRM_WARN_ON(!crtc.state, LogCat::atomic)) return nullptr;
  if (UDRM_SHOULD_FAIL("kms.state_duplicate")) return nullptr;
  auto* s = new (std::nothrow) CrtcState(*crtc.state);
  if (!s) return nullptr;
  atomic_helper_crtc_duplicate_state_reset(*s);
  return s;
}

void atomic_helper_crtc_destroy_state(Crtc&, CrtcState* s) {
  if (!s) return;
  if (s->commit) {
    // An update aborted after setup_commit: the event never went out, so the reference its
    // completion would have dropped is still ours, and an internal event is still allocated.
    if (s->event && s->commit->abort_completion) s->commit->put();
    free_event(s->commit->event);
    s->commit->event = nullptr;
    s->commit.reset();
  }
  s->mode_blob.reset();
  s->gamma_lut.reset();
  delete s;
}

// ---- plane -----------------------------------------------------------------------------------

void atomic_helper_plane_reset(Plane& plane) {
  if (plane.state) plane_destroy_state(plane, plane.state);
  plane.state = nullptr;
  auto* s = new (std::nothrow) PlaneState();
  if (s) {
    s->plane = &plane;
    s->rotation = DRM_MODE_ROTATE_0;
    s->alpha = 0xffff;  // DRM_BLEND_ALPHA_OPAQUE
  }
  plane.state = s;
}

void atomic_helper_plane_duplicate_state_reset(PlaneState& s) {
  s.state = nullptr;
  s.commit.reset();
}

PlaneState* atomic_helper_plane_duplicate_state(Plane& plane) {
  if (UDRM_WARN_ON(!plane.state, LogCat::atomic)) return nullptr;
  if (UDRM_SHOULD_FAIL("kms.state_duplicate")) return nullptr;
  auto* s = new (std::nothrow) PlaneState(*plane.state);  // takes a framebuffer reference
  if (!s) return nullptr;
  atomic_helper_plane_duplicate_state_reset(*s);
  return s;
}

void atomic_helper_plane_destroy_state(Plane&, PlaneState* s) {
  if (!s) return;
  s->fb.reset();
  s->commit.reset();
  delete s;
}

// ---- connector -------------------------------------------------------------------------------

void atomic_helper_connector_reset(Connector& c) {
  if (c.state) connector_destroy_state(c, c.state);
  c.state = nullptr;
  auto* s = new (std::nothrow) ConnectorState();
  if (s) s->connector = &c;
  c.state = s;
}

void atomic_helper_connector_duplicate_state_reset(ConnectorState& s) {
  s.state = nullptr;
  s.commit.reset();
}

ConnectorState* atomic_helper_connector_duplicate_state(Connector& c) {
  if (UDRM_WARN_ON(!c.state, LogCat::atomic)) return nullptr;
  if (UDRM_SHOULD_FAIL("kms.state_duplicate")) return nullptr;
  auto* s = new (std::nothrow) ConnectorState(*c.state);
  if (!s) return nullptr;
  atomic_helper_connector_duplicate_state_reset(*s);
  return s;
}

void atomic_helper_connector_destroy_state(Connector&, ConnectorState* s) {
  if (!s) return;
  s->commit.reset();
  delete s;
}

}  // namespace udrm
