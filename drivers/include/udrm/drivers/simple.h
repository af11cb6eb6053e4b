// udrm/drivers/simple.h — `udrm-simple`, a vkms-like single-device display driver.
//
// One CRTC with primary, overlay and cursor planes, one encoder, one virtual connector with an
// EDID and several modes; vblank from the fake timing generator; composition and CRC on an
// ordered worker (vkms' composer), the vkms commit_tail shape.
//
// Lifetime: see display.h. Context: process context.
#pragma once
#include <cstdint>
#include <memory>

#include "udrm/base/time.h"
#include "udrm/drivers/display.h"

namespace udrm::drivers {

std::unique_ptr<Display> create_simple_display(World& world, const DisplayOptions& opts);

/// Diagnostics and test hooks of a udrm-simple DRM device (not something a kernel driver
/// exports). `drm` must be a device of driver "udrm-simple" (else: false / 0 / no-op).
/// Is the vblank timer of the fake hardware running? false once the device is unplugged.
bool simple_vblank_timer_running(DrmDevice& drm);
/// Vblanks the timer produced so far (0 once unplugged).
uint64_t simple_vblank_timer_frames(DrmDevice& drm);
/// Frames the composer worker composed so far.
uint64_t simple_frames_composed(DrmDevice& drm);
/// Make the composer worker stall `d` (executor clock) before sampling its frame range: the
/// worker lags behind vblank (kernel-semantics V5). Duration::zero() turns it off.
void simple_set_composer_delay(DrmDevice& drm, Duration d);

}  // namespace udrm::drivers
