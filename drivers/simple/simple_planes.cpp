// udrm-simple planes (vkms_plane.c): primary, overlay, 64x64 cursor. Checks with the atomic
// helpers; atomic_update records the scanout configuration (FrameInfo) that the CRTC's
// atomic_check gathers and atomic_flush publishes to the composer.
#include <iterator>
#include <new>

#include <drm_fourcc.h>

#include "simple_drv.h"
#include "udrm/base/point.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/framebuffer.h"

namespace udrm::drivers::simple {
namespace {

constexpr uint32_t kPrimaryFormats[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888, DRM_FORMAT_XBGR8888,
                                        DRM_FORMAT_RGB565};
constexpr uint32_t kOverlayFormats[] = {DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888, DRM_FORMAT_XBGR8888,
                                        DRM_FORMAT_RGB565};
constexpr uint32_t kCursorFormats[] = {DRM_FORMAT_ARGB8888};

void plane_reset(Plane& plane) {
  if (plane.state) {
    atomic_helper_plane_destroy_state(plane, plane.state);
    plane.state = nullptr;
  }
  auto* s = new SimplePlaneState();
  s->plane = &plane;
  plane.state = s;
}

PlaneState* plane_duplicate_state(Plane& plane) {
  if (!plane.state) return nullptr;
  auto* s = new (std::nothrow) SimplePlaneState(*static_cast<SimplePlaneState*>(plane.state));
  if (!s) return nullptr;
  atomic_helper_plane_duplicate_state_reset(*s);
  s->frame = {};
  return s;
}

int plane_atomic_check(Plane& plane, AtomicState& state) {
  PlaneState* ns = atomic_get_new_plane_state(state, plane);
  if (!ns) return 0;
  // The CRTC the plane leaves must recollect its active planes too (it may point at the old
  // plane state otherwise).
  if (PlaneState* os = atomic_get_old_plane_state(state, plane); os && os->crtc && os->crtc != ns->crtc) {
    if (!atomic_get_crtc_state(state, *os->crtc)) return -ENOMEM;
  }
  if (!ns->fb || !ns->crtc) return 0;
  CrtcState* cs = atomic_get_crtc_state(state, *ns->crtc);
  if (!cs) return -ENOMEM;
  const bool can_position = plane.type != PlaneType::primary;
  return atomic_helper_check_plane_state(*ns, cs, kPlaneNoScaling, kPlaneNoScaling, can_position, true);
}

void plane_atomic_update(Plane& plane, AtomicState& state) {
  auto* ns = static_cast<SimplePlaneState*>(atomic_get_new_plane_state(state, plane));
  if (!ns) return;
  UDRM_POINT("simple.plane_update");
  ns->frame = {};
  if (!ns->visible || !ns->fb) return;
  FrameInfo& f = ns->frame;
  f.fb = ns->fb.get();
  f.src = {ns->src.x1 >> 16, ns->src.y1 >> 16, static_cast<uint32_t>((ns->src.x2 - ns->src.x1) >> 16),
           static_cast<uint32_t>((ns->src.y2 - ns->src.y1) >> 16)};
  f.dst = {ns->dst.x1, ns->dst.y1, static_cast<uint32_t>(ns->dst.x2 - ns->dst.x1),
           static_cast<uint32_t>(ns->dst.y2 - ns->dst.y1)};
  f.alpha = ns->alpha;
}

// atomic_destroy_state stays the helper: it deletes through the virtual destructor.
const PlaneFuncs kPlaneFuncs = [] {
  PlaneFuncs f;
  f.reset = plane_reset;
  f.atomic_duplicate_state = plane_duplicate_state;
  return f;
}();

const PlaneHelperFuncs kPlaneHelperFuncs = [] {
  PlaneHelperFuncs f;
  f.atomic_check = plane_atomic_check;
  f.atomic_update = plane_atomic_update;
  return f;
}();

int one_plane(SimpleDevice& s, SimplePlane& p, PlaneType type, const uint32_t* formats, unsigned n,
              const char* name) {
  int ret = drmm_universal_plane_init(s, p, 1u /* crtc 0 */, &kPlaneFuncs, formats, n, nullptr, type, name);
  if (ret) return ret;
  plane_helper_add(p, &kPlaneHelperFuncs);
  return 0;
}

}  // namespace

int simple_planes_init(SimpleDevice& s) {
  int ret = one_plane(s, s.primary, PlaneType::primary, kPrimaryFormats, std::size(kPrimaryFormats), "primary");
  if (!ret)
    ret = one_plane(s, s.overlay, PlaneType::overlay, kOverlayFormats, std::size(kOverlayFormats), "overlay");
  if (!ret) ret = one_plane(s, s.cursor, PlaneType::cursor, kCursorFormats, std::size(kCursorFormats), "cursor");
  return ret;
}

}  // namespace udrm::drivers::simple
