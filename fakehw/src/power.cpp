// Clocks, regulators, GPIOs (udrm/fakehw/power.h).
#include "udrm/fakehw/power.h"

#include "udrm/base/errno.h"
#include "udrm/base/fault.h"
#include "udrm/base/log.h"
#include "udrm/core/devres.h"
#include "udrm/core/device.h"

namespace udrm::fakehw {

int Clock::prepare_enable() {
  if (UDRM_SHOULD_FAIL("clk.enable")) return -EIO;
  count_.fetch_add(1);
  return 0;
}

void Clock::disable_unprepare() {
  int old = count_.fetch_sub(1);
  if (old <= 0) {
    count_.fetch_add(1);
    warn(LogCat::driver, "clk %s already disabled (unbalanced disable)", name_.c_str());
  }
}

int Clock::set_rate(uint64_t hz) {
  if (hz == 0) return -EINVAL;
  rate_.store(hz);
  return 0;
}

int Regulator::enable() {
  if (int err = fail_next_.exchange(0)) return err;
  if (UDRM_SHOULD_FAIL("regulator.enable")) return -EIO;
  count_.fetch_add(1);
  return 0;
}

void Regulator::disable() {
  int old = count_.fetch_sub(1);
  if (old <= 0) {
    count_.fetch_add(1);
    warn(LogCat::driver, "unbalanced disables for regulator %s", name_.c_str());
  }
}

void Gpio::set_value(int v) {
  if (!requested()) {
    warn(LogCat::driver, "gpio %s set without being requested", name_.c_str());
    return;
  }
  value_.store(v ? 1 : 0);
}

namespace {
void clk_release(Clock* c) { c->disable_unprepare(); }
void regulator_release(Regulator* r) { r->disable(); }
}  // namespace

int devm_clk_get_enabled(Device& dev, Clock& clk) {
  if (int ret = clk.prepare_enable()) return ret;
  return devm_add_action_or_reset(dev, &clk_release, &clk, "devm_clk_get_enabled");
}

int devm_regulator_get_enable(Device& dev, Regulator& reg) {
  if (int ret = reg.enable()) return ret;
  return devm_add_action_or_reset(dev, &regulator_release, &reg, "devm_regulator_get_enable");
}

Gpio* devm_gpiod_get(Device& dev, Gpio& gpio, int initial_value) {
  if (gpio.requested_.exchange(true)) return nullptr;
  gpio.value_.store(initial_value ? 1 : 0);
  auto release = [](Gpio* g) {
    g->value_.store(0);
    g->requested_.store(false);
  };
  if (devm_add_action_or_reset(dev, +release, &gpio, "devm_gpiod_get")) return nullptr;
  return &gpio;
}

}  // namespace udrm::fakehw
