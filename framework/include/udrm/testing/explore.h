// udrm/testing/explore.h — the explorer in GoogleTest.
//
//   UDRM_EXPLORE_TEST(MyDriver, UnbindDuringCommit, std::make_unique<MyScenario>());
//
// builds the scenario, sweeps it (every event at every point, fail-nth over every fault site)
// and fails the test with the explorer's report — findings, the two points involved and the
// replay token — when an oracle fires. Knobs (environment, or the test binary's flags):
//   --udrm_replay=TOKEN | UDRM_REPLAY=TOKEN   replay exactly that schedule (only in tests whose
//                                             scenario the token names; others run normally)
//   --gtest_random_seed=N                     seeds the random (PCT) schedules
//   UDRM_EXPLORE_POINTS=GLOB                  only inject at points matching GLOB ("atomic.*")
//   UDRM_EXPLORE_PCT=N                        N PCT schedules per injection site (default 0)
//   UDRM_EXPLORE_PCT_DEPTH=D                  PCT depth (default 3)
//   UDRM_EXPLORE_EXHAUSTIVE=K                 also every schedule with <= K preemptions
//   UDRM_REPLAY_DIR=DIR                       where failing tokens are written (default: cwd)
//   UDRM_EXPLORE_VERBOSE=1                    print each phase's coverage line
// The coverage lines are printed for every sweep ("unbind injected at 41/41 points").
//
// Context: the test's thread (not inside a simulated task).
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "udrm/explore/explorer.h"

namespace udrm::testing {

/// Options from the environment and flags above (seed from --gtest_random_seed, else 1).
explore::Options explore_options();
/// The token given with --udrm_replay / UDRM_REPLAY ("" if none).
const std::string& replay_token();
/// Called by udrm's test main with argc/argv before GoogleTest sees them.
void parse_explore_flags(int* argc, char** argv);

/// Sweep `s` (or replay the token if it names s); success iff every oracle held.
::testing::AssertionResult explore_clean(explore::Scenario& s, explore::Options opts = explore_options());
/// For the bug zoo: the explorer must report a bug whose first finding's oracle is `oracle`
/// ("" = any); the report is stored in *out. Fails if nothing was found.
::testing::AssertionResult explore_finds(explore::Scenario& s, const std::string& oracle, explore::Report* out = nullptr,
                                        explore::Options opts = explore_options());

}  // namespace udrm::testing

#define UDRM_EXPLORE_TEST(suite, name, ...)                                  \
  TEST(suite, name) {                                                        \
    auto udrm_scenario_ = (__VA_ARGS__);                                     \
    EXPECT_TRUE(::udrm::testing::explore_clean(*udrm_scenario_));            \
  }
