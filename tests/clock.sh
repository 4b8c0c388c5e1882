#!/bin/bash
# Wall-clock steps (issue 14 section 1): the client's CLOCK_REALTIME is stepped
# with libfaketime while CLOCK_MONOTONIC stays real, as when a Raspberry Pi
# without RTC meets NTP or an operator sets the clock by hand.
#   - ping: stepped -1 h, +1 h, +1 day about 2 s into `ping -c 50 -i 0.1`:
#     it ends in bounded time, says the clock stepped, reports no delays and
#     still counts the loss (with --json and -M too);
#   - run: stepped between cycles and in the middle of a session: the next
#     cycle starts at the next schedule match of the NEW wall time (no hour-long
#     stall, no burst of cycles, never two at once), and the stepped session's
#     record carries clock_stepped.
# The step: FAKETIME_TIMESTAMP_FILE holds an offset ("+0", "-3600") that is
# re-read on every clock call (FAKETIME_NO_CACHE=1) and rewritten mid-run;
# FAKETIME_DONT_FAKE_MONOTONIC=1 keeps CLOCK_MONOTONIC real.  The kernel's
# SO_TIMESTAMPING stamps are not faked, so ping runs with --timestamps user
# (the daemon rejects kernel stamps far from the user-space time on its own).
# The responder runs on the real clock, on loopback, on port 0.
# TWAMP_CLIENT names the binary.
set -u
BIN=$(readlink -f "${TWAMP_CLIENT:-build/twamp-client}")
TMP=$(mktemp -d)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

VERDICT_SHOW="tail -n 20"
. "$(dirname "$0")/util/verdict.sh"

FT=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketimeMT\.so\.1$' | head -1)
if [ -z "$FT" ] || [ ! -f "$FT" ]; then
	echo "clock: FAIL: libfaketime missing (apt-get install faketime)"
	echo "clock: 0 passed, 1 failed"
	exit 1
fi
for t in python3 timeout; do
	command -v $t >/dev/null || { echo "clock: FAIL: $t missing"; echo "clock: 0 passed, 1 failed"; exit 1; }
done
[ -x "$BIN" ] || { echo "clock: FAIL: $BIN missing: run make first"; echo "clock: 0 passed, 1 failed"; exit 1; }

OFS=$TMP/offset
echo "+0" >"$OFS"
# faked CMD...: CMD with the stepped wall clock
# (an ASan build would refuse a preloaded library before its runtime: allowed)
faked() {
	FAKETIME_TIMESTAMP_FILE=$OFS FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 LD_PRELOAD=$FT "$@"
}
# step_to SECONDS: the offset of the faked clock from the real one (absolute)
step_to() { echo "$1" >"$OFS.new" && mv "$OFS.new" "$OFS"; }

