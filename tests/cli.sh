#!/bin/bash
# Command-line tests of build/twamp-client: the responder and ping as a user
# runs them, over 127.0.0.1 and ::1.  TWAMP_CLIENT names the binary (the
# Makefile passes the one of the current build, sanitized or not).
set -u
BIN=${TWAMP_CLIENT:-build/twamp-client}
TMP=$(mktemp -d)
pass=0 fail=0
RESP_PID=

cleanup() {
	[ -n "$RESP_PID" ] && kill "$RESP_PID" 2>/dev/null && wait "$RESP_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$TMP/out" ] && sed 's/^/     | /' "$TMP/out" | head -40; }
check() { # name, command...: the command must succeed
	local name=$1; shift
	if "$@" >"$TMP/out" 2>&1; then ok "$name"; else ko "$name"; fi
}

# Start a responder on port 0 and read the ports it logs.
start_responder() {
	: >"$TMP/resp.log" # else the loop below may read the previous responder's ports
	"$BIN" responder "$@" 2>"$TMP/resp.log" &
	RESP_PID=$!
	for _ in $(seq 50); do
		grep -q "TWAMP server on\|reflector on" "$TMP/resp.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "responder did not start:"; cat "$TMP/resp.log"; return 1
}
port_of() { # pattern in the log line, e.g. "TWAMP server on \[127.0.0.1\]"
	grep "$1" "$TMP/resp.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/'
}
stop_responder() {
	kill "$RESP_PID" 2>/dev/null
	wait "$RESP_PID" 2>/dev/null
	local rc=$?
	RESP_PID=
	return $rc
}

# --- help and usage --------------------------------------------------------
check "twamp-client --help" "$BIN" --help
for c in ping responder; do
	check "$c --help describes its options" bash -c "'$BIN' $c --help | grep -q -- '--help'"
done
"$BIN" frobnicate >"$TMP/out" 2>&1; [ $? -eq 2 ] && ok "unknown command exits 2" || ko "unknown command exits 2"
"$BIN" ping -c abc 127.0.0.1 >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "invalid value 'abc'" "$TMP/out" && ok "bad -c names the value" || ko "bad -c names the value (rc $rc)"
"$BIN" ping -D XY 127.0.0.1 >"$TMP/out" 2>&1; [ $? -eq 2 ] && ok "bad DSCP name exits 2" || ko "bad DSCP name exits 2"
for r in 1-4294967396 " 10-20" +3-4 -4294967295-5; do # sscanf("%u-%u") took all of these
	"$BIN" ping -P "$r" 127.0.0.1 >"$TMP/out" 2>&1; rc=$?
	[ $rc -eq 2 ] && ok "bad port range '$r' exits 2" || ko "bad port range '$r' exits 2 (rc $rc)"
done

# --- the first day: version, one-line usage errors, hints -----------------------
"$BIN" --version >"$TMP/out" 2>&1; rc=$?
v=$(cat "$TMP/out")
[ $rc -eq 0 ] && grep -qxE 'twamp-client [0-9]+\.[0-9]+\.[0-9]+[^ ]*' "$TMP/out" && [ "$("$BIN" -V 2>&1)" = "$v" ] &&
	ok "--version and -V: '$v'" || ko "--version and -V (rc $rc)"
for c in ping responder bench run check-config health; do
	"$BIN" $c --foo 127.0.0.1 >"$TMP/out" 2>"$TMP/err"; rc=$?
	printf "twamp-client %s: unknown option '--foo'\nsee 'twamp-client %s --help'\n" $c $c >"$TMP/want"
	[ $rc -eq 2 ] && [ ! -s "$TMP/out" ] && cmp -s "$TMP/err" "$TMP/want" &&
		ok "$c --foo: exit 2, one line and where the help is" ||
		{ cp "$TMP/err" "$TMP/out"; ko "$c --foo: exit 2, one line and where the help is (rc $rc)"; }
