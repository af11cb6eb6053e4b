// Shared uAPI fixture helpers (uapi_fixture.h).
#include "uapi_fixture.h"

#include <poll.h>

#include "udrm/fakehw/compose.h"
#include "udrm/kms/crc.h"
#include "udrm/kms/crtc.h"
#include "udrm/kms/vblank.h"

namespace udrm::uapi {

bool wait_readable(KmsClient& c, int max_ms) {
  for (int i = 0; i <= max_ms; ++i) {
    pollfd p{c.file().poll_fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) return true;
    sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

::testing::AssertionResult read_one_event(KmsClient& c, drm_event_vblank* ev) {
  alignas(8) char buf[sizeof(drm_event_vblank)];
  long n = c.file().read(buf, sizeof(buf), false);
  if (n != static_cast<long>(sizeof(buf))) return ::testing::AssertionFailure() << "read returned " << n;
  std::memcpy(ev, buf, sizeof(*ev));
  if (ev->base.length != sizeof(drm_event_vblank))
    return ::testing::AssertionFailure() << "event length " << ev->base.length;
  return ::testing::AssertionSuccess();
}

uint32_t expected_crc(uint32_t frame_w, uint32_t frame_h, const std::vector<PlaneImage>& planes) {
  std::vector<fakehw::PlaneDesc> descs;
  int z = 0;
  for (const PlaneImage& pi : planes) {
    fakehw::PlaneDesc p;
    p.fourcc = pi.fourcc;
    p.pixels = pi.d->map;
    p.pitch = pi.d->pitch;
    p.src = fakehw::Rect{0, 0, pi.w, pi.h};
    p.dst = fakehw::Rect{pi.x, pi.y, pi.w, pi.h};
    p.zpos = z++;
    descs.push_back(p);
  }
  fakehw::Composer comp;
  comp.compose(frame_w, frame_h, std::span<const fakehw::PlaneDesc>(descs.data(), descs.size()));
  return comp.crc();
}

::testing::AssertionResult crc_shows(DrmDevice& dev, uint32_t crtc_id, uint32_t want) {
  Crtc* crtc = crtc_find(dev, crtc_id);
  if (!crtc) return ::testing::AssertionFailure() << "crtc lookup";
  uint64_t from = crtc_vblank_count(*crtc) + 2;
  uint32_t last = 0;
  for (int i = 0; i < 8; ++i) {
    auto e = crtc_crc_wait(*crtc, from + static_cast<uint64_t>(i), 1000);
    if (!e) return ::testing::AssertionFailure() << "no CRC entry for frame >= " << from;
    last = e->crc;
    if (e->crc == want) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "CRC " << std::hex << last << " never matched " << want;
}

}  // namespace udrm::uapi
