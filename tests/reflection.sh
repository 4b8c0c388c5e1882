#!/bin/bash
# How the responder reflects (issue 14 section 2), over 127.0.0.1 and ::1:
#   - light/STAMP Sequence Numbers: by default the sender's own (RFC 8762
#     stateless), so two concurrent senders see no false gaps; with --stateful
#     a counter per sender (address, port, SSID) from 0, forgotten after
#     --refwait idle;
#   - short test packets: control sessions answer them padded (ping -s 0 gets
#     0 % loss, as against twampd); light ports drop them unless --pad-short;
#     ping --mode light -s N below the reflection size warns once;
#   - light/STAMP replies carry the DSCP received (ECN returned, CE as ECT(0)),
#     or --reflect-dscp; control sessions their Type-P DSCP;
#   - the SIDs' random octets differ across connections, workers and runs with
#     the same --seed.
# Packets and control clients come from tests/util/reflsend.py (python3).
# TWAMP_CLIENT names the binary.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(readlink -f "${TWAMP_CLIENT:-build/twamp-client}")
TMP=$(mktemp -d)
RS="python3 $HERE/util/reflsend.py"
RESP_PID=
BG=()

cleanup() {
	[ -n "$RESP_PID" ] && kill "$RESP_PID" 2>/dev/null && wait "$RESP_PID" 2>/dev/null
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

. "$(dirname "$0")/util/verdict.sh"

command -v python3 >/dev/null || { echo "reflection: FAIL: python3 missing (apt-get install python3)"; exit 1; }
[ -x "$BIN" ] || { echo "reflection: FAIL: $BIN missing: run make first"; exit 1; }

# start_responder ARGS...: a responder on port 0; its ports in P (control), L4, L6 (light)
start_responder() {
	: >"$TMP/resp.log"
	"$BIN" responder "$@" 2>"$TMP/resp.log" &
	RESP_PID=$!
	for _ in $(seq 100); do
		grep -q "worker(s)" "$TMP/resp.log" 2>/dev/null && break
		kill -0 "$RESP_PID" 2>/dev/null || break
		sleep 0.1
	done
	P=$(grep "TWAMP server on" "$TMP/resp.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/')
	L4=$(grep "reflector on \[127" "$TMP/resp.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/')
	L6=$(grep "reflector on \[::1" "$TMP/resp.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/')
	grep -q "worker(s)" "$TMP/resp.log"
}
# stop_responder: SIGTERM; MALFORMED and EVICTED from its closing counters line
stop_responder() {
	kill "$RESP_PID" 2>/dev/null
	wait "$RESP_PID" 2>/dev/null
	RESP_PID=
	cat "$TMP/resp.log" >>"$TMP/responders.log"
	local line
	line=$(grep "stopping on signal" "$TMP/resp.log")
	MALFORMED=$(sed -n 's/.* \([0-9]*\) malformed.*/\1/p' <<<"$line")
	: "${MALFORMED:=?}"
}
# check FILE PYTHON-EXPRESSIONS: the JSON of reflsend.py send in FILE as `o`,
# `s` its senders; every line of the program must hold
check_json() {
	local file=$1 prog=$2
	python3 -c "
import json, sys
o = json.load(open(sys.argv[1])); s = o['senders']
$prog
" "$file" >"$file.check" 2>&1
}

########################################################################
# 1. Sequence Numbers: stateless by default
########################################################################
start_responder --listen 127.0.0.1:0 --light 127.0.0.1:0 --light '[::1]:0' --workers 2
st=$?
if [ $st = 0 ]; then
	# two senders at once, in two processes, and two more interleaved in one
	$RS send 127.0.0.1 "$L4" --sender 1000 --count 200 >"$TMP/c1.json" 2>&1 & BG+=($!)
	$RS send 127.0.0.1 "$L4" --sender 0 --count 200 >"$TMP/c2.json" 2>&1
	wait "${BG[@]}"; BG=()
	$RS send ::1 "$L6" --stamp --sender 70000:1 --sender 5:2 --count 50 >"$TMP/c3.json" 2>&1
	check_json "$TMP/c1.json" '
assert len(s[0]["replies"]) == 200, len(s[0]["replies"])
assert [r["rseq"] for r in s[0]["replies"]] == list(range(1000, 1200)), [r["rseq"] for r in s[0]["replies"]][:20]' &&
	check_json "$TMP/c2.json" '
assert [r["rseq"] for r in s[0]["replies"]] == list(range(200)), [r["rseq"] for r in s[0]["replies"]][:20]' &&
	check_json "$TMP/c3.json" '
for x, start, ssid in zip(s, (70000, 5), (1, 2)):
    assert [(r["rseq"], r["sseq"], r["ssid"], r["len"]) for r in x["replies"]] == [(start + i, start + i, ssid, 44) for i in range(50)], x["replies"][:5]'
	st=$?
fi
verdict $st "stateless (default): two concurrent light senders (seq from 1000 and from 0, 200 packets each) and two interleaved STAMP senders on ::1 each get their own Sequence Number back: 0 false gaps" "$TMP/c1.json.check" "$TMP/c2.json.check" "$TMP/c3.json.check" "$TMP/resp.log"

########################################################################
# 2. short packets: control sessions pad them, light ports drop them
########################################################################
"$BIN" ping -c 10 -i 0.01 -s 0 -M "127.0.0.1:$P" >"$TMP/s0.out" 2>&1
grep -qx $'SENT\t10' "$TMP/s0.out" && grep -qx $'LOST\t0' "$TMP/s0.out" && grep -qx $'PACKET_PADDING\t0' "$TMP/s0.out"
verdict $? "ping -s 0 (14-octet packets) in control mode: 10 sent, 0 lost (the reflection is padded to 41 octets, as twampd does)" "$TMP/s0.out"

"$BIN" ping -c 10 -i 0.01 -s 0 --mode light -M "127.0.0.1:$L4" >"$TMP/l0.out" 2>"$TMP/l0.err"
grep -qx $'LOST\t10' "$TMP/l0.out" && [ "$(grep -c 'warning' "$TMP/l0.err")" = 1 ] &&
	grep -q "warning: -s 0 makes 14-octet light test packets, shorter than the 41-octet reflection: a reflector may drop them" "$TMP/l0.err"
verdict $? "ping --mode light -s 0 without --pad-short: 10 of 10 lost, one warning line on stderr saying the reflector may drop or pad them" "$TMP/l0.out" "$TMP/l0.err"
"$BIN" ping -c 3 -i 0.01 --mode light -s 27 -M "127.0.0.1:$L4" >"$TMP/l27.out" 2>"$TMP/l27.err"
grep -qx $'LOST\t0' "$TMP/l27.out" && ! grep -q warning "$TMP/l27.err"
verdict $? "ping --mode light -s 27 (41 octets): no warning, 0 lost" "$TMP/l27.out" "$TMP/l27.err"

stop_responder
[ "$MALFORMED" = 10 ]
verdict $? "the responder counted the 10 dropped light packets as malformed (got $MALFORMED)" "$TMP/resp.log"

if [ -f "$HERE/data/keys/test.pfs" ]; then
	start_responder --listen 127.0.0.1:0 --keys "$HERE/data/keys/test.pfs" --workers 1
	"$BIN" ping -A A -u probe -k "$HERE/data/keys/test.pfs" -c 10 -i 0.01 -s 0 -M "127.0.0.1:$P" >"$TMP/a0.out" 2>&1
	grep -qx $'SENT\t10' "$TMP/a0.out" && grep -qx $'LOST\t0' "$TMP/a0.out"
	verdict $? "ping -A A -s 0 (48-octet authenticated packets): 0 lost (reflections padded to 112 octets)" "$TMP/a0.out"
	stop_responder
else
	verdict 1 "tests/data/keys/test.pfs missing"
fi

start_responder --listen 127.0.0.1:0 --light 127.0.0.1:0 --light '[::1]:0' --workers 1 --pad-short
"$BIN" ping -c 10 -i 0.01 -s 0 --mode light -M "127.0.0.1:$L4" >"$TMP/lp.out" 2>&1
grep -qx $'SENT\t10' "$TMP/lp.out" && grep -qx $'LOST\t0' "$TMP/lp.out"
verdict $? "ping --mode light -s 0 against --pad-short: 0 lost" "$TMP/lp.out"
$RS send 127.0.0.1 "$L4" --sender 3 --count 5 --size 14 >"$TMP/lp.json" 2>&1
check_json "$TMP/lp.json" '
assert [(r["len"], r["rseq"]) for r in s[0]["replies"]] == [(41, 3 + i) for i in range(5)], s'
verdict $? "--pad-short: 14-octet light packets answered with 41 octets, the sender's Sequence Number" "$TMP/lp.json.check"

########################################################################
# 3. DSCP and ECN of light/STAMP replies; control sessions keep Type-P
########################################################################
ds() { # file key -> value
	awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$1"
}
"$BIN" ping -c 5 -i 0.01 --mode light -D AF41 -M "127.0.0.1:$L4" >"$TMP/d1.out" 2>&1
"$BIN" ping -c 5 -i 0.01 --mode stamp -D EF -M "[::1]:$L6" >"$TMP/d2.out" 2>&1
[ "$(ds "$TMP/d1.out" DSCP_RX_BCK)" = 34 ] && [ "$(ds "$TMP/d2.out" DSCP_RX_BCK)" = 46 ] &&
	[ "$(ds "$TMP/d1.out" LOST)" = 0 ] && [ "$(ds "$TMP/d2.out" LOST)" = 0 ]
verdict $? "light -D AF41 over 127.0.0.1 and STAMP -D EF over ::1: the replies come back with the DSCP sent ($(ds "$TMP/d1.out" DSCP_RX_BCK), $(ds "$TMP/d2.out" DSCP_RX_BCK))" "$TMP/d1.out" "$TMP/d2.out"
for t in 0x88 0x89 0x8a 0x8b 0xb8; do
	$RS send 127.0.0.1 "$L4" --sender 0 --count 2 --tos $t >"$TMP/e$t.json" 2>&1
	$RS send ::1 "$L6" --sender 0 --count 2 --tos $t --stamp >"$TMP/e6$t.json" 2>&1
done
st=0
for t in 0x88 0x89 0x8a 0x8b 0xb8; do
	want=$(( t == 0x8b ? 0x8a : t ))
	for f in "$TMP/e$t.json" "$TMP/e6$t.json"; do
		check_json "$f" "assert [r['tos'] for r in s[0]['replies']] == [$want, $want], s" || st=1
	done
done
verdict $st "TOS 0x88/0x89/0x8a/0x8b/0xb8 in, over IPv4 and IPv6: DSCP and ECT returned as received, CE (0x8b) answered as ECT(0) (0x8a)" "$TMP/e0x8b.json.check" "$TMP/e60x8b.json.check"
stop_responder

# a dual-stack light socket ([::]): IPv4 senders arrive v4-mapped, their replies take IP_TOS
start_responder --light '[::]:0' --workers 1
LD=$(grep "reflector on \[::\]" "$TMP/resp.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/')
$RS send 127.0.0.1 "$LD" --sender 9 --count 2 --tos 0x8b >"$TMP/ds4.json" 2>&1
$RS send ::1 "$LD" --sender 9 --count 2 --tos 0x89 --stamp >"$TMP/ds6.json" 2>&1
check_json "$TMP/ds4.json" "assert [(r['tos'], r['rseq']) for r in s[0]['replies']] == [(0x8a, 9), (0x8a, 10)], s" &&
	check_json "$TMP/ds6.json" "assert [(r['tos'], r['rseq']) for r in s[0]['replies']] == [(0x89, 9), (0x89, 10)], s"
verdict $? "dual-stack light socket [::]: an IPv4 sender (TOS 0x8b -> 0x8a) and an IPv6 one (0x89 -> 0x89)" "$TMP/ds4.json.check" "$TMP/ds6.json.check"
stop_responder

start_responder --listen 127.0.0.1:0 --light 127.0.0.1:0 --light '[::1]:0' --workers 1 --reflect-dscp EF
"$BIN" ping -c 5 -i 0.01 --mode light -D AF41 -M "127.0.0.1:$L4" >"$TMP/f1.out" 2>&1
$RS send ::1 "$L6" --sender 0 --count 2 --tos 0x8b >"$TMP/f2.json" 2>&1
"$BIN" ping -c 5 -i 0.01 -D AF11 -M "127.0.0.1:$P" >"$TMP/f3.out" 2>&1
[ "$(ds "$TMP/f1.out" DSCP_RX_BCK)" = 46 ] && check_json "$TMP/f2.json" "assert [r['tos'] for r in s[0]['replies']] == [0xba, 0xba], s" &&
	[ "$(ds "$TMP/f3.out" DSCP_RX_BCK)" = 10 ] && [ "$(ds "$TMP/f3.out" LOST)" = 0 ]
verdict $? "--reflect-dscp EF: light replies EF whatever arrived (AF41 -> $(ds "$TMP/f1.out" DSCP_RX_BCK); TOS 0x8b -> 0xba over IPv6); a control session still answers with its Type-P (AF11 -> $(ds "$TMP/f3.out" DSCP_RX_BCK))" "$TMP/f1.out" "$TMP/f2.json.check" "$TMP/f3.out"
stop_responder
"$BIN" responder --light 127.0.0.1:0 --reflect-dscp XX >"$TMP/bad.out" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "invalid value 'XX' for --reflect-dscp" "$TMP/bad.out"
verdict $? "--reflect-dscp XX: usage error naming the value (rc $rc)" "$TMP/bad.out"

########################################################################
# 4. --stateful: a counter per sender, from 0; forgotten when idle
########################################################################
start_responder --light 127.0.0.1:0 --light '[::1]:0' --workers 2 --stateful --refwait 3
st=$?
if [ $st = 0 ]; then
	$RS send 127.0.0.1 "$L4" --sender 1000 --count 100 >"$TMP/s1.json" 2>&1 & BG+=($!)
	$RS send 127.0.0.1 "$L4" --sender 0 --sender 77 --count 100 >"$TMP/s2.json" 2>&1
	wait "${BG[@]}"; BG=()
	# one socket, two SSIDs: two senders
	$RS send ::1 "$L6" --stamp --sender 500:1 --sender 9000:2 --count 20 >"$TMP/s3.json" 2>&1
	check_json "$TMP/s1.json" '
assert [(r["rseq"], r["sseq"]) for r in s[0]["replies"]] == [(i, 1000 + i) for i in range(100)], s[0]["replies"][:5]' &&
	check_json "$TMP/s2.json" '
for x, start in zip(s, (0, 77)):
    assert [(r["rseq"], r["sseq"]) for r in x["replies"]] == [(i, start + i) for i in range(100)], x["replies"][:5]' &&
	check_json "$TMP/s3.json" '
for x, ssid in zip(s, (1, 2)):
    assert [(r["rseq"], r["ssid"]) for r in x["replies"]] == [(i, ssid) for i in range(20)], x["replies"][:5]'
	st=$?
fi
verdict $st "--stateful: three concurrent light senders and two STAMP senders (SSIDs) each numbered from 0 on their own" "$TMP/s1.json.check" "$TMP/s2.json.check" "$TMP/s3.json.check" "$TMP/resp.log"
if [ $st = 0 ]; then
	# pauses of 0.2 s keep the counter, a pause of 5 s (more than --refwait 3) resets it
	python3 - "$L4" "$HERE" >"$TMP/age.out" 2>&1 <<'PY'
import struct, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[2] + "/util")
import reflsend
# one socket for both runs: the same sender (address and port)
u = reflsend.sender_socket("127.0.0.1", 0)
def run(n, start):
    got = []
    for k in range(n):
        u.sendto(reflsend.packet(start + k, 41, False, 0), ("127.0.0.1", int(sys.argv[1])))
        d = reflsend.recv_reply(u, 1.0)
        got.append(struct.unpack("!I", d[0][0:4])[0] if d else None)
    return got
a = run(3, 0)
time.sleep(0.2)
b = run(3, 3)
time.sleep(5)
c = run(3, 6)
print("before the pause", a + b, "after 5 s idle", c)
assert a + b == [0, 1, 2, 3, 4, 5], a + b
assert c == [0, 1, 2], c
PY
	st=$?
fi
verdict $st "--stateful --refwait 3: a sender idle 0.2 s keeps counting (0..5), idle 5 s starts again from 0 ($(tail -1 "$TMP/age.out" 2>/dev/null))" "$TMP/age.out"
stop_responder

########################################################################
# 5. SIDs: random octets from the kernel, never repeated
########################################################################
st=0
: >"$TMP/sids"
for run in 1 2; do
	start_responder --listen 127.0.0.1:0 --workers 2 --seed 7 || st=1
	$RS sids "$P" 40 >>"$TMP/sids" 2>"$TMP/sids.err" || st=1
	stop_responder
done
python3 - "$TMP/sids" >"$TMP/sids.out" 2>&1 <<'PY' || st=1
import sys
sids = open(sys.argv[1]).read().split()
rnd = [s[24:] for s in sids]
print(len(sids), "SIDs,", len(set(rnd)), "distinct random parts")
assert len(sids) == 80 and all(s.startswith("7f000001") for s in sids), sids[:3]
assert len(set(rnd)) == 80, sorted(rnd)[:10]
PY
verdict $st "80 sessions over two runs with the same --seed 7 and 2 workers: $(head -1 "$TMP/sids.out")" "$TMP/sids.out" "$TMP/sids.err"

! grep -q "Sanitizer\|runtime error:" "$TMP/responders.log"
verdict $? "no sanitizer report in the responders' logs" "$TMP/responders.log"

echo "reflection: $pass passed, $fail failed"
[ $fail = 0 ]
