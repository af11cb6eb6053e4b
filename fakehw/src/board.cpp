// The fake machine (udrm/fakehw/board.h).
#include "udrm/fakehw/board.h"

namespace udrm::fakehw {
namespace {
template <class M>
auto* lookup(const M& m, const std::string& name) {
  auto it = m.find(name);
  return it == m.end() ? nullptr : it->second.get();
}
}  // namespace

RegisterBlock& Board::add_mmio(const std::string& name, std::vector<RegDesc> regs) {
  auto& p = mmio_[name];
  p = std::make_unique<RegisterBlock>(world_, name, std::move(regs));
  return *p;
}
IrqLine& Board::add_irq(const std::string& name) {
  auto& p = irqs_[name];
  p = std::make_unique<IrqLine>(world_, name);
  return *p;
}
Clock& Board::add_clock(const std::string& name, uint64_t rate_hz) {
  auto& p = clocks_[name];
  p = std::make_unique<Clock>(name, rate_hz);
  return *p;
}
Regulator& Board::add_regulator(const std::string& name) {
  auto& p = regulators_[name];
  p = std::make_unique<Regulator>(name);
  return *p;
}
Gpio& Board::add_gpio(const std::string& name) {
  auto& p = gpios_[name];
  p = std::make_unique<Gpio>(name);
  return *p;
}

DisplayController& Board::add_display(const std::string& name, DisplayConfig cfg) {
  RegisterBlock& regs = add_mmio(name, DisplayController::register_layout(cfg));
  IrqLine& line = add_irq(name);
  auto& p = displays_[name];
  p = std::make_unique<DisplayController>(world_, name, regs, line, cfg);
  return *p;
}
HotplugDetect& Board::add_hotplug(const std::string& name) {
  RegisterBlock& regs = add_mmio(name, HotplugDetect::register_layout());
  IrqLine& line = add_irq(name);
  auto& p = hotplugs_[name];
  p = std::make_unique<HotplugDetect>(name, regs, line);
  return *p;
}
DsiPanel& Board::add_panel(const std::string& name, PanelConfig cfg) {
  Regulator* supply = regulator(cfg.supply);
  if (!supply) supply = &add_regulator(cfg.supply);
  Gpio* reset = gpio(cfg.reset);
  if (!reset) reset = &add_gpio(cfg.reset);
  auto& p = panels_[name];
  p = std::make_unique<DsiPanel>(world_, name, *supply, *reset, cfg.sleep_out_delay);
  return *p;
}
Backlight& Board::add_backlight(const std::string& name, uint32_t max_brightness) {
  auto& p = backlights_[name];
  p = std::make_unique<Backlight>(name, max_brightness);
  return *p;
}

RegisterBlock* Board::mmio(const std::string& name) const { return lookup(mmio_, name); }
IrqLine* Board::irq(const std::string& name) const { return lookup(irqs_, name); }
Clock* Board::clock(const std::string& name) const { return lookup(clocks_, name); }
Regulator* Board::regulator(const std::string& name) const { return lookup(regulators_, name); }
Gpio* Board::gpio(const std::string& name) const { return lookup(gpios_, name); }
DisplayController* Board::display(const std::string& name) const { return lookup(displays_, name); }
HotplugDetect* Board::hotplug(const std::string& name) const { return lookup(hotplugs_, name); }
DsiPanel* Board::panel(const std::string& name) const { return lookup(panels_, name); }
Backlight* Board::backlight(const std::string& name) const { return lookup(backlights_, name); }

std::vector<std::string> Board::leaks() const {
  std::vector<std::string> out;
  for (auto& [n, c] : clocks_)
    if (c->enabled()) out.push_back("clock " + n + " enabled (count " + std::to_string(c->enable_count()) + ")");
  for (auto& [n, r] : regulators_)
    if (r->enabled()) out.push_back("regulator " + n + " enabled (count " + std::to_string(r->enable_count()) + ")");
  for (auto& [n, i] : irqs_)
    if (i->requested()) out.push_back("irq " + n + " still requested");
  for (auto& [n, g] : gpios_) {
    if (g->requested()) out.push_back("gpio " + n + " still requested");
    else if (g->value()) out.push_back("gpio " + n + " left driven high");
  }
  for (auto& [n, m] : mmio_)
    if (m->live_mappings()) out.push_back("mmio " + n + " still mapped (" + std::to_string(m->live_mappings()) + ")");
  auto append = [&out](std::vector<std::string> v) { out.insert(out.end(), v.begin(), v.end()); };
  for (auto& [n, d] : displays_) append(d->leaks());
  for (auto& [n, h] : hotplugs_) append(h->leaks());
  for (auto& [n, p] : panels_) append(p->leaks());
  for (auto& [n, b] : backlights_) append(b->leaks());
  return out;
}

}  // namespace udrm::fakehw
