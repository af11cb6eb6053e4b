// drivers/soc/soc_crtc.cpp — the dc's CRTCs (one per pipe): enable/disable (timings, pixel
// clock, interrupts), atomic_flush (GO + the flip event), vblank and CRC hooks, commit tail.
//
// Flip events (vc4_crtc_handle_page_flip / sun4i_tcon_finish_page_flip pattern): atomic_flush
// takes a vblank reference and parks the state's event in SocCrtc::event before setting GO; the
// FLIP_DONE interrupt — raised at the vblank where the hardware latched the shadow registers —
// sends it and drops the reference. So the event reports exactly the vblank at which the new
// planes went on screen (arming it for "the next vblank" instead could fire a frame early when
// GO is set just before a vblank but after the event was armed). When no flip can come — gate
// closed (unplugged), pipe off, vblank refused — the event is sent at once. atomic_disable sends
// a parked event too (the pipe is off: no FLIP_DONE any more), after crtc_vblank_off. Every
// event is therefore sent exactly once, unplugged or not (kernel-semantics §5.3).
#include <cstring>

#include "soc_drv.h"
#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/time.h"
#include "udrm/fakehw/display.h"
#include "udrm/fakehw/timing.h"
#include "udrm/kms/atomic_helper.h"
#include "udrm/kms/vblank.h"

