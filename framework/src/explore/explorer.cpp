// The explorer's phases: record, sweep, random (PCT), exhaustive, shrink, report.
#include "udrm/explore/explorer.h"

#include <fnmatch.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <set>

#include "engine.h"

namespace udrm::explore {

int Scenario::unbind(Run&) { return -EOPNOTSUPP; }
int Scenario::unplug(Run&) { return -EOPNOTSUPP; }
int Scenario::close(Run&) { return -EOPNOTSUPP; }
int Scenario::rebind(Run&) { return -EOPNOTSUPP; }

struct Explorer::Recording {
  RunResult result;
  std::vector<detail::SiteRec> sites, fault_sites;
};

namespace {

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  return x;
}

std::string first_oracle(const RunResult& r) { return r.findings.empty() ? std::string() : r.findings.front().oracle; }

std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out;
}

}  // namespace

Explorer::Explorer(Scenario& s, Options o) : scenario_(s), opts_(std::move(o)) {}

Explorer::Recording Explorer::record(Event) {
  detail::EngineConfig cfg;
  cfg.schedule.scenario = scenario_.name();
  cfg.record_sites = true;
  cfg.record_alternatives = opts_.exhaustive;
  cfg.step_budget = opts_.step_budget;
  detail::Engine eng(scenario_, std::move(cfg));
  eng.execute();
  Recording rec;
  rec.result = std::move(eng.result());
  rec.sites = std::move(eng.sites());
  rec.fault_sites = std::move(eng.fault_sites());
  return rec;
}

RunResult Explorer::run(const Schedule& s, bool strict) {
  detail::EngineConfig cfg;
  cfg.schedule = s;
  cfg.schedule.scenario = scenario_.name();
  cfg.step_budget = opts_.step_budget;
  cfg.strict = strict;
  detail::Engine eng(scenario_, std::move(cfg));
  eng.execute();
  return std::move(eng.result());
}

Schedule Explorer::shrink(const Schedule& s, const Recording& rec, RunResult* last, int* runs) {
  Schedule cur = s;
  const std::string oracle = first_oracle(*last);
  auto still_fails = [&](const Schedule& cand) -> bool {
    if (*runs >= opts_.max_shrink_runs) return false;
    ++*runs;
    RunResult r = run(cand, false);
    if (!r.failed() || first_oracle(r) != oracle) return false;
    *last = std::move(r);
    return true;
  };
  // 1. Fewer scheduling decisions (preemptions and picks), newest first.
  for (std::size_t i = cur.decisions.size(); i-- > 0;) {
    Schedule cand = cur;
    cand.decisions.erase(cand.decisions.begin() + static_cast<std::ptrdiff_t>(i));
    if (still_fails(cand)) cur = std::move(cand);
  }
  // 2. The earliest injection site that still fails.
  if (cur.event != Event::none) {
    const auto& sites = cur.event == Event::fail ? rec.fault_sites : rec.sites;
    for (const auto& sr : sites) {
      if (sr.site == cur.where) break;
      Schedule cand = cur;
      cand.where = sr.site;
      if (still_fails(cand)) {
        cur = std::move(cand);
        break;
      }
    }
  }
  return cur;
}

std::optional<Failure> Explorer::finish(RunResult r, Report& rep) {
  Failure f;
  f.decisions_before_shrink = r.schedule.decisions.size();
  Schedule s = r.schedule;
  s.scenario = scenario_.name();
  if (opts_.shrink) {
    Recording rec;
    if (s.event != Event::none) rec = record(s.event);
    s = shrink(s, rec, &r, &f.shrink_runs);
    rep.runs += static_cast<uint64_t>(f.shrink_runs) + (s.event != Event::none ? 1 : 0);
  }
  f.schedule = s;
  f.token = encode(s);
  f.run = std::move(r);
  std::string dir = opts_.replay_dir;
  if (dir.empty()) {
    const char* env = std::getenv("UDRM_REPLAY_DIR");
    dir = env && *env ? env : ".";
  }
  if (dir != "-") {
    std::string path = dir + "/udrm-replay-" + file_safe(scenario_.name()) + ".token";
    if (FILE* fp = std::fopen(path.c_str(), "w")) {
      std::fprintf(fp, "%s\n", f.token.c_str());
      std::fclose(fp);
      f.token_file = path;
    }
  }
  return f;
}

