// Shared machinery of the cross-driver scenario tests: a world with one reference display on
// the simulated executor, the igt core_hotunplug health check, a nonblocking-flip load, and a
// strategy that stops a named task at a named point and runs an injected action there.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "udrm/base/completion.h"
#include "udrm/base/sim_executor.h"
#include "udrm/core/world.h"
#include "udrm/drivers/display.h"
#include "udrm/testing/kms_client.h"

namespace udrm::scenario {

const char* kind_name(drivers::Kind k);

/// Let deferred work finish (a nonblocking commit's worker drops its device reference when it
/// next runs, so the final put may come just after the last close).
inline void settle() { sleep_for(std::chrono::milliseconds(20)); }

/// One output of the device: a connected connector with its smallest mode, a CRTC it can use,
/// and that CRTC's primary plane.
struct Output {
  uint32_t crtc_id = 0, crtc_index = 0, conn_id = 0, plane_id = 0;
  drm_mode_modeinfo mode{};
};
::testing::AssertionResult find_output(testing::KmsClient& c, Output* out);

/// The expected CRC of a full-screen XRGB8888 buffer (fakehw's composer, computed here).
uint32_t expected_crc(const testing::KmsClient::Dumb& d);

/// A client with an active output showing a pattern (atomic modeset, blocking).
struct ActiveClient {
  std::unique_ptr<testing::KmsClient> c;
  Output out;
  testing::KmsClient::Dumb buf[2];
  uint32_t fb[2] = {0, 0};

  ActiveClient() = default;
  ActiveClient(const ActiveClient&) = delete;
  ActiveClient& operator=(const ActiveClient&) = delete;
  /// Like a process exiting: its mappings go, then its file is closed (if still open).
  ~ActiveClient();
};
::testing::AssertionResult open_and_modeset(drivers::Display& d, uint32_t seed, ActiveClient* ac);

/// igt's health check after each subtest: reopen, modeset, flip with an event, CRC matches the
/// pattern written; then close everything.
::testing::AssertionResult health_check(drivers::Display& d, uint32_t seed);

/// A stream of nonblocking flips with events on `ac` until the device is gone (-ENODEV) or
/// `stop` is set. Counts what was requested and delivered.
struct Load {
  int requested = 0, delivered = 0, ebusy = 0, enodev = 0;
  bool stop = false, done = false;
};
void run_flip_load(ActiveClient& ac, Load* load);

/// Runs `action` in its own task at the first time a task whose name starts with
/// `task_prefix` passes `point` (the injector is switched to right there).
class InjectAt : public SimStrategy {
 public:
  InjectAt(SimExecutor& sim, std::string point, std::string task_prefix);
  ~InjectAt() override;
  /// Spawn the waiting injector task; `action` runs when the point is hit.
  void arm(std::function<void()> action);
  bool fired() const { return fired_; }
  bool action_done() const { return done_; }

  SimTask* at_point(SimExecutor&, const Point& p, SimTask* current, std::span<SimTask* const> ready) override;

 private:
  static void observe(void* ctx, const Point& p, SimTask* t);
  SimExecutor& sim_;
  std::string point_, prefix_;
  Completion go_;
  bool armed_ = false, fired_ = false, done_ = false;
  SimTask* injector_ = nullptr;
};

}  // namespace udrm::scenario
