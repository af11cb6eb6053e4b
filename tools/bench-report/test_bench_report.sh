#!/usr/bin/env bash
# CTest driver for udrm-bench-report on the fixed input in testdata/ (tools/bench-report/
# CMakeLists.txt). PART "table": the Markdown rows (ratios, baselines found through the name
# rules, targets met/missed, errors, missing baselines, median of iteration entries, latency and
# scaling tables; bench_fake.json has the bare NaN/-Infinity counters Google Benchmark writes) and
# the errors for bad input. PART "plots": gnuplot renders both PNGs (exit 77,
# skipped, without gnuplot).
#   test_bench_report.sh table|plots TOOL SRCDIR WORKDIR
set -euo pipefail
part=$1 tool=$2 src=$3 work=$4
data=$src/testdata
fails=0
fail() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }

rm -rf "$work"
mkdir -p "$work"
"$tool" --config "$data/families.conf" --out "$work/out" "$data/bench_fake.json" "$data/bench_iter.json" \
  >"$work/stdout" 2>"$work/stderr" || { cat "$work/stderr" >&2; echo "FAIL: the tool failed" >&2; exit 1; }
md=$work/out/report.md

expect_line() {  # an exact line of report.md
  grep -Fxq -- "$1" "$md" || fail "report.md lacks the line: $1"
}
expect_err() {  # STATUS PATTERN ARGS...: the tool exits with STATUS and says PATTERN on stderr
  local want=$1 pat=$2 rc=0
  shift 2
  "$tool" "$@" >/dev/null 2>"$work/err" || rc=$?
  [[ $rc == "$want" ]] || fail "exit status $rc, not $want, for: $*"
  grep -Eq -- "$pat" "$work/err" || fail "stderr lacks /$pat/ for: $* (it says: $(cat "$work/err"))"
}

case $part in
  table)
    expect_line '## bench_fake'
    expect_line 'Host: 2 CPUs, load average 0.50 0.25 0.12, benchmark library release.'
    expect_line '| BM_Base | 10.0 ns | (baseline) | | 1x | | 5.0% |'
    expect_line '| BM_Fast | 25.0 ns | BM_Base | 10.0 ns | 2.50x | ≤ 3x: met | |'
    expect_line '| BM_Slow/real_time | 4.00 µs | BM_Base | 10.0 ns | 400x | ≤ 3x: **missed** | |'
    expect_line '| BM_Broken | error: flip round trip failed | | | | | |'
    expect_line '| BM_Orphan | 7.00 ns | — (no family in families.conf) | | | | |'
    expect_line '| BM_NoBase | 7.00 ns | BM_Absent (not in this run) | | | | |'
    # mean ratio 1.67 would meet 1.8x; a latency family is judged on p50 (2.0)
    expect_line '| BM_Lat/simple | 2.50 µs | BM_LatBase | 1.50 µs | 1.67x | ≤ 1.8x on p50: **missed** | |'
    expect_line '| BM_Scale/Devm/1/manual_time | 100 ns | BM_Free/1/manual_time | 10.0 ns | 10.0x | ≥ 1x: met | |'
    expect_line '| BM_Scale/Devm/16/manual_time | 1.60 µs | BM_Free/16/manual_time | 200 ns | 8.00x | ≥ 1x: met | |'
    expect_line '## bench_iter'
    expect_line '| BM_It_Base | 200 ns | (baseline) | | 1x | | |'
    expect_line '| BM_It | 50.0 ns | BM_It_Base | 200 ns | 0.25x | ≤ 0.5x: met | |'
    # registration order (family_index), not the file's (BM_It ran first, as interleaving does)
    [[ $(grep -n '^| BM_It_Base |' "$md" | cut -d: -f1) -lt $(grep -n '^| BM_It |' "$md" | cut -d: -f1) ]] ||
      fail "rows are not in registration order"
    expect_line '| BM_Lat/simple | 1000 | 2.00 µs | 3.00 µs | 5.00 µs | 7.00 µs | 9.00 µs | 2.00x | 2.50x |'
    expect_line '| BM_LatBase | 1000 | 1.00 µs | 1.50 µs | 2.00 µs | 3.00 µs | 4.00 µs | 1x | 1x |'
    expect_line '| resources | BM_Scale/Devm | BM_Free |'
    expect_line '| 1 | 100 ns; 100 ns | 10.0 ns; 10.0 ns |'
    expect_line '| 16 | 1.60 µs; 100 ns | 200 ns; 12.5 ns |'
    expect_line 'Plots: `unbind_scaling.png` `commit_latency.png`'
    grep -q 'BigO' "$md" && fail "the complexity fit (BigO) is not a benchmark row"
    grep -q 'BM_Orphan: no family' "$work/stderr" || fail "no warning for the benchmark without a family"
    grep -q 'BM_NoBase: baseline BM_Absent not in this run' "$work/stderr" || fail "no warning for the missing baseline"
    # the plot data: scaling columns in µs, one CDF block per latency row
    grep -Eq '^16'$'\t''1\.6(0*)'$'\t''0\.2(0*)$' "$work/out/unbind_scaling.dat" || fail "unbind_scaling.dat row 16"
    [[ $(grep -c '^# BM_Lat' "$work/out/commit_latency.dat") == 2 ]] || fail "commit_latency.dat: two blocks expected"
    # bad input: a clear error naming the file and the errno, never a crash
    expect_err 1 "no-such\.json: cannot read \(ENOENT\)" --config "$data/families.conf" --out "$work/x" "$data/no-such.json"
    expect_err 1 "not_benchmark\.json: no \"benchmarks\" array.*\(EINVAL\)" --config "$data/families.conf" --out "$work/x" "$data/not_benchmark.json"
    expect_err 1 "families\.conf: not JSON.*\(EINVAL\)" --config "$data/families.conf" --out "$work/x" "$data/families.conf"
    expect_err 1 "bad_families\.conf:1: 'BM_X' has no baseline \(EINVAL\)" --config "$data/bad_families.conf" --out "$work/x" "$data/bench_fake.json"
    expect_err 2 "no JSON files given" --config "$data/families.conf" --out "$work/x"
    expect_err 2 "unknown option --bogus" --bogus
    ;;
  plots)
    if [[ -z ${GNUPLOT:-} || ! -x ${GNUPLOT:-} ]]; then
      echo "gnuplot is not installed: skipping the PNG check"
      exit 77
    fi
    for p in unbind_scaling commit_latency; do
      (cd "$work/out" && "$GNUPLOT" "$p.gp") || fail "gnuplot $p.gp failed"
      [[ -s $work/out/$p.png ]] || { fail "$p.png not written"; continue; }
      [[ $(head -c 4 "$work/out/$p.png" | od -An -c | tr -d ' ') == '211PNG' ]] || fail "$p.png is not a PNG"
    done
    ;;
  *)
    echo "usage: $0 table|plots TOOL SRCDIR WORKDIR" >&2
    exit 2
    ;;
esac
((fails == 0)) || { echo "$fails check(s) failed; report: $md" >&2; exit 1; }
echo "ok: $part"