done
"$BIN" ping -c >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 2 ] && [ "$(head -1 "$TMP/out")" = "twamp-client ping: option '-c' needs a value" ] &&
	[ "$(wc -l <"$TMP/out")" = 2 ] && ok "ping -c without a value: named, two lines" || ko "ping -c without a value (rc $rc)"
"$BIN" bench --mode >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -qx "twamp-client bench: option '--mode' needs a value" "$TMP/out" &&
	ok "bench --mode without a value: named" || ko "bench --mode without a value (rc $rc)"
"$BIN" frobnicate >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$TMP/out")" = 2 ] && ok "unknown command: two lines, not the whole help" ||
	ko "unknown command: two lines (rc $rc)"
json_error() { # ERROR REASON_REGEX: stdout ($TMP/out) is exactly one JSON object {"error", "reason"}
	python3 - "$TMP/out" "$1" "$2" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
assert text.count("\n") == 1, text
o = json.loads(text)
assert sorted(o) == ["error", "reason"], o
assert o["error"] == sys.argv[2], o
assert re.search(sys.argv[3], o["reason"]), o
PY
}
"$BIN" ping --json --foo 127.0.0.1 >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -eq 2 ] && json_error usage "unknown option '--foo'" && ok "ping --json --foo: JSON error on stdout, exit 2" ||
	ko "ping --json --foo: JSON error on stdout (rc $rc)"
"$BIN" ping --json -c abc 127.0.0.1 >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -eq 2 ] && json_error usage "invalid value 'abc' for -c" && ok "ping --json -c abc: JSON error, exit 2" ||
	ko "ping --json -c abc (rc $rc)"
"$BIN" ping --json -c 1 no-such-host.invalid >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && json_error unreachable "no-such-host.invalid" && grep -q unreachable "$TMP/err" &&
	ok "ping --json to an unknown name: JSON error, exit 1, the line on stderr too" || ko "ping --json unknown name (rc $rc)"
"$BIN" ping -c 1 --foo --json 127.0.0.1 >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -eq 2 ] && json_error usage "unknown option '--foo'" && ok "a usage error before --json: the JSON error too, exit 2" ||
	ko "a usage error before --json (rc $rc)"
"$BIN" ping -c abc 127.0.0.1 --json >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -eq 2 ] && json_error usage "invalid value 'abc' for -c" && ok "ping -c abc HOST --json (--json last): JSON error, exit 2" ||
	ko "ping -c abc HOST --json (rc $rc)"
"$BIN" ping --json -b 0 127.0.0.1 >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -eq 2 ] && json_error usage "-b 0: give a bucket width" && ok "ping --json -b 0: JSON error, exit 2" ||
	ko "ping --json -b 0 (rc $rc)"
for spec in ::1:862 2001:db8::1:443; do
	"$BIN" ping "$spec" >"$TMP/out" 2>&1; rc=$?
	want="[${spec%:*}]:${spec##*:}"
	[ $rc -eq 2 ] && grep -qF "did you mean $want?" "$TMP/out" && ok "ping $spec: exit 2, did you mean $want?" ||
		ko "ping $spec suggests $want (rc $rc)"
done
"$BIN" bench ::1:862 >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -qF "did you mean [::1]:862?" "$TMP/out" && ok "bench ::1:862: did you mean [::1]:862?" ||
	ko "bench ::1:862 (rc $rc)"
# parsed only: the bad source address stops ping after the target resolved, before any packet
"$BIN" ping -c 1 -S "[::1]:99999" "[::1:862]" >"$TMP/out" 2>&1; rc=$?
! grep -q "did you mean" "$TMP/out" && grep -q "source address" "$TMP/out" &&
	ok "[::1:862] is taken as the address (no hint)" || ko "[::1:862] (rc $rc)" "$TMP/out"

