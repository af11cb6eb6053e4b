// udrm-run/state.h — the KMS half of `udrmctl state`: the bound DRM device's connectors,
// CRTCs (with the scanout CRC read from the fake hardware next to the CRC computed in software
// from the framebuffer memory now on the CRTC's planes), planes and pending commits, one item
// per line as key=value.
//
// Lifetime: reads the display's current DRM device; the caller keeps unbind/bind out (the
// server's display mutex). Context: process context; sleeps up to ~1 s per active CRTC
// waiting for a captured frame.
#pragma once
#include <string>

#include "udrm/drivers/display.h"

namespace udrm::run {

std::string describe_kms(drivers::Display& d);

}  // namespace udrm::run
