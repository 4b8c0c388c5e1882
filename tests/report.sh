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
pass=0 fail=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

verdict() { # status, text, files to show on failure
	local st=$1 text=$2; shift 2
	if [ "$st" = 0 ]; then
		pass=$((pass + 1)); echo "ok   $text"
	else
		fail=$((fail + 1)); echo "FAIL $text"
		for f in "$@"; do [ -f "$f" ] && head -n 40 "$f" | sed "s/^/     $(basename "$f"): /"; done
	fi
}

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
	[ $rc = 1 ] && grep -q "nothing listening (ICMP port unreachable)" "$TMP/closed.out" && [ $ms -lt 1500 ]
	verdict $? "ping --mode $mode $* to closed $host:$port: 'nothing listening (ICMP port unreachable)', exit 1 in $ms ms (the loss timeout is 2 s)" "$TMP/closed.out"
done
# a reflector that goes away mid-session: its ICMP errors are counted, the session goes on
start_responder gone --light 127.0.0.1:0 || exit 1
GP=$(port_of gone "reflector on")
GONE_PID=${PIDS[-1]}
"$BIN" ping --mode light -c 40 -i 0.05 -L 0.5 --json "127.0.0.1:$GP" >"$TMP/gone.json" 2>"$TMP/gone.err" &
PING=$!
sleep 0.8
kill "$GONE_PID"; wait "$GONE_PID" 2>/dev/null
wait "$PING"; rc=$?
python3 - "$TMP/gone.json" <<'PY' 2>>"$TMP/gone.err" && [ $rc = 0 ]
import json, sys
o = json.load(open(sys.argv[1]))
assert o["sent"] == 40 and 0 < o["received"] < 40 and o["lost"] > 0, o
assert o["port_unreachable"] > 0, o
PY
verdict $? "light reflector stopped mid-session: exit 0, the rest lost, port_unreachable counted" "$TMP/gone.json" "$TMP/gone.err"

echo "report: $pass passed, $fail failed"
[ "$fail" = 0 ]
