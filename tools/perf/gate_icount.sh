#!/usr/bin/env bash
# gate_icount.sh BINARY — instruction-count regression check of one udrm::Gate enter/exit pair.
#
# Runs BINARY (bench/gate_icount.cpp) under callgrind with N and 2N pairs. The difference of
# the two total instruction counts divided by N is the exact, noise-free cost of one pair
# (inlined enter + exit + the loop's own increment/compare/branch); process start-up, gate
# creation, the first (slow) enter and unplug() appear in both runs and cancel out. Fails
# (exit 1) when the count exceeds GATE_ICOUNT_MAX.
#
# Threshold: measured with g++ 12.2 (x86-64, valgrind 3.19) on the gate with the guard built
# inline and the exit path tagged at enter:
# 32 instructions/pair at -O2 -g (RelWithDebInfo), 4 of them the loop's own. The default limit
# 35 leaves 3 instructions for codegen drift (compiler upgrade, a reordered member) and fails
# on every regression measured the same way: the previous gate (guard returned through memory,
# exit re-checking the slow flag) cost 41, the same pair behind one out-of-line call 48, the
# fence fallback 95.
#
# Exit: 0 ok, 1 above threshold, 2 usage/tool error, 77 skipped (gate in fence-fallback mode
# because membarrier is unavailable under this kernel/valgrind: a different fast path).
# Environment: VALGRIND (default: valgrind from PATH), GATE_ICOUNT_N (default 200000),
#              GATE_ICOUNT_MAX (default 35).
set -euo pipefail

if [[ $# -lt 1 || ! -x "$1" ]]; then
  echo "usage: $0 /path/to/gate_icount [extra args for it]" >&2
  exit 2
fi
BIN=$1
shift
VALGRIND=${VALGRIND:-valgrind}
N=${GATE_ICOUNT_N:-200000}
MAX=${GATE_ICOUNT_MAX:-35}

if ! command -v "$VALGRIND" >/dev/null 2>&1; then
  echo "gate_icount: valgrind not found" >&2
  exit 2
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Total Ir of one run, from the profile's "totals:" line (or "summary:" if that is all there is).
ir_of() {
  local n=$1 out="$TMP/callgrind.out.$1"
  shift
  if ! "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" \
       "$BIN" "$n" "$@" >"$TMP/stdout.$n" 2>"$TMP/stderr.$n"; then
    echo "gate_icount: '$BIN $n' failed under callgrind:" >&2
    cat "$TMP/stdout.$n" "$TMP/stderr.$n" >&2
    exit 2
  fi
  local ir
  ir=$(awk '/^totals:/ {t=$2} /^summary:/ {s=$2} END {print (t != "" ? t : s)}' "$out")
  if [[ ! "$ir" =~ ^[0-9]+$ ]]; then
    echo "gate_icount: no totals:/summary: line in $out" >&2
    exit 2
  fi
  echo "$ir"
}

IR1=$(ir_of "$N" "$@")
if grep -q "mode: fence-fallback" "$TMP/stdout.$N"; then
  echo "gate_icount: SKIP: membarrier unavailable (gate uses the fence fallback)"
  exit 77
fi
IR2=$(ir_of $((2 * N)) "$@")
DIFF=$((IR2 - IR1))
PER=$((DIFF / N))
REM=$((DIFF % N))
echo "gate_icount: Ir(N=$N)=$IR1 Ir(2N)=$IR2 -> measured $PER instructions per enter/exit pair" \
     "(+$REM/$N), threshold $MAX"
if ((DIFF <= 0 || PER > MAX || (PER == MAX && REM != 0))); then
  echo "gate_icount: FAIL: $PER instructions per pair exceeds $MAX" >&2
  exit 1
fi
echo "gate_icount: OK"
