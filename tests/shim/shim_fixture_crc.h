// The scanout CRC check of the shim tests (scanout_crc.cpp, on the uAPI suite's helpers; kept
// apart because uapi_fixture.h and xf86drmMode.h cannot share a translation unit).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>

#include "udrm/drm/drm_device.h"
#include "udrm/testing/kms_client.h"

namespace udrm::shimtest {

/// A CRC entry of the CRTC equals the CRC of `d` composed full screen (XRGB8888). The capture
/// must be open (crtc_crc_open).
::testing::AssertionResult crc_shows_fullscreen(DrmDevice& dev, uint32_t crtc_id, const testing::KmsClient::Dumb& d);

}  // namespace udrm::shimtest