# --- plurals: a count of one takes the singular ------------------------------------
mkdir -p "$TMP/one"
echo '{ "Destinations": [ { "DestinationURL": "http://127.0.0.1:9/x" } ] }' >"$TMP/one/global_config.json"
echo '{ "Targets": [ { "IP": "127.0.0.1", "DSCP": 0 } ] }' >"$TMP/one/targets_list.json"
"$BIN" check-config "$TMP/one" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "generation 2, 1 target, 1 destination$" "$TMP/out" &&
	ok "check-config: '1 target, 1 destination'" || ko "check-config: '1 target, 1 destination' (rc $rc)"
echo '{ "Targets": [ { "IP": "127.0.0.1", "DSCP": 99 } ] }' >"$TMP/one/targets_list.json"
"$BIN" run --data-dir "$TMP/one" --once >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "(1 problem, listed above)" "$TMP/out" && ok "run: '(1 problem, listed above)'" ||
	ko "run: '(1 problem, listed above)' (rc $rc)"

start_responder --listen 127.0.0.1:0 --max-per-connection 1 --workers 1 || exit 1
stop_responder
grep -q "(up to 1 session can share one)" "$TMP/resp.log" && grep -q "stopping on signal 15: 0 connections, 0 sessions" "$TMP/resp.log" &&
	ok "responder: '1 session', '0 connections'" || { cp "$TMP/resp.log" "$TMP/out"; ko "responder: plurals"; }

# --- misspelt keys: a warning naming the nearest known key, exit 0 -------------------
mkdir -p "$TMP/typo"
echo '{ "Probe": { "PacketCount": 2, "Interval": 0.01, "LossTimeout": 0.2, "Workers": 1 } }' >"$TMP/typo/global_config.json"
echo '{ "Targets": [ { "IP": "127.0.0.1", "DSCP": 0, "Port": 9, "Intervall": 1 } ] }' >"$TMP/typo/targets_list.json"
"$BIN" check-config "$TMP/typo" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -qxF 'warning: targets_list.json: Targets[0]: unknown key "Intervall" (did you mean "Interval"?)' "$TMP/out" &&
	grep -q "^OK: " "$TMP/out" && ok "check-config: \"Intervall\": a warning naming \"Interval\", exit 0" ||
	ko "check-config: unknown key warning (rc $rc)"
timeout -k 5 30 "$BIN" run --data-dir "$TMP/typo" --once >/dev/null 2>"$TMP/out"; rc=$?
[ "$(grep -c 'unknown key "Intervall" (did you mean "Interval"?)' "$TMP/out")" = 1 ] &&
	ok "run: the same warning, logged once for the load" || ko "run: unknown key warning once (rc $rc)"

# --- a live responder --------------------------------------------------------
start_responder --listen 127.0.0.1:0 --listen '[::1]:0' --light 127.0.0.1:0 --light '[::1]:0' --workers 2 || exit 1
P4=$(port_of "TWAMP server on \[127.0.0.1\]")
P6=$(port_of "TWAMP server on \[::1\]")
L4=$(port_of "reflector on \[127.0.0.1\]")
L6=$(port_of "reflector on \[::1\]")

machine_ok() { # name, target, extra args
	local name=$1 target=$2; shift 2
	if "$BIN" ping -c 20 -i 0.01 -M "$@" "$target" >"$TMP/out" 2>&1 &&
	   grep -qx $'SENT\t20' "$TMP/out" && grep -qx $'LOST\t0' "$TMP/out"; then
		ok "$name"
	else
		ko "$name"
	fi
}
machine_ok "ping -M over 127.0.0.1 (control): SENT 20, LOST 0" "127.0.0.1:$P4"
machine_ok "ping -M over ::1 (control): SENT 20, LOST 0" "[::1]:$P6"
machine_ok "ping -M light over 127.0.0.1" "127.0.0.1:$L4" --mode light
machine_ok "ping -M stamp over ::1" "[::1]:$L6" --mode stamp
machine_ok "ping -M with -D AF41 -s 64 -Z" "127.0.0.1:$P4" -D AF41 -s 64 -Z

