#!/usr/bin/env bash
# gate_icount.sh BINARY — instruction-count regression check of one udrm::Gate enter/exit pair.
#
# Runs BINARY (bench/gate_icount.cpp) under callgrind with N and 2N pairs; the difference of the
# total instruction counts divided by N is the exact, noise-free cost of one pair (inlined
# enter + exit + 3 instructions of loop overhead); start-up, gate creation, the first (slow)
# enter and unplug cancel out. Fails (exit 1) above THRESHOLD.
#
# Threshold: measured 38 instructions/pair with g++ 12 at -O2 -g (RelWithDebInfo) and -O3
# (Release), x86-64, 2025/11 (membarrier available under valgrind, so the fast path is what is
# counted). 42 allows small codegen drift (a compiler upgrade reshuffling a few moves) but fails
# on any real regression: the membarrier-less fallback (full fence + enter_slow call) costs
# 70+ and an out-of-line call ~25 more. Override with GATE_ICOUNT_MAX; lower it when the gate
# gets cheaper (see bench/README or the commit that changes the fast path).
#
# Environment: VALGRIND (default: valgrind from PATH), GATE_ICOUNT_N (default 200000),
#              GATE_ICOUNT_MAX (default 42).
set -euo pipefail

if [[ $# -ne 1 || ! -x "$1" ]]; then
  echo "usage: $0 /path/to/gate_icount" >&2
  exit 2
fi
BIN=$1
VALGRIND=${VALGRIND:-valgrind}
N=${GATE_ICOUNT_N:-200000}
MAX=${GATE_ICOUNT_MAX:-42}

if ! command -v "$VALGRIND" >/dev/null 2>&1; then
  echo "gate_icount: valgrind not found" >&2
  exit 2
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Total Ir of one run: the "totals:" line (or "summary:" in older formats) of the profile.
ir_of() {
  local n=$1 out="$TMP/callgrind.out.$1"
  if ! "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" --dump-instr=no \
       "$BIN" "$n" >"$TMP/stdout.$n" 2>"$TMP/stderr.$n"; then
    echo "gate_icount: '$BIN $n' failed under callgrind:" >&2
    cat "$TMP/stdout.$n" "$TMP/stderr.$n" >&2
    exit 2
  fi
  local ir
  ir=$(awk '/^totals:/ {print $2; found=1; exit} /^summary:/ {s=$2} END {if (!found && s != "") print s}' "$out")
  if [[ ! "$ir" =~ ^[0-9]+$ ]]; then
    echo "gate_icount: no totals:/summary: line in $out" >&2
    exit 2
  fi
  echo "$ir"
}

IR1=$(ir_of "$N")
IR2=$(ir_of $((2 * N)))
# Integer arithmetic: the difference is an exact multiple of N when the loop body is fixed.
DIFF=$((IR2 - IR1))
PER=$((DIFF / N))
REM=$((DIFF % N))
echo "gate_icount: Ir(N=$N)=$IR1 Ir(2N)=$IR2 -> $PER instructions per enter/exit pair" \
     "(remainder $REM/$N), threshold $MAX"
if ((DIFF < 0 || PER > MAX || (PER == MAX && REM != 0))); then
  echo "gate_icount: FAIL: $PER.$((REM * 100 / N)) > $MAX instructions per pair" >&2
  exit 1
fi
echo "gate_icount: OK"
