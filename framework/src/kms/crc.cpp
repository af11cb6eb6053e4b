// Pipe CRC capture (udrm/kms/crc.h).
#include "udrm/kms/crc.h"

#include <mutex>

#include "udrm/base/errno.h"
#include "udrm/base/log.h"
#include "udrm/drm/drm_device.h"
#include "udrm/kms/crtc.h"

namespace udrm {
namespace {
using Capture = Crtc::CrcCapture;
constexpr unsigned kN = Capture::kCrcEntries;

bool has_entry_from(Capture& c, uint64_t min_frame) {
  for (unsigned i = 0; i < c.count; ++i)
    if (c.entries[(c.head + i) % kN].frame >= min_frame) return true;
  return false;
}
}  // namespace

int crtc_crc_open(Crtc& crtc) {
  if (!crtc.dev) return -ENODEV;
  if (!crtc.funcs || !crtc.funcs->set_crc_source) return -EINVAL;
  Capture& c = crtc.crc;
  {
    std::lock_guard<SpinLock> l(c.lock);
    if (c.opened) return -EBUSY;
    c.opened = true;
    c.head = c.count = 0;
    c.overflows = 0;
  }
  int ret = -ENODEV;
  if (auto g = crtc.dev->dev_enter()) ret = crtc.funcs->set_crc_source(crtc, "auto");
  if (ret) {
    std::lock_guard<SpinLock> l(c.lock);
    c.opened = false;
  }
  return ret;
}

void crtc_crc_close(Crtc& crtc) {
  Capture& c = crtc.crc;
  {
    std::lock_guard<SpinLock> l(c.lock);
    if (!c.opened) return;
  }
  // The driver's hook gates its hardware itself: the composer reference must drop also after
  // unplug.
  if (crtc.funcs && crtc.funcs->set_crc_source) crtc.funcs->set_crc_source(crtc, "none");
  c.wq.wake_up_all([&] {
    std::lock_guard<SpinLock> l(c.lock);
    c.opened = false;
    c.head = c.count = 0;
  });
}

int crtc_add_crc_entry(Crtc& crtc, uint64_t frame, uint32_t crc) {
  Capture& c = crtc.crc;
  {
    std::lock_guard<SpinLock> l(c.lock);
    if (!c.opened) return -EINVAL;
    if (c.count == kN) {  // reader too slow: the oldest entry goes
      c.head = (c.head + 1) % kN;
      --c.count;
      if (c.overflows++ == 0)
        log_dbg(LogCat::kms, "[CRTC:%u:%s] CRC buffer overflow, userspace reads too slow", crtc.id, crtc.name.c_str());
    }
    c.entries[(c.head + c.count) % kN] = CrcEntry{frame, crc};
    ++c.count;
  }
  c.wq.wake_up_all();
  return 0;
}

std::vector<CrcEntry> crtc_crc_read(Crtc& crtc) {
  Capture& c = crtc.crc;
  std::vector<CrcEntry> out;
  out.reserve(kN);
  std::lock_guard<SpinLock> l(c.lock);
  for (unsigned i = 0; i < c.count; ++i) out.push_back(c.entries[(c.head + i) % kN]);
  c.head = c.count = 0;
  return out;
}

std::optional<CrcEntry> crtc_crc_wait(Crtc& crtc, uint64_t min_frame, int64_t timeout_ms) {
  Capture& c = crtc.crc;
  auto ready = [&] {
    std::lock_guard<SpinLock> l(c.lock);
    return !c.opened || has_entry_from(c, min_frame);
  };
  if (timeout_ms < 0) timeout_ms = 0;
  c.wq.wait_event_timeout(ready, std::chrono::milliseconds(timeout_ms));
  // Entries older than min_frame are consumed along with the one returned.
  std::lock_guard<SpinLock> l(c.lock);
  while (c.count) {
    CrcEntry e = c.entries[c.head];
    c.head = (c.head + 1) % kN;
    --c.count;
    if (e.frame >= min_frame) return e;
  }
  return std::nullopt;
}

uint64_t crtc_crc_overflows(Crtc& crtc) {
  std::lock_guard<SpinLock> l(crtc.crc.lock);
  return crtc.crc.overflows;
}

}  // namespace udrm