# 28: 27 to match the 41-octet reflection, plus the RFC 7750 DSCP/ECN octet
"$BIN" ping -c 5 -i 0.01 -D EF,AF41,BE --json "127.0.0.1:$P4" >"$TMP/out" 2>&1 &&
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [(x["dscp_tx"], x["dscp_rx_fwd"], x["received"]) for x in d] == [(46,46,5),(34,34,5),(0,0,5)], d; assert len({x["sid"] for x in d}) == 3' "$TMP/out" >>"$TMP/out" 2>&1 &&
	ok "ping -D EF,AF41,BE: three test sessions on one control connection, each DSCP seen by the reflector" ||
	ko "ping -D list"
"$BIN" ping -c 5 -i 0.01 -D EF -M "127.0.0.1:$P4" >"$TMP/out" 2>&1
grep -qx $'DSCP\t0x2e' "$TMP/out" && grep -qx $'PACKET_PADDING\t28' "$TMP/out" &&
	grep -q $'^SID\t7f000001' "$TMP/out" && grep -qx $'MINTTL_FWD\t255' "$TMP/out" &&
	ok "-M keys: DSCP, PACKET_PADDING, SID, MINTTL_FWD" || ko "-M keys: DSCP, PACKET_PADDING, SID, MINTTL_FWD"

"$BIN" ping -c 5 -i 0.01 "127.0.0.1:$P4" >"$TMP/out" 2>&1
grep -q "^5 sent, 0 lost (0.000%)" "$TMP/out" && grep -q "round-trip time min/median/max" "$TMP/out" &&
	ok "human summary" || ko "human summary"

"$BIN" ping -c 5 -i 0.01 -v -q "127.0.0.1:$P4" >"$TMP/out" 2>&1
[ "$(grep -c '^seq_no=' "$TMP/out")" = 5 ] && ok "-v prints one line per packet" || ko "-v prints one line per packet"

"$BIN" ping -c 10 -i 0.01 --json "[::1]:$P6" >"$TMP/out" 2>/dev/null
python3 -c '
import json,sys
o=json.load(open(sys.argv[1]))
assert o["sent"]==10 and o["lost"]==0 and o["to_addr"]=="::1", o
assert o["rtt"]["min"]>0 and o["rtt"]["p99"]>=o["rtt"]["median"], o
' "$TMP/out" && ok "--json is one valid object" || ko "--json is one valid object"

# --- failures: non-zero and one line of reason -----------------------------
closed=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$BIN" ping -c 3 "127.0.0.1:$closed" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$TMP/out")" = 1 ] && grep -q "connection refused" "$TMP/out" &&
	ok "connection refused: exit 1, one line" || ko "connection refused: exit 1, one line (rc $rc)"
"$BIN" ping -c 3 --json "127.0.0.1:$closed" >"$TMP/out" 2>"$TMP/err"; rc=$?
[ $rc -eq 1 ] && json_error "connection refused" "refused" && [ "$(wc -l <"$TMP/err")" = 1 ] &&
	ok "ping --json, connection refused: JSON error on stdout, exit 1" || ko "ping --json, connection refused (rc $rc)"
"$BIN" ping -c 3 no-such-host.invalid >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "unreachable" "$TMP/out" && ok "unknown name: exit 1" || ko "unknown name: exit 1 (rc $rc)"

stop_responder && ok "responder exits 0 on SIGTERM" || ko "responder exits 0 on SIGTERM"
grep -q "sessions" "$TMP/resp.log" && ok "responder logs its counters" || ko "responder logs its counters"
if grep -q "Sanitizer" "$TMP/resp.log"; then ko "responder: no sanitizer report"; cat "$TMP/resp.log"; fi

