#!/usr/bin/env bash
# udrm developer entry point: dependencies, builds, tests, sanitizer runs, CI.
#
#   tools/dev.sh deps [normal|asan|tsan|all]  install missing Debian 12 packages (as root)
#   tools/dev.sh demo [ARGS...]               build build/ and run build/examples/udrm-demo
#   tools/dev.sh test                         g++ -Werror build in build/, ctest
#   tools/dev.sh test-asan                    g++ ASan+UBSan build in build-asan/, ctest
#   tools/dev.sh test-tsan                    clang++-19 TSan build in build-tsan/, ctest
#   tools/dev.sh ci                           test, test-asan, test-tsan, fuzz 60, with timings
#   tools/dev.sh fuzz [SECONDS]               clang++-19 libFuzzer build in build-fuzz/ (ASan+UBSan);
#                                             fuzz the ioctl harness (tests/fuzz) on a copy of its
#                                             seed corpus for SECONDS (default 60); fails on a crash
#   tools/dev.sh bench-report [--quick]       run every benchmark in build/; report.md with ratios to
#                                             the in-run baselines + gnuplot PNGs in build/bench-report/
#   tools/dev.sh trace-plot TRACE.json OUT.png [OPTIONS...]
#                                             draw a timeline (udrm-run --trace, UDRM_TRACE) as a PNG
#                                             (build/tools/trace-plot/udrm-trace-plot --help)
#
# Environment:
#   UDRM_BUILD_PREFIX   build directory prefix (default "build": build/, build-asan/,
#                       build-tsan/, build-fuzz/); relative paths are taken from the
#                       repository root
#   UDRM_JOBS           parallel compile jobs (default: nproc)
#   UDRM_ALLOW_NO_LSAN  set to 1 to run test-asan with leak detection off where LeakSanitizer
#                       cannot run (the script refuses otherwise, and says so loudly)
#
# Every configure step is incremental: rerunning a command reuses its build directory.
# Only coreutils, dpkg and apt are assumed, so the script works on a minimal Debian 12
# (no compiler, no cmake, no procps): `deps` runs before anything else needs a tool.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/tools/dev.sh"

