// tools/bench-report/report.h — the outputs: report.md (one table per benchmark binary with
// time, in-run baseline, ratio, target and CV; the latency percentiles; the unbind scaling
// table) and the plots' gnuplot data and scripts (unbind_scaling.{dat,gp} → unbind_scaling.png,
// commit_latency.{dat,gp} → commit_latency.png). Which rows feed the plots: those with a
// `resources` counter (scaling) and those with at least five pNN_us counters (latency
// distribution, bench/latency.h). A latency family's target is judged on its p50 ratio.
//
// Lifetime: plain functions; the files are written (and closed) before they return.
// Context: single-threaded command-line tool.
#pragma once
#include <string>
#include <vector>

#include "families.h"
#include "results.h"

namespace bench_report {

/// Write `dir`/report.md. `plots`: the PNG names the script will make (listed in the report).
/// 0 or -EIO (message in *err).
int write_markdown(const std::string& dir, const std::vector<BenchFile>& files, const Families& fam,
                   const std::vector<std::string>& plots, std::string* err);

/// Write the data and gnuplot scripts of the plots that have data; *made gets the PNG names the
/// scripts produce. 0 or -EIO.
int write_plots(const std::string& dir, const std::vector<BenchFile>& files, std::vector<std::string>* made,
                std::string* err);

/// "12.3 ns", "4.56 µs", "7.89 ms", "1.23 s" (three significant digits).
std::string format_time_ns(double ns);
/// "2.50x" (three significant digits below 1).
std::string format_ratio(double r);

/// The latency percentiles of a row: (percentile, microseconds) from its pNN_us counters,
/// ascending; empty if it has none.
std::vector<std::pair<double, double>> latency_percentiles(const Row& r);

/// The `pct` percentile of a row in microseconds (its p<pct>_us counter), or NaN.
double percentile_us(const Row& r, double pct);

/// The series a scaling row belongs to: its name without the component equal to its
/// `resources` counter and without /real_time, /manual_time. Empty if no `resources` counter.
std::string scaling_series(const Row& r);

}  // namespace bench_report
