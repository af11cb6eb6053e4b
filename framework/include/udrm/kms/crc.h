// udrm/kms/crc.h — pipe CRC capture (drm_debugfs_crc.c without debugfs).
//
// A CRTC's driver computes a CRC per composed frame and reports it with crtc_add_crc_entry
// (frame number = vblank count). Tests (and udrmctl) open a capture with crtc_crc_open,
// read entries, and close it; the driver's set_crc_source hook enables composition while a
// capture is open (vkms_set_composer). Entries are kept in a bounded ring (128, like the
// kernel's DRM_CRC_ENTRIES_NR); overflow drops the oldest and is counted.
//
// Lifetime: per CRTC, drmm. Context: add_crc_entry: any context (spinlock only).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace udrm {

class Crtc;

struct CrcEntry {
  uint64_t frame = 0;
  uint32_t crc = 0;
};

/// Start capturing (source "auto"): calls crtc.funcs->set_crc_source inside dev_enter (its
/// error is returned and the capture stays closed). -EBUSY if already open, -EINVAL for a CRTC
/// without CRC support, -ENODEV after unplug.
int crtc_crc_open(Crtc& crtc);
/// Stop: set_crc_source(crtc, "none") (also after unplug — the hook gates its hardware), drop
/// the entries, wake waiters. No-op if not open.
void crtc_crc_close(Crtc& crtc);
/// drm_crtc_add_crc_entry: -EINVAL if no capture is open (entry dropped). On a full ring the
/// oldest entry is dropped and counted (the kernel drops the new one with -ENOBUFS instead).
int crtc_add_crc_entry(Crtc& crtc, uint64_t frame, uint32_t crc);
/// Drain captured entries (oldest first).
std::vector<CrcEntry> crtc_crc_read(Crtc& crtc);
/// Wait (virtual time in the simulator) until an entry with frame >= min_frame is available and
/// return it, consuming it and the older entries before it; nullopt after timeout or close.
/// Process context.
std::optional<CrcEntry> crtc_crc_wait(Crtc& crtc, uint64_t min_frame, int64_t timeout_ms);
uint64_t crtc_crc_overflows(Crtc& crtc);

}  // namespace udrm
