// drivers/soc/soc_hdmi.cpp — the HDMI bridge component: TMDS encoder + "HDMI-A-1" connector,
// hot-plug detect, EDID over DDC, 5V supply.
//
// Hot plug: the HPD interrupt (atomic context) acks HPD_INT_STATUS and queues hpd_work; the work
// (process context) runs helper_hpd_irq_event, which re-detects the connectors and sends the
// hotplug event when a status changed. The IRQ is requested in bind and freed at unbind before
// the work is cancelled, so nothing can queue it again and the work never outlives the binding
// (nor the DRM reference the aggregate holds). Like the dc handler, the HPD handler is not gated:
// its lifetime is inside the binding. detect/get_modes/enable/disable are gated: they run from
// ioctls and commits and may come after unplug (then: disconnected, no modes, no HW access).
#include <vector>

#include "soc_drv.h"
#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/fakehw/hpd.h"
#include "udrm/kms/edid.h"
#include "udrm/kms/mode_config.h"

namespace udrm::drivers::soc {

using namespace fakehw::hpdregs;

namespace {

void soc_hdmi_hpd_work(HdmiHw& hw) {
  UDRM_POINT("soc.hdmi.hpd_work");
  helper_hpd_irq_event(*hw.drm);
}

fakehw::IrqReturn soc_hdmi_irq(HdmiHw& hw) {
  UDRM_POINT("soc.hdmi.irq");
  const uint32_t status = hw.regs->readl(HPD_INT_STATUS);
  if (!status) return fakehw::IrqReturn::none;
  hw.regs->writel(status, HPD_INT_STATUS);
  hw.plat.wq.queue(hw.hpd_work);
  return fakehw::IrqReturn::handled;
}

ConnectorStatus soc_hdmi_detect(Connector& c, bool) {
  auto& sc = static_cast<SocConnector&>(c);
  if (auto g = c.dev->dev_enter())
    return (sc.hdmi->regs->readl(HPD_STATUS) & STATUS_LEVEL) ? ConnectorStatus::connected
                                                              : ConnectorStatus::disconnected;
  return ConnectorStatus::disconnected;
}

// drm_do_get_edid over the bridge's DDC: block 0, then its extensions.
int soc_hdmi_get_modes(Connector& c) {
  auto& sc = static_cast<SocConnector&>(c);
  std::vector<uint8_t> edid;
  {
    auto g = c.dev->dev_enter();
    if (!g) return 0;
    fakehw::DdcBus& ddc = sc.hdmi->hpd->ddc();
    edid.resize(128);
    if (ddc.read_edid_block(0, edid.data()) != 0) {
      edid.clear();
    } else {
      const unsigned ext = edid[126] > 3 ? 3 : edid[126];
      for (unsigned b = 1; b <= ext; ++b) {
        edid.resize((b + 1) * 128);
        if (ddc.read_edid_block(b, edid.data() + b * 128) != 0) {
          edid.resize(b * 128);
          break;
        }
      }
    }
  }
  if (edid.empty()) {
    connector_update_edid_property(c, nullptr, 0);
    return 0;
  }
  return connector_add_edid_modes(c, edid.data(), edid.size());
}

const ConnectorFuncs kHdmiConnectorFuncs = [] {
  ConnectorFuncs f;
  f.detect = soc_hdmi_detect;
  return f;
}();

const ConnectorHelperFuncs kHdmiConnectorHelperFuncs = [] {
  ConnectorHelperFuncs f;
  f.get_modes = soc_hdmi_get_modes;
  return f;
}();

void soc_hdmi_enable(Encoder& e, AtomicState&) {
  auto& se = static_cast<SocEncoder&>(e);
  if (auto g = e.dev->dev_enter()) {
    UDRM_POINT("soc.hdmi.enable");
    se.hdmi->regs->writel(CTRL_TMDS_EN, HDMI_CTRL);
  }
}

void soc_hdmi_disable(Encoder& e, AtomicState&) {
  auto& se = static_cast<SocEncoder&>(e);
  if (auto g = e.dev->dev_enter()) {
    UDRM_POINT("soc.hdmi.disable");
    se.hdmi->regs->writel(0, HDMI_CTRL);
  }
}

const EncoderHelperFuncs kHdmiEncoderHelperFuncs = [] {
  EncoderHelperFuncs f;
  f.atomic_enable = soc_hdmi_enable;
  f.atomic_disable = soc_hdmi_disable;
  return f;
}();

}  // namespace

HdmiHw::HdmiHw(SocPlatform& p) : plat(p), hpd_work("soc_hdmi_hpd_work", [this] { soc_hdmi_hpd_work(*this); }) {}

int SocHdmiDriver::probe(Device& dev, const Bound&) {
  if (!plat_.hpd || !plat_.hdmi_5v) return -ENODEV;
  int ret = component_add(dev, *this);
  if (ret && ret != -EPROBE_DEFER) plat_.last_err.store(ret);
  return ret;
}

void SocHdmiDriver::remove(Device& dev, const Bound&) { component_del(dev, *this); }

int SocHdmiDriver::bind(Device& comp, Device&, void* data) {
  UDRM_POINT("soc.hdmi_bind");
  auto* drm = static_cast<SocDrm*>(data);
  auto* hw = devm_new<HdmiHw>(comp, "soc_hdmi_hw", plat_);
  if (!hw) return -ENOMEM;
  hw->hpd = plat_.hpd;
  hw->drm = drm;
  hw->regs = fakehw::devm_ioremap(comp, plat_.hpd->regs());
  if (!hw->regs) return -ENOMEM;
  // The 5V supply of the HDMI port (the sink's DDC EEPROM runs from it).
  if (int ret = fakehw::devm_regulator_get_enable(comp, *plat_.hdmi_5v)) {
    log_err(LogCat::driver, "udrm-soc-hdmi: 5V supply enable failed (%d)", ret);
    return ret;
  }
  hw->regs->writel(0, HDMI_CTRL);
  hw->regs->writel(0, HPD_INT_ENABLE);
  hw->regs->writel(INT_PLUG | INT_UNPLUG, HPD_INT_STATUS);

  auto* enc = drmm_new<SocEncoder>(*drm, "soc_hdmi_encoder");
  if (!enc) return -ENOMEM;
  if (int ret = drmm_encoder_init(*drm, *enc, DRM_MODE_ENCODER_TMDS)) return ret;
  enc->hdmi = hw;
  enc->possible_crtcs = (1u << kPipes) - 1;  // either pipe
  encoder_helper_add(*enc, &kHdmiEncoderHelperFuncs);

  auto* conn = drmm_new<SocConnector>(*drm, "soc_hdmi_connector");
  if (!conn) return -ENOMEM;
  if (int ret = drmm_connector_init(*drm, *conn, &kHdmiConnectorFuncs, DRM_MODE_CONNECTOR_HDMIA)) return ret;
  conn->hdmi = hw;
  connector_helper_add(*conn, &kHdmiConnectorHelperFuncs);
  if (int ret = connector_attach_encoder(*conn, *enc)) return ret;
  drm->hdmi_encoder = enc;
  drm->hdmi_connector = conn;

  if (int ret = fakehw::devm_request_irq(comp, plat_.hpd->irq(), [hw] { return soc_hdmi_irq(*hw); },
                                         "udrm-soc-hdmi-hpd"))
    return ret;
  hw->regs->writel(INT_PLUG | INT_UNPLUG, HPD_INT_ENABLE);
  comp.set_drvdata(hw);
  return 0;
}

void SocHdmiDriver::unbind(Device& comp, Device&, void*) {
  UDRM_POINT("soc.hdmi_unbind");
  auto* hw = comp.drvdata<HdmiHw>();
  if (UDRM_WARN_ON(!hw, LogCat::driver)) return;
  hw->regs->writel(0, HPD_INT_ENABLE);
  hw->regs->writel(0, HDMI_CTRL);  // shutdown did it; the binding makes sure
  // No handler can queue the work after this; then no work runs after the cancel.
  fakehw::devm_free_irq(comp, plat_.hpd->irq());
  plat_.wq.cancel_sync(hw->hpd_work);
  comp.set_drvdata(nullptr);
  // devm (component group): 5V off, MMIO unmapped, HdmiHw freed.
}

}  // namespace udrm::drivers::soc
