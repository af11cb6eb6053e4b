#!/usr/bin/env bash
# Run every benchmark binary and write the benchmark report (docs/perf.md, "Benchmark report"):
# build the bench_* targets and udrm-bench-report in the build directory, run each binary with
# JSON output to BUILD/bench-report/<binary>.json, turn them into BUILD/bench-report/report.md
# (times, in-run baselines, ratios, targets) and render the plots with gnuplot
# (unbind_scaling.png, commit_latency.png). Usually run as `tools/dev.sh bench-report`.
#
#   bench-report.sh [--quick] [--filter REGEX]
#     --quick         smoke run: --benchmark_min_time=0.01, one repetition (numbers are noise)
#     --filter REGEX  only benchmarks matching REGEX (--benchmark_filter), in every binary
#
# Environment: UDRM_BUILD_PREFIX (default "build"; relative to the repository root),
# UDRM_JOBS (default: nproc). A full run takes several minutes (5 repetitions, interleaved).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prefix=${UDRM_BUILD_PREFIX:-build}
[[ $prefix == /* ]] || prefix="$ROOT/$prefix"
BUILD_DIR=$prefix
OUT=$BUILD_DIR/bench-report
JOBS=${UDRM_JOBS:-$(nproc)}

log() { printf '==> %s\n' "$*"; }
die() { printf 'bench-report: error: %s\n' "$*" >&2; exit 1; }

quick=0 filter=
while (($# > 0)); do
  case $1 in
    --quick) quick=1 ;;
    --filter)
      (($# > 1)) || die "--filter needs a REGEX"
      filter=$2
      shift
      ;;
    -h | --help)
      sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

command -v cmake >/dev/null || die "cmake not found (tools/dev.sh deps)"
# Configure (the same options as tools/dev.sh's normal build, so both share build/) or make sure
# an existing tree builds the benchmarks.
if [[ -f $BUILD_DIR/CMakeCache.txt ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DUDRM_BUILD_BENCH=ON >/dev/null
else
  log "configure $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G "Unix Makefiles" -DUDRM_SANITIZE= -DUDRM_WERROR=ON -DUDRM_BUILD_TESTS=ON \
    -DUDRM_BUILD_EXAMPLES=ON -DUDRM_BUILD_BENCH=ON >/dev/null
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
sanitize=$(sed -n 's/^UDRM_SANITIZE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
[[ $build_type =~ ^(Release|RelWithDebInfo)$ ]] ||
  log "WARNING: $BUILD_DIR is a '${build_type:-no build type}' build: the numbers are not of optimized code"
[[ -z $sanitize ]] || log "WARNING: $BUILD_DIR is built with UDRM_SANITIZE=$sanitize: the numbers mean little"

# Every bench_* executable target the tree defines (bench/CMakeLists.txt globs bench/bench_*.cpp).
help=$(cmake --build "$BUILD_DIR" --target help)  # not piped: grep -q would SIGPIPE make
mapfile -t benches < <(sed -n 's/^\.\.\. \(bench_[A-Za-z0-9_]*\)$/\1/p' <<<"$help" | sort)
((${#benches[@]} > 0)) || die "no bench_* targets in $BUILD_DIR (is UDRM_BUILD_BENCH on?)"
log "build ${benches[*]} udrm-bench-report (-j$JOBS)"
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${benches[@]}" udrm-bench-report

args=(--benchmark_out_format=json)
if ((quick)); then
  args+=(--benchmark_min_time=0.01 --benchmark_repetitions=1)
else
  # perf-anchors.md, "Method that held up": medians of 5 interleaved repetitions.
  args+=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true
    --benchmark_enable_random_interleaving=true)
fi
[[ -z $filter ]] || args+=("--benchmark_filter=$filter")

rm -rf "$OUT"
mkdir -p "$OUT"
jsons=() failed=()
for b in "${benches[@]}"; do
  exe=$BUILD_DIR/bench/$b
  [[ -x $exe ]] || die "$exe was not built"
  log "run $b ($( ((quick)) && echo quick || echo '5 repetitions'))"
  t0=$SECONDS
  if "$exe" "${args[@]}" "--benchmark_out=$OUT/$b.json" >"$OUT/$b.log" 2>&1; then
    log "  $b: done in $((SECONDS - t0)) s (console output: $OUT/$b.log)"
  else
    failed+=("$b")
    tail -n 5 "$OUT/$b.log" >&2
    log "  $b: FAILED (exit status above; console output: $OUT/$b.log)"
  fi
  # A binary that failed half-way may still have written results for the benchmarks before.
  [[ -s $OUT/$b.json ]] && jsons+=("$OUT/$b.json")
done
((${#jsons[@]} > 0)) || die "no benchmark produced results"

log "report"
"$BUILD_DIR/tools/bench-report/udrm-bench-report" --config "$ROOT/tools/bench-report/families.conf" \
  --out "$OUT" "${jsons[@]}" >"$OUT/tool.out"
mapfile -t scripts < <(grep '\.gp$' "$OUT/tool.out" || true)
if command -v gnuplot >/dev/null; then
  for gp in "${scripts[@]}"; do
    (cd "$OUT" && gnuplot "$(basename "$gp")") || die "gnuplot $gp failed"
  done
  pngs=$(cd "$OUT" && ls -- *.png 2>/dev/null | tr "\n" " ")
  log "plots: ${pngs:-none}"
else
  die "gnuplot not found: the report is written ($OUT/report.md), the plots are not
  install it: apt-get install gnuplot-nox   (tools/dev.sh bench-report does)"
fi
log "report: $OUT/report.md"
((${#failed[@]} == 0)) || die "benchmark binaries failed: ${failed[*]}"
