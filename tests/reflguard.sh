#!/bin/bash
# The responder against forged datagrams and idle or competing peers (issue 13
# section 3), in a network namespace of its own:
#   - loop guard: a datagram forged with the source of one of our reflector
#     ports (the same socket, our other light port, port 862, another
#     responder's light port) is never answered, so it cannot loop;
#   - --rate-limit caps the reflections to one (forged) source address while
#     another source is still answered; prints packets in, reflections out and
#     the responder's CPU;
#   - a control connection whose Start-Sessions started no session is closed
#     after --control-timeout (it used to wait for REFWAIT, 900 s);
#   - a second responder on a busy TCP or UDP port fails with "address already
#     in use" naming the address and port, and exits non-zero.
# Forging uses a raw socket (tests/util/reflguard.py): needs root and python3.
# TWAMP_CLIENT names the binary.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(readlink -f "${TWAMP_CLIENT:-build/twamp-client}")
TMP=$(mktemp -d)
NS=rguard-$$
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	ip netns delete "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

. "$(dirname "$0")/util/verdict.sh"

if [ "$(id -u)" != 0 ]; then
	echo "reflguard: needs root (network namespace, raw socket); run: sudo make reflguard-test" >&2
	exit 1
fi
for t in ip python3; do
	command -v $t >/dev/null || { echo "reflguard: FAIL: $t missing (apt-get install iproute2 python3)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "reflguard: FAIL: $BIN missing: run make first" >&2; exit 1; }

# lo, plus a non-loopback address of "this host" (10.66.1.1) and a route for
# the forged sources 10.66.0.0/24 (their reflections leave via lo and vanish)
ip netns add "$NS" && ip -n "$NS" link set lo up &&
ip -n "$NS" addr add 10.66.1.1/32 dev lo && ip -n "$NS" route add 10.66.0.0/24 dev lo ||
	{ echo "reflguard: FAIL: cannot build the network namespace $NS"; exit 1; }
NSX="ip netns exec $NS"
RG="$NSX python3 $HERE/util/reflguard.py"

# start NAME ARGS...: a responder in the namespace; its pid in PID_<NAME>
start() {
	local name=$1; shift
	$NSX "$BIN" responder --workers 2 "$@" 2>"$TMP/$name.log" &
	local pid=$!
	PIDS+=("$pid")
	eval "PID_$name=$pid"
	for _ in $(seq 100); do
		grep -q "worker(s)" "$TMP/$name.log" 2>/dev/null && { sleep 0.3; return 0; }
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# stop NAME: SIGTERM; sets RX REFL LOOPED RLIM from its closing counters line
stop() {
	local pid
	eval "pid=\$PID_$1"
	kill "$pid"; wait "$pid" 2>/dev/null
	local line
	line=$(grep "stopping on signal" "$TMP/$1.log")
	RX=$(sed -n 's/.* \([0-9]*\) test packets received.*/\1/p' <<<"$line")
	REFL=$(sed -n 's/.* \([0-9]*\) reflected.*/\1/p' <<<"$line")
	LOOPED=$(sed -n 's/.* \([0-9]*\) from reflector ports of this host.*/\1/p' <<<"$line")
	RLIM=$(sed -n 's/.* \([0-9]*\) over --rate-limit.*/\1/p' <<<"$line")
	: "${RX:=?}" "${REFL:=?}" "${LOOPED:=?}" "${RLIM:=?}"
}
cpu_s() { # utime+stime of a pid in seconds
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.2f", (f[12] + f[13]) / hz }' "/proc/$1/stat"
}

########################################################################
# 1. loop guard, one responder with two light ports
########################################################################
start loop --listen 127.0.0.1:18622 --light 0.0.0.0:18620 --light 0.0.0.0:18621
st=$?
if [ $st = 0 ]; then
	{
		$RG forge 127.0.0.1 18620 127.0.0.1 18620 20 1400    # itself
		$RG forge 127.0.0.1 18621 127.0.0.1 18620 20 1400    # our other light port
		$RG forge 10.66.1.1 18620 10.66.1.1 18620 20 1400    # itself, a non-loopback address
		$RG forge 10.66.1.1 862 127.0.0.1 18621 20 1400      # port 862 of this host
	} >"$TMP/forge.out" 2>&1
	sleep 1.5
	c0=$(cpu_s "$PID_loop")
	stop loop
	[ "$REFL" = 0 ] && [ "$LOOPED" = 80 ] && [ "$RX" = 80 ] && grep -q "a reflector port of this host" "$TMP/loop.log"
	st=$?
fi
verdict $st "loop guard: 80 forged 1,400-octet datagrams from our own light ports (same socket, the other one, on 127.0.0.1 and 10.66.1.1) and from 862: ${REFL:-?} reflections, ${LOOPED:-?} counted as looped of ${RX:-?} received, responder CPU ${c0:-?} s" "$TMP/loop.log" "$TMP/forge.out"

########################################################################
# 2. two responders on this host do not ping-pong
########################################################################
REFL=? LOOPED=?
start ra --listen 127.0.0.1:18632 --light 127.0.0.1:18630 && start rb --listen 127.0.0.1:18633 --light 127.0.0.1:18631
st=$?
if [ $st = 0 ]; then
	$RG forge 127.0.0.1 18631 127.0.0.1 18630 20 1400 >"$TMP/forge2.out" 2>&1
	$RG forge 127.0.0.1 18630 127.0.0.1 18631 20 1400 >>"$TMP/forge2.out" 2>&1
	sleep 1.5
	stop ra; a_refl=$REFL a_loop=$LOOPED
	stop rb; b_refl=$REFL b_loop=$LOOPED
	[ "$a_refl" = 0 ] && [ "$b_refl" = 0 ] && [ "$a_loop" = 20 ] && [ "$b_loop" = 20 ]
	st=$?
fi
verdict $st "two responders (light ports 18630, 18631): 20 datagrams forged each way between them: reflections ${a_refl:-?} + ${b_refl:-?}, dropped as looped ${a_loop:-?} + ${b_loop:-?}" "$TMP/ra.log" "$TMP/rb.log" "$TMP/forge2.out"

########################################################################
# 3. rate limit per source address
########################################################################
FLOOD=20000 c0=0 c1=0
start rl --workers 1 --light 0.0.0.0:18640 --listen 127.0.0.1:18642 --rate-limit 100:50
st=$?
if [ $st = 0 ]; then
	c0=$(cpu_s "$PID_rl")
	# a legitimate sender (a real socket on 10.66.1.1) at 40 packets/s during the flood
	$RG legit 10.66.1.1 10.66.1.1 18640 40 40 >"$TMP/legit.out" 2>&1 &
	lp=$!
	t0=$(date +%s.%N)
	$RG flood 10.66.0.2 10.66.1.1 18640 $FLOOD 100 >"$TMP/flood.out" 2>&1
	t1=$(date +%s.%N)
	wait $lp
	sleep 0.3
	c1=$(cpu_s "$PID_rl")
	stop rl
	secs=$(python3 -c "print($t1 - $t0)")
	got=$(sed -n 's/^answered \([0-9]*\) of.*/\1/p' "$TMP/legit.out")
	python3 - "$RX" "$REFL" "$RLIM" "${got:-x}" "$secs" "$FLOOD" >"$TMP/rl.out" 2>&1 <<'PY'
import sys
rx, refl, rlim, got, secs, flood = sys.argv[1:]
rx, refl, rlim, got, secs, flood = int(rx), int(refl), int(rlim), int(got), float(secs), int(flood)
flood_refl = refl - got
bound = 50 + 100 * (secs + 2.5)     # burst + rate over the flood and the legitimate sender's second
print(f"flood {flood} packets in {secs:.2f} s ({flood / secs:.0f}/s): {flood_refl} reflected (bound {bound:.0f}), "
      f"{rlim} rate-limited; legitimate {got}/40 answered")
assert got == 40, "the legitimate source lost reflections"
assert rx == flood + 40, (rx, flood + 40)
assert 0 < flood_refl <= bound, (flood_refl, bound)
assert rlim == flood - flood_refl, (rlim, flood - flood_refl)
PY
	st=$?
fi
verdict $st "--rate-limit 100:50: $(head -1 "$TMP/rl.out" 2>/dev/null); responder CPU $(python3 -c "print('%.2f' % (${c1:-0} - ${c0:-0}))") s" "$TMP/rl.out" "$TMP/rl.log" "$TMP/legit.out" "$TMP/flood.out"

########################################################################
# 4. Start-Sessions without a session: the control timeout goes on
########################################################################
start idle --listen 127.0.0.1:18650 --control-timeout 2 --max-connections 20
st=$?
if [ $st = 0 ]; then
	secs=$($RG idle 18650 20 15 2>"$TMP/idle.err")
	again=$($RG idle 18650 1 15 2>>"$TMP/idle.err")
	stop idle
	python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(not (1.5 <= a <= 8 and 1.5 <= b <= 8))" "${secs:--1}" "${again:--1}"
	st=$?
fi
verdict $st "20 control connections (--max-connections 20, --control-timeout 2) whose Start-Sessions named no session: closed after ${secs:-?} s (not REFWAIT), and a new connection is served afterwards (closed after ${again:-?} s)" "$TMP/idle.log" "$TMP/idle.err"

########################################################################
# 5. a second responder on a busy port fails
########################################################################
start busy --listen 127.0.0.1:18660 --light 127.0.0.1:18661
st=$?
if [ $st = 0 ]; then
	$NSX "$BIN" responder --workers 2 --listen 127.0.0.1:18660 >"$TMP/busy-tcp.log" 2>&1 </dev/null & p=$!
	PIDS+=("$p"); sleep 2; kill -0 $p 2>/dev/null && kill $p; wait $p; rc_tcp=$?
	$NSX "$BIN" responder --workers 2 --listen 127.0.0.1:18662 --light 0.0.0.0:18661 >"$TMP/busy-udp.log" 2>&1 </dev/null & p=$!
	PIDS+=("$p"); sleep 2; kill -0 $p 2>/dev/null && kill $p; wait $p; rc_udp=$?
	stop busy
	[ "$rc_tcp" != 0 ] && [ "$rc_tcp" -lt 128 ] && grep -q "127.0.0.1\]:18660: address already in use" "$TMP/busy-tcp.log" &&
	[ "$rc_udp" != 0 ] && [ "$rc_udp" -lt 128 ] && grep -q "0.0.0.0\]:18661: address already in use" "$TMP/busy-udp.log"
	st=$?
fi
verdict $st "a second responder on the busy TCP port 18660 / UDP port 18661 exits ${rc_tcp:-?} / ${rc_udp:-?} with 'address already in use' naming the address and port" "$TMP/busy-tcp.log" "$TMP/busy-udp.log"

########################################################################
# 6. no false positives: a client on this host whose test ports share
#    numbers with our session sockets (bound to other addresses)
########################################################################
# 200 control-mode targets on 127.3.0.x, three --once cycles: each of our
# session sockets binds an address of 127.3.0.0/16 and some port, while the
# client's test sockets on 127.0.0.1 take ports of the same numbers; the loop
# guard must not take those for our own (it dropped 7-9 of 2000 packets).
start fp --listen 0.0.0.0:18670 --workers 1
st=$?
lost_all=0
if [ $st = 0 ]; then
	mkdir -p "$TMP/fp"
	python3 - "$TMP/fp" <<'PY'
import json, sys
d = sys.argv[1]
json.dump({"Probe": {"PacketCount": 10, "Interval": 0.01, "LossTimeout": 1,
                     "MaxConcurrentSessions": 100}}, open(d + "/global_config.json", "w"))
json.dump({"Targets": [{"IP": "127.3.0.%d" % (i + 1), "DSCP": str(i % 8), "Port": 18670}
                       for i in range(200)]}, open(d + "/targets_list.json", "w"))
PY
	for round in 1 2 3; do
		$NSX "$BIN" run --data-dir "$TMP/fp" --once >"$TMP/fp.out" 2>"$TMP/fp-run$round.log"
		lost=$(python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if "twamp_twping1" in l]
print(sum(r.get("lost_pkt") or 0 for r in rs) if len(rs) == 200 and all(r["reachable_bool"] for r in rs) else 9999)' "$TMP/fp.out")
		lost_all=$((lost_all + lost))
	done
	stop fp
	[ "$lost_all" = 0 ] && [ "${LOOPED:-1}" = 0 ]
	st=$?
fi
verdict $st "200 control sessions from this host, 3 cycles: ${lost_all} of 6000 packets lost, ${LOOPED:-?} taken for loops" "$TMP/fp.log" "$TMP/fp-run1.log"

# the sanitizer build (make reflguard-test) must stay silent
bad=$(grep -l "Sanitizer\|runtime error:" "$TMP"/*.log 2>/dev/null)
[ -z "$bad" ]
verdict $? "no sanitizer report in the responders' logs${bad:+: $bad}" $bad

echo "reflguard: $pass passed, $fail failed"
[ $fail = 0 ]