Report Explorer::explore() {
  Report rep;
  rep.scenario = scenario_.name();
  const auto t0 = std::chrono::steady_clock::now();
  auto done = [&] {
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
  };
  Recording rec = record(Event::none);
  ++rep.runs;
  if (opts_.verbose)
    std::printf("[ explore ] %s: recording run: %zu sites, %zu fault-site consults, %llu steps\n", rep.scenario.c_str(),
                rec.sites.size(), rec.fault_sites.size(), static_cast<unsigned long long>(rec.result.steps));
  if (rec.result.failed()) {
    rep.failure = finish(std::move(rec.result), rep);
    return done();
  }
  std::vector<Event> events = opts_.events;
  if (events.empty()) {
    events = scenario_.events();
    events.push_back(Event::fail);
  }
  auto selected = [&](const std::vector<detail::SiteRec>& all) {
    std::vector<const Site*> out;
    for (const auto& sr : all)
      if (opts_.point_filter.empty() || fnmatch(opts_.point_filter.c_str(), sr.site.point.c_str(), 0) == 0)
        out.push_back(&sr.site);
    return out;
  };

  // Sweep: every site, every event.
  for (Event e : events) {
    if (e == Event::none) continue;
    auto sites = selected(e == Event::fail ? rec.fault_sites : rec.sites);
    Coverage cov;
    cov.event = e;
    cov.sites = sites.size();
    std::set<std::string> names;
    for (const Site* s : sites) names.insert(s->point);
    cov.points = names.size();
    for (const Site* s : sites) {
      Schedule sch;
      sch.scenario = rep.scenario;
      sch.event = e;
      sch.where = *s;
      // UDRM_EXPLORE_TRACE_RUNS=1: print every schedule before it runs (finding a run that hangs).
      if (getenv("UDRM_EXPLORE_TRACE_RUNS")) std::fprintf(stderr, "run %s\n", encode(sch).c_str());
      RunResult r = run(sch, false);
      ++rep.runs;
      if (r.fired) ++cov.injected;
      if (r.failed() && !rep.failure) {
        rep.coverage.push_back(cov);
        rep.failure = finish(std::move(r), rep);
        if (opts_.stop_at_first) return done();
        rep.coverage.pop_back();
      }
    }
    rep.coverage.push_back(cov);
    if (opts_.verbose)
      std::printf("[ explore ] %s: %s injected at %zu/%zu sites (%zu points)\n", rep.scenario.c_str(), event_name(e),
                  cov.injected, cov.sites, cov.points);
  }

  // Random schedules (PCT) per injection site, and without injection.
  if (opts_.pct_runs_per_site > 0 || opts_.pct_runs_plain > 0) {
    auto pct_run = [&](Event e, const Site* where, uint64_t seed) -> bool {
      detail::EngineConfig cfg;
      cfg.schedule.scenario = rep.scenario;
      cfg.schedule.event = e;
      if (where) cfg.schedule.where = *where;
      cfg.pct = true;
      cfg.pct_seed = seed;
      cfg.pct_depth = opts_.pct_depth;
      cfg.pct_steps_estimate = rec.sites.size();
      cfg.step_budget = opts_.step_budget;
      detail::Engine eng(scenario_, std::move(cfg));
      eng.execute();
      ++rep.runs;
      ++rep.pct_runs;
      if (eng.result().failed() && !rep.failure) {
        rep.failure = finish(std::move(eng.result()), rep);
        return opts_.stop_at_first;
      }
      return false;
    };
    for (int k = 0; k < opts_.pct_runs_plain; ++k)
      if (pct_run(Event::none, nullptr, mix(opts_.seed, static_cast<uint64_t>(k)))) return done();
    for (Event e : events) {
      if (e == Event::none || e == Event::fail || opts_.pct_runs_per_site <= 0) continue;
      auto sites = selected(rec.sites);
      for (std::size_t i = 0; i < sites.size(); ++i)
        for (int k = 0; k < opts_.pct_runs_per_site; ++k)
          if (pct_run(e, sites[i], mix(mix(opts_.seed, static_cast<uint64_t>(e)), i * 1000 + static_cast<uint64_t>(k))))
            return done();
    }
    if (opts_.verbose)
      std::printf("[ explore ] %s: %llu random schedules (PCT depth %d)\n", rep.scenario.c_str(),
                  static_cast<unsigned long long>(rep.pct_runs), opts_.pct_depth);
  }

  // Bounded exhaustive search over preemptions of the plain scenario.
  if (opts_.exhaustive) {
    struct Node {
      Schedule s;
      std::vector<detail::SiteRec> sites;
      std::size_t from;  // branch only at sites from here on
      int depth;
    };
    std::deque<Node> todo;
    todo.push_back(Node{Schedule{rep.scenario, Event::none, {}, {}}, rec.sites, 0, 0});
    while (!todo.empty() && rep.exhaustive_runs < opts_.exhaustive_budget) {
      Node n = std::move(todo.front());
      todo.pop_front();
      if (n.depth >= opts_.exhaustive_preemptions) continue;
      for (std::size_t i = n.from; i < n.sites.size() && rep.exhaustive_runs < opts_.exhaustive_budget; ++i) {
        for (const auto& alt : n.sites[i].alternatives) {
          if (rep.exhaustive_runs >= opts_.exhaustive_budget) break;
          Schedule s = n.s;
          s.decisions.push_back(Decision{Decision::Kind::preempt, n.sites[i].site, alt.first, alt.second});
          detail::EngineConfig cfg;
          cfg.schedule = s;
          cfg.record_sites = true;
          cfg.record_alternatives = true;
          cfg.step_budget = opts_.step_budget;
          detail::Engine eng(scenario_, std::move(cfg));
          eng.execute();
          ++rep.runs;
          ++rep.exhaustive_runs;
          if (eng.result().failed() && !rep.failure) {
            rep.failure = finish(std::move(eng.result()), rep);
            if (opts_.stop_at_first) return done();
            continue;
          }
          // Children branch after the new decision's site in the child's own run.
          std::size_t at = 0;
          auto& cs = eng.sites();
          while (at < cs.size() && !(cs[at].site == s.decisions.back().at)) ++at;
          todo.push_back(Node{std::move(s), std::move(cs), at + 1, n.depth + 1});
        }
      }
    }
    if (opts_.verbose)
      std::printf("[ explore ] %s: %llu exhaustive schedules (<= %d preemptions)\n", rep.scenario.c_str(),
                  static_cast<unsigned long long>(rep.exhaustive_runs), opts_.exhaustive_preemptions);
  }
  return done();
}

