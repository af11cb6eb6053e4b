// udrm/fakehw/hpd.h — an HDMI bridge's hot-plug detect block (and its DDC bus).
//
// A sink (monitor) can be plugged or unplugged by the test. A plugged sink carries an EDID,
// readable on the bridge's DDC bus (ddc()); unplugged, the DDC NAKs. Every change of the HPD
// level is an edge: HPD_STATUS.LEVEL follows the sink, HPD_INT_STATUS latches PLUG or UNPLUG
// (write-1-to-clear), and the IRQ line is raised when HPD_INT_STATUS & HPD_INT_ENABLE is
// non-zero. No debouncing. HDMI_CTRL.TMDS_EN is the bridge's output enable.
//
// The driver reaches the registers only through devm_ioremap(dev, hpd.regs()) and the interrupt
// through devm_request_irq(dev, hpd.irq(), ...). After unbind, HPD_INT_ENABLE and TMDS_EN must
// be 0 (Board::leaks()).
//
// Lifetime: owned by its Board (Board::add_hotplug). Context: plug/unplug/test hooks: any
// context, never sleep (the IRQ handler runs later on the executor).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "udrm/fakehw/ddc.h"
#include "udrm/fakehw/irq.h"
#include "udrm/fakehw/mmio.h"

namespace udrm::fakehw {

namespace hpdregs {
inline constexpr uint32_t HPD_STATUS = 0x00;      ///< RO: STATUS_LEVEL
inline constexpr uint32_t HPD_INT_STATUS = 0x04;  ///< W1C: INT_PLUG | INT_UNPLUG
inline constexpr uint32_t HPD_INT_ENABLE = 0x08;  ///< RW: INT_PLUG | INT_UNPLUG
inline constexpr uint32_t HDMI_CTRL = 0x0c;       ///< RW: CTRL_TMDS_EN
inline constexpr uint32_t STATUS_LEVEL = 1u << 0;
inline constexpr uint32_t INT_PLUG = 1u << 0;
inline constexpr uint32_t INT_UNPLUG = 1u << 1;
inline constexpr uint32_t CTRL_TMDS_EN = 1u << 0;
}  // namespace hpdregs

class HotplugDetect {
 public:
  /// Prefer Board::add_hotplug, which creates the block and line named `name`.
  HotplugDetect(std::string name, RegisterBlock& regs, IrqLine& irq);
  HotplugDetect(const HotplugDetect&) = delete;
  HotplugDetect& operator=(const HotplugDetect&) = delete;
  static std::vector<RegDesc> register_layout();

  const std::string& name() const noexcept { return name_; }
  RegisterBlock& regs() const noexcept { return regs_; }
  IrqLine& irq() const noexcept { return irq_; }
  DdcBus& ddc() noexcept { return ddc_; }

  /// Plug a sink carrying `edid` (an edge). Already plugged: only the EDID is replaced, no edge.
  void plug(std::vector<uint8_t> edid);
  /// Unplug (an edge); no-op if nothing is plugged.
  void unplug();
  bool plugged() const;
  uint64_t edges() const;
  bool tmds_enabled() const;
  std::vector<std::string> leaks() const;

 private:
  void edge(bool level);
  std::string name_;
  RegisterBlock& regs_;
  IrqLine& irq_;
  DdcBus ddc_;
  mutable SpinLock lock_;
  bool plugged_ = false;
  uint64_t edges_ = 0;
};

}  // namespace udrm::fakehw
