// udrm/fakehw/power.h — clocks, regulators and GPIOs with enable counts.
//
// The three resources a display driver switches on in probe/enable and must switch off again.
// Each keeps the kernel's counting rules (enable nests; an unbalanced disable WARNs and is
// ignored) and its devm helpers (devm_clk_get_enabled, devm_regulator_get_enable,
// devm_gpiod_get) undo at unbind. After unbind every one of them must be back to off / zero:
// Board::leaks() lists those that are not, and tests fail on a leak.
// Fault injection: Regulator::fail_next_enable(err).
//
// Lifetime: owned by the Board. Context: enable/disable: process context (regulators may
// sleep in the kernel; here they do not, but the rule stands); get/set of a GPIO value: any.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "udrm/base/spinlock.h"

namespace udrm {
class Device;
}

namespace udrm::fakehw {

class Clock {
 public:
  Clock(std::string name, uint64_t rate_hz) : name_(std::move(name)), rate_(rate_hz) {}
  const std::string& name() const noexcept { return name_; }
  /// clk_prepare_enable. 0 or -errno.
  int prepare_enable();
  /// clk_disable_unprepare. WARNs on an unbalanced disable.
  void disable_unprepare();
  int enable_count() const noexcept { return count_.load(); }
  bool enabled() const noexcept { return count_.load() > 0; }
  uint64_t rate() const noexcept { return rate_.load(); }
  int set_rate(uint64_t hz);

 private:
  std::string name_;
  std::atomic<uint64_t> rate_;
  std::atomic<int> count_{0};
};

class Regulator {
 public:
  explicit Regulator(std::string name) : name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }
  int enable();
  void disable();
  int enable_count() const noexcept { return count_.load(); }
  bool enabled() const noexcept { return count_.load() > 0; }
  /// The next enable() fails with err (e.g. -EIO), once.
  void fail_next_enable(int err) noexcept { fail_next_.store(err); }

 private:
  std::string name_;
  std::atomic<int> count_{0};
  std::atomic<int> fail_next_{0};
};

class Gpio {
 public:
  explicit Gpio(std::string name) : name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }
  int value() const noexcept { return value_.load(); }
  /// gpiod_set_value. WARNs if the line is not requested.
  void set_value(int v);
  bool requested() const noexcept { return requested_.load(); }

 private:
  friend class GpioDesc;
  friend Gpio* devm_gpiod_get(Device&, Gpio&, int);
  std::string name_;
  std::atomic<int> value_{0};
  std::atomic<bool> requested_{false};
};

/// devm_clk_get_enabled: enable now, disable_unprepare at unbind. 0 or -errno.
int devm_clk_get_enabled(Device& dev, Clock& clk);
/// devm_regulator_get_enable: enable now, disable at unbind. 0 or -errno.
int devm_regulator_get_enable(Device& dev, Regulator& reg);
/// devm_gpiod_get: request the line with an initial value; released (driven 0) at unbind.
/// nullptr if already requested (-EBUSY in the kernel) or on allocation failure.
Gpio* devm_gpiod_get(Device& dev, Gpio& gpio, int initial_value);

}  // namespace udrm::fakehw
