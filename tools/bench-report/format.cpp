// Number formatting and row classification shared by the Markdown and plot writers (report.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "report.h"

namespace bench_report {

namespace {
std::string sig3(double v) {
  char b[32];
  if (v >= 100) std::snprintf(b, sizeof(b), "%.0f", v);
  else if (v >= 10) std::snprintf(b, sizeof(b), "%.1f", v);
  else std::snprintf(b, sizeof(b), "%.2f", v);
  return b;
}
}  // namespace

std::string format_time_ns(double ns) {
  if (!std::isfinite(ns)) return "?";
  if (ns < 1e3) return sig3(ns) + " ns";
  if (ns < 1e6) return sig3(ns / 1e3) + " µs";
  if (ns < 1e9) return sig3(ns / 1e6) + " ms";
  return sig3(ns / 1e9) + " s";
}

std::string format_ratio(double r) {
  if (!std::isfinite(r)) return "?";
  char b[32];
  if (r >= 1) return sig3(r) + "x";
  std::snprintf(b, sizeof(b), "%.3gx", r);
  return b;
}

std::vector<std::pair<double, double>> latency_percentiles(const Row& r) {
  std::vector<std::pair<double, double>> out;
  for (const auto& [key, v] : r.counters) {
    if (key.size() < 5 || key[0] != 'p' || key.compare(key.size() - 3, 3, "_us") != 0) continue;
    std::string num = key.substr(1, key.size() - 4);
    char* end = nullptr;
    double p = std::strtod(num.c_str(), &end);
    if (num.empty() || *end || p < 0 || p > 100) continue;
    out.emplace_back(p, v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

double percentile_us(const Row& r, double pct) {
  for (auto& [q, us] : latency_percentiles(r))
    if (q == pct) return us;
  return std::nan("");
}

std::string scaling_series(const Row& r) {
  auto it = r.counters.find("resources");
  if (it == r.counters.end()) return "";
  char n[32];
  std::snprintf(n, sizeof(n), "%.0f", it->second);
  std::string out;
  std::size_t i = 0;
  bool dropped = false;
  while (i <= r.name.size()) {
    std::size_t j = r.name.find('/', i);
    if (j == std::string::npos) j = r.name.size();
    std::string c = r.name.substr(i, j - i);
    bool drop = (!dropped && i > 0 && c == n) || c == "real_time" || c == "manual_time";
    if (c == n && i > 0) dropped = true;
    if (!drop) out += (out.empty() ? "" : "/") + c;
    i = j + 1;
  }
  return out;
}

}  // namespace bench_report
