// udrm/fakehw/board.h — a fake machine's hardware: every block of it, and the leak check.
//
// Tests and reference drivers build their hardware on a Board (register blocks, interrupt
// lines, clocks, regulators, GPIOs, and the display blocks: display controllers, hot-plug
// detect blocks, DSI panels, backlights — looked up by name). After an unbind, leaks() lists
// every clock or regulator left enabled, IRQ left requested, GPIO left requested or driven, MMIO
// mapping left mapped, display pipe or display interrupt left enabled, HDMI output or HPD
// interrupt left enabled, panel left on and backlight left enabled: an empty list is the
// "everything back to off" the kernel expects.
//
// Lifetime: outlives every device bound to its hardware. Context: process context.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "udrm/fakehw/display.h"
#include "udrm/fakehw/hpd.h"
#include "udrm/fakehw/irq.h"
#include "udrm/fakehw/mmio.h"
#include "udrm/fakehw/panel.h"
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
  /// A display controller with its register block and IRQ line, both also named `name`.
  DisplayController& add_display(const std::string& name, DisplayConfig cfg = {});
  /// An HDMI hot-plug detect block (+ DDC bus) with its register block and IRQ line named `name`.
  HotplugDetect& add_hotplug(const std::string& name);
  /// A DSI panel powered by the regulator cfg.supply with reset GPIO cfg.reset, created here if
  /// absent.
  DsiPanel& add_panel(const std::string& name, PanelConfig cfg);
  Backlight& add_backlight(const std::string& name, uint32_t max_brightness);

  /// Lookups by name (nullptr if absent).
  RegisterBlock* mmio(const std::string& name) const;
  IrqLine* irq(const std::string& name) const;
  Clock* clock(const std::string& name) const;
  Regulator* regulator(const std::string& name) const;
  Gpio* gpio(const std::string& name) const;
  DisplayController* display(const std::string& name) const;
  HotplugDetect* hotplug(const std::string& name) const;
  DsiPanel* panel(const std::string& name) const;
  Backlight* backlight(const std::string& name) const;

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
  // Declared after what they use: destroyed first.
  Map<DisplayController> displays_;
  Map<HotplugDetect> hotplugs_;
  Map<DsiPanel> panels_;
  Map<Backlight> backlights_;
};

}  // namespace udrm::fakehw
