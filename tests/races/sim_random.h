// tests/races/sim_random.h — a seeded random SimStrategy (the explorer's random walk).
#pragma once
#include <random>
#include <span>

#include "udrm/base/sim_executor.h"

namespace udrm::races {

/// At every point: switch to a random ready task with probability 1/2; pick randomly.
class RandomStrategy final : public SimStrategy {
 public:
  explicit RandomStrategy(uint32_t seed) : rng_(seed) {}
  SimTask* at_point(SimExecutor&, const Point&, SimTask*, std::span<SimTask* const> ready) override {
    if (ready.empty() || (rng_() & 1u)) return nullptr;
    return ready[rng_() % ready.size()];
  }
  SimTask* pick(SimExecutor&, std::span<SimTask* const> ready) override { return ready[rng_() % ready.size()]; }

 private:
  std::mt19937 rng_;
};

}  // namespace udrm::races
