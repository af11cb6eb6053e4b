// Chrome Trace Event JSON to the plot model (trace_model.h).
#include <boost/json/src.hpp>  // Boost.JSON header-only: the one TU of this library that compiles it
#include <algorithm>
#include <cerrno>
#include <limits>
#include <map>
#include <tuple>

#include "trace_model.h"

namespace udrm::traceplot {

namespace json = boost::json;

namespace {

bool number(const json::value* v, double* out) {
  if (!v) return false;
  if (v->is_double()) *out = v->as_double();
  else if (v->is_int64()) *out = static_cast<double>(v->as_int64());
  else if (v->is_uint64()) *out = static_cast<double>(v->as_uint64());
  else return false;
  return true;
}

std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return {};
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  return {};
}

int fail(std::string* err, std::size_t index, const std::string& what) {
  *err = "event " + std::to_string(index) + ": " + what;
  return -EINVAL;
}

}  // namespace

int load(const std::string& text, Model* out, std::string* err) {
  *out = {};
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) {
    *err = "not JSON: " + ec.message();
    return -EINVAL;
  }
  const json::value* te = root.is_object() ? root.as_object().if_contains("traceEvents") : nullptr;
  if (!te || !te->is_array()) {
    *err = "no traceEvents array at the top level";
    return -EINVAL;
  }

  std::map<std::pair<int64_t, int64_t>, std::size_t> index;  // (pid, tid) -> tracks[]
  std::map<int64_t, std::string> processes;
  std::vector<Track>& tracks = out->tracks;
  auto track = [&](int64_t pid, int64_t tid, std::size_t at) {
    auto [it, added] = index.emplace(std::make_pair(pid, tid), tracks.size());
    if (added) {
      Track t;
      t.pid = pid;
      t.tid = tid;
      t.sort_index = tid;
      t.first = at;
      tracks.push_back(t);
    }
    return it->second;
  };
  struct Open {
    std::string name, cat;
    double t0;
    std::size_t track;
  };
  std::map<std::pair<std::string, std::string>, std::vector<Open>> open;  // (cat, id) -> nested
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int64_t first_pid = 0;
  bool have_first = false, any_timed = false;

  const json::array& evs = te->as_array();
  for (std::size_t i = 0; i < evs.size(); ++i) {
    if (!evs[i].is_object()) return fail(err, i, "not an object");
    const json::object& o = evs[i].as_object();
    const std::string ph = str(o, "ph"), name = str(o, "name"), cat = str(o, "cat");
    double pid_d, tid_d, ts_us = 0;
    if (ph.empty()) return fail(err, i, "no ph");
    if (!number(o.if_contains("pid"), &pid_d) || !number(o.if_contains("tid"), &tid_d))
      return fail(err, i, "no numeric pid/tid");
    const auto pid = static_cast<int64_t>(pid_d), tid = static_cast<int64_t>(tid_d);
    if (!have_first) {  // the writer's own process: its metadata comes first
      first_pid = pid;
      have_first = true;
    }
    if (ph == "M") {
      const json::value* args = o.if_contains("args");
      const json::object* a = args && args->is_object() ? &args->as_object() : nullptr;
      if (!a) return fail(err, i, "metadata without args");
      if (name == "process_name") {
        processes[pid] = str(*a, "name");
      } else if (name == "thread_name") {
        tracks[track(pid, tid, i)].name = str(*a, "name");
      } else if (name == "thread_sort_index") {
        double s;
        if (number(a->if_contains("sort_index"), &s)) tracks[track(pid, tid, i)].sort_index = static_cast<int64_t>(s);
      }
      continue;
    }
    if (!number(o.if_contains("ts"), &ts_us)) return fail(err, i, "no numeric ts");
    const double t = ts_us / 1000.0;
    if (ph != "b" && ph != "e" && ph != "X" && ph != "i" && ph != "I") {
      ++out->ignored;
      continue;
    }
    any_timed = true;
    const std::size_t tr = track(pid, tid, i);
    lo = std::min(lo, t);
    hi = std::max(hi, t);
    if (ph == "X") {
      double dur = 0;
      if (!number(o.if_contains("dur"), &dur) || dur < 0) return fail(err, i, "X without a dur >= 0");
      double result = 0;
      const json::value* args = o.if_contains("args");
      if (args && args->is_object()) number(args->as_object().if_contains("result"), &result);
      out->boxes.push_back(Box{tr, t, t + dur / 1000.0, name, cat, 0, false, result < 0});
      hi = std::max(hi, t + dur / 1000.0);
    } else if (ph == "i" || ph == "I") {
      out->ticks.push_back(Tick{tr, t, name, cat});
    } else {
      const std::string id = str(o, "id");
      if (id.empty()) return fail(err, i, "async event without an id");
      auto& stack = open[{cat, id}];
      if (ph == "b") {
        stack.push_back(Open{name, cat, t, tr});
      } else {
        if (stack.empty()) return fail(err, i, "'e' of \"" + name + "\" with no open span");
        const Open b = stack.back();
        stack.pop_back();
        out->boxes.push_back(Box{b.track, b.t0, t, b.name, b.cat, static_cast<int>(stack.size()), false});
      }
    }
  }
  if (!any_timed) lo = hi = 0;
  for (auto& [key, stack] : open)
    for (std::size_t d = 0; d < stack.size(); ++d)
      out->boxes.push_back(Box{stack[d].track, stack[d].t0, hi, stack[d].name, stack[d].cat, static_cast<int>(d), true});
  out->t_min = lo;
  out->t_max = hi;

  for (auto& t : tracks) t.process = processes.count(t.pid) ? processes[t.pid] : "pid " + std::to_string(t.pid);
  out->first_process = have_first ? (processes.count(first_pid) ? processes[first_pid] : "") : "";
  // Tracks that only metadata named (a file bound to a client's track, say) get no row.
  std::vector<bool> used(tracks.size(), false);
  for (const Box& b : out->boxes) used[b.track] = true;
  for (const Tick& k : out->ticks) used[k.track] = true;
  // Display order: the first process's tracks, then the others by first appearance; inside a
  // process, by sort index, then tid.
  std::map<int64_t, std::size_t> proc_first;
  for (auto& t : tracks) {
    auto [it, added] = proc_first.emplace(t.pid, t.first);
    if (!added) it->second = std::min(it->second, t.first);
  }
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < tracks.size(); ++i)
    if (used[i]) order.push_back(i);
  auto key = [&](std::size_t i) {
    const Track& t = tracks[i];
    return std::make_tuple(t.pid == first_pid ? 0 : 1, proc_first[t.pid], t.pid, t.sort_index, t.tid);
  };
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });  // keys unique
  std::vector<std::size_t> where(tracks.size(), 0);
  std::vector<Track> sorted;
  for (std::size_t i = 0; i < order.size(); ++i) {
    where[order[i]] = i;
    sorted.push_back(tracks[order[i]]);
  }
  tracks = std::move(sorted);
  for (auto& b : out->boxes) b.track = where[b.track];
  for (auto& k : out->ticks) k.track = where[k.track];
  for (auto& t : tracks) {
    if (t.name.empty()) t.name = "tid " + std::to_string(t.tid);
    if (t.pid != first_pid) t.name = t.process + ": " + t.name;
  }
  return 0;
}

}  // namespace udrm::traceplot
