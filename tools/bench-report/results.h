// tools/bench-report/results.h — one Google Benchmark JSON output file (--benchmark_out_format=
// json), reduced to one row per benchmark: the median real time (the "median" aggregate when
// the run had repetitions, else the median of the iteration entries), its coefficient of
// variation when reported, the counters (median) and the error of a skipped run. Rows are in
// registration order (family_index, per_family_instance_index), whatever order the runs had.
//
// Lifetime: plain values; a BenchFile owns its rows.
// Context: single-threaded command-line tool.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace bench_report {

struct Row {
  std::string name;                        // run_name (without the _median/_mean suffix)
  double time_ns = 0;                      // median real_time, in ns
  double cv = -1;                          // coefficient of variation of real_time; < 0: unknown
  int samples = 0;                         // repetitions (or iteration entries) behind time_ns
  std::map<std::string, double> counters;  // user counters (median)
  std::string error;                       // non-empty: the run was skipped with this message
};

struct BenchFile {
  std::string path;
  std::string binary;  // executable name from the JSON context, else the file's stem
  std::string host;    // "N CPUs, load average a b c, library build type" from the context
  std::vector<Row> rows;  // in the order of the file
  const Row* find(const std::string& name) const;
};

/// Parse `path`. 0, or -ENOENT (cannot read) / -EINVAL (not Google Benchmark JSON), with a
/// message in *err.
int load_bench_file(const std::string& path, BenchFile* out, std::string* err);

}  // namespace bench_report
