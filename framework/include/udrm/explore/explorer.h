// udrm/explore/explorer.h — prove a scenario safe against unbind/unplug/close/rebind and
// allocation failure at every point, or name the bug with a token that replays it.
//
// explore() does, on fresh SimExecutors with a virtual clock (no sleeps, deterministic):
//  1. a recording run: every scheduling point passed by every task during body() is a site;
//     every fault-site consult during setup()+body() is a fault site;
//  2. the sweep: for each event of the scenario and each site, one run with the event injected
//     right there (the injector task is switched to at that point); for Event::fail, one run
//     per fault-site consult with that consult failing (fail-nth);
//  3. optional seeded PCT schedules (priority-based random preemption, depth d) per injection
//     site, and an opt-in preemption-bounded exhaustive search;
//  4. on the first failing run: shrink (drop scheduling decisions, move the injection to the
//     earliest site that still fails), then report the findings, the two points involved (the
//     injection site and where the oracle fired) and the replay token, also written to a file.
// Oracles, every run: lifetime violations (World), WARNs (the first site after which one
// appeared is named), driver callbacks after unbind returned, deadlock (nothing runnable, tasks
// waiting), livelock (step budget), an injected event that never completes, devm/drmm release
// order (LIFO per owner), writes to released devm memory (poisoned), plus the scenario's own
// checks (device freed, nothing left on, events exactly once).
//
// Lifetime: an Explorer borrows its Scenario. Context: call from a normal thread (not from a
// simulated task); runs synchronously.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "udrm/explore/scenario.h"
#include "udrm/explore/schedule.h"

namespace udrm::explore {

struct Options {
  uint64_t seed = 1;
  /// Events to inject (empty: the scenario's events() plus Event::fail).
  std::vector<Event> events;
  /// Only inject at sites whose point name matches this glob (fnmatch; "" = every site).
  std::string point_filter;
  /// Seeded PCT schedules per injection site after the sweep (0 = none), and the PCT depth.
  int pct_runs_per_site = 0;
  int pct_depth = 3;
  /// Plain PCT runs without injection (races within the scenario itself).
  int pct_runs_plain = 0;
  /// Opt-in bounded exhaustive search: every schedule with at most `exhaustive_preemptions`
  /// preemptions of the plain scenario (no injection), at most `exhaustive_budget` runs.
  bool exhaustive = false;
  int exhaustive_preemptions = 1;
  uint64_t exhaustive_budget = 20'000;
  /// Stop at the first failure (after shrinking it).
  bool stop_at_first = true;
  bool shrink = true;
  int max_shrink_runs = 300;
  /// Per-run step budget (points + switches) before a run counts as a livelock.
  uint64_t step_budget = 5'000'000;
  /// Directory for failing tokens ("" = $UDRM_REPLAY_DIR, else the current directory);
  /// "-" = do not write.
  std::string replay_dir;
  /// Print a line per phase to stdout.
  bool verbose = false;
};

struct Coverage {
  Event event = Event::none;
  std::size_t sites = 0;     ///< sites (or fault-site consults) the recording run offered
  std::size_t injected = 0;  ///< runs in which the event actually fired at its site
  std::size_t points = 0;    ///< distinct point (or fault-site) names among the sites
};

struct RunResult {
  std::vector<Finding> findings;
  bool fired = false;          ///< the injected event happened
  uint64_t steps = 0;
  Schedule schedule;           ///< what this run did (decisions taken)
  std::string first_warn_site; ///< where the first WARN / violation became visible
  std::vector<std::string> unreached;  ///< token points this run never passed (replay)
  bool failed() const { return !findings.empty(); }
};

struct Failure {
  Schedule schedule;
  std::string token;
  std::string token_file;  ///< where the token was written ("" if not)
  RunResult run;
  int shrink_runs = 0;
  std::size_t decisions_before_shrink = 0;
};

struct Report {
  std::string scenario;
  std::vector<Coverage> coverage;
  uint64_t runs = 0;
  uint64_t pct_runs = 0;
  uint64_t exhaustive_runs = 0;
  double seconds = 0;
  std::optional<Failure> failure;
  bool ok() const { return !failure; }
  /// Human-readable report: coverage lines ("unbind injected at 41/41 sites (17 points)"),
  /// and for a failure its findings, the injection site, the oracle's site and the token.
  std::string text() const;
};

class Explorer {
 public:
  explicit Explorer(Scenario& s, Options o = {});

  /// Record, sweep, random and exhaustive phases as configured.
  Report explore();
  /// Run one schedule exactly (a replay). Points named by the token that the run never passed
  /// are listed in RunResult::unreached and reported as a finding ("renamed point?").
  RunResult run(const Schedule& s, bool strict = true);
  /// Decode and replay a token; the report's failure is set iff the replay fails (a token for
  /// another scenario is an error finding).
  Report replay(std::string_view token);

  const Options& options() const { return opts_; }

 private:
  struct Recording;
  Recording record(Event e);
  std::optional<Failure> finish(RunResult r, Report& rep);
  Schedule shrink(const Schedule& s, const Recording& rec, RunResult* last, int* runs);

  Scenario& scenario_;
  Options opts_;
};

}  // namespace udrm::explore
