// drivers/soc/soc_plane.cpp — the dc's planes (primary, overlay, cursor per pipe).
//
// prepare_fb maps the framebuffer's GEM memory into the dc's DMA space (dma_map_single) and
// keeps the bus address in the plane state; atomic_update writes the shadow plane registers
// (latched by GO in the CRTC's atomic_flush); cleanup_fb unmaps the old state's buffer once the
// helpers saw flip_done, i.e. once the hardware latched the new configuration. A buffer freed
// while still latched is thus caught by the DMA space ("dma-unmap-while-scanned").
// After unplug the pipes may still scan a buffer until the teardown switches them off, so a
// cleanup_fb that cannot enter the gate parks the address on SocDrm::deferred_unmaps; the dc
// unbind unmaps those once the pipes are off (and later cleanups unmap directly).
#include <iterator>
#include <string>

#include "soc_drv.h"
#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/fakehw/display.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/framebuffer.h"

namespace udrm::drivers::soc {

using namespace fakehw::dcregs;

namespace {

const uint32_t kPlaneFormats[] = {DRM_FORMAT_XRGB8888, DRM_FORMAT_ARGB8888, DRM_FORMAT_XBGR8888,
                                  DRM_FORMAT_ABGR8888, DRM_FORMAT_RGB565};
const uint32_t kCursorFormats[] = {DRM_FORMAT_ARGB8888};

SocPlane& to_soc(Plane& p) { return static_cast<SocPlane&>(p); }

// ---- state: SocPlaneState carries the DMA address ----

void soc_plane_destroy_state(Plane&, PlaneState* s) {
  auto* ss = static_cast<SocPlaneState*>(s);
  UDRM_WARN_ON(ss->dma_addr != 0, LogCat::driver);  // cleanup_fb must have run
  delete ss;
}

void soc_plane_reset(Plane& plane) {
  if (plane.state) soc_plane_destroy_state(plane, plane.state);
  auto* s = new SocPlaneState();
  s->plane = &plane;
  s->zpos = s->normalized_zpos = to_soc(plane).slot;
  plane.state = s;
}

PlaneState* soc_plane_duplicate_state(Plane& plane) {
  if (UDRM_WARN_ON(!plane.state, LogCat::driver)) return nullptr;
  auto* s = new SocPlaneState(*static_cast<SocPlaneState*>(plane.state));
  atomic_helper_plane_duplicate_state_reset(*s);
  s->dma_addr = 0;  // the copy maps its own buffer in prepare_fb
  s->still_latched = false;
  return s;
}

const PlaneFuncs kPlaneFuncs = [] {
  PlaneFuncs f;
  f.reset = soc_plane_reset;
  f.atomic_duplicate_state = soc_plane_duplicate_state;
  f.atomic_destroy_state = soc_plane_destroy_state;
  return f;
}();

// ---- helpers ----

int soc_plane_atomic_check(Plane& plane, AtomicState& state) {
  PlaneState* ps = atomic_get_new_plane_state(state, plane);
  if (!ps || !ps->crtc || !ps->fb) return 0;
  CrtcState* cs = atomic_get_crtc_state(state, *ps->crtc);
  if (!cs) return -ENOMEM;
  // No scaler; the primary plane covers the whole CRTC, overlay and cursor can be positioned.
  const bool can_position = to_soc(plane).slot != 0;
  return atomic_helper_check_plane_state(*ps, cs, kPlaneNoScaling, kPlaneNoScaling, can_position, true);
}

int soc_plane_prepare_fb(Plane& plane, PlaneState& new_state) {
  if (!new_state.fb) return 0;
  auto& s = static_cast<SocPlaneState&>(new_state);
  SocDrm& drm = *to_soc(plane).sdrm;
  auto g = drm.dev_enter();
  if (!g) return -ENODEV;
  GemObject* obj = new_state.fb->obj[0].get();
  if (!obj || !obj->vaddr()) return -EINVAL;
  const std::string name = "fb " + std::to_string(new_state.fb->id);
  const fakehw::dma_addr_t a = drm.dma->map(obj->vaddr(), obj->size(), name);
  if (a == fakehw::kDmaMappingError) return -ENOMEM;
  s.dma_addr = a;
  return 0;
}

void soc_plane_cleanup_fb(Plane& plane, PlaneState& old_state) {
  auto& s = static_cast<SocPlaneState&>(old_state);
  if (!s.dma_addr) return;
  const fakehw::dma_addr_t a = s.dma_addr;
  s.dma_addr = 0;
  SocDrm& drm = *to_soc(plane).sdrm;
  if (s.still_latched) {
    // The flip that replaced this buffer never latched: it is still on screen.
    SocCrtc* crtc = drm.crtc[to_soc(plane).pipe];
    std::lock_guard<SpinLock> l(drm.unmap_lock);
    crtc->latched_unmaps.push_back(a);
    return;
  }
  soc_release_dma(drm, a);
}

}  // namespace

void soc_release_dma(SocDrm& drm, fakehw::dma_addr_t a) {
  if (auto g = drm.dev_enter()) {
    drm.dma->unmap(a, "udrm-soc cleanup_fb");
    return;
  }
  bool now;
  {
    std::lock_guard<SpinLock> l(drm.unmap_lock);
    now = drm.hw_quiesced;
    if (!now) drm.deferred_unmaps.push_back(a);
  }
  if (now) drm.dma->unmap(a, "udrm-soc cleanup_fb (after unbind)");
}

namespace {

void soc_plane_atomic_update(Plane& plane, AtomicState& state) {
  SocPlane& sp = to_soc(plane);
  auto* ps = static_cast<SocPlaneState*>(atomic_get_new_plane_state(state, plane));
  if (!ps) return;
  SocCrtc* crtc = sp.sdrm->crtc[sp.pipe];
  auto g = sp.sdrm->dev_enter();
  if (!g) return;
  UDRM_POINT("soc.plane_update");
  fakehw::IoMem& regs = *crtc->hw->regs;
  const uint32_t base = plane_base(sp.pipe, sp.slot);
  if (!ps->visible || !ps->fb || !ps->dma_addr) {
    regs.writel(0, base + PLANE_CTRL);
    return;
  }
  const Framebuffer& fb = *ps->fb;
  const fakehw::dma_addr_t addr = ps->dma_addr + fb.offsets[0];
  const uint32_t sx = static_cast<uint32_t>(ps->src.x1) >> 16, sy = static_cast<uint32_t>(ps->src.y1) >> 16;
  const uint32_t sw = static_cast<uint32_t>(ps->src.x2 - ps->src.x1) >> 16;
  const uint32_t sh = static_cast<uint32_t>(ps->src.y2 - ps->src.y1) >> 16;
  regs.writel(fb.format->format, base + PLANE_FORMAT);
  regs.writel(static_cast<uint32_t>(addr), base + PLANE_ADDR_LO);
  regs.writel(static_cast<uint32_t>(addr >> 32), base + PLANE_ADDR_HI);
  regs.writel(fb.pitches[0], base + PLANE_PITCH);
  regs.writel(pack(sx, sy), base + PLANE_SRC_POS);
  regs.writel(pack(sw, sh), base + PLANE_SRC_SIZE);
  regs.writel(pack(static_cast<uint32_t>(ps->dst.x1), static_cast<uint32_t>(ps->dst.y1)), base + PLANE_DST_POS);
  regs.writel(pack(static_cast<uint32_t>(ps->dst.x2 - ps->dst.x1), static_cast<uint32_t>(ps->dst.y2 - ps->dst.y1)),
              base + PLANE_DST_SIZE);
  regs.writel(PLANE_ENABLE | plane_zpos(sp.slot), base + PLANE_CTRL);
}

void soc_plane_atomic_disable(Plane& plane, AtomicState&) {
  SocPlane& sp = to_soc(plane);
  auto g = sp.sdrm->dev_enter();
  if (!g) return;
  sp.sdrm->crtc[sp.pipe]->hw->regs->writel(0, plane_base(sp.pipe, sp.slot) + PLANE_CTRL);
}

const PlaneHelperFuncs kPlaneHelperFuncs = [] {
  PlaneHelperFuncs f;
  f.prepare_fb = soc_plane_prepare_fb;
  f.cleanup_fb = soc_plane_cleanup_fb;
  f.atomic_check = soc_plane_atomic_check;
  f.atomic_update = soc_plane_atomic_update;
  f.atomic_disable = soc_plane_atomic_disable;
  return f;
}();

}  // namespace

int soc_plane_create(SocDrm& drm, unsigned pipe, unsigned slot, SocPlane** out) {
  auto* p = drmm_new<SocPlane>(drm, "soc_plane");
  if (!p) return -ENOMEM;
  p->pipe = pipe;
  p->slot = slot;
  p->sdrm = &drm;
  const PlaneType type = slot == 0 ? PlaneType::primary : slot == 1 ? PlaneType::overlay : PlaneType::cursor;
  const uint32_t* fmts = slot == 2 ? kCursorFormats : kPlaneFormats;
  const unsigned n = slot == 2 ? std::size(kCursorFormats) : std::size(kPlaneFormats);
  if (int ret = drmm_universal_plane_init(drm, *p, 1u << pipe, &kPlaneFuncs, fmts, n, nullptr, type)) return ret;
  plane_helper_add(*p, &kPlaneHelperFuncs);
  *out = p;
  return 0;
}

}  // namespace udrm::drivers::soc
