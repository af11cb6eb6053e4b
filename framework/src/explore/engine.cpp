// One explorer run (engine.h).
#include "engine.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "udrm/base/log.h"
#include "udrm/core/world.h"
#include "udrm/core/poison.h"

namespace udrm::explore::detail {

namespace {
constexpr const char* kInjectorTask = "explore.injector";  // also how a token names it
}  // namespace

Engine::Engine(Scenario& sc, EngineConfig cfg) : sc_(sc), cfg_(std::move(cfg)), rng_(cfg_.pct_seed) {
  result_.schedule.scenario = cfg_.schedule.scenario;
  result_.schedule.event = cfg_.schedule.event;
  result_.schedule.where = cfg_.schedule.where;
  for (const Decision& d : cfg_.schedule.decisions)
    decisions_.emplace(key(d.kind == Decision::Kind::preempt ? 'p' : 'b', d.at), &d);
  driver_prefixes_ = sc_.driver_points();
  release_points_ = sc_.release_points();
  if (cfg_.pct) {
    for (int i = 1; i < cfg_.pct_depth; ++i)
      change_points_.push_back(1 + rng_() % std::max<uint64_t>(cfg_.pct_steps_estimate, 1));
    std::sort(change_points_.begin(), change_points_.end());
  }
}

Engine::~Engine() = default;

std::string Engine::key(char kind, const Site& s) const {
  std::string k;
  k.reserve(s.point.size() + s.task.size() + 24);
  k += kind;
  k += s.point;
  k += '\x1f';
  k += s.task;
  k += '\x1f';
  k += std::to_string(s.task_seq);
  k += '\x1f';
  k += std::to_string(s.occurrence);
  return k;
}

void Engine::fail(std::string oracle, std::string what) {
  result_.findings.push_back(Finding{std::move(oracle), std::move(what)});
}

uint32_t Engine::point_id(const Point& p) {
  auto it = point_ids_.find(&p);
  if (it != point_ids_.end()) return it->second;
  auto [nit, fresh] = point_names_.emplace(p.name, static_cast<uint32_t>(points_.size()));
  if (fresh) {
    PointInfo pi;
    pi.name = p.name;
    for (const Decision& d : cfg_.schedule.decisions)
      if (d.at.point == pi.name) pi.decision = true;
    pi.where = cfg_.schedule.event != Event::none && cfg_.schedule.where.point == pi.name;
    for (const auto& pre : driver_prefixes_)
      if (pi.name.compare(0, pre.size(), pre) == 0) pi.driver = true;
    for (const auto& r : release_points_)
      if (pi.name == r) pi.release = true;
    points_.push_back(std::move(pi));
  }
  point_ids_.emplace(&p, nit->second);
  return nit->second;
}

Engine::TaskInfo& Engine::info(SimTask* t) {
  auto [it, fresh] = tasks_.try_emplace(t->id());
  if (fresh) {
    it->second.name = t->name();
    it->second.seq = t->name_seq();
    it->second.prio = cfg_.pct ? fresh_prio() : 0;
  }
  return it->second;
}

int64_t Engine::fresh_prio() {
  // Initial priorities are all >= depth; change points lower a task below every initial one.
  return static_cast<int64_t>(cfg_.pct_depth) + static_cast<int64_t>(rng_() >> 24);
}

Site Engine::site_of(const TaskInfo& ti) const {
  return Site{points_[ti.last_pid].name, ti.name, ti.seq, ti.last_occ};
}

void Engine::observe_thunk(void* ctx, const Point& p, SimTask* t) { static_cast<Engine*>(ctx)->observe(p, t); }

void Engine::observe(const Point& p, SimTask* t) {
  const uint32_t pid = point_id(p);
  TaskInfo& ti = info(t);
  if (ti.occ.size() <= pid) ti.occ.resize(pid + 1, 0);
  const uint32_t occ = ti.occ[pid]++;
  const bool had_last = ti.has_last;
  const uint32_t prev_pid = ti.last_pid, prev_occ = ti.last_occ;
  ti.last_pid = pid;
  ti.last_occ = occ;
  ti.has_last = true;
  cur_pid_ = pid;
  last_task_id_ = t->id();
  picks_since_point_ = 0;
  const bool is_injector = t == injector_;

  // Oracle: the first WARN (violations WARN too) is located between two points of one task.
  uint64_t w = warn_count();
  if (w != warns_seen_) {
    warns_seen_ = w;
    if (result_.first_warn_site.empty()) {
      first_warn_text_ = last_warning();
      result_.first_warn_site = "in task " + ti.name + (ti.seq ? "#" + std::to_string(ti.seq) : "") +
                                (had_last ? " after " + points_[prev_pid].name +
                                                (prev_occ ? " (pass " + std::to_string(prev_occ + 1) + ")" : "")
                                          : std::string(" before its first point")) +
                                ", before " + points_[pid].name;
    }
  }

  // Oracle: driver callbacks after the injected unbind/unplug returned.
  if (unbound_window_ && !is_injector && points_[pid].driver && !points_[pid].release && !reported_callback_) {
    reported_callback_ = true;
    fail("callback-after-unbind", "driver callback point '" + points_[pid].name + "' passed by task " + ti.name +
                                      " after the injected " + event_name(cfg_.schedule.event) + " returned");
  }

  if (phase_ == Phase::body && !is_injector) {
    ++body_steps_;
    if (cfg_.record_sites) sites_.push_back(SiteRec{Site{points_[pid].name, ti.name, ti.seq, occ}, {}});
    if (cfg_.pct) {
      while (next_change_ < change_points_.size() && body_steps_ >= change_points_[next_change_]) {
        ++next_change_;
        ti.prio = -static_cast<int64_t>(next_change_);
      }
    }
    const Event e = cfg_.schedule.event;
    if (!fired_ && points_[pid].where && e != Event::none && e != Event::fail) {
      const Site& w2 = cfg_.schedule.where;
      if (w2.task == ti.name && w2.task_seq == ti.seq && w2.occurrence == occ) {
        fired_ = true;
        switch_to_injector_ = true;
        go_.complete();
      }
    }
  }
}

SimTask* Engine::find_task(std::span<SimTask* const> ready, const std::string& name, uint32_t seq) {
  for (SimTask* t : ready)
    if (t->name_seq() == seq && name == t->name()) return t;
  return nullptr;
}

SimTask* Engine::at_point(SimExecutor&, const Point&, SimTask* current, std::span<SimTask* const> ready) {
  if (switch_to_injector_) {
    switch_to_injector_ = false;
    // Before its first step the injector task is not known by pointer yet: find it by name,
    // so the event runs at the site it names even when nothing blocked before that site.
    for (SimTask* t : ready)
      if (t == injector_ || (!injector_ && std::strcmp(t->name(), kInjectorTask) == 0)) return t;
  }
  TaskInfo& ti = info(current);
  if (cfg_.record_alternatives && phase_ == Phase::body && current != injector_ && !sites_.empty()) {
    auto& alts = sites_.back().alternatives;
    for (SimTask* t : ready) alts.emplace_back(t->name(), t->name_seq());
  }
  if (!decisions_.empty() && points_[cur_pid_].decision) {
    Site s = site_of(ti);
    auto it = decisions_.find(key('p', s));
    if (it != decisions_.end()) {
      if (SimTask* to = find_task(ready, it->second->to_task, it->second->to_seq)) {
        applied_.insert(it->second);
        result_.schedule.decisions.push_back(*it->second);
        return to;
      }
    }
  }
  if (cfg_.pct && phase_ == Phase::body) {
    SimTask* best = nullptr;
    int64_t best_prio = ti.prio;
    for (SimTask* t : ready) {
      int64_t pr = info(t).prio;
      if (pr > best_prio) {
        best_prio = pr;
        best = t;
      }
    }
    if (best) {
      result_.schedule.decisions.push_back(
          Decision{Decision::Kind::preempt, site_of(ti), best->name(), best->name_seq()});
      return best;
    }
  }
  return nullptr;
}

// A task polling a wait (it yields and re-checks, as a grace period waiting for readers does)
// goes below every other task: with strict priorities PCT would keep picking it, starve the task
// it waits for, and report a correct wait as a livelock.
void Engine::yielding(SimExecutor&, SimTask* current) {
  if (cfg_.pct && phase_ == Phase::body && current != injector_)
    info(current).prio = -(int64_t{1} << 40) - ++polls_lowered_;
}

SimTask* Engine::pick(SimExecutor&, std::span<SimTask* const> ready) {
  // Only the first pick after a point is a decision (later ones follow FIFO): that keeps the
  // key "the site the last running task passed" unique.
  if (picks_since_point_++ > 0 || last_task_id_ == 0) return ready.front();
  auto lt = tasks_.find(last_task_id_);
  if (lt == tasks_.end() || !lt->second.has_last) return ready.front();
  if (!decisions_.empty() && points_[lt->second.last_pid].decision) {
    Site s = site_of(lt->second);
    auto it = decisions_.find(key('b', s));
    if (it != decisions_.end()) {
      if (SimTask* to = find_task(ready, it->second->to_task, it->second->to_seq)) {
        applied_.insert(it->second);
        result_.schedule.decisions.push_back(*it->second);
        return to;
      }
    }
  }
  if (cfg_.pct && phase_ == Phase::body) {
    SimTask* best = ready.front();
    int64_t best_prio = info(best).prio;
    for (SimTask* t : ready) {
      int64_t pr = info(t).prio;
      if (pr > best_prio) {
        best_prio = pr;
        best = t;
      }
    }
    if (best != ready.front()) {
      result_.schedule.decisions.push_back(
          Decision{Decision::Kind::pick, site_of(lt->second), best->name(), best->name_seq()});
    }
    return best;
  }
  return ready.front();
}

bool Engine::should_fail(const Point& site) {
  if (phase_ == Phase::teardown) return false;
  const uint32_t occ = fault_occ_[site.name]++;
  if (cfg_.record_sites) fault_sites_.push_back(SiteRec{Site{site.name, "-", 0, occ}, {}});
  if (cfg_.schedule.event == Event::fail && !fired_ && occ == cfg_.schedule.where.occurrence &&
      cfg_.schedule.where.point == site.name) {
    fired_ = true;
    event_done_ = true;
    return true;
  }
  return false;
}

bool Engine::wait_event_done(int ms) {
  if (!fired_ || event_done_) return true;
  if (event_done_c_.wait_timeout(std::chrono::milliseconds(ms))) return true;
  fail("event-hang", std::string("the injected ") + event_name(cfg_.schedule.event) + " did not return within " +
                         std::to_string(ms) + " ms of virtual time");
  return false;
}

void Engine::note_rebind() { unbound_window_ = false; }

int Engine::do_event() {
  switch (cfg_.schedule.event) {
    case Event::unbind: {
      int r = sc_.unbind(*this);
      unbound_window_ = r == 0;
      return r;
    }
    case Event::unplug: {
      int r = sc_.unplug(*this);
      unbound_window_ = r == 0;
      return r;
    }
    case Event::close:
      return sc_.close(*this);
    case Event::rebind: {
      int r = sc_.unbind(*this);
      if (r) return r;
      return sc_.rebind(*this);
    }
    case Event::none:
    case Event::fail:
      break;
  }
  return 0;
}

void Engine::injector_task() {
  injector_ = sim_->current();
  go_.wait();
  if (!cancelled_) {
    event_ret_ = do_event();
    event_done_ = true;
    event_done_c_.complete_all();
  }
}

void Engine::main_task() {
  World world(*sim_);
  world_ = &world;
  ScopedReleaseTracer release_scope(release_log_);
  sim_->post([this] { injector_task(); }, kInjectorTask);
  phase_ = Phase::setup;
  int r = sc_.setup(*this);
  if (r == 0) {
    phase_ = Phase::body;
    sc_.body(*this);
    if (fired_) wait_event_done(10'000);
  } else if (cfg_.schedule.event != Event::fail || !fired_) {
    fail("setup", "setup failed with " + std::to_string(r) + " without an injected fault");
  }
  phase_ = Phase::teardown;
  if (!fired_ || cfg_.schedule.event == Event::fail) {  // the injector task never got its go
    cancelled_ = true;
    go_.complete();
  }
  sc_.teardown(*this);
  // Deferred work (final puts queued by workers, delayed frees) runs before the checks.
  sleep_for(std::chrono::milliseconds(50));
  for (const Violation& v : world.violations()) fail("violation", v.kind + ": " + v.message);
  for (const std::string& bad : release_log_.problems()) fail("release-order", bad);
  if (warn_count() != warns_at_start_) {
    fail("warn", std::to_string(warn_count() - warns_at_start_) + " WARN(s); first: " +
                     (first_warn_text_.empty() ? last_warning() : first_warn_text_) +
                     (result_.first_warn_site.empty() ? "" : "\n  first seen " + result_.first_warn_site));
  }
  world_ = nullptr;
}

void Engine::execute() {
  SimExecutor::Options so;
  so.step_budget = cfg_.step_budget;
  sim_ = std::make_unique<SimExecutor>(so);
  sim_->set_strategy(this);
  sim_->set_point_observer(&Engine::observe_thunk, this);
  warns_at_start_ = warn_count();
  warns_seen_ = warns_at_start_;
  {
    ScopedQuietWarnings quiet;
    ScopedPoison poison;
    ScopedFaultInjector fi(*this);
    auto r = sim_->run([this] { main_task(); }, "main");
    result_.steps = r.steps;
    if (!r) {
      fail(r.kind == SimExecutor::Result::Kind::deadlock ? "deadlock" : "livelock", r.report);
      if (!result_.first_warn_site.empty()) result_.findings.back().what += "\n  first WARN " + result_.first_warn_site;
    }
    sim_.reset();  // unwinds what a deadlocked run left blocked (their releases are checked too)
    for (const std::string& bad : poison_flush()) fail("devm-poison", bad);
  }
  result_.fired = fired_;
  if (cfg_.strict) {
    auto named = [&](const std::string& pname) { return point_names_.count(pname) || fault_occ_.count(pname); };
    if (cfg_.schedule.event != Event::none && !fired_) {
      const Site& w = cfg_.schedule.where;
      result_.unreached.push_back(w.point);
      fail("unreached", named(w.point) ? "the injection site " + to_string(w) +
                                             " was not reached (the scenario or the code changed since the token)"
                                       : "no task passed point '" + w.point +
                                             "' at all: it was renamed or removed (token from another version?)");
    }
    for (const Decision& d : cfg_.schedule.decisions) {
      if (applied_.count(&d)) continue;
      result_.unreached.push_back(d.at.point);
      fail("unreached", named(d.at.point) ? "scheduling decision at " + to_string(d.at) + " was not reached"
                                          : "no task passed point '" + d.at.point + "': renamed or removed?");
    }
  }
}

}  // namespace udrm::explore::detail
