#!/usr/bin/env bash
# Regenerates the fuzz seed corpus (tests/fuzz/corpus/) from real client sessions: libdrm's
# modetest, proptest, vbltest, modeprint and drmdevice run unmodified under
# `udrm-run --record-ioctls` on both reference drivers; udrm_fuzz_trace2corpus turns each
# recorded session into one harness input; udrm_fuzz_ioctl replays them all at the end.
#
#   tests/fuzz/make_corpus.sh BUILD_DIR [OUT_DIR]
#
# BUILD_DIR: a normal (non-sanitizer) build tree; the targets needed are built first. OUT_DIR
# defaults to tests/fuzz/corpus (its *.bin seeds are replaced). Needs libdrm-tests (modetest,
# proptest, vbltest, modeprint, drmdevice) and coreutils' timeout. The sessions run in real
# time (about two minutes for all of them); the recorded logs stay in a temporary directory
# whose path is printed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:?usage: make_corpus.sh BUILD_DIR [OUT_DIR]}
OUT=${2:-$ROOT/tests/fuzz/corpus}
[[ $BUILD == /* ]] || BUILD="$PWD/$BUILD"
[[ $OUT == /* ]] || OUT="$PWD/$OUT"

for t in modetest proptest vbltest modeprint drmdevice timeout; do
  command -v "$t" >/dev/null || { echo "make_corpus.sh: $t not found (apt-get install libdrm-tests)" >&2; exit 1; }
done

cmake --build "$BUILD" -j"${UDRM_JOBS:-2}" --target udrm-run udrmctl udrm_preload udrm_fuzz_trace2corpus udrm_fuzz_ioctl
RUN="$BUILD/tools/udrm-run"
CONV="$BUILD/tests/udrm_fuzz_trace2corpus"
REPLAY="$BUILD/tests/udrm_fuzz_ioctl"
export PATH="$BUILD/tools:$PATH"
LOGS=$(mktemp -d /tmp/udrm-corpus.XXXXXX)
echo "make_corpus.sh: logs in $LOGS"
mkdir -p "$OUT"
rm -f "$OUT"/*.bin

# record DRIVER NAME SCRIPT: one session under udrm-run, converted to $OUT/DRIVER-NAME.bin.
record() {
  local drv=$1 name=$2 script=$3 log="$LOGS/$1-$2.log"
  if ! timeout -k 5 60 "$RUN" --driver "$drv" --record-ioctls "$log" -- sh -c "$script" >"$LOGS/$drv-$name.out" 2>&1; then
    echo "make_corpus.sh: warning: session $drv-$name exited non-zero (kept: a failing client is a seed too)" >&2
  fi
  "$CONV" --driver "$drv" "$log" "$OUT/$drv-$name.bin"
}

for drv in simple soc; do
  n=udrm-$drv
  # What the sessions need to know about the device: a connected connector and its first mode,
  # its DPMS property, a CRTC, the primary plane and the device to unbind.
  info=$("$RUN" --driver "$drv" -- sh -c "modetest -M $n -c && udrmctl state")
  conn=$(awk '$3 == "connected" && $1 ~ /^[0-9]+$/ { print $1; exit }' <<<"$info")
  mode=$(awk -v c="$conn" '$1 == c && $3 == "connected" { f = 1; next } f && $1 == "#0" { print $2; exit }' <<<"$info")
  dpms=$(awk '/ DPMS:/ { print $1 + 0; exit }' <<<"$info")
  crtc=$(grep -o 'crtc id=[0-9]*' <<<"$info" | head -n 1 | cut -d= -f2)
  plane=$(grep 'type=primary' <<<"$info" | grep -o 'plane id=[0-9]*' | head -n 1 | cut -d= -f2)
  dev=$([[ $drv == simple ]] && echo simple || echo dc)
  [[ -n $conn && -n $mode && -n $dpms && -n $crtc && -n $plane ]] || {
    echo "make_corpus.sh: could not read the $drv device's connector/mode/DPMS/CRTC/plane:" >&2
    echo "$info" >&2
    exit 1
  }
  s="$conn:$mode"
  record "$drv" modetest-c "modetest -M $n -c"
  record "$drv" modetest-p "modetest -M $n -p"
  record "$drv" modetest-all "modetest -M $n"
  record "$drv" modetest-legacy-set "(sleep 1; echo) | modetest -M $n -s $s"
  record "$drv" modetest-flip "(sleep 1; echo) | modetest -M $n -s $s -v"
  record "$drv" modetest-atomic "(sleep 1; echo) | modetest -M $n -a -s $s -P $plane@$crtc:$mode"
  record "$drv" modetest-atomic-flip "(sleep 1; echo) | modetest -M $n -a -s $s -v"
  record "$drv" modetest-cursor "(sleep 1; echo) | modetest -M $n -s $s -C"
  record "$drv" modetest-setprop "(sleep 1; modetest -M $n -w $conn:DPMS:3; proptest -M $n $conn connector $dpms 0; echo) | modetest -M $n -d -s $s"
  record "$drv" proptest "proptest -M $n"
  record "$drv" vbltest "(sleep 1; sleep 3 | timeout -s INT 1 vbltest -M $n; echo) | modetest -M $n -s $s"
  record "$drv" modeprint "modeprint $n"
  record "$drv" drmdevice "drmdevice"
  record "$drv" unbind-while-flipping "(sleep 1; udrmctl unbind $dev; sleep 0.3; udrmctl bind $dev; echo) | modetest -M $n -s $s -v; modetest -M $n -c"
done

"$REPLAY" --require-kms "$OUT"
ls -l "$OUT"