prefix=${UDRM_BUILD_PREFIX:-build}
[[ $prefix == /* ]] || prefix="$ROOT/$prefix"
BUILD_DIR=$prefix
ASAN_DIR=$prefix-asan
TSAN_DIR=$prefix-tsan
FUZZ_DIR=$prefix-fuzz
JOBS=${UDRM_JOBS:-$(nproc)}

# gnuplot-nox: udrm-trace-plot (the demo's picture of the unbind, its test) and bench-report.
PKGS_NORMAL=(build-essential cmake pkg-config libboost1.81-dev libgtest-dev libgmock-dev
             libbenchmark-dev libdrm-dev libdrm-tests liburcu-dev valgrind spin gnuplot-nox)
# gcc's ASan/UBSan/LSan runtimes (libasan8, libubsan1, liblsan0) come with build-essential.
PKGS_ASAN=("${PKGS_NORMAL[@]}")
# llvm-19 for /usr/bin/llvm-symbolizer-19, which Debian's clang-19 TSan runtime runs to symbolize
# reports; without it they are bare addresses ("invalid path to external symbolizer").
PKGS_TSAN=("${PKGS_NORMAL[@]}" clang-19 libclang-rt-19-dev llvm-19)
# bench-report only: gnuplot (no X11) renders the report's PNGs.
PKGS_BENCH=(gnuplot-nox)

log() { printf '==> %s\n' "$*"; }
die() { printf 'dev.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,17s/^# \{0,1\}//p' "$SELF"
}

# ---------------------------------------------------------------------------------------------
# deps

is_installed() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

cmd_deps() {
  local profile=${1:-normal}
  local -a want
  case $profile in
    normal) want=("${PKGS_NORMAL[@]}") ;;
    asan) want=("${PKGS_ASAN[@]}") ;;
    tsan | all) want=("${PKGS_TSAN[@]}") ;;
    *) die "deps: unknown profile '$profile' (normal, asan, tsan or all)" ;;
  esac
  if ! command -v dpkg-query >/dev/null 2>&1; then
    log "deps: dpkg-query not found (not Debian?); not checking packages: ${want[*]}"
    return 0
  fi
  local -a missing=()
  local p
  for p in "${want[@]}"; do
    is_installed "$p" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [[ $(id -u) != 0 ]]; then
    die "missing Debian packages: ${missing[*]}
  install them as root:  apt-get install --no-install-recommends ${missing[*]}
  or run:                sudo tools/dev.sh deps $profile"
  fi
  log "deps ($profile): installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # libboost1.81-dev may conflict with an installed libboost1.74-dev/libboost-dev; apt-get -y
  # resolves that by replacing them.
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
  for p in "${missing[@]}"; do
    is_installed "$p" || die "deps: package $p is still not installed after apt-get install"
  done
}

# ---------------------------------------------------------------------------------------------
# configure / build / test

# configure DIR CXX [CMAKE ARGS...]
# Configures DIR with compiler CXX. An existing DIR is reconfigured in place (incremental); if
# it was configured with a different compiler, its cache is dropped first, since CMake cannot
# switch compilers in an existing cache.
configure() {
  local dir=$1 cxx=$2
  shift 2
  local cxx_path
  cxx_path=$(command -v "$cxx") || die "compiler '$cxx' not found (run: tools/dev.sh deps all)"
  local -a args=(-S "$ROOT" -B "$dir" "$@")
  if [[ -f $dir/CMakeCache.txt ]]; then
    local cached
    cached=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt")
    if [[ -z $cached || $(readlink -f "$cached") != $(readlink -f "$cxx_path") ]]; then
      log "$dir was configured with '${cached:-?}', not $cxx_path: reconfiguring from scratch"
      rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
    fi
  fi
  if [[ ! -f $dir/CMakeCache.txt ]]; then
    # Unix Makefiles explicitly, whatever CMAKE_GENERATOR says: ninja is not a dependency.
    args+=(-G "Unix Makefiles" -DCMAKE_CXX_COMPILER="$cxx_path")
  fi
  log "configure $dir ($("$cxx_path" --version | head -n 1))"
  cmake "${args[@]}"
}

build() {
  local dir=$1
  shift
  log "build $dir (-j$JOBS)"
  cmake --build "$dir" -j"$JOBS" "$@"
}

run_ctest() {
  local dir=$1
  log "ctest $dir"
  # --no-tests=error: a tree whose suites all vanished must not pass as green.
  ctest --test-dir "$dir" --output-on-failure -j2 --no-tests=error
}

# The normal build directory is shared by `demo` and `test`: same options, so neither
# invalidates the other's cache.
configure_normal() {
  configure "$BUILD_DIR" g++ -DUDRM_SANITIZE= -DUDRM_WERROR=ON -DUDRM_BUILD_TESTS=ON \
    -DUDRM_BUILD_EXAMPLES=ON -DUDRM_BUILD_BENCH=ON
}

cmd_demo() {
  cmd_deps normal
  configure_normal
  local targets
  targets=$(cmake --build "$BUILD_DIR" --target help)  # not piped: grep -q would SIGPIPE make
  if ! grep -qx '\.\.\. udrm-demo' <<<"$targets"; then
    die "there is no udrm-demo target: examples/udrm-demo.cpp does not exist yet"
  fi
  build "$BUILD_DIR" --target udrm-demo udrm-flip udrm-run udrm_preload udrmctl udrm-explore udrm-trace-plot
  local b=$BUILD_DIR trace=$BUILD_DIR/demo-trace.json
  log "1/3 the lifetime split: devm (gone at unbind) vs drmm (gone at the last close) — $b/examples/udrm-demo"
  "$b/examples/udrm-demo" "$@"
  echo
  log "2/3 the soc display (controller + HDMI bridge + DSI panel) under udrm-run; a libdrm client"
  log "    flips pages; the controller is unbound 1.5 s in (a flip is in flight), rebound 0.3 s later;"
  log "    the client sees ENODEV and exits cleanly, a new client gets the rebound device"
  PATH="$b/tools:$b/examples:$PATH" "$b/tools/udrm-run" --driver soc --unbind-after-ms 1500 \
    --rebind-after-ms 300 --trace "$trace" -- sh -c \
    'udrm-flip; echo "udrmctl devices:"; udrmctl devices | sed "s/^/  /"; sleep 0.5; udrm-flip --count 60'
  echo
  log "3/3 the explorer: the same commit scenario, unbind/unplug/close/rebind/allocation failure"
  log "    injected at every scheduling point, every oracle checked"
  "$b/tools/udrm-explore" soc.commit
  echo
  log "timeline of step 2 (open in https://ui.perfetto.dev or chrome://tracing): $trace"
  if "$b/tools/trace-plot/udrm-trace-plot" --around 'unbind ' --span 30 --title 'udrm-run: the unbind of step 2' \
    "$trace" "$b/demo-unbind.png" >/dev/null; then
    log "the 30 ms around the unbind, drawn: $b/demo-unbind.png"
  fi
}

# A timeline as a PNG (tools/trace-plot; docs/trace.md "A picture").
cmd_trace_plot() {
  cmd_deps normal
  configure_normal
  build "$BUILD_DIR" --target udrm-trace-plot
  "$BUILD_DIR/tools/trace-plot/udrm-trace-plot" "$@"
}

cmd_test() {
  cmd_deps normal
  configure_normal
  build "$BUILD_DIR"
  run_ctest "$BUILD_DIR"
}

# LeakSanitizer stops the world with ptrace-like machinery; under a debugger or strace, or in
# a sandbox that denies it, it dies with "LeakSanitizer has encountered a fatal error" and
# every test would fail for that reason alone. Check once with a program that leaks on
# purpose, so such an environment is reported as what it is.
check_lsan() {
  local dir=$1/udrm-probe
  mkdir -p "$dir"
  printf '%s\n' '#include <cstdlib>' 'void* volatile g;' \
    'int main() { g = std::malloc(77); g = nullptr; return 0; }' >"$dir/lsan-probe.cpp"
  g++ -O0 -g -fsanitize=address "$dir/lsan-probe.cpp" -o "$dir/lsan-probe"
  local out
  out=$(ASAN_OPTIONS=detect_leaks=1 "$dir/lsan-probe" 2>&1) || true
  if grep -q 'ERROR: LeakSanitizer: detected memory leaks' <<<"$out"; then
    return 0
  fi
  printf '%s\n' "$out" >&2
  if [[ ${UDRM_ALLOW_NO_LSAN:-0} == 1 ]]; then
    printf '%s\n' "dev.sh: WARNING: LeakSanitizer does not work here (see above); UDRM_ALLOW_NO_LSAN=1" \
      "dev.sh: WARNING: so test-asan runs with detect_leaks=0: LEAKS ARE NOT CHECKED IN THIS RUN" >&2
    ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
    return 0
  fi
  die "LeakSanitizer cannot run in this environment (output above): a test program that leaks
  was not reported. Usual causes: running under strace/gdb, or a sandbox that forbids ptrace.
  Run outside them, or set UDRM_ALLOW_NO_LSAN=1 to run test-asan without leak checking."
}

cmd_test_asan() {
  cmd_deps asan
  # Later options win, so settings the caller already exported can still override ours.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  check_lsan "$ASAN_DIR"
  configure "$ASAN_DIR" g++ -DUDRM_SANITIZE=address -DUDRM_WERROR=ON -DUDRM_BUILD_TESTS=ON \
    -DUDRM_BUILD_EXAMPLES=ON -DUDRM_BUILD_BENCH=OFF
  # The build runs test binaries too (gtest_discover_tests), hence the options exported first.
  build "$ASAN_DIR"
  run_ctest "$ASAN_DIR"
}

# ThreadSanitizer needs its shadow memory at fixed addresses, which high-entropy mmap ASLR
# (vm.mmap_rnd_bits=32; this machine kind's kernel default is 28) can collide with. gcc-12's
# runtime then dies with "FATAL: ThreadSanitizer: unexpected memory mapping". clang-19's
# runtime instead re-executes the program with ASLR disabled (personality(ADDR_NO_RANDOMIZE)),
# which works unless a sandbox forbids that. So: start a tiny TSan program; only if it fails
# and the sysctl is above 28, lower it to 28 when root (the fix the runtime itself suggests;
# it only reduces ASLR entropy, and is not persistent across reboots). /proc is written
# directly because `sysctl` (procps) is not on a minimal Debian.
check_tsan() {
  local dir=$1/udrm-probe
  mkdir -p "$dir"
  printf '%s\n' '#include <thread>' \
    'int main() { int x = 0; std::thread t([&] { x = 1; }); t.join(); return x == 1 ? 0 : 1; }' \
    >"$dir/tsan-probe.cpp"
  clang++-19 -O1 -g -fsanitize=thread "$dir/tsan-probe.cpp" -o "$dir/tsan-probe"
  local out
  if out=$("$dir/tsan-probe" 2>&1); then
    return 0
  fi
  printf '%s\n' "$out" >&2
  local knob=/proc/sys/vm/mmap_rnd_bits bits
  bits=$(cat "$knob" 2>/dev/null || echo unknown)
  if [[ $bits =~ ^[0-9]+$ ]] && ((bits > 28)); then
    if [[ $(id -u) != 0 ]]; then
      die "the ThreadSanitizer runtime does not start (output above) with vm.mmap_rnd_bits=$bits;
  as root run: sysctl -w vm.mmap_rnd_bits=28   (or: echo 28 > $knob)"
    fi
    log "ThreadSanitizer does not start with vm.mmap_rnd_bits=$bits: setting it to 28"
    echo 28 >"$knob" || die "could not write $knob"
    if out=$("$dir/tsan-probe" 2>&1); then
      return 0
    fi
    printf '%s\n' "$out" >&2
  fi
  die "the ThreadSanitizer runtime does not start on this machine (output above;
  vm.mmap_rnd_bits=$(cat "$knob" 2>/dev/null || echo unknown))"
}

cmd_test_tsan() {
  cmd_deps tsan
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
  check_tsan "$TSAN_DIR"
  # BOOST_ASIO_DISABLE_STD_ATOMIC, which Asio needs under TSan, is set for every target by
  # CMakeLists.txt. clang-19 rather than g++-12: it was validated with Asio under TSan with no
  # false positives, and its runtime copes with high-entropy ASLR (see check_tsan).
  configure "$TSAN_DIR" clang++-19 -DUDRM_SANITIZE=thread -DUDRM_WERROR=ON -DUDRM_BUILD_TESTS=ON \
    -DUDRM_BUILD_EXAMPLES=ON -DUDRM_BUILD_BENCH=OFF
  build "$TSAN_DIR"
  run_ctest "$TSAN_DIR"
}

# libFuzzer on tests/fuzz/fuzz_ioctl.cpp: the udrm libraries with coverage, ASan and UBSan
# (tests/fuzz/area.cmake). The run works on a copy of the seed corpus (libFuzzer adds what it
# finds to its first corpus directory; the repository's stays as committed), in
# $FUZZ_DIR/fuzz-run/, with crash reproducers in $FUZZ_DIR/fuzz-run/artifacts/.
cmd_fuzz() {
  local secs=${1:-60}
  [[ $secs =~ ^[1-9][0-9]*$ ]] || die "fuzz: SECONDS must be a positive integer, not '$secs'"
  # clang-19, libclang-rt-19-dev (libFuzzer and the sanitizer runtimes), llvm-19 (symbolizer).
  cmd_deps tsan
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  check_lsan "$FUZZ_DIR"
  local leaks=1
  [[ $ASAN_OPTIONS == *detect_leaks=0* ]] && leaks=0
  configure "$FUZZ_DIR" clang++-19 -DUDRM_FUZZ=ON -DUDRM_SANITIZE= -DUDRM_WERROR=ON -DUDRM_BUILD_TESTS=ON \
    -DUDRM_BUILD_EXAMPLES=OFF -DUDRM_BUILD_BENCH=OFF
  build "$FUZZ_DIR" --target udrm_fuzz_ioctl
  local run=$FUZZ_DIR/fuzz-run
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp "$ROOT"/tests/fuzz/corpus/* "$run/corpus/"
  log "fuzz: udrm_fuzz_ioctl for ${secs}s on a copy of tests/fuzz/corpus ($(ls "$run/corpus" | wc -l) seeds); log $run/fuzz.log"
  local rc=0
  # A second for the final stats, then the shell's own timeout as a last resort (a hang
  # libFuzzer's -timeout did not catch).
  timeout -k 10 $((secs + 120)) "$FUZZ_DIR/tests/udrm_fuzz_ioctl" -max_total_time="$secs" -rss_limit_mb=2048 \
    -timeout=10 -detect_leaks=$leaks -print_final_stats=1 -artifact_prefix="$run/artifacts/" "$run/corpus" \
    >"$run/fuzz.log" 2>&1 || rc=$?
  local last stats
  last=$(grep -E '^#[0-9]+' "$run/fuzz.log" | tail -n 1 || true)
  stats=$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$run/fuzz.log" || true)
  printf '%s\n' "fuzz: last status line: ${last:-none}" ${stats:+"$stats"}
  local -a found=()
  local f
  for f in "$run"/artifacts/*; do [[ -e $f ]] && found+=("$f"); done
  if ((rc != 0 || ${#found[@]} > 0)); then
    grep -E 'ORACLE FAILED|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$run/fuzz.log" | head -n 20 >&2 || true
    tail -n 40 "$run/fuzz.log" >&2
    die "fuzz: crash found (exit status $rc); reproducers: ${found[*]:-none}
  replay one:  $FUZZ_DIR/tests/udrm_fuzz_ioctl FILE   (UDRM_FUZZ_VERBOSE=1 prints every op)
  minimise:    $FUZZ_DIR/tests/udrm_fuzz_ioctl -minimize_crash=1 -runs=10000 FILE"
  fi
  log "fuzz: no crashes in ${secs}s"
}

# The benchmark report (tools/bench-report/bench-report.sh; docs/perf.md "Benchmark report"):
# the normal build's packages plus gnuplot, then every bench_* binary in build/.
cmd_bench_report() {
  cmd_deps normal
  local p
  local -a missing=()
  for p in "${PKGS_BENCH[@]}"; do
    is_installed "$p" || missing+=("$p")
  done
  if ((${#missing[@]} > 0)); then
    [[ $(id -u) == 0 ]] || die "missing Debian packages: ${missing[*]}
  install them as root:  apt-get install --no-install-recommends ${missing[*]}"
    log "bench-report: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null ||
      { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null; }
  fi
  configure_normal
  UDRM_BUILD_PREFIX="$BUILD_DIR" UDRM_JOBS="$JOBS" bash "$ROOT/tools/bench-report/bench-report.sh" "$@"
}

# Each stage runs in its own bash process: `set -e` is void inside a function called as part of
# `||`/`if`, so calling cmd_test from here would not stop at its first failing command.
cmd_ci() {
  local stage t0 total0=$SECONDS
  for stage in test test-asan test-tsan "fuzz 60"; do
    t0=$SECONDS
    # shellcheck disable=SC2086  # "fuzz 60" is a command and its argument
    if ! bash "$SELF" $stage; then
      log "stage $stage: FAILED after $((SECONDS - t0))s"
      exit 1
    fi
    log "stage $stage: ok in $((SECONDS - t0))s"
  done
  log "ci: all stages ok in $((SECONDS - total0))s"
}

main() {
  local cmd=${1:-help}
  if (($# > 0)); then shift; fi
  case $cmd in
    deps) cmd_deps "$@" ;;
    demo) cmd_demo "$@" ;;
    test) cmd_test ;;
    test-asan) cmd_test_asan ;;
    test-tsan) cmd_test_tsan ;;
    ci) cmd_ci ;;
    fuzz) cmd_fuzz "$@" ;;
    bench-report) cmd_bench_report "$@" ;;
    trace-plot) cmd_trace_plot "$@" ;;
    help | -h | --help) usage ;;
    *)
      usage >&2
      die "unknown command '$cmd'"
      ;;
  esac
}

main "$@"
