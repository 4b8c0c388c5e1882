#!/bin/bash
# make tsprobe-test: the timestamp probe (tsock.c probe_caps) under a kernel
# that refuses SO_TIMESTAMPING, or accepts it and never stamps.
#
# tests/ts_shim.c, compiled here and preloaded into `ping` only (the
# responder runs unchanged), fails or swallows setsockopt(SO_TIMESTAMPING)
# and logs the time of that call and of the close() of its socket: the probe
# is the first socket that asks, its duration is from that call to its close.
#   refuse:  the probe stops at the refusal (< 300 ms; it used to wait 1 s)
#   swallow: the datagram comes back without stamps; the probe waits a short
#            grace for them, not the whole second (< 700 ms)
# and ping still measures, on user-space times, in every mode.  Loopback only,
# files under one mktemp -d, the responder stopped by the trap.
#
# Ends with "tsprobe: N passed, M failed" and exits 1 on any failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(realpath "${TWAMP_CLIENT:-$HERE/build/twamp-client}")
pass=0
fail=0
TMP=$(mktemp -d /tmp/twamp-tsprobe.XXXXXX)
RESP_PID=
cleanup() {
	[ -n "$RESP_PID" ] && kill "$RESP_PID" 2>/dev/null && wait "$RESP_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() { echo "tsprobe: $pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

[ -x "$BIN" ] || { ko "no $BIN: run make first"; finish; }
if ! ${CC:-cc} -Wall -Wextra -Werror -shared -fPIC -o "$TMP/ts_shim.so" "$HERE/tests/ts_shim.c" -ldl \
	2>"$TMP/cc.log"; then
	cat "$TMP/cc.log"
	ko "compile tests/ts_shim.c (${CC:-cc}, build-essential)"
	finish
fi
ok "compile tests/ts_shim.c"

"$BIN" responder --listen 127.0.0.1:0 --workers 1 2>"$TMP/resp.log" &
RESP_PID=$!
for _ in $(seq 100); do
	grep -q "TWAMP server on" "$TMP/resp.log" 2>/dev/null && break
	sleep 0.1
done
port=$(grep "TWAMP server on" "$TMP/resp.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/')
[ -n "$port" ] || { cat "$TMP/resp.log"; ko "responder did not start"; finish; }

# probe_ms LOG: from the first SO_TIMESTAMPING setsockopt to its socket's close
probe_ms() {
	awk '$1 == "ts" && fd == "" { fd = $2; t0 = $3; next }
	     $1 == "close" && fd != "" && $2 == fd { printf "%d\n", ($3 - t0) / 1000000; exit }' "$1"
}

# run_ping MODE: ping -c 3 under the shim in MODE; sets ms (the probe's
# duration) and wall (the whole ping's, ms)
run_ping() {
	local mode=$1 t0 t1 rc
	: >"$TMP/$mode.log"
	t0=$(date +%s%N)
	# (ASan, in a sanitizer build, wants to be the first library: the shim may come first)
	LD_PRELOAD="$TMP/ts_shim.so" TS_SHIM=$mode TS_SHIM_LOG="$TMP/$mode.log" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
		timeout 30 "$BIN" ping --debug -c 3 -i 0.01 "127.0.0.1:$port" >"$TMP/$mode.out" 2>&1
	rc=$?
	t1=$(date +%s%N)
	wall=$(((t1 - t0) / 1000000))
	ms=$(probe_ms "$TMP/$mode.log")
	if [ "$rc" = 0 ] && grep -q "3 sent, 0 lost" "$TMP/$mode.out"; then
		ok "$mode: ping measures (3 sent, 0 lost)"
	else
		cat "$TMP/$mode.out"
		ko "$mode: ping exits 0 with 3 sent, 0 lost (exit $rc)"
	fi
	if grep -q "Sanitizer\|runtime error:" "$TMP/$mode.out"; then
		cat "$TMP/$mode.out"
		ko "$mode: sanitizer report from ping"
	fi
	if [ -n "$ms" ]; then
		echo "   $mode: probe ${ms} ms, whole ping ${wall} ms"
	else
		cat "$TMP/$mode.log"
		ko "$mode: the shim logged no SO_TIMESTAMPING call and close (is it preloaded?)"
	fi
}

# pass: the real setsockopt, for the figures (and the shim's own check)
run_ping pass
grep -q "timestamps: receive kernel" "$TMP/pass.out" &&
	ok "pass: kernel timestamps in use under the shim's pass-through" ||
	{ cat "$TMP/pass.out"; ko "pass: 'timestamps: receive kernel' logged"; }

run_ping refuse
[ -n "$ms" ] && [ "$ms" -lt 300 ] && ok "refuse: the probe ends at the refusal (${ms} ms < 300 ms)" ||
	ko "refuse: the probe ends at the refusal (${ms:-?} ms, want < 300 ms)"
grep -q "timestamps: receive user space, transmit user space" "$TMP/refuse.out" &&
	ok "refuse: user-space times in use" ||
	{ cat "$TMP/refuse.out"; ko "refuse: 'timestamps: receive user space, transmit user space' logged"; }

run_ping swallow
[ -n "$ms" ] && [ "$ms" -lt 700 ] && ok "swallow: the probe stops waiting for stamps that never come (${ms} ms < 700 ms)" ||
	ko "swallow: the probe stops waiting for stamps that never come (${ms:-?} ms, want < 700 ms)"
grep -q "timestamps: receive user space, transmit user space" "$TMP/swallow.out" &&
	ok "swallow: user-space times in use" ||
	{ cat "$TMP/swallow.out"; ko "swallow: 'timestamps: receive user space, transmit user space' logged"; }

finish
