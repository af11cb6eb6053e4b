// The scanout CRC check on the uAPI suite's helpers (kept out of the files that include
// xf86drmMode.h, whose DRM_MODE_CONNECTED & co. clash with uapi_fixture.h's constants).
#include <drm_fourcc.h>

#include "../uapi/uapi_fixture.h"
#include "shim_fixture_crc.h"

namespace udrm::shimtest {

::testing::AssertionResult crc_shows_fullscreen(DrmDevice& dev, uint32_t crtc_id, const testing::KmsClient::Dumb& d) {
  uint32_t want = uapi::expected_crc(d.width, d.height, {uapi::PlaneImage{&d, DRM_FORMAT_XRGB8888, 0, 0, d.width, d.height}});
  return uapi::crc_shows(dev, crtc_id, want);
}

}  // namespace udrm::shimtest
