// The explorer in GoogleTest (udrm/testing/explore.h).
#include "udrm/testing/explore.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "udrm/base/log.h"
#include "udrm/testing/warn.h"

namespace udrm::testing {
namespace {

std::string& token_storage() {
  static std::string t = [] {
    const char* e = std::getenv("UDRM_REPLAY");
    return std::string(e ? e : "");
  }();
  return t;
}

int env_int(const char* name, int def) {
  const char* e = std::getenv(name);
  return e && *e ? std::atoi(e) : def;
}

// The scenario a token names ("" if malformed).
std::string token_scenario(const std::string& tok) {
  explore::Schedule s;
  std::string err;
  return explore::decode(tok, &s, &err) ? s.scenario : std::string();
}

// WARNs inside the explorer's runs are its findings, not the test's unexpected WARNs.
class WarnsAreFindings {
 public:
  WarnsAreFindings() : w_(ExpectWarn::kAny) {}

 private:
  ExpectWarn w_;
};

}  // namespace

void parse_explore_flags(int* argc, char** argv) {
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp(argv[i], "--udrm_replay=", 14) == 0) {
      token_storage() = argv[i] + 14;
      continue;
    }
    argv[out++] = argv[i];
  }
  *argc = out;
  argv[out] = nullptr;
}

const std::string& replay_token() { return token_storage(); }

explore::Options explore_options() {
  explore::Options o;
  int seed = ::testing::UnitTest::GetInstance()->random_seed();
  o.seed = seed > 0 ? static_cast<uint64_t>(seed) : 1;
  if (const char* p = std::getenv("UDRM_EXPLORE_POINTS")) o.point_filter = p;
  o.pct_runs_per_site = env_int("UDRM_EXPLORE_PCT", 0);
  o.pct_depth = env_int("UDRM_EXPLORE_PCT_DEPTH", 3);
  int k = env_int("UDRM_EXPLORE_EXHAUSTIVE", 0);
  if (k > 0) {
    o.exhaustive = true;
    o.exhaustive_preemptions = k;
  }
  o.verbose = env_int("UDRM_EXPLORE_VERBOSE", 0) != 0;
  return o;
}

::testing::AssertionResult explore_clean(explore::Scenario& s, explore::Options opts) {
  WarnsAreFindings accounted;
  explore::Explorer ex(s, opts);
  const std::string& tok = replay_token();
  explore::Report rep =
      !tok.empty() && token_scenario(tok) == s.name() ? ex.replay(tok) : ex.explore();
  std::printf("%s", rep.text().c_str());
  if (rep.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\n" << rep.text();
}

::testing::AssertionResult explore_finds(explore::Scenario& s, const std::string& oracle, explore::Report* out,
                                        explore::Options opts) {
  WarnsAreFindings accounted;
  if (opts.replay_dir.empty()) opts.replay_dir = "-";
  explore::Explorer ex(s, opts);
  const std::string& tok = replay_token();
  explore::Report rep =
      !tok.empty() && token_scenario(tok) == s.name() ? ex.replay(tok) : ex.explore();
  std::printf("%s", rep.text().c_str());
  if (out) *out = rep;
  if (!rep.failure) return ::testing::AssertionFailure() << "the explorer found no bug in " << s.name() << "\n" << rep.text();
  const auto& f = rep.failure->run.findings;
  if (!oracle.empty() && (f.empty() || f.front().oracle != oracle))
    return ::testing::AssertionFailure() << "expected a '" << oracle << "' finding first\n" << rep.text();
  return ::testing::AssertionSuccess();
}

}  // namespace udrm::testing
