// udrm/fakehw/board.h — a fake machine's hardware: every block of it, and the leak check.
//
// Tests and reference drivers build their hardware on a Board (register blocks, interrupt
// lines, clocks, regulators, GPIOs, looked up by name). After an unbind, leaks() lists every
// clock or regulator left enabled, IRQ left requested, GPIO left requested or driven, and MMIO
// mapping left mapped: an empty list is the "everything back to off" the kernel expects.
//
// Lifetime: outlives every device bound to its hardware. Context: process context.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "udrm/fakehw/irq.h"
#include "udrm/fakehw/mmio.h"
#include "udrm/fakehw/power.h"

namespace udrm::fakehw {

class Board {
 public:
  explicit Board(World& w) : world_(w) {}
  Board(const Board&) = delete;
  Board& operator=(const Board&) = delete;

  World& world() const noexcept { return world_; }

  RegisterBlock& add_mmio(const std::string& name, std::vector<RegDesc> regs);
  IrqLine& add_irq(const std::string& name);
  Clock& add_clock(const std::string& name, uint64_t rate_hz);
  Regulator& add_regulator(const std::string& name);
  Gpio& add_gpio(const std::string& name);

  /// Lookups by name (nullptr if absent).
  RegisterBlock* mmio(const std::string& name) const;
  IrqLine* irq(const std::string& name) const;
  Clock* clock(const std::string& name) const;
  Regulator* regulator(const std::string& name) const;
  Gpio* gpio(const std::string& name) const;

  /// Everything not back to off, one line each ("clock pll enabled (count 1)").
  std::vector<std::string> leaks() const;

 private:
  template <class T>
  using Map = std::map<std::string, std::unique_ptr<T>>;
  World& world_;
  Map<RegisterBlock> mmio_;
  Map<IrqLine> irqs_;
  Map<Clock> clocks_;
  Map<Regulator> regulators_;
  Map<Gpio> gpios_;
};

}  // namespace udrm::fakehw
