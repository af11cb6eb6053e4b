// udrm/explore/scenario.h — what a driver developer writes for the explorer: a scenario.
//
// A Scenario builds its world (setup), runs the client steps whose every scheduling point the
// explorer sweeps (body), knows how to perform the domain events the explorer injects
// (unbind, unplug, close, rebind), and tears down and checks (teardown). The explorer runs it
// many times on fresh SimExecutors with a virtual clock; each run gets a Run, through which the
// scenario reports what it observed (Run::check) and the explorer reports what its oracles saw.
//
// Rules for a scenario: create everything inside setup() (nothing may survive a run); wait
// only through udrm primitives (sleep_for, Completion, KmsClient::read...) so the virtual
// clock advances; tolerate the injected event at any point (an ioctl may return -ENODEV, a
// file may already be closed by the explorer); never assume which task runs first.
//
// Lifetime: one Scenario object serves every run of a sweep; per-run state belongs in members
// reset by setup(). Context: every method runs inside a simulated task (setup/body/teardown:
// the run's main task; events: the explorer's injector task), process context, may sleep.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "udrm/explore/schedule.h"

namespace udrm {
class SimExecutor;
class World;
}  // namespace udrm

namespace udrm::explore {

/// One finding of an oracle: what went wrong and where.
struct Finding {
  std::string oracle;  ///< e.g. "violation", "callback-after-unbind", "event", "deadlock"
  std::string what;    ///< one or more lines naming the objects and points involved
};

/// The per-run context a scenario sees.
class Run {
 public:
  virtual ~Run() = default;
  virtual SimExecutor& sim() = 0;
  virtual World& world() = 0;
  /// The event this run injects (Event::none when none) and whether it has happened / ended.
  virtual Event event() const = 0;
  virtual bool event_fired() const = 0;
  virtual bool event_done() const = 0;
  /// The return value of the injected event's operation (0 until it ran).
  virtual int event_result() const = 0;
  /// Record a finding (the run fails); `oracle` is a short tag.
  virtual void fail(std::string oracle, std::string what) = 0;
  /// Record a finding unless cond holds. Returns cond.
  bool check(bool cond, const char* oracle, std::string what) {
    if (!cond) fail(oracle, std::move(what));
    return cond;
  }
  /// Wait (virtual time, at most `ms`) until the injected event, if it fired, has completed.
  /// Returns false on timeout (a finding is recorded: the event hangs).
  virtual bool wait_event_done(int ms = 10'000) = 0;
  /// The scenario rebinds on its own (e.g. a health check in teardown): driver callbacks are
  /// expected again from here on.
  virtual void note_rebind() = 0;
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  /// Stable name, part of replay tokens ("soc.commit").
  virtual std::string name() const = 0;
  /// One line for reports.
  virtual std::string description() const { return name(); }
  /// The events this scenario supports (the sweep injects each).
  virtual std::vector<Event> events() const { return {Event::unbind, Event::unplug, Event::close, Event::rebind}; }

  /// Build the world and bind. Return 0, or the errno an injected fault produced (the explorer
  /// then skips body and calls teardown). Points passed here are not injection sites for
  /// domain events (fault sites are).
  virtual int setup(Run& run) = 0;
  /// The swept client steps.
  virtual void body(Run& run) = 0;
  /// Close everything, settle, check the end state (device freed, nothing left on, events
  /// accounted). Called after the injected event completed; also after a failed setup.
  virtual void teardown(Run& run) = 0;

  /// The domain events; each returns 0 or -errno. Default: -EOPNOTSUPP.
  virtual int unbind(Run&);
  virtual int unplug(Run&);
  virtual int close(Run&);
  virtual int rebind(Run&);

  /// Point name prefixes of the driver's own callbacks (e.g. "soc."): after an injected unbind
  /// or unplug returned, and until a rebind starts, a driver callback other than those listed in
  /// release_points() is a finding. Empty: the oracle is off.
  virtual std::vector<std::string> driver_points() const { return {}; }
  virtual std::vector<std::string> release_points() const { return {}; }
};

}  // namespace udrm::explore
