// udrm/fakehw/ddc.h — a DDC (I2C) bus with an EDID EEPROM at 0x50.
//
// The sink side attaches an EDID blob; the host (the HDMI bridge driver) reads bytes from
// address 0x50 at an offset, as an I2C "write offset, read N" transfer; blocks beyond 256 bytes
// are reached with the E-DDC segment pointer (address 0x30), passed as `segment`. Offsets wrap
// within a 256-byte segment, as the EEPROM does. Faults: nothing attached (every transfer NAKs:
// -ENXIO), NAK the next n transfers (-ENXIO), or corrupt one byte (XOR) of what is read.
// Transfers are counted. With a per-byte transfer time set, a transfer sleeps that long on the
// executor's clock (100 kHz I2C ≈ 90 µs a byte).
//
// Lifetime: owned by its hardware model (HotplugDetect) or the test.
// Context: transfers: process context, may sleep (I2C transfers do); attach/detach/faults: any.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "udrm/base/spinlock.h"
#include "udrm/base/time.h"

namespace udrm::fakehw {

class DdcBus {
 public:
  static constexpr uint8_t kEdidAddr = 0x50;
  static constexpr uint8_t kSegmentAddr = 0x30;

  explicit DdcBus(std::string name) : name_(std::move(name)) {}
  DdcBus(const DdcBus&) = delete;
  DdcBus& operator=(const DdcBus&) = delete;
  const std::string& name() const noexcept { return name_; }

  // ---- sink side ----
  void attach(std::vector<uint8_t> edid);
  void detach();
  bool attached() const;
  std::vector<uint8_t> edid() const;

  // ---- host side ----
  /// Read len bytes from i2c address `addr` starting at `offset` of `segment`. 0, -ENXIO (no
  /// device at addr / nothing attached / injected NAK), -EINVAL (len 0 or > 256, or a segment
  /// beyond the blob).
  int read(uint8_t addr, uint8_t offset, uint8_t* buf, std::size_t len, uint8_t segment = 0);
  /// Convenience: read EDID block `block` (128 bytes) into buf.
  int read_edid_block(unsigned block, uint8_t* buf);

  // ---- faults ----
  void fault_nak(int transfers);                      ///< NAK the next n transfers
  void fault_corrupt(std::size_t edid_offset, uint8_t xor_mask);  ///< persistent, until cleared
  void clear_faults();
  void set_byte_time(Duration d);

  uint64_t transfers() const noexcept;

 private:
  std::string name_;
  mutable SpinLock lock_;
  std::vector<uint8_t> edid_;
  bool attached_ = false;
  int nak_ = 0;
  bool corrupt_ = false;
  std::size_t corrupt_off_ = 0;
  uint8_t corrupt_xor_ = 0;
  Duration byte_time_{0};
  uint64_t transfers_ = 0;
};

}  // namespace udrm::fakehw
