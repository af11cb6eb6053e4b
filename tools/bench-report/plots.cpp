// The plots' gnuplot data and scripts (report.h): unbind_scaling (time against resources, log
// x and y) and commit_latency (the CDF of every row with latency percentiles, log x).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "report.h"

namespace bench_report {

namespace {

// gnuplot string literal in single quotes ('' is a quote; nothing else is special).
std::string gp_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("''") : std::string(1, c);
  return o + "'";
}
// gnuplot's enhanced text mode treats _ ^ @ & { } as markup: titles are written noenhanced.

bool finish(std::ofstream& o, const std::string& path, std::string* err) {
  o.close();
  if (o) return true;
  *err = path + ": cannot write (EIO)";
  return false;
}

int scaling(const std::string& dir, const std::vector<BenchFile>& files, std::vector<std::string>* made,
            std::string* err) {
  std::vector<std::string> series;
  std::map<long, std::map<std::string, double>> by_n;
  for (const BenchFile& f : files)
    for (const Row& r : f.rows) {
      std::string s = scaling_series(r);
      if (s.empty() || !r.error.empty()) continue;
      if (std::find(series.begin(), series.end(), s) == series.end()) series.push_back(s);
      by_n[std::lround(r.counters.at("resources"))][s] = r.time_ns / 1e3;
    }
  if (series.empty()) return 0;
  const std::string dat = dir + "/unbind_scaling.dat", gp = dir + "/unbind_scaling.gp";
  std::ofstream d(dat);
  d << "# resources";
  for (auto& s : series) d << "\t" << s;
  d << "\n# time in microseconds (median real time); NaN: not measured\n";
  for (auto& [n, cols] : by_n) {
    d << n;
    for (auto& s : series) {
      auto it = cols.find(s);
      d << "\t" << (it == cols.end() ? std::string("NaN") : std::to_string(it->second));
    }
    d << "\n";
  }
  if (!finish(d, dat, err)) return -EIO;
  std::ofstream g(gp);
  g << "set terminal pngcairo size 960,640 noenhanced\n"
    << "set output 'unbind_scaling.png'\n"
    << "set title 'Unbind time against the number of managed resources (median)'\n"
    << "set xlabel 'resources'\nset ylabel 'time (µs)'\n"
    << "set logscale xy\nset grid\nset key top left\nset datafile missing 'NaN'\n"
    << "plot ";
  for (std::size_t i = 0; i < series.size(); ++i)
    g << (i ? ", \\\n     " : "") << "'unbind_scaling.dat' using 1:" << i + 2 << " with linespoints title "
      << gp_quote(series[i]);
  g << "\n";
  if (!finish(g, gp, err)) return -EIO;
  made->push_back("unbind_scaling.png");
  return 0;
}

int latency(const std::string& dir, const std::vector<BenchFile>& files, std::vector<std::string>* made,
            std::string* err) {
  std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>> blocks;
  for (const BenchFile& f : files)
    for (const Row& r : f.rows) {
      auto p = latency_percentiles(r);
      // A distribution, not a p50/p99 pair (bench_gate's unplug latency has only those).
      if (p.size() >= 5 && r.error.empty()) blocks.emplace_back(r.name, std::move(p));
    }
  if (blocks.empty()) return 0;
  const std::string dat = dir + "/commit_latency.dat", gp = dir + "/commit_latency.gp";
  std::ofstream d(dat);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (i) d << "\n\n";
    d << "# " << blocks[i].first << "\n# percentile\tmicroseconds\n";
    for (auto& [p, us] : blocks[i].second) d << p << "\t" << us << "\n";
  }
  if (!finish(d, dat, err)) return -EIO;
  std::ofstream g(gp);
  g << "set terminal pngcairo size 960,640 noenhanced\n"
    << "set output 'commit_latency.png'\n"
    << "set title 'Per-commit latency distribution (CDF) against the in-run baselines'\n"
    << "set xlabel 'latency (µs)'\nset ylabel 'percentile'\n"
    << "set logscale x\nset yrange [0:100]\nset grid\nset key bottom right\n"
    << "plot ";
  for (std::size_t i = 0; i < blocks.size(); ++i)
    g << (i ? ", \\\n     " : "") << "'commit_latency.dat' index " << i << " using 2:1 with linespoints title "
      << gp_quote(blocks[i].first);
  g << "\n";
  if (!finish(g, gp, err)) return -EIO;
  made->push_back("commit_latency.png");
  return 0;
}

}  // namespace

int write_plots(const std::string& dir, const std::vector<BenchFile>& files, std::vector<std::string>* made,
                std::string* err) {
  if (int r = scaling(dir, files, made, err)) return r;
  return latency(dir, files, made, err);
}

}  // namespace bench_report
