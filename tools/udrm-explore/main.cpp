// udrm-explore: run a named scenario of the reference drivers under the explorer and print its
// report (coverage lines, findings, the replay token). `udrmctl explore` runs this program.
// See --help; docs/explorer.md explains the report.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "udrm/drivers/scenarios.h"
#include "udrm/explore/explorer.h"
#include "udrm/explore/schedule.h"

namespace {

namespace ex = udrm::explore;

constexpr const char* kUsage =
    "usage: udrm-explore [OPTIONS] SCENARIO\n"
    "       udrm-explore --list\n"
    "Sweeps SCENARIO: records its scheduling points, then injects each event (unbind, unplug,\n"
    "close, rebind; fail = allocation/registration failure at every fault site) at every point,\n"
    "checks every oracle, and prints the coverage and the first bug found with its replay token.\n"
    "options:\n"
    "  --list              print the scenario names, one per line\n"
    "  --events LIST       comma-separated events to inject (default: all of the scenario's + fail)\n"
    "  --points GLOB       inject only at points matching GLOB (e.g. 'atomic.*')\n"
    "  --pct N             N seeded random (PCT) schedules per injection site after the sweep\n"
    "  --depth D           PCT depth (default 3)\n"
    "  --exhaustive K      also every schedule with at most K preemptions (bounded)\n"
    "  --seed N            seed of the random schedules (default 1)\n"
    "  --replay TOKEN      replay exactly one schedule (SCENARIO may be omitted)\n"
    "  --token-dir DIR     write a failing schedule's token to DIR (default: no file)\n"
    "  --verbose           print a line per phase while running\n"
    "Exit status: 0 every oracle held, 1 a bug was found, 2 usage error.\n";

int usage(const std::string& why) {
  std::fprintf(stderr, "udrm-explore: %s\n%s", why.c_str(), kUsage);
  return 2;
}

bool parse_int(const char* s, long lo, long hi, long* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  ex::Options o;
  o.replay_dir = "-";
  std::string scenario, token;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)what;
      return argv[++i];
    };
    long n = 0;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--list") {
      for (const std::string& s : udrm::drivers::scenario_names()) std::printf("%s\n", s.c_str());
      return 0;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--events") {
      const char* v = value("--events");
      if (!v) return usage("--events needs a list");
      std::string_view list = v;
      o.events.clear();
      while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view name = list.substr(0, comma);
        ex::Event e;
        if (!ex::event_from_name(name, &e) || e == ex::Event::none)
          return usage("unknown event '" + std::string(name) + "' (unbind, unplug, close, rebind, fail)");
        o.events.push_back(e);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      }
      if (o.events.empty()) return usage("--events needs at least one event");
    } else if (a == "--points") {
      const char* v = value("--points");
      if (!v) return usage("--points needs a glob");
      o.point_filter = v;
    } else if (a == "--pct") {
      const char* v = value("--pct");
      if (!v || !parse_int(v, 0, 1'000'000, &n)) return usage("--pct needs a count 0..1000000");
      o.pct_runs_per_site = static_cast<int>(n);
    } else if (a == "--depth") {
      const char* v = value("--depth");
      if (!v || !parse_int(v, 1, 64, &n)) return usage("--depth needs a depth 1..64");
      o.pct_depth = static_cast<int>(n);
    } else if (a == "--exhaustive") {
      const char* v = value("--exhaustive");
      if (!v || !parse_int(v, 0, 8, &n)) return usage("--exhaustive needs a preemption bound 0..8");
      o.exhaustive = true;
      o.exhaustive_preemptions = static_cast<int>(n);
    } else if (a == "--seed") {
      const char* v = value("--seed");
      if (!v || !parse_int(v, 0, 0x7fffffffL, &n)) return usage("--seed needs a number");
      o.seed = static_cast<uint64_t>(n);
    } else if (a == "--replay") {
      const char* v = value("--replay");
      if (!v) return usage("--replay needs a token");
      token = v;
    } else if (a == "--token-dir") {
      const char* v = value("--token-dir");
      if (!v || !*v) return usage("--token-dir needs a directory");
      o.replay_dir = v;
    } else if (a.rfind("--", 0) == 0) {
      return usage("unknown option " + std::string(a));
    } else if (scenario.empty()) {
      scenario = a;
    } else {
      return usage("more than one scenario given");
    }
  }
  if (!token.empty() && scenario.empty()) {
    ex::Schedule s;
    std::string why;
    if (!ex::decode(token, &s, &why)) return usage("bad token: " + why);
    scenario = s.scenario;
  }
  if (scenario.empty()) return usage("no scenario (try --list)");
  auto sc = udrm::drivers::make_scenario(scenario);
  if (!sc) return usage("unknown scenario '" + scenario + "' (try --list)");
  ex::Explorer explorer(*sc, o);
  const ex::Report rep = token.empty() ? explorer.explore() : explorer.replay(token);
  std::fputs(rep.text().c_str(), stdout);
  return rep.ok() ? 0 : 1;
}
