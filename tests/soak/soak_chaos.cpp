// The soak's chaos thread (soak_chaos.h).
#include "soak_chaos.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "udrm/base/errno.h"

namespace udrm::soak {

void SoakChaos::fail(const std::string& what) {
  ++st_.failures;
  std::lock_guard<std::mutex> l(st_.mu);
  if (st_.first_failure.empty()) st_.first_failure = "chaos: " + what;
}

void SoakChaos::pause_ms(unsigned max_ms) {
  actor_.at("pause");
  std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % (max_ms + 1)));
  actor_.heartbeat();
}

void SoakChaos::run() {
  while (!stop_.load(std::memory_order_acquire)) {
    if (!cycle()) break;
    ++st_.cycles;
    pause_ms(400);  // bound: the clients reopen and work
  }
  actor_.finished.store(true);
}

bool SoakChaos::cycle() {
  std::vector<std::string> names = d_.device_names();
  std::shuffle(names.begin(), names.end(), rng_);
  names.resize(1 + rng_() % names.size());
  for (const std::string& n : names) {
    actor_.at("unbind");
    if (int r = d_.unbind(n)) {
      fail("unbind " + n + " returned " + std::to_string(r));
      return false;
    }
    ++st_.unbinds;
    pause_ms(10);
  }
  if (d_.drm()) {
    fail("the aggregate is still up with a member unbound");
    return false;
  }
  pause_ms(20);  // unbound for a while: opens are refused
  std::shuffle(names.begin(), names.end(), rng_);
  for (const std::string& n : names) {
    actor_.at("rebind");
    int r = d_.rebind(n);
    // The controller's reset polls STATUS.BUSY for 10 ms of real time while the fake hardware
    // clears it from a timer on the executor's interrupt thread: on a starved machine the
    // timer can come late and the probe fails with -ETIMEDOUT. Counted and retried (the
    // hardware's timing is not what the soak tests).
    for (int retry = 0; r == -ETIMEDOUT && retry < 5; ++retry) {
      ++st_.timeouts;
      pause_ms(20);
      actor_.at("rebind (retry after -ETIMEDOUT)");
      r = d_.rebind(n);
    }
    if (r == -EPROBE_DEFER) {
      ++st_.deferred;
    } else if (r) {
      fail("rebind " + n + " returned " + std::to_string(r));
      return false;
    }
    ++st_.rebinds;
    pause_ms(10);
  }
  if (!d_.drm()) {
    fail("the aggregate did not come back after every member was rebound");
    return false;
  }
  return true;
}

}  // namespace udrm::soak
