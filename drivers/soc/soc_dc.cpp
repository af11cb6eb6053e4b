// drivers/soc/soc_dc.cpp — the display-controller component: probe (DSI host), bind (MMIO,
// bus clock, reset, CRTCs and planes, IRQ), unbind, and the interrupt handler.
//
// The handler runs in atomic context and is deliberately not inside drm_dev_enter (vc4's HVS
// handler is not either): the IRQ is requested in bind and freed (devm, component group) at
// this component's unbind, which runs after the master's shutdown; the MMIO mapping it reads
// and the drmm CRTCs it signals both outlive it. Keeping it alive after unplug is what lets the
// flip-done events of commits already in flight reach userspace while shutdown waits for them.
#include <chrono>

#include "soc_drv.h"
#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/time.h"
#include "udrm/fakehw/display.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/vblank.h"

namespace udrm::drivers::soc {

using namespace fakehw::dcregs;

void DcHw::update_int_enable(uint32_t set, uint32_t clear) {
  uint32_t v = int_enable.load();
  while (!int_enable.compare_exchange_weak(v, (v | set) & ~clear)) {
  }
  // Write, then re-check: whoever changes the copy writes after changing it, so the last
  // writer leaves the register equal to the copy (no lock held across the MMIO access).
  for (;;) {
    v = int_enable.load();
    regs->writel(v, INT_ENABLE);
    if (int_enable.load() == v) break;
  }
}

fakehw::IrqReturn soc_dc_irq(DcHw& hw) {
  UDRM_POINT("soc.irq");
  const uint32_t status = hw.regs->readl(INT_STATUS);
  const uint32_t mine = status & hw.int_enable.load();
  if (!mine) return fakehw::IrqReturn::none;
  hw.regs->writel(mine, INT_STATUS);
  for (unsigned p = 0; p < kPipes; ++p) {
    SocCrtc* crtc = hw.crtc[p];
    if (!crtc) continue;
    if (mine & int_vblank(p)) {
      soc_pmu_count(hw, kPmuVblank);
      crtc_handle_vblank(*crtc);
      if (crtc->crc_on.load()) {
        // The CRC of the frame whose scanout starts at this vblank.
        const uint32_t crc = hw.regs->readl(pipe_base(p) + PIPE_CRC);
        crtc_add_crc_entry(*crtc, crtc_vblank_count(*crtc), crc);
      }
    }
    if (mine & int_flip_done(p)) {
      UDRM_POINT("soc.irq.flip_done");
      soc_pmu_count(hw, kPmuFlipDone);
      soc_crtc_finish_page_flip(*crtc);
    }
    if (mine & int_underrun(p)) {
      hw.underruns.fetch_add(1);
      soc_pmu_count(hw, kPmuUnderrun);
    }
  }
  return fakehw::IrqReturn::handled;
}

int SocDcDriver::probe(Device& dev, const Bound&) {
  if (!plat_.dc) return -ENODEV;
  // mipi_dsi_host_register: from now on the panel can attach to its host.
  plat_.dsi_host.store(true);
  int ret = devm_add_action_or_reset(dev, [p = &plat_] { p->dsi_host.store(false); }, "soc_dsi_host_unregister");
  if (ret) {
    plat_.last_err.store(ret);  // Display::bind reports it (not the panel's resulting defer)
    return ret;
  }
  ret = component_add(dev, *this);
  if (ret && ret != -EPROBE_DEFER) plat_.last_err.store(ret);
  return ret;
}

void SocDcDriver::remove(Device& dev, const Bound&) { component_del(dev, *this); }

int SocDcDriver::bind(Device& comp, Device&, void* data) {
  UDRM_POINT("soc.dc_bind");
  auto* drm = static_cast<SocDrm*>(data);
  fakehw::DisplayController& dc = *plat_.dc;
  // Everything below is devm on the dc device inside its component group: released at unbind.
  auto* hw = devm_new<DcHw>(comp, "soc_dc_hw");
  if (!hw) return -ENOMEM;
  hw->dc = &dc;
  hw->drm = drm;
  hw->regs = fakehw::devm_ioremap(comp, dc.regs());
  if (!hw->regs) return -ENOMEM;
  if (hw->regs->readl(ID) != kId || hw->regs->readl(NUM_PIPES) < kPipes) {
    log_err(LogCat::driver, "udrm-soc-dc: unexpected controller id/pipes");
    return -ENODEV;
  }
  if (int ret = fakehw::devm_clk_get_enabled(comp, *plat_.dc_bus_clk)) return ret;
  for (unsigned p = 0; p < kPipes; ++p) hw->pix_clk[p] = plat_.pix_clk[p];

  // Reset the controller: every pipe off, registers to reset values, BUSY while it runs.
  hw->regs->writel(RESET_GO, RESET);
  // 100 ms: on real threads a starved machine can run the fake hardware's timer late (the
  // soak saw a 10 ms deadline missed once while a sanitizer build was compiling).
  const TimePoint deadline = now() + std::chrono::milliseconds(100);
  while (hw->regs->readl(STATUS) & STATUS_BUSY) {
    if (now() >= deadline) {
      log_err(LogCat::driver, "udrm-soc-dc: reset timed out (STATUS.BUSY stuck)");
      return -ETIMEDOUT;
    }
    sleep_for(std::chrono::microseconds(5));
  }
  hw->int_enable.store(0);
  hw->regs->writel(0, INT_ENABLE);
  hw->regs->writel(0xffffffffu, INT_STATUS);

  for (unsigned p = 0; p < kPipes; ++p)
    if (int ret = soc_crtc_create(*drm, *hw, p)) return ret;
  if (int ret = soc_pmu_register(plat_.world, comp, *hw)) return ret;  // before the IRQ: freed after it

  int ret = fakehw::devm_request_irq(comp, dc.irq(), [hw] { return soc_dc_irq(*hw); }, "udrm-soc-dc");
  if (ret) return ret;
  comp.set_drvdata(hw);
  return 0;
}

void SocDcDriver::unbind(Device& comp, Device&, void*) {
  UDRM_POINT("soc.dc_unbind");
  auto* hw = comp.drvdata<DcHw>();
  if (UDRM_WARN_ON(!hw, LogCat::driver)) return;
  SocDrm* drm = hw->drm;
  // The master's shutdown switched the pipes off. This path runs inside the binding (the
  // hardware is ours until the devres group goes), so make sure without the gate.
  for (unsigned p = 0; p < kPipes; ++p) {
    if (hw->regs->readl(pipe_base(p) + PIPE_CTRL) & CTRL_ENABLE) {
      log_err(LogCat::driver, "udrm-soc-dc: pipe %u still on at unbind, switching it off", p);
      hw->regs->writel(0, pipe_base(p) + PIPE_CTRL);
    }
    hw->pipe_on[p].store(false);
    if (hw->clk_on[p]) {
      hw->pix_clk[p]->disable_unprepare();
      hw->clk_on[p] = false;
    }
  }
  hw->int_enable.store(0);
  hw->regs->writel(0, INT_ENABLE);
  hw->regs->writel(0xffffffffu, INT_STATUS);
  // Buffers whose cleanup ran while the gate was closed and the pipes possibly still scanning
  // them: the pipes are off now, so their DMA mappings can go.
  std::vector<fakehw::dma_addr_t> todo;
  {
    std::lock_guard<SpinLock> l(drm->unmap_lock);
    drm->hw_quiesced = true;
    todo.swap(drm->deferred_unmaps);
    for (SocCrtc* crtc : drm->crtc) {  // kept by flips that never latched (soc_commit_tail)
      if (!crtc) continue;
      todo.insert(todo.end(), crtc->latched_unmaps.begin(), crtc->latched_unmaps.end());
      crtc->latched_unmaps.clear();
    }
  }
  for (fakehw::dma_addr_t a : todo) drm->dma->unmap(a, "udrm-soc: cleanup_fb deferred to dc unbind");
  comp.set_drvdata(nullptr);
  // devm (component group, LIFO): IRQ freed (waits for a running handler), bus clock off,
  // MMIO unmapped, DcHw freed.
}

}  // namespace udrm::drivers::soc
