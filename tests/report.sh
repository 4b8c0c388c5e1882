#!/bin/bash
# What ping reports (issue 14): twping parity of -M, several test sessions of
# which the server refuses some, the negotiated security, a light/STAMP ping
# to a closed port.  Everything on loopback: our own responder, and scripted
# peers (tests/util/twampdreplay.py) that replay twampd 5.2.3's control bytes
# from tests/data/interop/owamp-twping-twampd-open.pcap.
# TWAMP_CLIENT names the binary.  Needs python3.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(readlink -f "${TWAMP_CLIENT:-build/twamp-client}")
DATA=$HERE/data/interop
TMP=$(mktemp -d)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

VERDICT_SHOW="head -n 40"
. "$(dirname "$0")/util/verdict.sh"

command -v python3 >/dev/null || { echo "report: FAIL: python3 missing (apt-get install python3)"; echo "report: 0 passed, 1 failed"; exit 1; }
[ -x "$BIN" ] || { echo "report: FAIL: $BIN missing: run make first"; echo "report: 0 passed, 1 failed"; exit 1; }

# start_responder NAME ARGS...: our responder on loopback; its log in $TMP/NAME.log
start_responder() {
	local name=$1; shift
	"$BIN" responder "$@" 2>"$TMP/$name.log" &
	PIDS+=($!)
	for _ in $(seq 50); do
		grep -q "TWAMP server on\|reflector on" "$TMP/$name.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "responder $name did not start:"; cat "$TMP/$name.log"; return 1
}
port_of() { # log name, pattern
	grep "$2" "$TMP/$1.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/'
}

# the keys of a -M text: the word before the tab, or a whole <TAG> line
keys() { awk -F'\t' '/^</ { print; next } /^[A-Z]/ && NF > 1 { print $1 }' "$1"; }

# --- -M: twping's keys first, in twping's order, each present ----------------
start_responder resp --listen 127.0.0.1:0 --light 127.0.0.1:0 || exit 1
RP=$(port_of resp "TWAMP server on")
LP=$(port_of resp "reflector on")

keys "$DATA/twping-M-open.txt" >"$TMP/twping.keys"
n=$(wc -l <"$TMP/twping.keys")
for mode in control light stamp; do
	port=$RP; [ $mode = control ] || port=$LP
	"$BIN" ping --mode $mode -c 10 -i 0.01 -M "127.0.0.1:$port" >"$TMP/m-$mode.out" 2>"$TMP/m-$mode.err"
	rc=$?
	keys "$TMP/m-$mode.out" >"$TMP/m-$mode.keys"
	head -n "$n" "$TMP/m-$mode.keys" >"$TMP/m-$mode.head"
	diff "$TMP/twping.keys" "$TMP/m-$mode.head" >"$TMP/m-$mode.diff"
	[ $rc = 0 ] && [ ! -s "$TMP/m-$mode.diff" ]
	verdict $? "-M ($mode): twping's $n keys first, in its order (SUMMARY ... <BUCKETS> ... </TTLBUCKETS>)" \
		"$TMP/m-$mode.diff" "$TMP/m-$mode.err"
	# none of twping's keys again among ours
	tail -n +"$((n + 1))" "$TMP/m-$mode.keys" | grep -Fx -f "$TMP/twping.keys" >"$TMP/m-$mode.dup"
	[ ! -s "$TMP/m-$mode.dup" ]
	verdict $? "-M ($mode): our keys after twping's, none of its again" "$TMP/m-$mode.dup"
done
out=$TMP/m-control.out
grep -qx "FROM_HOST	localhost" "$out" && grep -qx "TO_HOST	127.0.0.1" "$out" &&
	grep -qx "BUCKET_WIDTH	0.0001" "$out"
verdict $? "-M: FROM_HOST is the local address's name (localhost), TO_HOST the target as given, BUCKET_WIDTH 0.0001" "$out"
# the rows of <BUCKETS> count every packet back once per direction
awk '/^<BUCKETS>/ { b = 1; next } /^<\/BUCKETS>/ { b = 0 } b { r += $2; f += $3; k += $4 }
	END { exit !(r == 10 && f == 10 && k == 10) }' "$out"
