#!/bin/bash
# Fault injection (issue 9 sections 3 and 5): the daemon against responders and
# destinations that misbehave, a full or read-only disk, signals at bad
# moments, a huge target list; the responder against abusive clients.
# Each scenario checks: no crash, no sanitizer report (run it with the
# ASan/UBSan build: TWAMP_CLIENT=build-address,undefined/twamp-client, which
# `make fault-test` does), bounded memory (RSS sampled), and that every
# record is delivered or counted as lost with a reason.
#
# Needs root for the tmpfs mounts (the disk scenarios are skipped, and
# reported as such, without it).  Everything listens on loopback on free
# ports; mounts and processes are cleaned up on exit.
set -u
BIN=${TWAMP_CLIENT:-build-address,undefined/twamp-client}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/tcf-faults.XXXXXX)
pass=0 fail=0
PIDS=()
MOUNTS=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; for f in "${@:2}"; do [ -f "$f" ] && sed 's/^/     | /' "$f" | tail -25; done; }

# time (/usr/bin/time), hping3, iproute2, openssl: installed by scripts/install-deps.sh
# --test; one it cannot install fails here with apt's error
"$HERE/../scripts/install-deps.sh" --test || { ko "test dependencies (scripts/install-deps.sh --test)"; echo "faults: $pass passed, $fail failed"; exit 1; }
verdict() { # condition-result name files...: ok or ko
	local rc=$1; shift
	if [ "$rc" = 0 ]; then ok "$1"; else ko "$@"; fi
}
sanitizer_clean() { ! grep -q "Sanitizer\|runtime error\|LeakSanitizer" "$@"; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
nthreads() { awk '/^Threads/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_log() { # file pattern [tenths]
	for _ in $(seq "${3:-100}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1
}
# wait for PID at most N seconds; its exit code, or 124 after killing it
wait_for() {
	local pid=$1 n=$(($2 * 10))
	for _ in $(seq $n); do kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; return 124
}

# start_bg NAME CMD...: run in the background, log in $TMP/NAME.log, pid in LASTPID
start_bg() {
	local name=$1; shift
	"$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.log" &
	LASTPID=$!
	PIDS+=($LASTPID)
}

start_responder() { # NAME ARGS...: sets RPID, RCTL (control port), RLIGHT
	local name=$1; shift
	start_bg "$name" "$BIN" responder "$@"
	RPID=$LASTPID
	wait_log "$TMP/$name.log" "worker(s)" || { echo "responder $name did not start"; cat "$TMP/$name.log"; exit 1; }
	RCTL=$(grep "TWAMP server on" "$TMP/$name.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/')
	RLIGHT=$(grep "reflector on" "$TMP/$name.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/')
}

start_fake() { # NAME BEHAVIOUR [ARG]: sets FP
	local name=$1; shift
	start_bg "$name" python3 "$HERE/util/twampfake.py" "$TMP/$name.port" "$@"
	wait_file "$TMP/$name.port" || { echo "fake $name did not start"; exit 1; }
	FP=$(cat "$TMP/$name.port")
}

start_sink() { # NAME STATUS [CERT KEY]: sets SP; the status is in $TMP/NAME.status
	local name=$1 st=$2; shift 2
	echo "$st" >"$TMP/$name.status"
	start_bg "$name" python3 "$HERE/util/faultsink.py" "$TMP/$name.port" "$TMP/$name.req" "$TMP/$name.status" "$@"
	wait_file "$TMP/$name.port" || { echo "sink $name did not start"; exit 1; }
	SP=$(cat "$TMP/$name.port")
}

# make_dir DIR PROBE_JSON DESTS_JSON TARGET...: TARGET is comment:ip:port:mode[:packets]
make_dir() {
	mkdir -p "$1"
	python3 - "$@" <<'PY'
import json, sys
d, probe, dests, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
p = {"Schedule": "* * * * *", "PacketCount": 10, "Interval": 0.01, "LossTimeout": 0.5,
     "Workers": 2, "MaxConcurrentSessions": 200}
p.update(json.loads(probe or "{}"))
g = {"Probe": p}
if dests:
    g["Destinations"] = json.loads(dests)
json.dump(g, open(d + "/global_config.json", "w"), indent=1)
ts = []
for spec in targets:
    f = spec.split(":")
    t = {"IP": f[1], "Port": int(f[2]), "Mode": f[3], "DSCP": "0", "Custom_comment": f[0],
         "Custom_id": f[0]}
    if len(f) > 4:
        t["PacketCount"] = int(f[4])
    ts.append(t)
json.dump({"Targets": ts}, open(d + "/targets_list.json", "w"))
json.dump({"SourceName": "tcf-probe"}, open(d + "/local_config.json", "w"))
PY
}

# records FILE: target records of a JSON-lines file (stdout of the daemon) as "comment error lost sent reachable"
records_stdout() {
	python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("measurement_name") == "twamp_twping1":
        print(r["custom_comment"], r.get("error") or "-", r.get("lost_pkt"), r.get("sent_pkt"), r["reachable_bool"])
PY
}

# sink_count REQFILE: "unique total probes" of the target records answered 2xx
sink_count() {
	python3 - "$1" <<'PY'
import json, sys, collections
c = collections.Counter(); probes = 0
try:
    lines = open(sys.argv[1]).readlines()
except OSError:
    lines = []
for line in lines:
    q = json.loads(line)
    if not 200 <= q["status"] < 300:
        continue
    for r in json.loads(q["body"]):
        if r["measurement_name"] == "twamp_probe":
            probes += 1
        else:
            c[r["custom_comment"]] += 1
print(len(c), sum(c.values()), probes)
PY
}

# spooled DIR: records in the spool's batches (not rejected), from the file names
spooled() {
	find "$1" -name '*.batch' -not -path '*/reject/*' 2>/dev/null |
		sed 's/.*-\([0-9]*\)\.batch$/\1/' | awk '{s += $1} END {print s + 0}'
}

T0=$(date +%s)
[ -x "$BIN" ] || { echo "no binary $BIN"; exit 1; }
echo "fault tests with $BIN"

########################################################################
# 1. Misbehaving responders: one daemon cycle over one target per fault
########################################################################
start_responder resp1 --listen 127.0.0.1:0 --light 127.0.0.1:0 --workers 1
GOOD=$RCTL
TARGETS=("good:127.0.0.1:$GOOD:control")
for b in rst-after-accept:"" stop-after:3 garbage:"" undersized:"" oversized:"" flood:20000 \
	 stall:greeting stall:server-start stall:accept stall:start-ack \
	 trickle:greeting trickle:server-start trickle:accept trickle:start-ack; do
	name=${b%%:*}; arg=${b#*:}
	tag=$name${arg:+-$arg}
	start_fake "fake-$tag" "$name" $arg
	TARGETS+=("$tag:127.0.0.1:$FP:control")
done
D=$TMP/peers
make_dir "$D" '{"PacketCount": 20, "Interval": 0.02}' "" "${TARGETS[@]}"
start_bg peers "$BIN" run --data-dir "$D" --once
RUN=$LASTPID
peak=0
for _ in $(seq 300); do
	kill -0 $RUN 2>/dev/null || break
	r=$(rss_kb $RUN); [ "$r" -gt "$peak" ] && peak=$r
	sleep 0.1
done
wait_for $RUN 60; rc=$?
t=$(( $(date +%s) - T0 ))
records_stdout "$TMP/peers.out" >"$TMP/peers.rec"
get() { awk -v c="$1" '$1 == c' "$TMP/peers.rec"; }
[ $rc = 0 ] && [ "$(wc -l <"$TMP/peers.rec")" = ${#TARGETS[@]} ] && sanitizer_clean "$TMP/peers.log"
verdict $? "misbehaving responders: one daemon cycle, exit 0, one record for each of ${#TARGETS[@]} targets, no sanitizer report (peak RSS ${peak} kB, ${t} s)" "$TMP/peers.log" "$TMP/peers.rec"
[ "$(get good)" = "good - 0 20 1" ]
verdict $? "a good responder next to the bad ones: 20 sent, 0 lost" "$TMP/peers.rec"
[ "$(get rst-after-accept | cut -d' ' -f2,5)" = "closed 0" ]
verdict $? "TCP reset after Accept-Session: unreachable record, error \"closed\"" "$TMP/peers.rec"
[ "$(get stop-after-3)" = "stop-after-3 - 17 20 1" ]
verdict $? "responder stops reflecting after 3 packets: 17 of 20 counted lost" "$TMP/peers.rec"
for g in garbage undersized oversized; do
	[ "$(get $g)" = "$g - 20 20 1" ]
	verdict $? "responder reflecting $g packets: every one dropped, 20 of 20 lost" "$TMP/peers.rec"
done
grep -q "dropped a malformed reflected packet" "$TMP/peers.log" &&
	[ "$(grep -c "dropped a malformed reflected packet" "$TMP/peers.log")" -le 6 ]
verdict $? "malformed reflections are logged, rate-limited ($(grep -c "dropped a malformed" "$TMP/peers.log") lines for 60 packets)" "$TMP/peers.log"
# the flood fills the client's socket buffer for a while: real reflections may drown in it
read -r _ ferr flost fsent freach < <(get flood-20000)
[ "$ferr" = - ] && [ "$fsent" = 20 ] && [ "$flost" -lt 20 ] && [ "$freach" = 1 ] && grep -q "never sent" "$TMP/peers.log"
verdict $? "responder flooding 20000 reflections of unsent sequence numbers: ignored and logged, the real ones counted ($flost of 20 lost in the flood)" "$TMP/peers.rec"
for s in greeting server-start accept start-ack; do
	[ "$(get stall-$s | cut -d' ' -f2,5)" = "timeout 0" ] && [ "$(get trickle-$s | cut -d' ' -f2,5)" = "timeout 0" ]
	verdict $? "control peer stalling / trickling one octet a second at $s: error \"timeout\"" "$TMP/peers.rec"
done
[ $t -lt 40 ]
verdict $? "the stalled sessions are bounded by the 10 s control timeout (cycle over in ${t} s)"

# a flood without pause into one session must not starve another on the same worker
start_fake fake-flood-on flood-on
D=$TMP/floodon
make_dir "$D" '{"PacketCount": 200, "Interval": 0.01, "Workers": 1}' "" "good:127.0.0.1:$GOOD:control" "flood:127.0.0.1:$FP:control"
"$BIN" run --data-dir "$D" --once >"$TMP/floodon.out" 2>"$TMP/floodon.log"; rc=$?
python3 -c '
import json, sys
r = {x["custom_comment"]: x for x in map(json.loads, open(sys.argv[1])) if x["measurement_name"] == "twamp_twping1"}
g, f = r["good"], r["flood"]
assert g["lost_pkt"] == 0 and g["max_rtt_seconds"] < 0.05, g
assert f["sent_pkt"] == 200 and f["reachable_bool"] == 1, f
print("good max RTT %.6f s; flooded session lost %d of 200" % (g["max_rtt_seconds"], f["lost_pkt"]))
' "$TMP/floodon.out" >"$TMP/floodon.chk" 2>&1
verdict $(( rc | $? )) "a reflector flooding one session without pause, one worker: the other session loses nothing ($(tail -1 "$TMP/floodon.chk"))" "$TMP/floodon.chk" "$TMP/floodon.log"

########################################################################
# 2. Responder killed mid-session
########################################################################
start_responder resp2 --listen 0.0.0.0:0 --workers 1
KILLED=$RPID
TARGETS=()
for i in $(seq 20); do TARGETS+=("k$i:127.0.0.$((i + 1)):$RCTL:control"); done
D=$TMP/killed
make_dir "$D" '{"PacketCount": 100, "Interval": 0.05, "LossTimeout": 1}' "" "${TARGETS[@]}"
start_bg killed "$BIN" run --data-dir "$D" --once
RUN=$LASTPID
sleep 2
kill -9 $KILLED; wait $KILLED 2>/dev/null
wait_for $RUN 60; rc=$?
records_stdout "$TMP/killed.out" >"$TMP/killed.rec"
n=$(wc -l <"$TMP/killed.rec")
lossy=$(awk '$2 == "-" && $3 > 0 && $3 < 100 && $5 == 1' "$TMP/killed.rec" | wc -l)
[ $rc = 0 ] && [ "$n" = 20 ] && [ "$lossy" = 20 ] && sanitizer_clean "$TMP/killed.log"
verdict $? "responder killed (SIGKILL) 2 s into 5 s sessions: exit 0, 20 records, each with the packets lost after the kill" "$TMP/killed.log" "$TMP/killed.rec"

########################################################################
# 3. Destinations failing for "minutes" (time compressed), then recovering
########################################################################
# A light reflector answers at once; the targets end one after the other
# over 15 s while the sink answers 500, then 429 (Retry-After 1), then hangs
# past the request timeout, then recovers.
start_responder resp3 --listen 127.0.0.1:0 --light 0.0.0.0:0 --workers 2
LIGHT=$RLIGHT
start_sink outage 500
TARGETS=()
for i in $(seq 0 29); do TARGETS+=("o$i:127.0.0.$((i + 1)):$LIGHT:light:$((5 * i + 5))"); done
D=$TMP/outage
make_dir "$D" '{"Interval": 0.1}' "[{\"DestinationURL\": \"http://127.0.0.1:$SP/w\", \"BatchSize\": 3, \"FlushInterval\": 0.2}]" "${TARGETS[@]}"
TWAMP_SENDER_BACKOFF_MS=20 TWAMP_SENDER_TIMEOUT_MS=500 start_bg outage "$BIN" run --data-dir "$D" --once
RUN=$LASTPID
rss0=0 peak=0
for i in $(seq 150); do
	case $i in 40) echo "429:1" >"$TMP/outage.status" ;; 80) echo hang >"$TMP/outage.status" ;;
		   120) echo 204 >"$TMP/outage.status" ;; esac
	r=$(rss_kb $RUN); [ $i = 10 ] && rss0=$r; [ "$r" -gt "$peak" ] && peak=$r
	sleep 0.1
done
wait_for $RUN 60; rc=$?
read -r uniq total probes < <(sink_count "$TMP/outage.req")
f500=$(grep -c '"status": 500' "$TMP/outage.req"); f429=$(grep -c '"status": 429' "$TMP/outage.req")
fhang=$(grep -c '"status": 0' "$TMP/outage.req")
left=$(spooled "$D/spool")
[ $rc = 0 ] && [ "$uniq" = 30 ] && [ "$total" = 30 ] && [ "$probes" = 1 ] && [ "$left" = 0 ] &&
	[ "$f500" -ge 3 ] && [ "$f429" -ge 1 ] && [ "$fhang" -ge 1 ] && sanitizer_clean "$TMP/outage.log"
verdict $? "destination 500 ($f500 attempts), 429 ($f429), timeouts ($fhang), then back: all 30 records and the probe record delivered exactly once, spool empty" "$TMP/outage.log"
grep -q "HTTP 500" "$TMP/outage.log" && grep -q "HTTP 429" "$TMP/outage.log" && grep -q "Timeout was reached" "$TMP/outage.log" &&
	grep -q "delivering again after" "$TMP/outage.log"
verdict $? "each kind of failure is logged with its reason, and the recovery" "$TMP/outage.log"
[ "$peak" -lt $((rss0 + 30000)) ]
verdict $? "memory bounded during the outage (RSS ${rss0} kB after 1 s, peak ${peak} kB)"

########################################################################
# 4. Destination with a wrong TLS certificate
########################################################################
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=wrong.invalid \
	-keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1
start_sink tls 204 "$TMP/tls.crt" "$TMP/tls.key"
TARGETS=()
for i in $(seq 5); do TARGETS+=("s$i:127.0.0.$i:$LIGHT:light:2"); done
D=$TMP/tls
make_dir "$D" "" "[{\"DestinationURL\": \"https://127.0.0.1:$SP/w\", \"FlushInterval\": 0.2}]" "${TARGETS[@]}"
"$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/tls1.log"; rc1=$?
# trusted, but issued to another name
make_dir "$D" "" "[{\"DestinationURL\": \"https://127.0.0.1:$SP/w\", \"DestinationCAFile\": \"$TMP/tls.crt\", \"FlushInterval\": 0.2}]" "${TARGETS[@]}"
"$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/tls2.log"; rc2=$?
sp=$(spooled "$D/spool")
[ $rc1 = 3 ] && [ $rc2 = 3 ] && [ ! -s "$TMP/tls.req" ] && [ "$sp" = 12 ] &&
	grep -qi "certificate" "$TMP/tls1.log" && grep -qi "certificate\|name\|match" "$TMP/tls2.log" &&
	sanitizer_clean "$TMP/tls1.log" "$TMP/tls2.log"
verdict $? "destination TLS certificate untrusted, then trusted but for another name: nothing sent, the reason logged, all 12 records spooled" "$TMP/tls1.log" "$TMP/tls2.log"
make_dir "$D" "" "[{\"DestinationURL\": \"https://127.0.0.1:$SP/w\", \"DestinationInsecure\": true, \"FlushInterval\": 0.2}]" "${TARGETS[@]}"
"$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/tls3.log"; rc=$?
read -r uniq total probes < <(sink_count "$TMP/tls.req")
[ $rc = 0 ] && [ "$uniq" = 5 ] && [ "$total" = 15 ] && [ "$probes" = 3 ] && [ "$(spooled "$D/spool")" = 0 ]
verdict $? "with DestinationInsecure the 12 spooled and 6 new records are delivered once each" "$TMP/tls3.log"

########################################################################
# 5. Disk full for the spool; DIR read-only
########################################################################
if [ "$(id -u)" = 0 ]; then
	start_sink down 503
	TARGETS=()
	for i in $(seq 300); do TARGETS+=("f$i:127.0.$((i / 250)).$((i % 250 + 1)):$LIGHT:light:1"); done
	D=$TMP/full
	make_dir "$D" '{"MaxConcurrentSessions": 50}' "[{\"DestinationURL\": \"http://127.0.0.1:$SP/w\", \"BatchSize\": 10, \"FlushInterval\": 0.2}]" "${TARGETS[@]}"
	mkdir -p "$D/spool"
	mount -t tmpfs -o size=64k tcf-spool "$D/spool" && MOUNTS+=("$D/spool")
	TWAMP_SENDER_BACKOFF_MS=50 "$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/full.log"; rc=$?
	sp=$(spooled "$D/spool")
	lost=$(sed -n 's/.* \([0-9]*\) records\{0,1\} could be neither delivered nor spooled.*/\1/p' "$TMP/full.log" | tail -1)
	[ $rc = 3 ] && [ -n "$lost" ] && [ "$lost" -gt 0 ] && [ $((sp + lost)) = 301 ] &&
		grep -q "No space left on device" "$TMP/full.log" && sanitizer_clean "$TMP/full.log"
	verdict $? "spool on a full 64 KiB tmpfs: $sp records spooled + ${lost:-?} counted lost (\"neither delivered nor spooled\") = 301, the reason logged" "$TMP/full.log"

	D=$TMP/ro
	mkdir -p "$D"
	mount -t tmpfs -o size=1m tcf-ro "$D" && MOUNTS+=("$D")
	make_dir "$D" "" "[{\"DestinationURL\": \"http://127.0.0.1:$SP/w\", \"FlushInterval\": 0.2}]" "${TARGETS[@]:0:30}"
	mount -o remount,ro "$D"
	"$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/ro1.log"; rc1=$?
	lost=$(sed -n 's/.* \([0-9]*\) records\{0,1\} could be neither delivered nor spooled.*/\1/p' "$TMP/ro1.log" | tail -1)
	[ $rc1 = 3 ] && [ "$lost" = 31 ] && grep -q "Read-only file system" "$TMP/ro1.log" && sanitizer_clean "$TMP/ro1.log"
	verdict $? "read-only DIR, destination down: no spool, all 31 records counted lost with the reason" "$TMP/ro1.log"
	echo 204 >"$TMP/down.status"
	"$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/ro2.log"; rc2=$?
	read -r uniq total probes < <(sink_count "$TMP/down.req")
	[ $rc2 = 0 ] && [ "$uniq" = 30 ] && [ "$total" = 30 ] && [ "$probes" = 1 ] && sanitizer_clean "$TMP/ro2.log"
	verdict $? "read-only DIR, destination up: every record delivered" "$TMP/ro2.log"
else
	verdict 1 "disk full and read-only DIR: need root for the tmpfs mounts (run as root)"
fi

########################################################################
# 6. Configuration download in progress at shutdown; SIGHUP storms
########################################################################
set_source() { # global_config.json PORT
	python3 -c '
import json, sys
g = json.load(open(sys.argv[1]))
g["ConfigSource"] = {"ConfigMethod": "web", "ConfigURL": "http://127.0.0.1:%s/{probe}" % sys.argv[2]}
json.dump(g, open(sys.argv[1], "w"))' "$1" "$2"
}
start_sink cfg hang
D=$TMP/cfgstop
make_dir "$D" "" "" "c1:127.0.0.1:$LIGHT:light"
set_source "$D/global_config.json" "$SP"
start_bg cfgstop "$BIN" run --data-dir "$D"
RUN=$LASTPID
wait_log "$TMP/cfg.req" "status" 50
sleep 0.5
t1=$(date +%s%N)
kill -TERM $RUN
wait_for $RUN 20; rc=$?
ms=$(( ($(date +%s%N) - t1) / 1000000 ))
[ $rc = 0 ] && [ $ms -lt 5000 ] && grep -q "abandoned" "$TMP/cfgstop.log" && sanitizer_clean "$TMP/cfgstop.log"
verdict $? "SIGTERM while the start-up configuration download hangs: exit 0 in $ms ms, the download abandoned" "$TMP/cfgstop.log"

echo 404 >"$TMP/cfg.status"
start_bg cfgstop2 "$BIN" run --data-dir "$D"
RUN=$LASTPID
wait_log "$TMP/cfgstop2.log" "download failed" 100
echo hang >"$TMP/cfg.status"
kill -HUP $RUN
sleep 1
t1=$(date +%s%N)
kill -TERM $RUN
wait_for $RUN 20; rc=$?
ms=$(( ($(date +%s%N) - t1) / 1000000 ))
[ $rc = 0 ] && [ $ms -lt 5000 ] && sanitizer_clean "$TMP/cfgstop2.log"
verdict $? "SIGTERM while a SIGHUP download hangs: exit 0 in $ms ms" "$TMP/cfgstop2.log"
echo 204 >"$TMP/cfg.status"

# SIGHUP storm during a cycle, with a web configuration source
mkdir -p "$TMP/central/tcf-probe"
TARGETS=()
for i in $(seq 40); do TARGETS+=("h$i:127.0.0.$i:$LIGHT:light:100"); done
make_dir "$TMP/central/tcf-probe" '{"Interval": 0.05}' "" "${TARGETS[@]}"
start_bg web python3 -u -m http.server --bind 127.0.0.1 0 --directory "$TMP/central"
wait_log "$TMP/web.out" "port" 50
WPORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$TMP/web.out" | head -1)
set_source "$TMP/central/tcf-probe/global_config.json" "$WPORT"
D=$TMP/storm
mkdir -p "$D"
cp "$TMP/central/tcf-probe/"*.json "$D/"
start_bg storm "$BIN" run --data-dir "$D" --once
RUN=$LASTPID
wait_log "$TMP/storm.log" "cycle 1:" 100
sleep 0.5
r0=$(rss_kb $RUN) f0=$(nfds $RUN) th0=$(nthreads $RUN)
for i in $(seq 3000); do kill -HUP $RUN 2>/dev/null || break; done
r1=$(rss_kb $RUN) f1=$(nfds $RUN) th1=$(nthreads $RUN)
wait_for $RUN 60; rc=$?
loads=$(grep -c "configuration download: unchanged\|configuration downloaded" "$TMP/storm.log")
n=$(records_stdout "$TMP/storm.out" | awk '$5 == 1' | wc -l)
[ $rc = 0 ] && [ "$n" = 40 ] && [ "$loads" -ge 1 ] && [ "$r1" -lt $((r0 + 20000)) ] && [ "$f1" -le $((f0 + 5)) ] &&
	[ "$th1" -le $((th0 + 1)) ] && sanitizer_clean "$TMP/storm.log"
verdict $? "3000 SIGHUPs during a cycle (web source): $loads downloads, all 40 records, RSS ${r0}->${r1} kB, fds ${f0}->${f1}, threads ${th0}->${th1}" "$TMP/storm.log"

########################################################################
# 7. A 100,000-target list
########################################################################
D=$TMP/huge
mkdir -p "$D"
python3 -c '
import json, sys
d, port = sys.argv[1], int(sys.argv[2])
json.dump({"Probe": {"Schedule": "* * * * *", "PacketCount": 1, "LossTimeout": 0.5, "Workers": 2,
                     "MaxConcurrentSessions": 500, "ConnectRate": 5000}}, open(d + "/global_config.json", "w"))
ts = [{"IP": "127.%d.%d.%d" % (1 + i // 62500, i // 250 % 250, i % 250 + 1), "Port": port, "Mode": "light",
       "DSCP": "0", "Custom_comment": "x%d" % i, "Custom_id": str(i)} for i in range(100000)]
json.dump({"Targets": ts}, open(d + "/targets_list.json", "w"))
json.dump({"SourceName": "tcf-probe"}, open(d + "/local_config.json", "w"))' "$D" "$LIGHT"
/usr/bin/time -f "%e %M" -o "$TMP/hugecheck.time" "$BIN" check-config "$D" >"$TMP/hugecheck.out" 2>&1; rc=$?
read -r secs maxkb <"$TMP/hugecheck.time"
[ $rc = 0 ] && [ "${maxkb:-999999999}" -lt 600000 ]
verdict $? "check-config on 100,000 targets: valid, ${secs} s, peak RSS ${maxkb} kB" "$TMP/hugecheck.out"
start_bg huge "$BIN" run --data-dir "$D" --once
RUN=$LASTPID
wait_log "$TMP/huge.log" "cycle 1:" 300
peak=0 rmid=0
for i in $(seq 100); do
	r=$(rss_kb $RUN); [ "$r" -gt "$peak" ] && peak=$r
	[ $i = 20 ] && rmid=$r
	sleep 0.1
done
kill -TERM $RUN
wait_for $RUN 60; rc=$?
n=$(grep -c '"measurement_name":"twamp_twping1"' "$TMP/huge.out")
read -r nok nfail nskip < <(sed -n 's/.*cycle 1: 100000 targets, \([0-9]*\) ok, \([0-9]*\) failed, \([0-9]*\) skipped.*/\1 \2 \3/p' "$TMP/huge.log")
[ $rc = 0 ] && [ -n "$nok" ] && [ "$n" -gt 1000 ] && [ "$n" = $((nok + nfail)) ] && [ $((nok + nfail + nskip)) = 100000 ] &&
	[ "$peak" -lt 1500000 ] && sanitizer_clean "$TMP/huge.log"
verdict $? "100,000 targets, SIGTERM 10 s into the cycle: $n records = ${nok:-?} ok + ${nfail:-?} failed, ${nskip:-?} counted skipped; peak RSS ${peak} kB (${rmid} kB at 2 s)" "$TMP/huge.log"

########################################################################
# 8. Responder abuse resistance
########################################################################
ABUSE="python3 $HERE/util/abuse.py"
port_of() { grep "$2" "$TMP/$1.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/'; }

# no amplification: a light/STAMP reflection is never larger than what it answers; a
# control session (it answers its control peer only) pads 14..40 octets to 41, as twampd
start_responder amp --listen 127.0.0.1:0 --light 127.0.0.1:0 --workers 1
$ABUSE amp "$RCTL" "$RLIGHT" >"$TMP/amp.json" 2>&1
python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
for kind, m in o.items():
    for size, got in m.items():
        size = int(size)
        if size >= 41:
            assert got == [size], (kind, size, got)                   # answered, same size
        elif kind == "control" and size >= 14:
            assert got == [41], (kind, size, got)                     # padded to the reflection
        else:
            assert got == [], (kind, size, got)                       # too short to answer
' "$TMP/amp.json" >"$TMP/amp.out" 2>&1
verdict $? "no amplification: light/STAMP test packets of 1..40 octets get no answer, 41..9000 an answer of exactly their size; control sessions answer 14..40 octets with 41 (to their control peer only)" "$TMP/amp.out" "$TMP/amp.json"

# third parties: the Request-TW-Session names a victim; test packets from it are foreign
$ABUSE third "$RCTL" 127.0.0.9 >"$TMP/third.out" 2>&1
kill $RPID; wait $RPID 2>/dev/null
[ "$(cat "$TMP/third.out")" = "own 5 victim 0" ] && grep -q "5 from foreign addresses" "$TMP/amp.log" &&
	grep -c "other than the control peer" "$TMP/amp.log" | grep -qx 1
verdict $? "Request-TW-Session naming a third party (127.0.0.9) as sender: reflections go only to the control peer; the victim's own packets are dropped as foreign (counted, logged once)" "$TMP/third.out" "$TMP/amp.log"

# session limits: per connection, per client, global; each refusal logged, rate-limited
start_responder lim --listen 0.0.0.0:0 --workers 1 --max-per-connection 2 --max-per-client 3 --max-sessions 5 --control-timeout 5
$ABUSE sessions "$RCTL" 3 127.0.0.1 4 >"$TMP/lim1.out" 2>&1 & PIDS+=($!)
sleep 0.5
$ABUSE sessions "$RCTL" 2 127.0.0.1 4 >"$TMP/lim2.out" 2>&1 & PIDS+=($!)
sleep 0.5
$ABUSE sessions "$RCTL" 2 127.0.0.2 4 >"$TMP/lim3.out" 2>&1 & PIDS+=($!)
sleep 0.5
$ABUSE sessions "$RCTL" 1 127.0.0.3 0 >"$TMP/lim4.out" 2>&1
for i in $(seq 20); do $ABUSE sessions "$RCTL" 1 127.0.0.3 0 >/dev/null 2>&1; done
sleep 0.2
[ "$(cat "$TMP/lim1.out")" = "0 0 4" ] && [ "$(cat "$TMP/lim2.out")" = "0 5" ] && [ "$(cat "$TMP/lim3.out")" = "0 0" ] &&
	[ "$(cat "$TMP/lim4.out")" = "5" ]
verdict $? "session limits: per connection (2: Accept 4), per client (3: Accept 5), global (5: Accept 5)" "$TMP/lim1.out" "$TMP/lim2.out" "$TMP/lim3.out" "$TMP/lim4.out"
n=$(grep -c "limit of 5 sessions is reached" "$TMP/lim.log")
grep -q "(--max-per-connection)" "$TMP/lim.log" && grep -q "per-client limit" "$TMP/lim.log" && [ "$n" = 1 ]
verdict $? "each limit logged when hit, rate-limited (21 refusals at the global limit: $n line)" "$TMP/lim.log"
kill $RPID; wait $RPID 2>/dev/null

# control timeouts: slowloris clients at every step
start_responder slow --listen 127.0.0.1:0 --workers 1 --control-timeout 1
for m in silent trickle after-setup partial; do
	$ABUSE slow "$RCTL" $m >"$TMP/slow-$m.out" 2>&1 &
done
wait_log "$TMP/slow.log" "" 1
sleep 2.5
res=""
for m in silent trickle after-setup partial; do res="$res $m=$(cat "$TMP/slow-$m.out")"; done
python3 -c '
import sys
for kv in sys.argv[1:]:
    k, v = kv.split("=")
    assert 0.8 <= float(v) <= 2.0, kv
' $res
verdict $? "control timeout 1 s against clients stalling before Set-Up-Response, trickling it, stalling after it, sending half a request: closed after$res s" "$TMP/slow.log"
kill $RPID; wait $RPID 2>/dev/null

# connection flood from one address: the per-client connection limit keeps others served
start_responder cflood --listen 0.0.0.0:0 --workers 1 --max-conn-per-client 50
"$BIN" ping -c 300 -i 0.01 -M "127.0.0.1:$RCTL" >"$TMP/cflood-live.out" 2>&1 & LIVE=$!
sleep 0.5
$ABUSE connflood "$RCTL" 127.0.0.3 500 2 >"$TMP/cflood.out" 2>&1 &
FLOOD=$!
sleep 0.7
"$BIN" ping -c 10 -i 0.01 -M "127.0.0.1:$RCTL" >"$TMP/cflood-new.out" 2>&1; rcnew=$?
wait $FLOOD; wait $LIVE; rclive=$?
kill $RPID; wait $RPID 2>/dev/null
[ "$(cat "$TMP/cflood.out")" = "opened 500 greeted 50 refused 450" ] && [ $rclive = 0 ] && [ $rcnew = 0 ] &&
	grep -qx $'LOST\t0' "$TMP/cflood-live.out" && grep -qx $'LOST\t0' "$TMP/cflood-new.out" &&
	grep -q "450 connections refused by the limits" "$TMP/cflood.log" &&
	[ "$(grep -c "max-conn-per-client" "$TMP/cflood.log")" = 1 ] && sanitizer_clean "$TMP/cflood.log"
verdict $? "500 stalled connections from one address (--max-conn-per-client 50): 450 refused, counted, logged once; a live session loses nothing and a new client is served" "$TMP/cflood.out" "$TMP/cflood.log" "$TMP/cflood-live.out"

# connection flood past the descriptor limit: the listener rests instead of spinning
start_responder fdflood --listen 0.0.0.0:0 --workers 1 --max-conn-per-client 100000
prlimit --pid "$RPID" --nofile=96:96
"$BIN" ping -c 400 -i 0.01 -M "127.0.0.1:$RCTL" >"$TMP/fdflood-live.out" 2>&1 & LIVE=$!
sleep 0.5
$ABUSE connflood "$RCTL" 127.0.0.3 300 3 >"$TMP/fdflood.out" 2>&1 &
FLOOD=$!
sleep 1
c0=$(cpu_ticks $RPID); sleep 1.5; c1=$(cpu_ticks $RPID)
wait $FLOOD; wait $LIVE; rclive=$?
sleep 0.5
"$BIN" ping -c 10 -i 0.01 -M "127.0.0.1:$RCTL" >"$TMP/fdflood-new.out" 2>&1; rcnew=$?
kill $RPID; wait $RPID 2>/dev/null
[ $((c1 - c0)) -lt 40 ] && [ $rclive = 0 ] && grep -qx $'LOST\t0' "$TMP/fdflood-live.out" && [ $rcnew = 0 ] &&
	grep -q "Too many open files: not accepting connections" "$TMP/fdflood.log" && sanitizer_clean "$TMP/fdflood.log"
verdict $? "connection flood past the descriptor limit (96): the listener pauses (responder CPU $((c1 - c0)) ticks in 1.5 s, not a spin), the live session loses nothing, new clients are served after it" "$TMP/fdflood.log" "$TMP/fdflood-live.out" "$TMP/fdflood.out"

# SYN flood from random sources, in a network namespace of its own
if [ "$(id -u)" = 0 ] && command -v hping3 >/dev/null; then
	NS=tcf-syn-$$
	ip netns add $NS && ip -n $NS link set lo up
	trap 'ip netns del $NS 2>/dev/null; cleanup' EXIT
	ip netns exec $NS "$BIN" responder --listen 127.0.0.1:0 --workers 1 </dev/null >/dev/null 2>"$TMP/syn.log" &
	RPID=$!; PIDS+=($RPID)
	wait_log "$TMP/syn.log" "worker(s)"
	P=$(port_of syn "TWAMP server on")
	ip netns exec $NS "$BIN" ping -c 400 -i 0.01 -M "127.0.0.1:$P" >"$TMP/syn-live.out" 2>&1 & LIVE=$!
	sleep 0.5
	ip netns exec $NS timeout 3 hping3 -q -S --flood --rand-source -p "$P" 127.0.0.1 >"$TMP/hping.out" 2>&1 &
	HP=$!
	sleep 1
	ip netns exec $NS "$BIN" ping -c 10 -i 0.01 -M "127.0.0.1:$P" >"$TMP/syn-new.out" 2>&1; rcnew=$?
	wait $HP; wait $LIVE; rclive=$?
	kill $RPID; wait $RPID 2>/dev/null
	ip netns del $NS
	lost=$(awk -F'\t' '$1 == "LOST" {print $2}' "$TMP/syn-live.out")
	[ $rclive = 0 ] && [ -n "$lost" ] && [ "$lost" -le 4 ] && [ $rcnew = 0 ] && grep -qx $'SENT\t10' "$TMP/syn-new.out" &&
		sanitizer_clean "$TMP/syn.log"
	verdict $? "SYN flood (hping3 --flood --rand-source, 3 s): the live session loses $lost of 400 (at most 1 %), a new client connects and measures" "$TMP/syn-live.out" "$TMP/syn-new.out" "$TMP/hping.out"
else
	verdict 1 "SYN flood: needs root and hping3 (scripts/install-deps.sh --test installs it)"
fi

# every daemon, responder and ping run above logged to $TMP: no sanitizer report anywhere
reports=$(grep -l "Sanitizer\|runtime error" "$TMP"/*.log "$TMP"/*.out 2>/dev/null | xargs -r -n1 basename | tr '\n' ' ')
[ -z "$reports" ]
verdict $? "no AddressSanitizer, LeakSanitizer or UBSan report in any log${reports:+ (in: $reports)}"

echo "faults: $pass passed, $fail failed ($(( $(date +%s) - T0 )) s)"
[ $fail -eq 0 ]
