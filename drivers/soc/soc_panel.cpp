// drivers/soc/soc_panel.cpp — the DSI panel component: DSI encoder + "DSI-1" connector with one
// fixed mode, supply regulator, reset GPIO, backlight.
//
// Probe defers until the dc has registered its DSI host (mipi_dsi_attach would fail before).
// Power sequence in the encoder's enable (drm_panel prepare + enable): supply on -> reset
// deasserted -> exit_sleep_mode -> sleep-out delay -> set_display_on -> backlight; the reverse
// in disable. Both are gated: after unplug only the master's teardown section reaches them
// (shutdown switches the panel off before the members unbind). The reset GPIO is requested in
// bind (held in reset) and released at unbind (devm).
#include "soc_drv.h"
#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/base/point.h"
#include "udrm/base/time.h"
#include "udrm/fakehw/panel.h"

namespace udrm::drivers::soc {

DisplayMode panel_mode() {
  DisplayMode m;
  m.clock = 33264;  // 1056 x 525 x 60 Hz
  m.hdisplay = 800;
  m.hsync_start = 840;
  m.hsync_end = 888;
  m.htotal = 1056;
  m.vdisplay = 480;
  m.vsync_start = 493;
  m.vsync_end = 496;
  m.vtotal = 525;
  m.type = DRM_MODE_TYPE_DRIVER | DRM_MODE_TYPE_PREFERRED;
  mode_set_name(&m);
  return m;
}

namespace {

int soc_panel_get_modes(Connector& c) {
  connector_add_mode(c, panel_mode());
  c.mm_width = 154;
  c.mm_height = 86;
  return 1;
}

const ConnectorFuncs kPanelConnectorFuncs{};  // no detect: always connected

const ConnectorHelperFuncs kPanelConnectorHelperFuncs = [] {
  ConnectorHelperFuncs f;
  f.get_modes = soc_panel_get_modes;
  return f;
}();

void panel_power_off(PanelHw& hw) {
  hw.backlight->disable();
  hw.backlight->set_brightness(0);
  hw.panel->dcs_write(fakehw::dcs::SET_DISPLAY_OFF);
  hw.panel->dcs_write(fakehw::dcs::ENTER_SLEEP_MODE);
  hw.reset->set_value(1);
  hw.supply->disable();
  hw.powered = false;
}

void soc_panel_enable(Encoder& e, AtomicState&) {
  auto& se = static_cast<SocEncoder&>(e);
  auto g = e.dev->dev_enter();
  if (!g) return;
  PanelHw& hw = *se.panel;
  if (hw.powered) return;
  UDRM_POINT("soc.panel_enable");
  // prepare
  if (int ret = hw.supply->enable()) {
    log_err(LogCat::driver, "udrm-soc-panel: supply enable failed (%d)", ret);
    return;
  }
  hw.reset->set_value(0);
  sleep_for(std::chrono::microseconds(100));  // reset recovery
  if (int ret = hw.panel->dcs_write(fakehw::dcs::EXIT_SLEEP_MODE)) {
    log_err(LogCat::driver, "udrm-soc-panel: exit_sleep_mode failed (%d)", ret);
    hw.reset->set_value(1);
    hw.supply->disable();
    return;
  }
  sleep_for(hw.sleep_out);
  // enable
  if (int ret = hw.panel->dcs_write(fakehw::dcs::SET_DISPLAY_ON))
    log_err(LogCat::driver, "udrm-soc-panel: set_display_on failed (%d)", ret);
  hw.backlight->set_brightness(hw.backlight->max_brightness());
  hw.backlight->enable();
  hw.powered = true;
}

void soc_panel_disable(Encoder& e, AtomicState&) {
  auto& se = static_cast<SocEncoder&>(e);
  auto g = e.dev->dev_enter();
  if (!g) return;
  PanelHw& hw = *se.panel;
  if (!hw.powered) return;
  UDRM_POINT("soc.panel_disable");
  panel_power_off(hw);
}

const EncoderHelperFuncs kPanelEncoderHelperFuncs = [] {
  EncoderHelperFuncs f;
  f.atomic_enable = soc_panel_enable;
  f.atomic_disable = soc_panel_disable;
  return f;
}();

}  // namespace

int SocPanelDriver::probe(Device& dev, const Bound&) {
  if (!plat_.panel || !plat_.panel_supply || !plat_.panel_reset || !plat_.backlight) return -ENODEV;
  // mipi_dsi_attach needs the host, which the dc's probe registers.
  if (!plat_.dsi_host.load()) return -EPROBE_DEFER;
  int ret = component_add(dev, *this);
  if (ret && ret != -EPROBE_DEFER) plat_.last_err.store(ret);
  return ret;
}

void SocPanelDriver::remove(Device& dev, const Bound&) { component_del(dev, *this); }

int SocPanelDriver::bind(Device& comp, Device&, void* data) {
  UDRM_POINT("soc.panel_bind");
  auto* drm = static_cast<SocDrm*>(data);
  auto* hw = devm_new<PanelHw>(comp, "soc_panel_hw");
  if (!hw) return -ENOMEM;
  hw->panel = plat_.panel;
  hw->supply = plat_.panel_supply;
  hw->backlight = plat_.backlight;
  hw->sleep_out = plat_.panel_sleep_out;
  hw->reset = fakehw::devm_gpiod_get(comp, *plat_.panel_reset, 1);  // held in reset
  if (!hw->reset) return -EBUSY;

  auto* enc = drmm_new<SocEncoder>(*drm, "soc_dsi_encoder");
  if (!enc) return -ENOMEM;
  if (int ret = drmm_encoder_init(*drm, *enc, DRM_MODE_ENCODER_DSI)) return ret;
  enc->panel = hw;
  enc->possible_crtcs = (1u << kPipes) - 1;  // either pipe
  encoder_helper_add(*enc, &kPanelEncoderHelperFuncs);

  auto* conn = drmm_new<SocConnector>(*drm, "soc_dsi_connector");
  if (!conn) return -ENOMEM;
  if (int ret = drmm_connector_init(*drm, *conn, &kPanelConnectorFuncs, DRM_MODE_CONNECTOR_DSI)) return ret;
  conn->panel = hw;
  conn->mm_width = 154;
  conn->mm_height = 86;
  connector_helper_add(*conn, &kPanelConnectorHelperFuncs);
  if (int ret = connector_attach_encoder(*conn, *enc)) return ret;
  drm->dsi_encoder = enc;
  drm->dsi_connector = conn;
  comp.set_drvdata(hw);
  return 0;
}

void SocPanelDriver::unbind(Device& comp, Device&, void*) {
  UDRM_POINT("soc.panel_unbind");
  auto* hw = comp.drvdata<PanelHw>();
  if (UDRM_WARN_ON(!hw, LogCat::driver)) return;
  if (hw->powered) {
    // Shutdown should have switched it off; the binding still owns the panel, do it here.
    log_err(LogCat::driver, "udrm-soc-panel: still on at unbind, powering off");
    panel_power_off(*hw);
  }
  comp.set_drvdata(nullptr);
  // devm (component group): reset GPIO released, PanelHw freed.
}

}  // namespace udrm::drivers::soc
