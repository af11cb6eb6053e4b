// HDMI hot-plug detect (udrm/fakehw/hpd.h).
#include "udrm/fakehw/hpd.h"

#include <cstdio>
#include <mutex>

namespace udrm::fakehw {

using namespace hpdregs;

std::vector<RegDesc> HotplugDetect::register_layout() {
  return {{HPD_STATUS, "HPD_STATUS", 0, 0, 0},
          {HPD_INT_STATUS, "HPD_INT_STATUS", 0, 0, INT_PLUG | INT_UNPLUG},
          {HPD_INT_ENABLE, "HPD_INT_ENABLE", 0, INT_PLUG | INT_UNPLUG, 0},
          {HDMI_CTRL, "HDMI_CTRL", 0, CTRL_TMDS_EN, 0}};
}

HotplugDetect::HotplugDetect(std::string name, RegisterBlock& regs, IrqLine& irq)
    : name_(std::move(name)), regs_(regs), irq_(irq), ddc_(name_ + ".ddc") {}

void HotplugDetect::edge(bool level) {
  bool raise;
  {
    std::lock_guard<SpinLock> l(lock_);
    plugged_ = level;
    ++edges_;
    if (level) regs_.hw_set_bits(HPD_STATUS, STATUS_LEVEL);
    else regs_.hw_clear_bits(HPD_STATUS, STATUS_LEVEL);
    regs_.hw_set_bits(HPD_INT_STATUS, level ? INT_PLUG : INT_UNPLUG);
    raise = (regs_.hw_get(HPD_INT_STATUS) & regs_.hw_get(HPD_INT_ENABLE)) != 0;
  }
  if (raise) irq_.raise();
}

void HotplugDetect::plug(std::vector<uint8_t> edid) {
  ddc_.attach(std::move(edid));  // the EDID is readable before the interrupt fires
  if (!plugged()) edge(true);
}

void HotplugDetect::unplug() {
  if (!plugged()) return;
  ddc_.detach();
  edge(false);
}

bool HotplugDetect::plugged() const {
  std::lock_guard<SpinLock> l(lock_);
  return plugged_;
}

uint64_t HotplugDetect::edges() const {
  std::lock_guard<SpinLock> l(lock_);
  return edges_;
}

bool HotplugDetect::tmds_enabled() const { return regs_.hw_get(HDMI_CTRL) & CTRL_TMDS_EN; }

std::vector<std::string> HotplugDetect::leaks() const {
  std::vector<std::string> out;
  if (tmds_enabled()) out.push_back("hdmi " + name_ + " output (TMDS) left enabled");
  if (uint32_t ie = regs_.hw_get(HPD_INT_ENABLE)) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", ie);
    out.push_back("hdmi " + name_ + " hot-plug interrupts left enabled (HPD_INT_ENABLE=" + buf + ")");
  }
  return out;
}

}  // namespace udrm::fakehw
