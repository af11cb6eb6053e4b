// report.md (report.h).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "report.h"

namespace bench_report {

namespace {

// The last cell of a row: " 5.0% |", or " |" when the CV is unknown.
std::string cv_cell(const Row& r) {
  if (r.cv < 0) return " |";
  char b[32];
  std::snprintf(b, sizeof(b), " %.1f%% |", r.cv * 100);
  return b;
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += ' ';
    else o += c;
  }
  return o;
}

void main_table(std::ostream& o, const BenchFile& f, const Families& fam) {
  o << "## " << f.binary << "\n\n";
  if (!f.host.empty()) o << "Host: " << f.host << ".\n\n";
  o << "| benchmark | time | baseline | baseline time | ratio | target | CV |\n"
    << "|---|---:|---|---:|---:|---|---:|\n";
  for (const Row& r : f.rows) {
    o << "| " << escape(r.name) << " | ";
    if (!r.error.empty()) {
      o << "error: " << escape(r.error) << " | | | | | |\n";
      continue;
    }
    o << format_time_ns(r.time_ns) << " | ";
    const Family* fm = fam.match(r.name);
    const Row* b = fam.baseline_of(r.name, f);
    if (!fm) {
      o << "— (no family in families.conf) | | | |" << cv_cell(r) << "\n";
      continue;
    }
    if (!b) {
      o << escape(fm->baseline) << " (not in this run) | | | |" << cv_cell(r) << "\n";
      continue;
    }
    if (b == &r) {
      o << "(baseline) | | 1x | |" << cv_cell(r) << "\n";
      continue;
    }
    o << escape(b->name) << " | ";
    if (!b->error.empty() || !(b->time_ns > 0)) {
      o << " | ? | " << fm->target.text() << " |" << cv_cell(r) << "\n";
      continue;
    }
    double ratio = r.time_ns / b->time_ns;
    o << format_time_ns(b->time_ns) << " | " << format_ratio(ratio) << " |";
    if (fm->target.op) {
      // A latency family is judged on its median (p50) ratio: the mean hides the distribution.
      double judged = ratio;
      const char* on = "";
      double pr = percentile_us(r, 50), pb = percentile_us(*b, 50);
      if (pr > 0 && pb > 0) {
        judged = pr / pb;
        on = " on p50";
      }
      o << " " << fm->target.text() << on << (fm->target.met(judged) ? ": met" : ": **missed**");
    }
    o << " |" << cv_cell(r) << "\n";
  }
  o << "\n";
}

void latency_table(std::ostream& o, const std::vector<BenchFile>& files, const Families& fam) {
  bool any = false;
  for (const BenchFile& f : files) {
    for (const Row& r : f.rows) {
      auto p = latency_percentiles(r);
      if (p.empty() || !r.error.empty()) continue;
      if (!any) {
        o << "## Latency distribution (per-iteration percentiles)\n\n"
          << "| benchmark | samples | p50 | p90 | p99 | p99.9 | max | p50 ratio | p99 ratio |\n"
          << "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        any = true;
      }
      auto at = [](const Row& row, double pct) { return percentile_us(row, pct) * 1e3; };
      auto cell = [](double ns) { return std::isnan(ns) ? std::string() : format_time_ns(ns); };
      const Row* b = fam.baseline_of(r.name, f);
      auto ratio = [&](double pct) {
        if (!b || b == &r) return std::string(b ? "1x" : "");
        double x = at(r, pct), y = at(*b, pct);
        return std::isnan(x) || std::isnan(y) || y <= 0 ? std::string() : format_ratio(x / y);
      };
      auto s = r.counters.find("samples");
      o << "| " << escape(r.name) << " | " << (s == r.counters.end() ? std::string() : std::to_string(long(s->second)))
        << " | " << cell(at(r, 50)) << " | " << cell(at(r, 90)) << " | " << cell(at(r, 99)) << " | "
        << cell(at(r, 99.9)) << " | " << cell(at(r, 100)) << " | " << ratio(50) << " | " << ratio(99) << " |\n";
    }
  }
  if (any) o << "\nRatios against the baseline's same percentile (families.conf).\n\n";
}

void scaling_table(std::ostream& o, const std::vector<BenchFile>& files) {
  std::vector<std::string> series;
  std::map<long, std::map<std::string, double>> by_n;
  for (const BenchFile& f : files)
    for (const Row& r : f.rows) {
      std::string s = scaling_series(r);
      if (s.empty() || !r.error.empty()) continue;
      if (std::find(series.begin(), series.end(), s) == series.end()) series.push_back(s);
      by_n[std::lround(r.counters.at("resources"))][s] = r.time_ns;
    }
  if (series.empty()) return;
  o << "## Scaling with the number of resources (time; time per resource)\n\n| resources |";
  for (auto& s : series) o << " " << escape(s) << " |";
  o << "\n|---:|";
  for (std::size_t i = 0; i < series.size(); ++i) o << "---:|";
  o << "\n";
  for (auto& [n, cols] : by_n) {
    o << "| " << n << " |";
    for (auto& s : series) {
      auto it = cols.find(s);
      if (it == cols.end()) o << " |";
      else o << " " << format_time_ns(it->second) << "; " << format_time_ns(it->second / double(n > 0 ? n : 1)) << " |";
    }
    o << "\n";
  }
  o << "\n";
}

}  // namespace

int write_markdown(const std::string& dir, const std::vector<BenchFile>& files, const Families& fam,
                   const std::vector<std::string>& plots, std::string* err) {
  const std::string path = dir + "/report.md";
  std::ofstream o(path);
  if (!o) {
    *err = path + ": cannot write (EIO)";
    return -EIO;
  }
  o << "# udrm benchmark report\n\n"
    << "Time: median real time per iteration (over the repetitions when there were several). Ratio: time / "
       "the in-run baseline's time (tools/bench-report/families.conf); target: the ratio docs/perf.md states. "
       "CV: coefficient of variation over the repetitions. Compare ratios, not absolute times: the machine is "
       "shared.\n\n";
  for (const BenchFile& f : files) main_table(o, f, fam);
  latency_table(o, files, fam);
  scaling_table(o, files);
  if (!plots.empty()) {
    o << "Plots:";
    for (auto& p : plots) o << " `" << p << "`";
    o << "\n";
  }
  o.close();
  if (!o) {
    *err = path + ": write failed (EIO)";
    return -EIO;
  }
  return 0;
}

}  // namespace bench_report