# --- a responder on the real clock -------------------------------------------
"$BIN" responder --listen 127.0.0.1:0 --light 127.0.0.1:0 --workers 1 2>"$TMP/resp.log" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "reflector on" "$TMP/resp.log" && break; sleep 0.1; done
CTL=$(grep "TWAMP server on" "$TMP/resp.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/')
LIGHT=$(grep "reflector on" "$TMP/resp.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/')
[ -n "$CTL" ] && [ -n "$LIGHT" ] || { ko "responder did not start" "$TMP/resp.log"; echo "clock: $pass passed, $fail failed"; exit 1; }

# --- ping, stepped 2 s into a 5 s session ------------------------------------
# ping_step NAME OFFSET FORMAT: sets RC, SECS; output in $TMP/NAME.out/.err
ping_step() {
	local name=$1 off=$2 fmt=$3 t0
	step_to "+0"
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	faked timeout 40 "$BIN" ping -c 50 -i 0.1 -L 1 --timestamps user $fmt "127.0.0.1:$CTL" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$!
	sleep 2
	step_to "$off"
	wait $pid
	RC=$?
	SECS=$(python3 -c "import sys; print('%.1f' % ($(date +%s.%N) - $t0))")
	step_to "+0"
}

for step in -3600 +3600 +86400; do
	ping_step "ping$step" "$step" ""
	echo "     ping -c 50 -i 0.1, clock stepped $step s after 2 s: exit $RC after $SECS s"
	if [ "$RC" = 0 ] && python3 -c "import sys; sys.exit(not $SECS < 15)" &&
		grep -qi "clock stepped" "$TMP/ping$step.out" &&
		grep -q "50 sent, 0 lost" "$TMP/ping$step.out"; then
		ok "ping, clock stepped $step s mid-session: ends in $SECS s (< 15), says the clock stepped, counts loss"
	else
		ko "ping, clock stepped $step s mid-session (exit $RC after $SECS s)" "$TMP/ping$step.out" "$TMP/ping$step.err"
	fi
done

# --json and -M of a stepped session; no step: no clock_stepped, no CLOCK_STEPPED
ping_step json -3600 --json
python3 - "$TMP/json.out" <<'PY' >"$TMP/json.check" 2>&1
import json, sys
o = json.load(open(sys.argv[1]))
assert o["clock_stepped"] is True, o
assert o["rtt"] is None and o["fwd"] is None and o["bck"] is None, o
assert o["sent"] == 50 and o["lost"] == 0, o
PY
[ "$RC" = 0 ] && [ ! -s "$TMP/json.check" ] &&
	ok "ping --json, clock stepped: clock_stepped true, rtt/fwd/bck null, 50 sent, 0 lost" ||
	ko "ping --json, clock stepped (exit $RC)" "$TMP/json.check" "$TMP/json.out" "$TMP/json.err"
ping_step machine +3600 -M
[ "$RC" = 0 ] && [ "$(tail -n 1 "$TMP/machine.out")" = "$(printf 'CLOCK_STEPPED\t1')" ] &&
	! grep -q "^MEDIAN\|^PDV\|^MIN	\|^MAX	\|^<BUCKETS>" "$TMP/machine.out" && grep -q "^LOST	0" "$TMP/machine.out" &&
	grep -q "^SENT	50" "$TMP/machine.out" &&
	ok "ping -M, clock stepped: CLOCK_STEPPED 1 is the last key, no delay keys (MEDIAN, PDV, MIN, MAX, <BUCKETS>), SENT 50, LOST 0" ||
	ko "ping -M, clock stepped (exit $RC)" "$TMP/machine.out" "$TMP/machine.err"
ping_step calm +0 --json
python3 - "$TMP/calm.out" <<'PY' >"$TMP/calm.check" 2>&1
import json, sys
o = json.load(open(sys.argv[1]))
assert o["clock_stepped"] is False and o["rtt"] is not None and o["lost"] == 0, o
PY
faked timeout 20 "$BIN" ping -c 10 -i 0.05 --timestamps user -M "127.0.0.1:$CTL" >"$TMP/calm.m" 2>&1
[ ! -s "$TMP/calm.check" ] && ! grep -q CLOCK_STEPPED "$TMP/calm.m" && grep -q "^MEDIAN	[0-9]" "$TMP/calm.m" &&
	ok "ping under libfaketime without a step: clock_stepped false, delays reported, no CLOCK_STEPPED" ||
	ko "ping without a step" "$TMP/calm.check" "$TMP/calm.out" "$TMP/calm.m"

# --- bench: --max-seconds and the step's hold on the monotonic clock --------
# 3 steps of 1.5 s fit in --max-seconds 8; a +1 h step 1 s in must neither end
# the ramp at once nor make the hold last an hour
step_to "+0"
t0=$(date +%s.%N)
faked timeout 40 "$BIN" bench --mode light --sessions 2 --rate 100 --hold 1.5 --steps 3 --max-seconds 8 \
	-L 0.5 --timestamps user "127.0.0.1:$LIGHT" >"$TMP/bench.out" 2>"$TMP/bench.err" &
bpid=$!
sleep 1
step_to "+3600"
wait $bpid
rc=$?
SECS=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)")
step_to "+0"
if [ "$rc" = 0 ] && grep -q "ramp complete: 3 steps" "$TMP/bench.out" &&
	python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 20 else 1)" "$SECS"; then
	ok "bench, clock stepped +1 h 1 s in: the 3 steps run (--max-seconds not hit), $SECS s"
else
	ko "bench, clock stepped +1 h (exit $rc, $SECS s)" "$TMP/bench.out" "$TMP/bench.err"
fi

# --- run: steps between cycles and mid-session --------------------------------
timeout 240 python3 "$(dirname "$0")/util/clockstep.py" "$BIN" "$FT" "$TMP" "$CTL" >"$TMP/run.verdicts" 2>&1
rc=$?
cat "$TMP/run.verdicts"
p=$(grep -c "^ok " "$TMP/run.verdicts"); f=$(grep -c "^FAIL" "$TMP/run.verdicts")
pass=$((pass + p)); fail=$((fail + f))
if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
	ko "run: clockstep.py exit $rc" "$TMP/run.verdicts" "$TMP/run.err"
elif [ "$f" != 0 ]; then
	grep -i "stepped\|cycle\|error" "$TMP/run.err" | tail -n 30 | sed 's/^/     run.err: /'
fi

# a sanitized build: no report from any process
kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; PIDS=()
if grep -l "Sanitizer\|runtime error" "$TMP"/*.err "$TMP"/*.log "$TMP"/*.m 2>/dev/null | grep -q .; then
	ko "sanitizer reports" $(grep -l "Sanitizer\|runtime error" "$TMP"/*.err "$TMP"/*.log "$TMP"/*.m)
else
	ok "no sanitizer report from ping, run or the responder"
fi

echo "clock: $pass passed, $fail failed"
[ "$fail" = 0 ]
