// tests/trace/trace_check.h — read a timeline back (Boost.JSON) and check what trace viewers
// require of the Chrome Trace Event format, and the orders udrm's timeline promises.
//
// Used by tests/trace and tests/udrmrun. Header-only; exactly one translation unit of the test
// binary must include <boost/json/src.hpp> (Boost.JSON header-only mode: Debian ships no
// libboost_json for 1.81).
//
// Lifetime: values. Context: the test's thread.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace udrm::tracetest {

namespace json = boost::json;

struct Ev {
  std::size_t index = 0;  // position in traceEvents (the order the tracepoints fired in)
  std::string name, ph, cat, id;
  double ts = 0, dur = 0;
  int64_t pid = 0, tid = 0;
  json::object args;
  std::string arg(const char* key) const {
    auto* v = args.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  }
  int64_t int_arg(const char* key, int64_t dflt = INT64_MIN) const {
    auto* v = args.if_contains(key);
    return v && v->is_int64() ? v->as_int64() : dflt;
  }
};

inline std::string slurp_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool number(const json::value& v, double* out) {
  if (v.is_double()) *out = v.as_double();
  else if (v.is_int64()) *out = static_cast<double>(v.as_int64());
  else if (v.is_uint64()) *out = static_cast<double>(v.as_uint64());
  else return false;
  return true;
}

/// Parse text and check the structure: {"traceEvents":[...]}; every event an object with a
/// string name and ph, numeric ts, pid and tid; X with dur >= 0; i with a scope; b/e nesting
/// per (cat, id) with matching names, all closed at the end; M events naming every process
/// and thread that has events (thread_name / process_name with a string args.name).
inline ::testing::AssertionResult parse_trace(const std::string& text, std::vector<Ev>* out) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return ::testing::AssertionFailure() << "not JSON: " << ec.message();
  if (!root.is_object()) return ::testing::AssertionFailure() << "top level is not an object";
  auto* te = root.as_object().if_contains("traceEvents");
  if (!te || !te->is_array()) return ::testing::AssertionFailure() << "no traceEvents array";
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> open;  // (cat,id) -> names
  std::set<std::pair<int64_t, int64_t>> used, named_threads;
  std::set<int64_t> named_procs;
  out->clear();
  for (const json::value& v : te->as_array()) {
    Ev e;
    e.index = out->size();
    if (!v.is_object()) return ::testing::AssertionFailure() << "event " << e.index << " is not an object";
    const json::object& o = v.as_object();
    auto str = [&](const char* k, std::string* s) {
      auto* x = o.if_contains(k);
      if (!x || !x->is_string()) return false;
      *s = std::string(x->as_string());
      return true;
    };
    double pid = 0, tid = 0;
    if (!str("name", &e.name) || !str("ph", &e.ph) || !o.if_contains("ts") || !number(o.at("ts"), &e.ts) ||
        !o.if_contains("pid") || !number(o.at("pid"), &pid) || !o.if_contains("tid") || !number(o.at("tid"), &tid))
      return ::testing::AssertionFailure() << "event " << e.index << " lacks name/ph/ts/pid/tid: "
                                           << json::serialize(v);
    e.pid = static_cast<int64_t>(pid);
    e.tid = static_cast<int64_t>(tid);
    str("cat", &e.cat);
    if (auto* a = o.if_contains("args")) {
      if (!a->is_object()) return ::testing::AssertionFailure() << "args not an object: " << json::serialize(v);
      e.args = a->as_object();
    }
    if (auto* id = o.if_contains("id")) e.id = json::serialize(*id);
    if (e.ph == "X") {
      if (!o.if_contains("dur") || !number(o.at("dur"), &e.dur) || e.dur < 0)
        return ::testing::AssertionFailure() << "X without dur: " << json::serialize(v);
    } else if (e.ph == "i" || e.ph == "I") {
      std::string s;
      if (str("s", &s) && s != "t" && s != "p" && s != "g")
        return ::testing::AssertionFailure() << "bad instant scope: " << json::serialize(v);
    } else if (e.ph == "b" || e.ph == "e") {
      if (e.id.empty() || e.cat.empty())
        return ::testing::AssertionFailure() << "async event without id/cat: " << json::serialize(v);
      auto& stack = open[{e.cat, e.id}];
      if (e.ph == "b") {
        stack.push_back(e.name);
      } else {
        if (stack.empty() || stack.back() != e.name)
          return ::testing::AssertionFailure() << "unmatched e (open: " << (stack.empty() ? "none" : stack.back())
                                               << "): " << json::serialize(v);
        stack.pop_back();
      }
    } else if (e.ph == "M") {
      if (e.name == "thread_name" || e.name == "process_name") {
        if (e.arg("name").empty()) return ::testing::AssertionFailure() << "M without args.name: " << json::serialize(v);
        if (e.name == "thread_name") named_threads.insert({e.pid, e.tid});
        else named_procs.insert(e.pid);
      } else if (e.name != "thread_sort_index" && e.name != "process_sort_index") {
        return ::testing::AssertionFailure() << "unknown metadata: " << json::serialize(v);
      }
    } else {
      return ::testing::AssertionFailure() << "unexpected ph: " << json::serialize(v);
    }
    if (e.ph != "M") used.insert({e.pid, e.tid});
    out->push_back(std::move(e));
  }
  for (auto& [key, stack] : open)
    if (!stack.empty())
      return ::testing::AssertionFailure() << "async span " << stack.back() << " (" << key.first << " id "
                                           << key.second << ") never ends";
  for (auto& [pid, tid] : used) {
    if (!named_procs.count(pid)) return ::testing::AssertionFailure() << "process " << pid << " has no name";
    if (!named_threads.count({pid, tid}))
      return ::testing::AssertionFailure() << "track " << pid << "/" << tid << " has no name";
  }
  return ::testing::AssertionSuccess();
}

