// udrm-simple output (vkms_output.c / vkms_connector.c): one virtual encoder and the
// "Virtual-1" connector whose modes come from the EDID of a fake monitor.
#include "simple_drv.h"
#include "udrm/fakehw/edid_builder.h"
#include "udrm/kms/edid.h"

namespace udrm::drivers::simple {
namespace {

/// VESA DMT 800x600@60 (40 MHz).
fakehw::EdidTiming timing_800x600_60() {
  fakehw::EdidTiming t;
  t.clock_khz = 40000;
  t.hdisplay = 800;
  t.hsync_start = 840;
  t.hsync_end = 968;
  t.htotal = 1056;
  t.vdisplay = 600;
  t.vsync_start = 601;
  t.vsync_end = 605;
  t.vtotal = 628;
  return t;
}

int connector_get_modes(Connector& c) {
  SimpleDevice& s = *static_cast<SimpleConnector&>(c).sdev;
  return connector_add_edid_modes(c, s.edid.data(), s.edid.size());
}

const ConnectorHelperFuncs kConnectorHelperFuncs = [] {
  ConnectorHelperFuncs f;
  f.get_modes = connector_get_modes;
  return f;
}();

// Defaults everywhere: helper state hooks, no detect (a virtual sink is always connected).
const ConnectorFuncs kConnectorFuncs{};

}  // namespace

int simple_output_init(SimpleDevice& s) {
  s.edid = fakehw::EdidBuilder()
               .manufacturer("UDR")
               .product(0x5349, 1)
               .physical_size_mm(340, 270)
               .monitor_name("udrm-simple")
               .preferred(fakehw::edid_timing_1024x768_60())
               .add_timing(fakehw::edid_timing_1920x1080_60())
               .add_timing(timing_800x600_60())
               .build();

  int ret = drmm_encoder_init(s, s.encoder, DRM_MODE_ENCODER_VIRTUAL, nullptr);
  if (ret) return ret;
  s.encoder.possible_crtcs = s.crtc.mask();

  s.connector.sdev = &s;
  ret = drmm_connector_init(s, s.connector, &kConnectorFuncs, DRM_MODE_CONNECTOR_VIRTUAL);
  if (ret) return ret;
  connector_helper_add(s.connector, &kConnectorHelperFuncs);
  return connector_attach_encoder(s.connector, s.encoder);
}

}  // namespace udrm::drivers::simple
