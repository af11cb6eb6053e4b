// udrm/fakehw/panel.h — a MIPI DSI panel and a backlight.
//
// The panel needs its supply regulator enabled and its reset GPIO deasserted (logical value 0;
// 1 = held in reset) before it accepts DCS commands. The power-on order it enforces, as real
// panels' datasheets do:
//   supply on → reset deasserted → exit_sleep_mode (0x11) → [sleep_out_delay] →
//   set_display_on (0x29)
// and off: set_display_off (0x28) → enter_sleep_mode (0x10) → reset/supply off.
// A command in the wrong state is refused with -EIO and recorded as a violation (kind
// "panel-sequence") naming the panel, the command and what was missing — e.g. set_display_on
// while the supply is off, or before exit_sleep_mode. Losing power (supply off or reset
// asserted) puts the panel back to off; state() reports it the next time it is read.
//
// Backlight: a PWM-style backlight, brightness 0..max and an enable.
//
// After unbind the panel must be off (display not on) and the backlight disabled
// (Board::leaks()).
//
// Lifetime: owned by its Board (Board::add_panel / add_backlight); the regulator and GPIO it
// watches are the Board's too. Context: dcs_write: process context (a DSI transfer; never from
// atomic context); state reads and backlight calls: any context, never sleep.
#pragma once
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "udrm/base/spinlock.h"
#include "udrm/base/time.h"
#include "udrm/fakehw/power.h"

namespace udrm {
class World;
}

namespace udrm::fakehw {

namespace dcs {
inline constexpr uint8_t SOFT_RESET = 0x01;
inline constexpr uint8_t ENTER_SLEEP_MODE = 0x10;
inline constexpr uint8_t EXIT_SLEEP_MODE = 0x11;
inline constexpr uint8_t SET_DISPLAY_OFF = 0x28;
inline constexpr uint8_t SET_DISPLAY_ON = 0x29;
}  // namespace dcs

struct PanelConfig {
  std::string supply;   ///< Board regulator name
  std::string reset;    ///< Board GPIO name (1 = in reset)
  Duration sleep_out_delay{0};  ///< minimum time from exit_sleep_mode to set_display_on
};

class DsiPanel {
 public:
  enum class State { off, sleep, awake, display_on };

  DsiPanel(World& w, std::string name, Regulator& supply, Gpio& reset, Duration sleep_out_delay);
  DsiPanel(const DsiPanel&) = delete;
  DsiPanel& operator=(const DsiPanel&) = delete;

  const std::string& name() const noexcept { return name_; }
  /// A DCS write from the DSI host. 0, -EIO (wrong state: also a violation), -EINVAL
  /// (unknown command).
  int dcs_write(uint8_t cmd, std::span<const uint8_t> params = {});

  // ---- test hooks ----
  State state() const;
  bool display_on() const { return state() == State::display_on; }
  bool powered() const;
  uint64_t commands() const;
  /// Every DCS command received, in order (refused ones included).
  std::vector<uint8_t> command_log() const;
  std::vector<std::string> leaks() const;

 private:
  State settle_locked() const;  // apply power loss
  World& world_;
  std::string name_;
  Regulator& supply_;
  Gpio& reset_;
  Duration sleep_out_delay_;
  mutable SpinLock lock_;
  mutable State state_ = State::off;
  TimePoint awake_at_{};
  std::vector<uint8_t> log_;
};

class Backlight {
 public:
  Backlight(std::string name, uint32_t max_brightness) : name_(std::move(name)), max_(max_brightness) {}
  const std::string& name() const noexcept { return name_; }
  uint32_t max_brightness() const noexcept { return max_; }
  /// 0, or -EINVAL above max.
  int set_brightness(uint32_t v);
  uint32_t brightness() const noexcept { return brightness_.load(); }
  void enable() noexcept { enabled_.store(true); }
  void disable() noexcept { enabled_.store(false); }
  bool enabled() const noexcept { return enabled_.load(); }
  std::vector<std::string> leaks() const;

 private:
  std::string name_;
  uint32_t max_;
  std::atomic<uint32_t> brightness_{0};
  std::atomic<bool> enabled_{false};
};

}  // namespace udrm::fakehw
