// tools/bench-report/families.h — which in-run baseline each benchmark is compared with, and
// the ratio target docs/perf.md states for it (families.conf).
//
// Config lines: `FAMILY BASELINE [TARGET]`, '#' starts a comment. A benchmark belongs to the
// longest FAMILY that is its name or a '/'-prefix of it. Its baseline is looked up in the same
// JSON file: BASELINE followed by as many of the benchmark's remaining name components as
// possible, in order (BM_Lookup/object_idr/real_time/threads:2 with BM_Lookup/mutex_map
// → BM_Lookup/mutex_map/real_time/threads:2; BM_FlipRoundTrip_Asio/soc/real_time with
// BM_AsioPostComplete → BM_AsioPostComplete/real_time). TARGET: `<=R` or `>=R` (ratio R), or `-`.
//
// Lifetime: plain values.
// Context: single-threaded command-line tool.
#pragma once
#include <string>
#include <vector>

#include "results.h"

namespace bench_report {

struct Target {
  char op = 0;      // 0: none, '<': ratio <= value, '>': ratio >= value
  double value = 0;
  std::string text() const;          // "≤ 3x", "" when none
  bool met(double ratio) const;
};

struct Family {
  std::string prefix, baseline;
  Target target;
};

struct Families {
  std::vector<Family> list;
  /// The family of `name`, or nullptr.
  const Family* match(const std::string& name) const;
  /// The baseline row for `name` in `file`, or nullptr (no family, or its baseline did not run).
  const Row* baseline_of(const std::string& name, const BenchFile& file) const;
};

/// Parse a families.conf. 0, or -ENOENT / -EINVAL with "path:line: ..." in *err.
int load_families(const std::string& path, Families* out, std::string* err);

}  // namespace bench_report
