// DDC bus with an EDID EEPROM (udrm/fakehw/ddc.h).
#include "udrm/fakehw/ddc.h"

#include <mutex>

#include "udrm/base/context.h"
#include "udrm/base/errno.h"
#include "udrm/base/point.h"

namespace udrm::fakehw {

void DdcBus::attach(std::vector<uint8_t> edid) {
  std::lock_guard<SpinLock> l(lock_);
  edid_ = std::move(edid);
  attached_ = true;
}

void DdcBus::detach() {
  std::lock_guard<SpinLock> l(lock_);
  attached_ = false;
}

bool DdcBus::attached() const {
  std::lock_guard<SpinLock> l(lock_);
  return attached_;
}

std::vector<uint8_t> DdcBus::edid() const {
  std::lock_guard<SpinLock> l(lock_);
  return attached_ ? edid_ : std::vector<uint8_t>{};
}

int DdcBus::read(uint8_t addr, uint8_t offset, uint8_t* buf, std::size_t len, uint8_t segment) {
  might_sleep("i2c transfer");
  UDRM_POINT("ddc.transfer");
  if (!len || len > 256) return -EINVAL;
  Duration t{0};
  {
    std::lock_guard<SpinLock> l(lock_);
    ++transfers_;
    if (nak_ > 0) {
      --nak_;
      return -ENXIO;
    }
    if (addr != kEdidAddr || !attached_ || edid_.empty()) return -ENXIO;
    const std::size_t seg_start = std::size_t{segment} * 256;
    if (seg_start >= edid_.size()) return -ENXIO;  // the segment pointer write NAKs
    const std::size_t seg_len = std::min<std::size_t>(256, edid_.size() - seg_start);
    for (std::size_t i = 0; i < len; ++i) {
      const std::size_t idx = seg_start + (offset + i) % seg_len;  // the EEPROM's address wraps
      buf[i] = edid_[idx];
      if (corrupt_ && idx == corrupt_off_) buf[i] ^= corrupt_xor_;
    }
    t = byte_time_ * static_cast<Duration::rep>(len + 2);  // + address and offset bytes
  }
  if (t > Duration{0}) sleep_for(t);
  return 0;
}

int DdcBus::read_edid_block(unsigned block, uint8_t* buf) {
  return read(kEdidAddr, static_cast<uint8_t>((block & 1) * 128), buf, 128, static_cast<uint8_t>(block / 2));
}

void DdcBus::fault_nak(int transfers) {
  std::lock_guard<SpinLock> l(lock_);
  nak_ = transfers;
}

void DdcBus::fault_corrupt(std::size_t edid_offset, uint8_t xor_mask) {
  std::lock_guard<SpinLock> l(lock_);
  corrupt_ = true;
  corrupt_off_ = edid_offset;
  corrupt_xor_ = xor_mask;
}

void DdcBus::clear_faults() {
  std::lock_guard<SpinLock> l(lock_);
  nak_ = 0;
  corrupt_ = false;
}

void DdcBus::set_byte_time(Duration d) {
  std::lock_guard<SpinLock> l(lock_);
  byte_time_ = d;
}

uint64_t DdcBus::transfers() const noexcept {
  std::lock_guard<SpinLock> l(lock_);
  return transfers_;
}

}  // namespace udrm::fakehw