verdict $? "-M: <BUCKETS> rows sum to 10 round trips, 10 forward, 10 backward" "$out"
grep -q "^MEDIAN_EXACT	" "$out" && grep -q "^PDV_EXACT	" "$out"
verdict $? "-M: our exact MEDIAN_EXACT and PDV_EXACT after twping's keys" "$out"
"$BIN" ping -c 5 -i 0.01 -b 0.001 -M "127.0.0.1:$RP" >"$TMP/b.out" 2>&1
grep -qx "BUCKET_WIDTH	0.001" "$TMP/b.out"
verdict $? "ping -b 0.001: BUCKET_WIDTH 0.001" "$TMP/b.out"
"$BIN" ping -b 0 -M "127.0.0.1:$RP" >"$TMP/b0.out" 2>&1
[ $? = 2 ] && grep -q -- "-b 0" "$TMP/b0.out"
verdict $? "ping -b 0: usage error naming the value" "$TMP/b0.out"

# --- the negotiated security mode: --json security, -M SECURITY ---------------
start_responder keyed --listen 127.0.0.1:0 --keys "$HERE/data/keys/test.pfs" --modes OAEM || exit 1
KP=$(port_of keyed "TWAMP server on")
for m in O:open A:authenticated E:encrypted M:mixed; do
	letter=${m%%:*} want=${m#*:}
	auth=(); [ "$letter" = O ] || auth=(-u probe -k "$HERE/data/keys/test.pfs")
	"$BIN" ping -A "$letter" "${auth[@]}" -c 3 -i 0.01 --json "127.0.0.1:$KP" >"$TMP/sec-$letter.json" 2>&1 &&
		"$BIN" ping -A "$letter" "${auth[@]}" -c 3 -i 0.01 -M "127.0.0.1:$KP" >"$TMP/sec-$letter.m" 2>&1
	rc=$?
	python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["security"] != sys.argv[2])' \
		"$TMP/sec-$letter.json" "$want" 2>>"$TMP/sec-$letter.m" && [ $rc = 0 ] &&
		grep -qx "SECURITY	$want" "$TMP/sec-$letter.m"
	verdict $? "ping -A $letter: --json \"security\": \"$want\" and -M SECURITY $want" "$TMP/sec-$letter.json" "$TMP/sec-$letter.m"
done
"$BIN" ping --mode stamp -c 3 -i 0.01 --json "127.0.0.1:$LP" >"$TMP/sec-stamp.json" 2>&1
python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["security"] != "open")' "$TMP/sec-stamp.json"
verdict $? "ping --mode stamp: --json \"security\": \"open\"" "$TMP/sec-stamp.json"

# --- several test sessions on one connection, the server refuses some ---------
# start_replay NAME BEHAVIOUR...: twampd's bytes from the capture; its port in RPORT
start_replay() {
	local name=$1; shift
	python3 "$HERE/util/twampdreplay.py" "$DATA/owamp-twping-twampd-open.pcap" "$TMP/$name.port" "$@" \
		2>"$TMP/$name.stderr" &
	PIDS+=($!)
	for _ in $(seq 50); do [ -f "$TMP/$name.port" ] && break; sleep 0.1; done
	RPORT=$(cat "$TMP/$name.port" 2>/dev/null)
}
# as against twampd with 3 test ports: it closes the connection at the 4th Request-TW-Session
start_replay close4 close-at 4
"$BIN" ping -c 5 -i 0.02 -D EF,AF41,BE,CS1,CS2 -M "127.0.0.1:$RPORT" >"$TMP/close4.out" 2>"$TMP/close4.err"
rc=$?
[ $rc = 3 ] && [ "$(grep -c '^SUMMARY' "$TMP/close4.out")" = 3 ] &&
	[ "$(grep -c '^LOST	0$' "$TMP/close4.out")" = 3 ] &&
	[ "$(grep '^DSCP	' "$TMP/close4.out" | tr '\n' ' ')" = "DSCP	0x2e DSCP	0x22 DSCP	0x00 " ] &&
	grep -q "test session 1 of 5 (DSCP 46): accepted" "$TMP/close4.err" &&
	grep -q "test session 3 of 5 (DSCP 0): accepted" "$TMP/close4.err" &&
	grep -q "test session 4 of 5 (DSCP 8): connection closed: the server closed the control connection at its Request-TW-Session" "$TMP/close4.err" &&
	grep -q "test session 5 of 5 (DSCP 16): connection closed: not requested" "$TMP/close4.err" &&
	grep -q "^stop 2 nsessions 3$" "$TMP/close4.port.log" && grep -q "^request 2 3 dscp 0$" "$TMP/close4.port.log" &&
	! grep -q "^request 2 4" "$TMP/close4.port.log"