/// Every commit span ("commit #N", cat commit) starts with its swap after its update's
/// "check #N" ended with ret 0, has exactly one hw_done and one flip_done sub-slice and ends at
/// cleanup_done; timestamps never go back. (*phases)["N crtc"] gets the sub-slice order of
/// commit N on that CRTC,
/// e.g. {"swap","hw_done","flip_done"}: a flip shows hw_done before flip_done; a commit that
/// switches the CRTC on or off may send its event (flip_done) from atomic_enable/disable,
/// before hw_done; a CRTC off before and after has no event: its span says flip_done "at
/// setup" (then the order ends with "flip_done@setup").
/// With late_flip_ok (a multi-threaded executor), the flip_done of a commit may come after its
/// cleanup_done instead (the worker woke on the vblank count before the interrupt handler sent
/// the event): then it is an instant "flip_done" with args commit=N, after=cleanup_done on the
/// CRTC's track, counted as the commit's flip_done. Every commit has exactly one flip_done.
inline ::testing::AssertionResult commit_phases(const std::vector<Ev>& evs,
                                                std::map<std::string, std::vector<std::string>>* phases,
                                                bool late_flip_ok = false) {
  std::map<std::string, std::vector<const Ev*>> by_id;  // commit spans' events by id
  std::map<int64_t, const Ev*> check_end;             // update number -> check's end
  std::map<std::pair<int64_t, int64_t>, std::vector<const Ev*>> late_flip;  // (update, CRTC track) -> flips after cleanup
  for (const Ev& e : evs) {
    if (e.cat == "commit" && e.ph == "i" && e.name == "flip_done" && e.arg("after") == "cleanup_done")
      late_flip[{e.int_arg("commit"), e.tid}].push_back(&e);
    if (e.cat != "commit" || (e.ph != "b" && e.ph != "e")) continue;
    if (e.name.rfind("check #", 0) == 0) {
      if (e.ph == "e") check_end[std::stoll(e.name.substr(7))] = &e;
      continue;
    }
    by_id[e.id].push_back(&e);
  }
  phases->clear();
  for (auto& [id, list] : by_id) {
    const Ev& first = *list.front();
    if (first.ph != "b" || first.name.rfind("commit #", 0) != 0)
      return ::testing::AssertionFailure() << "span " << id << " does not start with commit #N";
    const int64_t n = first.int_arg("commit");
    auto ce = check_end.find(n);
    if (ce == check_end.end()) return ::testing::AssertionFailure() << first.name << ": no check";
    if (ce->second->int_arg("ret") != 0 || ce->second->index > first.index || ce->second->ts > first.ts)
      return ::testing::AssertionFailure() << first.name << ": its check did not end (ret 0) before the swap";
    std::vector<std::string> subs;
    std::string all;
    for (std::size_t i = 0; i < list.size(); ++i) {
      all += list[i]->ph + ":" + list[i]->name + " ";
      if (i && list[i]->ts < list[i - 1]->ts) return ::testing::AssertionFailure() << first.name << ": time goes back";
      if (i == 0 || i + 1 == list.size()) continue;
      if (list[i]->ph == "b") {
        subs.push_back(list[i]->name);
      } else if (list[i]->name != subs.back() || list[i + 1]->ph != (i + 2 == list.size() ? "e" : "b")) {
        return ::testing::AssertionFailure() << first.name << ": sub-slices overlap: " << all;
      }
    }
    const Ev& last = *list.back();
    const auto late = late_flip.find({n, first.tid});
    if (late != late_flip.end()) {
      // One flip_done per commit: after its cleanup only when it had none inside its span.
      if (!late_flip_ok || late->second.size() > 1 || late->second.front()->index < last.index ||
          std::count(subs.begin(), subs.end(), "flip_done"))
        return ::testing::AssertionFailure() << first.name << " on track " << first.tid << ": "
                                             << late->second.size() << " flip_done(s) after cleanup_done; phases: " << all;
      subs.push_back("flip_done");
    }
    if (first.arg("flip_done") == "at setup") subs.push_back("flip_done@setup");  // CRTC off before and after
    std::vector<std::string> sorted = subs;
    std::sort(sorted.begin(), sorted.end());
    if (last.ph != "e" || last.name != first.name || subs.empty() || subs.front() != "swap")
      return ::testing::AssertionFailure() << first.name << " phases: " << all;
    if (sorted != std::vector<std::string>{"flip_done", "hw_done", "swap"} &&
        sorted != std::vector<std::string>{"flip_done@setup", "hw_done", "swap"})
      return ::testing::AssertionFailure() << first.name << " phases: " << all;
    (*phases)[std::to_string(n) + " " + first.arg("crtc")] = subs;
  }
  return ::testing::AssertionSuccess();
}

/// Indices of events named `name` (and phase ph, "" = any).
inline std::vector<std::size_t> find_all(const std::vector<Ev>& evs, const std::string& name, const std::string& ph = "") {
  std::vector<std::size_t> out;
  for (const Ev& e : evs)
    if (e.name == name && (ph.empty() || e.ph == ph)) out.push_back(e.index);
  return out;
}

}  // namespace udrm::tracetest