# --- impairments, reproducible ----------------------------------------------
start_responder --listen 127.0.0.1:0 --loss 20 --seed 3 --workers 1 || exit 1
P=$(port_of "TWAMP server on \[127.0.0.1\]")
"$BIN" ping -c 200 -i 0.002 -M "127.0.0.1:$P" >"$TMP/out" 2>&1
lost=$(awk -F'\t' '$1=="LOST"{print $2}' "$TMP/out")
stop_responder
dropped=$(sed -n 's/.* \([0-9]*\) dropped by --loss.*/\1/p' "$TMP/resp.log")
[ -n "$lost" ] && [ "$lost" = "$dropped" ] && [ "$lost" -gt 10 ] &&
	ok "--loss 20: LOST ($lost) equals what the responder dropped ($dropped)" ||
	ko "--loss 20: LOST ($lost) equals what the responder dropped ($dropped)"

# --- --seed takes 64 bits (long has 32 on armhf and i386) ------------------------
# The responder's losses under --seed 4294967299 (2^32 + 3) and --seed 3 must
# differ: a seed cut to 32 bits would make them the same.  The same seed twice
# gives the same losses, and ping takes the seed too.
loss_pattern() { # SEED: the seq_no ping -v reports lost, one line
	start_responder --listen 127.0.0.1:0 --loss 50 --seed "$1" --workers 1 || return 1
	local p; p=$(port_of "TWAMP server on \[127.0.0.1\]")
	"$BIN" ping -c 64 -i 0.002 -v -q --seed "$1" "127.0.0.1:$p" >"$TMP/out" 2>&1 || { stop_responder; return 1; }
	stop_responder
	sed -n 's/^seq_no=\([0-9]*\) \*LOST\*$/\1/p' "$TMP/out" | tr '\n' ' '
}
big=$(loss_pattern 4294967299) && small=$(loss_pattern 3) && again=$(loss_pattern 4294967299)
[ -n "$big" ] && [ -n "$small" ] && [ "$big" != "$small" ] && [ "$big" = "$again" ] &&
	ok "--seed 2^32+3 is not --seed 3 (lost: $big / $small), and repeats" ||
	ko "--seed 2^32+3 against --seed 3 (lost: '$big' / '$small' / '$again')"
for s in 18446744073709551615 0xffffffffffffffff; do
	"$BIN" ping --seed $s -c 1 127.0.0.1:1 >"$TMP/out" 2>&1; rc=$?
	[ $rc -ne 2 ] && ok "ping --seed $s (2^64-1) is accepted" || ko "ping --seed $s is accepted (rc $rc)"
done
for s in 18446744073709551616 " -1" +5 -1 12x; do
	"$BIN" ping --seed "$s" -c 1 127.0.0.1 >"$TMP/out" 2>&1; rc=$?
	timeout -k 2 5 "$BIN" responder --seed "$s" --listen 127.0.0.1:0 >"$TMP/out2" 2>&1; rc2=$?
	[ $rc -eq 2 ] && [ $rc2 -eq 2 ] && ok "--seed '$s': usage error of ping and the responder" ||
		ko "--seed '$s': usage error (ping rc $rc, responder rc $rc2)"
done

# --- security modes and hardware timestamps ------------------------------------
start_responder --listen 127.0.0.1:0 --keys tests/data/keys/test.pfs --workers 1 || exit 1
P=$(port_of "TWAMP server on \[127.0.0.1\]")
for m in A E M; do
	"$BIN" ping -A $m -u probe -k tests/data/keys/test.pfs -c 10 -i 0.01 -M "127.0.0.1:$P" >"$TMP/out" 2>&1
	pad=$([ $m = M ] && echo 28 || echo 64)
	grep -qx $'SENT\t10' "$TMP/out" && grep -qx $'LOST\t0' "$TMP/out" && grep -qx $'PACKET_PADDING\t'$pad "$TMP/out" &&
		ok "ping -A $m -u probe -k FILE: 10 sent, 0 lost, padding $pad" || ko "ping -A $m"