Report Explorer::replay(std::string_view token) {
  Report rep;
  rep.scenario = scenario_.name();
  const auto t0 = std::chrono::steady_clock::now();
  Schedule s;
  std::string err;
  RunResult r;
  if (!decode(token, &s, &err)) {
    r.findings.push_back(Finding{"token", err});
  } else if (s.scenario != scenario_.name()) {
    r.findings.push_back(Finding{"token", "token is for scenario '" + s.scenario + "', not '" + scenario_.name() + "'"});
  } else {
    r = run(s, true);
    ++rep.runs;
  }
  if (r.failed()) {
    Failure f;
    f.schedule = s;
    f.token = std::string(token);
    f.run = std::move(r);
    rep.failure = std::move(f);
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

std::string Report::text() const {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "explorer: scenario %s: %llu runs in %.3f s\n", scenario.c_str(),
                static_cast<unsigned long long>(runs), seconds);
  out += buf;
  for (const Coverage& c : coverage) {
    std::snprintf(buf, sizeof buf, "  %s injected at %zu/%zu %s (%zu distinct %s)\n", event_name(c.event), c.injected,
                  c.sites, c.event == Event::fail ? "fault-site consults" : "points", c.points,
                  c.event == Event::fail ? "fault sites" : "point names");
    out += buf;
  }
  if (pct_runs) out += "  random schedules (PCT): " + std::to_string(pct_runs) + "\n";
  if (exhaustive_runs) out += "  exhaustive schedules: " + std::to_string(exhaustive_runs) + "\n";
  if (!failure) {
    out += "  result: OK (every oracle held in every run)\n";
    return out;
  }
  const Failure& f = *failure;
  out += "  result: BUG FOUND\n";
  for (const Finding& fd : f.run.findings) out += "  [" + fd.oracle + "] " + fd.what + "\n";
  if (f.schedule.event != Event::none)
    out += std::string("  injected: ") + event_name(f.schedule.event) + " at " + to_string(f.schedule.where) + "\n";
  if (!f.run.first_warn_site.empty()) out += "  first went wrong " + f.run.first_warn_site + "\n";
  out += "  schedule: " + std::to_string(f.schedule.decisions.size()) + " scheduling decision(s)";
  if (f.shrink_runs)
    out += " (shrunk from " + std::to_string(f.decisions_before_shrink) + " in " + std::to_string(f.shrink_runs) +
           " runs)";
  out += "\n  replay: UDRM_REPLAY='" + f.token + "'\n";
  if (!f.token_file.empty()) out += "  token written to " + f.token_file + "\n";
  return out;
}

}  // namespace udrm::explore
