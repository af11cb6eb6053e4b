#!/usr/bin/env bash
# CTest fuzz_record_roundtrip: the seed pipeline of make_corpus.sh end to end on one short
# session. `udrm-run --record-ioctls` records `modetest -c` on udrm-simple; the log must hold
# the open, the ioctls with the client memory they read and wrote, and the close;
# udrm_fuzz_trace2corpus converts it and the harness replays it with the ioctls succeeding.
#
#   record_roundtrip.sh UDRM_RUN TRACE2CORPUS REPLAY WORKDIR
set -euo pipefail
RUN=$1 CONV=$2 REPLAY=$3 WORK=$4
command -v modetest >/dev/null || { echo "record_roundtrip: modetest not installed (libdrm-tests)"; exit 77; }
rm -rf "$WORK" && mkdir -p "$WORK"
log=$WORK/session.log
"$RUN" --driver simple --record-ioctls "$log" -- modetest -M udrm-simple -c >"$WORK/modetest.out" 2>&1

fail() { echo "record_roundtrip: $*" >&2; exit 1; }
# Record kinds: "<us> <conn> open card0 0", "<us> <conn> ioctl CMD ADDR RET IN OUT", " poke ...".
grep -Eq '^[0-9]+ [0-9]+ open [a-zA-Z0-9]+ 0$' "$log" || fail "no successful open recorded"
ioctls=$(grep -Ec '^[0-9]+ [0-9]+ ioctl [0-9]+ [0-9]+ 0 [0-9a-f]+ [0-9a-f]+$' "$log" || true)
((ioctls >= 10)) || fail "only $ioctls successful ioctls recorded"
grep -Eq '^ poke [0-9]+ [0-9a-f]+$' "$log" || fail "no client memory written by the server recorded (GETRESOURCES arrays)"
grep -Eq '^[0-9]+ [0-9]+ close$' "$log" || fail "no close recorded"

"$CONV" --driver simple "$log" "$WORK/seed.bin"
out=$("$REPLAY" "$WORK/seed.bin" 2>&1) || fail "replay failed: $out"
echo "$out"
# "N inputs, N ops, N ioctls (K ok)": every recorded successful ioctl succeeds again.
ok=$(sed -nE 's/.* ioctls \(([0-9]+) ok\).*/\1/p' <<<"$out")
[[ -n $ok ]] || fail "no replay summary"
((ok >= ioctls)) || fail "replay: $ok ioctls succeeded, the session had $ioctls"
echo "record_roundtrip: $ioctls ioctls recorded, $ok succeeded on replay"
