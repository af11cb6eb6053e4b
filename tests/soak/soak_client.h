// tests/soak/soak_client.h — one client of the soak: opens the soc display's card node and, on
// its own thread, takes turns as DRM master (SET_MASTER/DROP_MASTER, as compositors hand the
// display over) to flip its two framebuffers with nonblocking atomic commits and flip events,
// move the cursor (MODE_CURSOR) and set the connector's DPMS property (OBJ_SETPROPERTY), and
// between turns creates and destroys framebuffers and reads its events. When the device goes
// away (-ENODEV) it reads what is still queued, closes, and reopens until the display is bound
// again (-ENODEV/-ENOENT meanwhile); now and then it also closes at once, with flips in
// flight, and reopens. Every flip event is tracked by its user_data: one read
// that was never requested, or read twice, is a failure; what is outstanding at close is what
// the framework must count as dropped with the closed file.
//
// Lifetime: run() returns when `stop` is set (after draining its outstanding events, bounded)
// or on a failure; the client's files are closed by then. Context: its own std::thread.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "soak_actor.h"
#include "udrm/drivers/display.h"
#include "udrm/testing/kms_client.h"

namespace udrm::soak {

/// What a client did; read by the test after join (and, for the dump, by the watchdog).
struct ClientStats {
  std::atomic<long> sessions{0};      // successful opens
  std::atomic<long> quits{0};         // sessions closed at once, flips possibly in flight
  std::atomic<long> open_refused{0};  // -ENODEV/-ENOENT while unbound
  std::atomic<long> no_output{0};     // sessions that found no connected output yet
  std::atomic<long> turns{0}, not_master{0};
  std::atomic<long> modesets{0};
  std::atomic<long> commits{0};  // nonblocking flips accepted (each requested an event)
  std::atomic<long> ebusy{0}, einval{0}, enospc{0}, enodev{0};
  std::atomic<long> cursor_moves{0}, prop_sets{0};
  std::atomic<long> fb_created{0}, fb_destroyed{0};
  std::atomic<long> requested{0}, delivered{0};
  std::atomic<long> outstanding_at_close{0};  // requested on a file, not read before its close
  std::atomic<long> failures{0};
  std::mutex mu;
  std::string first_failure;  // under mu
};

class SoakClient {
 public:
  SoakClient(drivers::Display& d, int index, uint32_t seed, const std::atomic<bool>& stop);
  SoakClient(const SoakClient&) = delete;
  SoakClient& operator=(const SoakClient&) = delete;

  void run();
  Actor& actor() { return actor_; }
  ClientStats& stats() { return st_; }

 private:
  struct Session;
  /// One open file until -ENODEV or stop. Returns false on a failure (recorded).
  bool session(Session& s);
  int setup(Session& s);
  int turn(Session& s);
  int flip(Session& s);
  int cursor(Session& s);
  int dpms(Session& s);
  int fb_churn(Session& s);
  /// Read every queued event; false if one was not requested (or read twice).
  bool read_events(Session& s);
  /// Wait (poll on the file's fd, bounded) until every requested event was read; false on a
  /// bad event. A timeout is not an error (the device may be going away).
  bool wait_for_events(Session& s, std::chrono::milliseconds limit);
  /// Bounded wait for the outstanding events of a live file (end of run).
  void drain(Session& s);
  void fail(const std::string& what);
  /// An errno a step may return under chaos: counted; anything else is a failure.
  bool expected(int r, const char* what, bool einval_ok);

  drivers::Display& d_;
  const int index_;
  std::mt19937 rng_;
  const std::atomic<bool>& stop_;
  Actor actor_;
  ClientStats st_;
  uint64_t next_seq_ = 1;
  long no_output_seen_ = 0;
  int64_t no_output_since_ = 0;  // mono_ns of the first of consecutive no-output sessions
};

}  // namespace udrm::soak
