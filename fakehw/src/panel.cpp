// DSI panel and backlight (udrm/fakehw/panel.h).
#include "udrm/fakehw/panel.h"

#include <mutex>

#include "udrm/base/context.h"
#include "udrm/base/errno.h"
#include "udrm/base/point.h"
#include "udrm/core/violation.h"

namespace udrm::fakehw {
namespace {
const char* dcs_name(uint8_t cmd) {
  switch (cmd) {
    case dcs::SOFT_RESET: return "soft_reset";
    case dcs::ENTER_SLEEP_MODE: return "enter_sleep_mode";
    case dcs::EXIT_SLEEP_MODE: return "exit_sleep_mode";
    case dcs::SET_DISPLAY_OFF: return "set_display_off";
    case dcs::SET_DISPLAY_ON: return "set_display_on";
    default: return "unknown";
  }
}
double ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
}  // namespace

DsiPanel::DsiPanel(World& w, std::string name, Regulator& supply, Gpio& reset, Duration sleep_out_delay)
    : world_(w), name_(std::move(name)), supply_(supply), reset_(reset), sleep_out_delay_(sleep_out_delay) {}

DsiPanel::State DsiPanel::settle_locked() const {
  if (!supply_.enabled() || reset_.value() != 0) state_ = State::off;
  return state_;
}

bool DsiPanel::powered() const { return supply_.enabled() && reset_.value() == 0; }

int DsiPanel::dcs_write(uint8_t cmd, std::span<const uint8_t>) {
  might_sleep("dsi transfer");
  UDRM_POINT("dsi.dcs_write");
  char msg[256] = {0};
  int ret = 0;
  {
    std::lock_guard<SpinLock> l(lock_);
    log_.push_back(cmd);
    const State s = settle_locked();
    if (!supply_.enabled()) {
      std::snprintf(msg, sizeof msg, "DCS 0x%02x (%s) to panel '%s' while its supply '%s' is off", cmd, dcs_name(cmd),
                    name_.c_str(), supply_.name().c_str());
    } else if (reset_.value() != 0) {
      std::snprintf(msg, sizeof msg, "DCS 0x%02x (%s) to panel '%s' while its reset '%s' is asserted", cmd,
                    dcs_name(cmd), name_.c_str(), reset_.name().c_str());
    } else {
      if (s == State::off) state_ = State::sleep;  // powered and out of reset: sleeping
      switch (cmd) {
        case dcs::SOFT_RESET:
        case dcs::ENTER_SLEEP_MODE:
          state_ = State::sleep;
          break;
        case dcs::EXIT_SLEEP_MODE:
          if (state_ == State::sleep) {
            state_ = State::awake;
            awake_at_ = now();
          }
          break;
        case dcs::SET_DISPLAY_OFF:
          if (state_ == State::display_on) state_ = State::awake;
          break;
        case dcs::SET_DISPLAY_ON:
          if (state_ == State::sleep) {
            std::snprintf(msg, sizeof msg, "DCS set_display_on to panel '%s' before exit_sleep_mode", name_.c_str());
          } else if (now() - awake_at_ < sleep_out_delay_) {
            std::snprintf(msg, sizeof msg,
                          "DCS set_display_on to panel '%s' %.3f ms after exit_sleep_mode (the panel needs %.3f ms)",
                          name_.c_str(), ms(now() - awake_at_), ms(sleep_out_delay_));
          } else {
            state_ = State::display_on;
          }
          break;
        default:
          ret = -EINVAL;
      }
    }
  }
  if (msg[0]) {
    report_violation(world_, "panel-sequence", "%s", msg);
    return -EIO;
  }
  return ret;
}

DsiPanel::State DsiPanel::state() const {
  std::lock_guard<SpinLock> l(lock_);
  return settle_locked();
}

uint64_t DsiPanel::commands() const {
  std::lock_guard<SpinLock> l(lock_);
  return log_.size();
}

std::vector<uint8_t> DsiPanel::command_log() const {
  std::lock_guard<SpinLock> l(lock_);
  return log_;
}

std::vector<std::string> DsiPanel::leaks() const {
  if (display_on()) return {"panel " + name_ + " display left on"};
  return {};
}

int Backlight::set_brightness(uint32_t v) {
  if (v > max_) return -EINVAL;
  brightness_.store(v);
  return 0;
}

std::vector<std::string> Backlight::leaks() const {
  if (enabled()) return {"backlight " + name_ + " left enabled (brightness " + std::to_string(brightness()) + ")"};
  return {};
}

}  // namespace udrm::fakehw