done
TWAMP_SECRET=not-the-secret "$BIN" ping -A A -u probe -c 3 "127.0.0.1:$P" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "denied" "$TMP/out" && [ "$(wc -l <"$TMP/out")" = 1 ] &&
	ok "wrong secret: exit 1, one line saying access was denied" || ko "wrong secret (rc $rc)"
"$BIN" ping -A A -c 3 "127.0.0.1:$P" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 2 ] && ok "-A A without -u: usage error" || ko "-A A without -u (rc $rc)"
"$BIN" ping --hw-timestamps nosuchif0 -c 3 -i 0.01 -M "127.0.0.1:$P" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "using software timestamps" "$TMP/out" && grep -qx $'LOST\t0' "$TMP/out" &&
	ok "--hw-timestamps on an interface without them: software fallback, test runs" || ko "hw fallback (rc $rc)"
stop_responder
if grep -q "not-the-secret\|0011223344\|0badc0ffee" "$TMP/resp.log"; then ko "the responder logged a secret"; else ok "no secret in the responder's log"; fi

# --- credentials with CR/LF (HTTP header injection): refused at load -----------
cp -r tests/data/config/header-injection "$TMP/hdr"
"$BIN" check-config "$TMP/hdr" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "Destinations\[0\].DestinationPassword: contains a control character (CR" "$TMP/out" &&
	grep -q "Destinations\[1\].DestinationToken: contains a control character (LF" "$TMP/out" &&
	! grep -q "cHJvYmU6c2VjcmV0\|influx-token" "$TMP/out" &&
	ok "check-config: DestinationPassword/DestinationToken with CR/LF refused, keys named, secrets not shown" ||
	ko "check-config: CR/LF in credentials (rc $rc)"
timeout -k 5 20 "$BIN" run --data-dir "$TMP/hdr" --once >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "DestinationPassword: contains a control character" "$TMP/out" &&
	grep -q "no valid configuration" "$TMP/out" &&
	ok "run: the same configuration refused at start (exit 1)" || ko "run: CR/LF in credentials (rc $rc)"

# --- health: a FIFO in place of DIR/health is refused at once, never waited on ---
mkdir -p "$TMP/hfifo" && mkfifo "$TMP/hfifo/health"
timeout -k 2 10 "$BIN" health --data-dir "$TMP/hfifo" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "unhealthy: .*health is a FIFO" "$TMP/out" &&
	ok "health: a FIFO as DIR/health is unhealthy at once, named" || ko "health with a FIFO (rc $rc: $(head -c 200 "$TMP/out"))"
# --- the greeting's PBKDF2 Count is capped (default 2048, twampd's) ------------
start_responder --listen 127.0.0.1:0 --keys tests/data/keys/test.pfs --workers 1 --greeting-count 4096 || exit 1
P=$(port_of "TWAMP server on \[127.0.0.1\]")
"$BIN" ping -A A -u probe -k tests/data/keys/test.pfs -c 3 -i 0.01 "127.0.0.1:$P" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "asks for 4096 PBKDF2 iterations (Count), more than our cap of 2048" "$TMP/out" &&
	ok "greeting Count 4096 over the default cap: exit 1 naming both" || ko "Count over the cap (rc $rc)"
"$BIN" ping -A A -u probe -k tests/data/keys/test.pfs --max-pbkdf2-count 4096 -c 3 -i 0.01 -M "127.0.0.1:$P" >"$TMP/out" 2>&1
grep -qx $'SENT\t3' "$TMP/out" && grep -qx $'LOST\t0' "$TMP/out" &&
	ok "--max-pbkdf2-count 4096 accepts Count 4096" || ko "--max-pbkdf2-count 4096"
