// tests/soak/soak_chaos.h — the soak's chaos thread: unbinds a random non-empty subset of the
// soc display's components (controller "dc", HDMI bridge "hdmi", DSI panel "panel") in random
// order with random delays, then rebinds them in another random order (an intermediate rebind
// may answer -EPROBE_DEFER: the aggregate is incomplete; one that times out because the machine
// is starved is retried and counted), and requires the aggregate to be up
// again after the last one; then leaves the display bound for a random while.
//
// Lifetime: run() returns when `stop` is set, with the display bound, or on a failure.
// Context: its own std::thread (unbind sleeps: it waits for the ioctls in flight).
#pragma once
#include <atomic>
#include <mutex>
#include <random>
#include <string>

#include "soak_actor.h"
#include "udrm/drivers/display.h"

namespace udrm::soak {

struct ChaosStats {
  std::atomic<long> cycles{0}, unbinds{0}, rebinds{0}, deferred{0};
  std::atomic<long> timeouts{0};  // rebinds retried after -ETIMEDOUT (starved fake-hardware timer)
  std::atomic<long> failures{0};
  std::mutex mu;
  std::string first_failure;  // under mu
};

class SoakChaos {
 public:
  SoakChaos(drivers::Display& d, uint32_t seed, const std::atomic<bool>& stop)
      : d_(d), rng_(seed), stop_(stop), actor_("chaos") {}
  SoakChaos(const SoakChaos&) = delete;
  SoakChaos& operator=(const SoakChaos&) = delete;

  void run();
  Actor& actor() { return actor_; }
  ChaosStats& stats() { return st_; }

 private:
  bool cycle();
  void fail(const std::string& what);
  void pause_ms(unsigned max_ms);

  drivers::Display& d_;
  std::mt19937 rng_;
  const std::atomic<bool>& stop_;
  Actor actor_;
  ChaosStats st_;
};

}  // namespace udrm::soak
