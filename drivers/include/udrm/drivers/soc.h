// udrm/drivers/soc.h — `udrm-soc`, a multi-component SoC display.
//
// A display controller (2 CRTCs, planes, MMIO, IRQ, clock), an HDMI bridge (encoder +
// connector, hot-plug IRQ, EDID over fake DDC, regulator) and a DSI panel (regulator, reset
// GPIO, backlight), each a device with its own driver, assembled by the component framework
// in any probe order; unbinding any of them tears the display down while open files keep the
// DRM device alive.
//
// Lifetime: see display.h. Context: process context.
#pragma once
#include <memory>

#include "udrm/drivers/display.h"

namespace udrm::drivers {

std::unique_ptr<Display> create_soc_display(World& world, const DisplayOptions& opts);

}  // namespace udrm::drivers
