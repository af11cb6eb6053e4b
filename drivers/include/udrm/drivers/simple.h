// udrm/drivers/simple.h — `udrm-simple`, a vkms-like single-device display driver.
//
// One CRTC with primary, overlay and cursor planes, one encoder, one virtual connector with an
// EDID and several modes; vblank from the fake timing generator; composition and CRC on an
// ordered worker (vkms' composer), the vkms commit_tail shape.
//
// Lifetime: see display.h. Context: process context.
#pragma once
#include <memory>

#include "udrm/drivers/display.h"

namespace udrm::drivers {

std::unique_ptr<Display> create_simple_display(World& world, const DisplayOptions& opts);

}  // namespace udrm::drivers
