// udrm/base/time.h — the framework clock.
//
// udrm::now() is the executor's clock: the steady clock in production, the virtual clock of
// the simulated executor when called from a simulated task. Framework code never reads
// std::chrono clocks directly, so a simulated world is deterministic.
//
// Context: any; never sleeps.
#pragma once
#include <chrono>

namespace udrm {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::nanoseconds;

TimePoint now() noexcept;

/// Sleep for d on the executor's clock (msleep). Context: process; may sleep.
void sleep_for(Duration d);

}  // namespace udrm