verdict $? "ping -D EF,AF41,BE,CS1,CS2, server closes at the 4th request: 4 and 5 fail saying why, EF/AF41/BE asked again on a new connection and reported, exit 3 (rc $rc)" \
	"$TMP/close4.err" "$TMP/close4.port.log" "$TMP/close4.out"
start_replay refuse2 refuse 2 4
"$BIN" ping -c 5 -i 0.02 -D EF,AF41,BE --json "127.0.0.1:$RPORT" >"$TMP/refuse2.json" 2>"$TMP/refuse2.err"
rc=$?
python3 - "$TMP/refuse2.json" <<'PY' 2>>"$TMP/refuse2.err" && [ $rc = 3 ] &&
import json, sys
a = json.load(open(sys.argv[1]))
assert [o["dscp"] for o in a] == [46, 34, 0], a
assert a[0]["sent"] == 5 and a[0]["lost"] == 0 and a[2]["sent"] == 5 and a[2]["lost"] == 0, a
assert a[1]["error"] == "session refused" and "Accept 4" in a[1]["reason"] and \
    "permanent resource limitations" in a[1]["reason"] and "sent" not in a[1], a[1]
PY
	grep -q "test session 2 of 3 (DSCP 34): session refused: server refused test session 2 of 3 (DSCP 34): Accept 4, cannot perform the request due to permanent resource limitations" "$TMP/refuse2.err" &&
	grep -q "^stop 1 nsessions 2$" "$TMP/refuse2.port.log"
verdict $? "ping -D EF,AF41,BE, Accept-Session 4 for the 2nd: it fails with Accept 4 and its RFC meaning, the others run on the same connection (--json array), exit 3 (rc $rc)" \
	"$TMP/refuse2.err" "$TMP/refuse2.json" "$TMP/refuse2.port.log"
start_replay refuse1 refuse 1 2
"$BIN" ping -c 5 -i 0.02 -D EF,AF41 -M "127.0.0.1:$RPORT" >"$TMP/refuse1.out" 2>"$TMP/refuse1.err"
rc=$?
[ $rc = 3 ] && [ "$(grep -c '^SUMMARY' "$TMP/refuse1.out")" = 1 ] && grep -qx "DSCP	0x22" "$TMP/refuse1.out" &&
	grep -q "test session 1 of 2 (DSCP 46): session refused: .*Accept 2, server internal error" "$TMP/refuse1.err"
verdict $? "ping -D EF,AF41, the first refused (Accept 2): the second still runs and is reported, exit 3 (rc $rc)" \
	"$TMP/refuse1.err" "$TMP/refuse1.out"
start_replay refuseall refuse 1 5
"$BIN" ping -c 5 -i 0.02 "127.0.0.1:$RPORT" >"$TMP/refuseall.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "session refused: server refused the test session: Accept 5, cannot perform the request due to temporary resource limitations" "$TMP/refuseall.out"
verdict $? "ping with one test session, refused (Accept 5): exit 1 with the Accept code and its meaning (rc $rc)" "$TMP/refuseall.out"

# the daemon: one record per class, the refused ones with their reason
start_replay dclose close-at 2
DCLOSE=$RPORT
start_replay drefuse refuse 2 4
DREFUSE=$RPORT
start_replay drefuse1 refuse 1 4
DREFUSE1=$RPORT
D=$TMP/daemon; mkdir -p "$D"
python3 - "$D" "$DCLOSE" "$DREFUSE" "$DREFUSE1" <<'PY'
import json, sys
d, pc, pr, pr1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
json.dump({"Probe": {"Schedule": "* * * * *", "PacketCount": 5, "Interval": 0.01, "LossTimeout": 0.5}},
          open(d + "/global_config.json", "w"))
json.dump({"Targets": [
    {"IP": "127.0.0.1", "DSCP": [46, 34, 0], "Port": pc, "Custom_comment": "close"},
    {"IP": "127.0.0.1", "DSCP": [46, 34, 0], "Port": pr, "Custom_comment": "refuse"},
    {"IP": "127.0.0.1", "DSCP": [46, 34, 0], "Port": pr1, "Custom_comment": "refuse-first"}]},
    open(d + "/targets_list.json", "w"))
