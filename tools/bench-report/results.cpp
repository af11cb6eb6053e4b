// Google Benchmark JSON → rows (results.h). Boost.JSON, header-only (its src.hpp is compiled
// into this translation unit only).
#include "results.h"

#include <boost/json.hpp>
#include <boost/json/src.hpp>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>

namespace bench_report {

namespace json = boost::json;

const Row* BenchFile::find(const std::string& name) const {
  for (const Row& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

namespace {

// Fields every entry has; every other number is a user counter.
const std::set<std::string> kStandardFields = {
    "family_index", "per_family_instance_index", "repetitions", "repetition_index", "threads",
    "iterations",   "real_time",                 "cpu_time",    "big_o",            "rms",
    "complexity_n"};

bool number(const json::value& v, double* out) {
  if (v.is_double()) *out = v.get_double();
  else if (v.is_int64()) *out = static_cast<double>(v.get_int64());
  else if (v.is_uint64()) *out = static_cast<double>(v.get_uint64());
  else return false;
  return true;
}

const json::value* field(const json::object& o, const char* key) { return o.if_contains(key); }

std::string string_field(const json::object& o, const char* key) {
  const json::value* v = field(o, key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

double unit_to_ns(const std::string& unit) {
  if (unit == "ns" || unit.empty()) return 1;
  if (unit == "us") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  return 0;  // unknown: rejected by the caller
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// What one benchmark name collected while reading the file.
struct Acc {
  std::vector<double> times;                               // iteration entries, ns
  std::map<std::string, std::vector<double>> counters;     // iteration entries
  bool have_median = false;
  Row median_row;
  double cv = -1;
  int repetitions = 0;
  std::string error;
  double family = 1e18, instance = 0;  // registration order (random interleaving shuffles runs)
};

std::string host_line(const json::object& ctx) {
  std::ostringstream s;
  double cpus = 0;
  if (const json::value* v = field(ctx, "num_cpus"); v && number(*v, &cpus)) s << cpus << " CPUs";
  if (const json::value* v = field(ctx, "load_avg"); v && v->is_array()) {
    s << (s.tellp() > 0 ? ", " : "") << "load average";
    for (const json::value& x : v->get_array()) {
      double d = 0;
      if (number(x, &d)) {
        char b[32];
        std::snprintf(b, sizeof(b), " %.2f", d);
        s << b;
      }
    }
  }
  std::string bt = string_field(ctx, "library_build_type");
  if (!bt.empty()) s << (s.tellp() > 0 ? ", " : "") << "benchmark library " << bt;
  return s.str();
}

// Google Benchmark writes non-finite counters as bare NaN / Infinity / -Infinity (a counter's
// CV over identical repetitions is 0/0), which is not JSON; Boost.JSON 1.81 cannot accept them.
// Outside strings they become null (not a number: the counter is left out).
std::string nonfinite_to_null(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  bool str = false, esc = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (str) {
      out += c;
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') str = false;
      continue;
    }
    if (c == '"') str = true;
    bool replaced = false;
    for (const char* tok : {"-Infinity", "Infinity", "NaN"}) {
      std::size_t n = std::char_traits<char>::length(tok);
      if (in.compare(i, n, tok) == 0) {
        out += "null";
        i += n - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

}  // namespace

int load_bench_file(const std::string& path, BenchFile* out, std::string* err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = path + ": cannot read (ENOENT)";
    return -ENOENT;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(nonfinite_to_null(ss.str()), ec);
  if (ec) {
    *err = path + ": not JSON: " + ec.message() + " (EINVAL)";
    return -EINVAL;
  }
  const json::object* root = doc.if_object();
  const json::value* list = root ? root->if_contains("benchmarks") : nullptr;
  if (!list || !list->is_array()) {
    *err = path + ": no \"benchmarks\" array: not Google Benchmark JSON output (EINVAL)";
    return -EINVAL;
  }
  BenchFile f;
  f.path = path;
  std::string stem = path.substr(path.find_last_of('/') + 1);
  stem = stem.substr(0, stem.find('.'));
  f.binary = stem;
  if (const json::value* c = root->if_contains("context"); c && c->is_object()) {
    std::string exe = string_field(c->get_object(), "executable");
    if (!exe.empty()) f.binary = exe.substr(exe.find_last_of('/') + 1);
    f.host = host_line(c->get_object());
  }

  std::vector<std::string> order;
  std::map<std::string, Acc> acc;
  std::size_t index = 0;
  for (const json::value& v : list->get_array()) {
    ++index;
    const json::object* e = v.if_object();
    std::string name = e ? string_field(*e, "run_name") : std::string();
    if (name.empty() && e) name = string_field(*e, "name");
    if (name.empty()) {
      *err = path + ": benchmark entry " + std::to_string(index) + " has no name (EINVAL)";
      return -EINVAL;
    }
    if (!acc.count(name)) order.push_back(name);
    Acc& a = acc[name];
    if (a.family == 1e18) {
      const json::value* fi = field(*e, "family_index");
      const json::value* ii = field(*e, "per_family_instance_index");
      double x = 0, y = 0;
      if (fi && number(*fi, &x)) {
        a.family = x;
        if (ii && number(*ii, &y)) a.instance = y;
      }
    }
    if (const json::value* r = field(*e, "repetitions")) {
      double d = 0;
      if (number(*r, &d)) a.repetitions = static_cast<int>(d);
    }
    if (const json::value* eo = field(*e, "error_occurred"); eo && eo->is_bool() && eo->get_bool()) {
      a.error = string_field(*e, "error_message");
      if (a.error.empty()) a.error = "error";
      continue;
    }
    std::string type = string_field(*e, "run_type");
    std::string agg = string_field(*e, "aggregate_name");
    if (type == "aggregate" && agg != "median" && agg != "cv") continue;  // mean, stddev, BigO, RMS
    double t = 0;
    const json::value* rt = field(*e, "real_time");
    double scale = unit_to_ns(string_field(*e, "time_unit"));
    if (!rt || !number(*rt, &t)) {
      *err = path + ": " + name + ": no numeric real_time (EINVAL)";
      return -EINVAL;
    }
    if (agg == "cv") {  // real_time holds the fraction itself
      a.cv = t;
      continue;
    }
    if (scale == 0) {
      *err = path + ": " + name + ": unknown time_unit '" + string_field(*e, "time_unit") + "' (EINVAL)";
      return -EINVAL;
    }
    std::map<std::string, double> counters;
    for (const auto& kv : *e) {
      double d = 0;
      std::string key(kv.key());
      if (!kStandardFields.count(key) && number(kv.value(), &d)) counters[key] = d;
    }
    if (agg == "median") {
      a.have_median = true;
      a.median_row.time_ns = t * scale;
      a.median_row.counters = counters;
    } else {
      a.times.push_back(t * scale);
      for (auto& [k, d] : counters) a.counters[k].push_back(d);
    }
  }

  // Registration order (entries without family_index keep their place, after the others).
  std::stable_sort(order.begin(), order.end(), [&](const std::string& x, const std::string& y) {
    const Acc &a = acc[x], &b = acc[y];
    return a.family != b.family ? a.family < b.family : a.instance < b.instance;
  });
  for (const std::string& name : order) {
    Acc& a = acc[name];
    Row r;
    if (a.have_median) {
      r = a.median_row;
      r.samples = a.repetitions;
    } else if (!a.times.empty()) {
      r.time_ns = median(a.times);
      for (auto& [k, vals] : a.counters) r.counters[k] = median(vals);
      r.samples = static_cast<int>(a.times.size());
    } else if (a.error.empty()) {
      continue;  // only aggregates we do not use (a complexity fit): no row
    }
    r.name = name;
    r.cv = a.cv;
    r.error = a.error;
    f.rows.push_back(std::move(r));
  }
  *out = std::move(f);
  return 0;
}

}  // namespace bench_report