"$BIN" ping --max-pbkdf2-count 512 127.0.0.1 >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "give 1024-1048576" "$TMP/out" && ok "--max-pbkdf2-count 512: usage error" ||
	ko "--max-pbkdf2-count 512 (rc $rc)"
stop_responder
# 2^20 iterations (0.35 s, far more under sanitizers) against a 0.05 s control timeout:
# the timeout stays armed while the helper thread derives, and the session ends cleanly
start_responder --listen 127.0.0.1:0 --keys tests/data/keys/test.pfs --workers 1 --greeting-count 1048576 || exit 1
P=$(port_of "TWAMP server on \[127.0.0.1\]")
"$BIN" ping -A A -u probe -k tests/data/keys/test.pfs --max-pbkdf2-count 1048576 --control-timeout 0.05 \
	-c 3 "127.0.0.1:$P" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "timed out waiting for the key derivation (PBKDF2)" "$TMP/out" &&
	ok "Count 2^20, control timeout 0.05 s: times out during the derivation, exit 1" ||
	ko "timeout during the derivation (rc $rc)"
stop_responder

# --- start-up: libcurl and libgit2 are not linked, and not loaded outside the daemon ---
# (src/io/dynlib.c dlopen()s them for the daemon's download and delivery only)
readelf -d "$BIN" >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q '(NEEDED).*libc\.so' "$TMP/out" && ! grep -q '(NEEDED).*\(libcurl\|libgit2\)' "$TMP/out" &&
	ok "readelf -d: no NEEDED entry for libcurl or libgit2" || ko "NEEDED entries of $BIN (readelf rc $rc)"
# maps_of PID NAME: /proc/PID/maps into $TMP/NAME.maps; fails when it could not be read
maps_of() {
	cat "/proc/$1/maps" >"$TMP/$2.maps" 2>/dev/null && grep -q 'libc\.so' "$TMP/$2.maps"
}
start_responder --listen 127.0.0.1:0 --light 127.0.0.1:0 --workers 1 || exit 1
P=$(port_of "TWAMP server on \[127.0.0.1\]")
L=$(port_of "reflector on \[127.0.0.1\]")
maps_of "$RESP_PID" responder && ! grep -q 'libcurl\|libgit2' "$TMP/responder.maps" &&
	ok "a running responder maps neither libcurl nor libgit2" ||
	{ cp "$TMP/responder.maps" "$TMP/out" 2>/dev/null; ko "responder's mappings"; }
"$BIN" ping -c 20 -i 0.05 "127.0.0.1:$P" >"$TMP/ping.out" 2>&1 &
PING=$!
sleep 0.5
maps_of "$PING" ping; mrc=$?
wait "$PING"; rc=$?
[ $mrc -eq 0 ] && [ $rc -eq 0 ] && grep -q '^20 sent, 0 lost' "$TMP/ping.out" && ! grep -q 'libcurl\|libgit2' "$TMP/ping.maps" &&
	ok "ping -c 20 -i 0.05, while it runs: maps neither libcurl nor libgit2" ||
	{ cat "$TMP/ping.out" "$TMP/ping.maps" >"$TMP/out" 2>/dev/null; ko "ping's mappings (maps $mrc, rc $rc)"; }
"$BIN" bench --mode stamp --sessions 1 --rate 50 --hold 1 --steps 2 "127.0.0.1:$L" >"$TMP/bench.out" 2>&1 &
BPID=$!
sleep 0.5
maps_of "$BPID" bench; mrc=$?
wait "$BPID"; rc=$?
[ $mrc -eq 0 ] && [ $rc -eq 0 ] && ! grep -q 'libcurl\|libgit2' "$TMP/bench.maps" &&
	ok "bench, while it runs: maps neither libcurl nor libgit2" ||
	{ cat "$TMP/bench.out" "$TMP/bench.maps" >"$TMP/out" 2>/dev/null; ko "bench's mappings (maps $mrc, rc $rc)"; }
stop_responder

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