PY
timeout -k 5 60 "$BIN" run --data-dir "$D" --once >"$TMP/daemon.out" 2>"$TMP/daemon.err"
rc=$?
python3 - "$TMP/daemon.out" <<'PY' >"$TMP/daemon.check" 2>&1 && [ $rc = 0 ]
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
t = {}
for r in recs:
    if r["measurement_name"] == "twamp_twping1":
        t.setdefault(r["custom_comment"], {})[r["dscp_dec"]] = r
got = {c: {k: (v["reachable_bool"], v.get("error"), v.get("sent_pkt"), v.get("security")) for k, v in m.items()}
       for c, m in t.items()}
want = {"close": {46: (1, None, 5, "open"), 34: (0, "closed", None, "open"), 0: (0, "closed", None, "open")},
        "refuse": {46: (1, None, 5, "open"), 34: (0, "session", None, "open"), 0: (1, None, 5, "open")},
        "refuse-first": {46: (0, "session", None, "open"), 34: (1, None, 5, "open"), 0: (1, None, 5, "open")}}
assert got == want, got
# a target counts as measured when one of its classes was: the first refused is no exception
p = [r for r in recs if r["measurement_name"] == "twamp_probe"]
assert len(p) == 1 and p[0]["ok"] == 3 and p[0]["failed"] == 0, p
PY
verdict $? "run: DSCP [46, 34, 0] against servers that close at / refuse the 2nd request, refuse the 1st: records for the accepted, failure records (closed, session) for the others, security open, the probe record counts the 3 targets ok (rc $rc)" \
	"$TMP/daemon.check" "$TMP/daemon.err"

# --- a light/STAMP ping to a closed UDP port ---------------------------------
# a port nobody listens on: bound once by the kernel's choice, then closed
free_udp() { python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("::1" if sys.argv[1] == "6" else "127.0.0.1", 0)); print(s.getsockname()[1])' "$1"; }
for c in "light 4 127.0.0.1" "stamp 6 [::1]" "light 4 127.0.0.1 --timestamps user"; do
	set -- $c
	mode=$1 fam=$2 host=$3; shift 3
	port=$(free_udp "$fam")
	t0=$(date +%s%N)
	"$BIN" ping --mode "$mode" -c 20 -i 0.1 -L 2 "$@" "$host:$port" >"$TMP/closed.out" 2>&1
	rc=$? ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $rc = 1 ] && grep -q "nothing listening (ICMP port unreachable)" "$TMP/closed.out" && [ $ms -lt 3000 ]
	verdict $? "ping --mode $mode $* to closed $host:$port: 'nothing listening (ICMP port unreachable)', exit 1 in $ms ms (20 packets 0.1 s apart and the 2 s loss timeout would take 4 s)" "$TMP/closed.out"
done
# a reflector that goes away mid-session: its ICMP errors are counted, the session goes on
start_responder gone --light 127.0.0.1:0 || exit 1
GP=$(port_of gone "reflector on")
GONE_PID=${PIDS[-1]}
# 4 s of packets, the reflector stopped 2 s in: ping's start-up (up to 1 s for the
# timestamping probe on a loaded machine) still leaves a second of replies before it
"$BIN" ping --mode light -c 80 -i 0.05 -L 0.5 --json "127.0.0.1:$GP" >"$TMP/gone.json" 2>"$TMP/gone.err" &
PING=$!
sleep 2
kill "$GONE_PID"; wait "$GONE_PID" 2>/dev/null
wait "$PING"; rc=$?
python3 - "$TMP/gone.json" <<'PY' 2>>"$TMP/gone.err" && [ $rc = 0 ]
import json, sys
o = json.load(open(sys.argv[1]))
assert o["sent"] == 80 and 0 < o["received"] < 80 and o["lost"] > 0, o
assert o["port_unreachable"] > 0, o
PY
verdict $? "light reflector stopped mid-session: exit 0, the rest lost, port_unreachable counted" "$TMP/gone.json" "$TMP/gone.err"

# nothing of ours printed a sanitizer report (the ASan/UBSan build of make report-test)
grep -l "Sanitizer\|runtime error" "$TMP"/* >"$TMP/sanitizer.list" 2>/dev/null
[ ! -s "$TMP/sanitizer.list" ]
verdict $? "no sanitizer report from the client, the daemon or the responders" "$TMP/sanitizer.list"

echo "report: $pass passed, $fail failed"
[ "$fail" = 0 ]