namespace udrm::drivers::soc {

using namespace fakehw::dcregs;

namespace {

SocCrtc& to_soc(Crtc& c) { return static_cast<SocCrtc&>(c); }

fakehw::VideoTimings timings_of(const DisplayMode& m) {
  fakehw::VideoTimings t;
  t.clock_khz = static_cast<uint32_t>(m.clock);
  t.hdisplay = m.hdisplay;
  t.htotal = m.htotal;
  t.vdisplay = m.vdisplay;
  t.vtotal = m.vtotal;
  return t;
}

// Take the event out of a state (under event_lock: the IRQ side reads SocCrtc::event there).
PendingVblankEvent* take_state_event(DrmDevice& dev, CrtcState* s) {
  if (!s) return nullptr;
  std::lock_guard<SpinLock> l(dev.event_lock);
  PendingVblankEvent* e = s->event;
  s->event = nullptr;
  return e;
}

// ---- CrtcFuncs ----

int soc_enable_vblank(Crtc& crtc) {
  SocCrtc& c = to_soc(crtc);
  if (auto g = c.dev->dev_enter()) {
    c.hw->update_int_enable(int_vblank(c.pipe), 0);
    return 0;
  }
  return -ENODEV;
}

void soc_disable_vblank(Crtc& crtc) {
  SocCrtc& c = to_soc(crtc);
  if (auto g = c.dev->dev_enter()) c.hw->update_int_enable(0, int_vblank(c.pipe));
}

// CRC capture ("auto"/"none"): CTRL.CRC_EN plus a vblank reference so the VBLANK interrupt
// (where PIPE_CRC is read) stays on while a capture is open (vkms_set_crc_source's shape).
int soc_set_crc_source(Crtc& crtc, const char* source) {
  SocCrtc& c = to_soc(crtc);
  bool on;
  if (source && std::strcmp(source, "auto") == 0) {
    on = true;
  } else if (!source || !*source || std::strcmp(source, "none") == 0) {
    on = false;
  } else {
    return -EINVAL;
  }
  if (on == c.crc_on.load()) return 0;
  if (on) {
    if (int ret = crtc_vblank_get(crtc)) return ret;
  }
  c.crc_on.store(on);
  if (auto g = c.dev->dev_enter()) {
    if (c.hw->pipe_on[c.pipe].load()) {
      std::lock_guard<Mutex> l(c.hw->ctrl_mu[c.pipe]);
      const uint32_t off = pipe_base(c.pipe) + PIPE_CTRL;
      uint32_t ctrl = c.hw->regs->readl(off);  // keeps a pending GO
      ctrl = on ? (ctrl | CTRL_CRC_EN) : (ctrl & ~CTRL_CRC_EN);
      c.hw->regs->writel(ctrl, off);
    }
  }
  if (!on) crtc_vblank_put(crtc);
  return 0;
}

const CrtcFuncs kCrtcFuncs = [] {
  CrtcFuncs f;
  f.enable_vblank = soc_enable_vblank;
  f.disable_vblank = soc_disable_vblank;
  f.set_crc_source = soc_set_crc_source;
  return f;
}();

// ---- CrtcHelperFuncs ----

int soc_crtc_mode_valid(Crtc&, const DisplayMode& mode) {
  // What the timing generator accepts (complete timings, at most 1000 Hz).
  return fakehw::validate_timings(timings_of(mode)) ? -EINVAL : 0;
}

void soc_crtc_atomic_enable(Crtc& crtc, AtomicState& state) {
  SocCrtc& c = to_soc(crtc);
  CrtcState* cs = atomic_get_new_crtc_state(state, crtc);
  if (!cs) cs = crtc.state;
  const DisplayMode mode = cs->mode;
  auto g = c.dev->dev_enter();
  if (!g) return;  // unplugged: the hardware is not ours any more
  UDRM_POINT("soc.crtc_enable");
  DcHw& hw = *c.hw;
  const unsigned p = c.pipe;
  fakehw::Clock& clk = *hw.pix_clk[p];
  clk.set_rate(static_cast<uint64_t>(mode.clock) * 1000);
  if (!hw.clk_on[p]) {
    if (int ret = clk.prepare_enable()) {
      log_err(LogCat::driver, "udrm-soc: %s: pixel clock enable failed (%d)", crtc.name.c_str(), ret);
      c.enable_failed.store(true);
      return;
    }
    hw.clk_on[p] = true;
  }
  hw.regs->writel(pack(mode.hdisplay, mode.htotal), pipe_base(p) + PIPE_HTIMING);
  hw.regs->writel(pack(mode.vdisplay, mode.vtotal), pipe_base(p) + PIPE_VTIMING);
  hw.regs->writel(static_cast<uint32_t>(mode.clock), pipe_base(p) + PIPE_CLOCK);
  hw.regs->writel(int_flip_done(p) | int_underrun(p) | int_vblank(p), INT_STATUS);  // stale status
  hw.update_int_enable(int_flip_done(p) | int_underrun(p), 0);
  bool on;
  {
    std::lock_guard<Mutex> l(hw.ctrl_mu[p]);
    const uint32_t off = pipe_base(p) + PIPE_CTRL;
    hw.regs->writel(CTRL_ENABLE | (c.crc_on.load() ? CTRL_CRC_EN : 0), off);
    on = (hw.regs->readl(off) & CTRL_ENABLE) != 0;
  }
  hw.pipe_on[p].store(on);
  c.enable_failed.store(!on);
  if (!on) {
    log_err(LogCat::driver, "udrm-soc: %s: the controller refused the mode " "%dx%d", crtc.name.c_str(),
            mode.hdisplay, mode.vdisplay);
    return;
  }
  crtc_calc_timestamping_constants(crtc, mode);
  crtc_vblank_on(crtc);
}

// atomic_enable cannot fail (void hook): an enable that could not light the pipe leaves an
// active state on a dark pipe, and a later commit with the same mode needs no modeset, so the
// CRTC would stay dark for good. Any commit that allows a modeset retries the enable (the
// driver forces a full modeset of this CRTC, as drivers do when their hardware state does
// not match the software state).
int soc_crtc_atomic_check(Crtc& crtc, AtomicState& state) {
  SocCrtc& c = to_soc(crtc);
  CrtcState* cs = atomic_get_new_crtc_state(state, crtc);
  if (cs && cs->active && state.allow_modeset && c.enable_failed.load()) cs->mode_changed = true;
  return 0;
}

void soc_crtc_atomic_disable(Crtc& crtc, AtomicState& state) {
  SocCrtc& c = to_soc(crtc);
  UDRM_POINT("soc.crtc_disable");
  // Armed vblank events (WAIT_VBLANK, QUEUE_SEQUENCE) go out now with the last count.
  crtc_vblank_off(crtc);
  if (auto g = c.dev->dev_enter()) {
    DcHw& hw = *c.hw;
    const unsigned p = c.pipe;
    hw.update_int_enable(0, int_vblank(p) | int_flip_done(p) | int_underrun(p));
    {
      std::lock_guard<Mutex> l(hw.ctrl_mu[p]);
      const uint32_t off = pipe_base(p) + PIPE_CTRL;
      hw.regs->writel(0, off);  // pipe off: timing generator stops, pending GO dropped
      // Latch "no plane" now (GO on a stopped pipe latches at once), so the next enable
      // never scans out the buffers of this configuration.
      for (unsigned k = 0; k < kPlanesPerPipe; ++k) hw.regs->writel(0, plane_base(p, k) + PLANE_CTRL);
      hw.regs->writel(CTRL_GO, off);
    }
    hw.pipe_on[p].store(false);
    hw.regs->writel(int_vblank(p) | int_flip_done(p) | int_underrun(p), INT_STATUS);
    if (hw.clk_on[p]) {
      hw.pix_clk[p]->disable_unprepare();
      hw.clk_on[p] = false;
    }
  }
  // No FLIP_DONE will come for a flip still parked: send it now.
  soc_crtc_finish_page_flip(c);
  CrtcState* ns = atomic_get_new_crtc_state(state, crtc);
  if (ns && !ns->active) {
    if (PendingVblankEvent* e = take_state_event(*c.dev, ns)) crtc_send_vblank_event(crtc, e);
  }
}

void soc_crtc_atomic_flush(Crtc& crtc, AtomicState& state) {
  SocCrtc& c = to_soc(crtc);
  CrtcState* ns = atomic_get_new_crtc_state(state, crtc);
  PendingVblankEvent* e = take_state_event(*c.dev, ns);
  if (auto g = c.dev->dev_enter()) {
    UDRM_POINT("soc.atomic_flush");
    DcHw& hw = *c.hw;
    const unsigned p = c.pipe;
    if (ns && ns->active && hw.pipe_on[p].load()) {
      if (e && crtc_vblank_get(crtc) == 0) {
        PendingVblankEvent* stale;
        {
          std::lock_guard<SpinLock> l(c.dev->event_lock);
          stale = c.event;
          c.event = e;
        }
        e = nullptr;
        if (stale) {
          // The previous flip never completed (stuck GO, waited out by the helpers): send it
          // late rather than never.
          log_err(LogCat::driver, "udrm-soc: %s: previous flip never completed", crtc.name.c_str());
          crtc_send_vblank_event(crtc, stale);
          crtc_vblank_put(crtc);
        }
      }
      std::lock_guard<Mutex> l(hw.ctrl_mu[p]);
      const uint32_t off = pipe_base(p) + PIPE_CTRL;
      hw.regs->writel(hw.regs->readl(off) | CTRL_GO, off);
    }
  }
  // Unplugged, pipe off or vblank refused: nothing will flip, complete the event now (vc4).
  if (e) crtc_send_vblank_event(crtc, e);
}

const CrtcHelperFuncs kCrtcHelperFuncs = [] {
  CrtcHelperFuncs f;
  f.mode_valid = soc_crtc_mode_valid;
  f.atomic_check = soc_crtc_atomic_check;
  f.atomic_flush = soc_crtc_atomic_flush;
  f.atomic_enable = soc_crtc_atomic_enable;
  f.atomic_disable = soc_crtc_atomic_disable;
  return f;
}();

}  // namespace

void soc_crtc_finish_page_flip(SocCrtc& c) {
  PendingVblankEvent* e;
  {
    std::lock_guard<SpinLock> l(c.dev->event_lock);
    e = c.event;
    c.event = nullptr;
  }
  if (!e) return;
  crtc_send_vblank_event(c, e);
  crtc_vblank_put(c);
}

int soc_crtc_create(SocDrm& drm, DcHw& hw, unsigned pipe) {
  SocPlane* planes[kPlanesPerPipe] = {};
  for (unsigned k = 0; k < kPlanesPerPipe; ++k) {
    if (int ret = soc_plane_create(drm, pipe, k, &planes[k])) return ret;
    drm.planes[pipe][k] = planes[k];
  }
  auto* c = drmm_new<SocCrtc>(drm, "soc_crtc");
  if (!c) return -ENOMEM;
  c->pipe = pipe;
  c->sdrm = &drm;
  c->hw = &hw;
  if (int ret = drmm_crtc_init_with_planes(drm, *c, planes[0], planes[2], &kCrtcFuncs)) return ret;
  crtc_helper_add(*c, &kCrtcHelperFuncs);
  drm.crtc[pipe] = c;
  hw.crtc[pipe] = c;
  return 0;
}

namespace {

// Legacy cursor updates are unsynced in the helpers (flip_done completed at setup, no vblank
// wait: drm_atomic_helper_wait_for_vblanks skips them too), yet cleanup_fb unmaps the old plane
// state's buffer from the dc's DMA space. prepare_fb maps the buffer anew for every state, so
// any such update — a plain move of the same cursor buffer included — replaces the mapping the
// pipe scans, and the pipe keeps scanning the old one until the vblank that latches the new
// registers. Like drivers that unpin the old cursor bo only once the hardware let go of it
// (i915's cursor unpin after vblank), wait for that latch: GO read back clear (the hardware
// clears it at the latching vblank, before the interrupt; at once on a stopped pipe). A vblank
// count change alone proves nothing: the count may move for a vblank that came before GO.

// GO still set on the pipe: the shadow registers are not latched yet. Unplugged: false (no
// register access; soc_release_dma defers the unmap until the teardown switched the pipes off).
bool soc_go_pending(SocCrtc& c) {
  auto g = c.dev->dev_enter();
  if (!g) return false;
  return (c.hw->regs->readl(pipe_base(c.pipe) + PIPE_CTRL) & CTRL_GO) != 0;
}

// Sleep until the pipe latched what the commit wrote, at most `timeout`; false if it did not.
bool soc_wait_latch(SocCrtc& c, Duration timeout) {
  if (!soc_go_pending(c)) return true;
  if (crtc_vblank_get(c) != 0) return !soc_go_pending(c);  // vblank off: the pipe went off
  const TimePoint end = now() + timeout;
  bool latched = false;
  for (;;) {
    const uint64_t last = crtc_vblank_count(c);
    // Sampled before this read: the vblank latching GO later moves the count past `last`.
    if (!soc_go_pending(c)) {
      latched = true;
      break;
    }
    const TimePoint t = now();
    if (t >= end) break;
    crtc_wait_vblank_count_change(c, last, end - t);
  }
  crtc_vblank_put(c);
  return latched;
}

void soc_wait_cursor_latch(AtomicState& old_state) {
  SocDrm& drm = static_cast<SocDrm&>(old_state.dev());
  bool pipes[kPipes] = {};
  for (auto& e : old_state.planes) {
    if (!e.ptr || !e.old_state || !static_cast<SocPlaneState*>(e.old_state)->dma_addr) continue;
    pipes[static_cast<SocPlane&>(*e.ptr).pipe] = true;
  }
  for (unsigned p = 0; p < kPipes; ++p) {
    SocCrtc* c = drm.crtc[p];
    if (!pipes[p] || !c || soc_wait_latch(*c, std::chrono::milliseconds(100))) continue;
    // Stuck GO: the old buffers stay on screen; keep them mapped, as for a flip that timed out.
    log_err(LogCat::driver, "udrm-soc: %s: cursor update never latched, keeping its old buffers mapped",
            c->name.c_str());
    for (auto& e : old_state.planes)
      if (e.ptr && e.old_state && static_cast<SocPlane&>(*e.ptr).pipe == p)
        static_cast<SocPlaneState*>(e.old_state)->still_latched = true;
  }
}

// After wait_for_flip_done. A flip whose flip_done timed out (stuck GO: FLIP_DONE never came)
// did not latch, so the hardware still scans the buffers it was to replace: cleanup_fb must
// keep them mapped (the helpers release the old state regardless, which on real silicon would
// be a scanout of freed memory). A completed flip (latched, or the pipe switched off) means
// the buffers earlier timeouts kept are off screen now: release them.
void soc_track_latched_buffers(AtomicState& old_state) {
  // A legacy cursor update completes flip_done at setup: it proves nothing about latching.
  if (old_state.legacy_cursor_update) return;
  for (auto& e : old_state.crtcs) {
    if (!e.ptr || !e.commit) continue;
    auto& c = static_cast<SocCrtc&>(*e.ptr);
    if (e.commit->flip_done.done()) {
      std::vector<fakehw::dma_addr_t> todo;
      {
        std::lock_guard<SpinLock> l(c.sdrm->unmap_lock);
        todo.swap(c.latched_unmaps);
      }
      for (fakehw::dma_addr_t a : todo) soc_release_dma(*c.sdrm, a);
      continue;
    }
    log_err(LogCat::driver, "udrm-soc: %s: flip never latched, keeping its old buffers mapped", c.name.c_str());
    for (auto& p : old_state.planes)
      if (p.old_state && p.old_state->crtc == e.ptr) static_cast<SocPlaneState*>(p.old_state)->still_latched = true;
  }
}

}  // namespace

void soc_commit_tail(AtomicState& old_state) {
  DrmDevice& dev = old_state.dev();
  UDRM_POINT("soc.commit_tail");
  soc_pmu_commit(static_cast<SocDrm&>(dev));
  atomic_helper_commit_modeset_disables(dev, old_state);
  // Enables before planes: the shadow registers and GO are written to a running pipe, which
  // latches them at its first vblank, before it scans out anything.
  atomic_helper_commit_modeset_enables(dev, old_state);
  atomic_helper_commit_planes(dev, old_state, kCommitPlaneActiveOnly);
  // A CRTC the commit left without a flush (inactive before and after) must not keep an event.
  for (auto& e : old_state.crtcs) {
    if (!e.ptr || !e.new_state) continue;
    if (PendingVblankEvent* ev = take_state_event(dev, e.new_state)) crtc_send_vblank_event(*e.ptr, ev);
  }
  atomic_helper_fake_vblank(old_state);
  atomic_helper_commit_hw_done(old_state);
  atomic_helper_wait_for_flip_done(dev, old_state);
  if (old_state.legacy_cursor_update) soc_wait_cursor_latch(old_state);
  soc_track_latched_buffers(old_state);
  atomic_helper_cleanup_planes(dev, old_state);
}

}  // namespace udrm::drivers::soc
