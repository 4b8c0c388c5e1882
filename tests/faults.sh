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
[ "$(get flood-20000)" = "flood-20000 - 0 20 1" ] && grep -q "never sent" "$TMP/peers.log"
verdict $? "responder flooding 20000 reflections of unsent sequence numbers: ignored, logged, the real ones counted (0 lost)" "$TMP/peers.rec"
for s in greeting server-start accept start-ack; do
	[ "$(get stall-$s | cut -d' ' -f2,5)" = "timeout 0" ] && [ "$(get trickle-$s | cut -d' ' -f2,5)" = "timeout 0" ]
	verdict $? "control peer stalling / trickling one octet a second at $s: error \"timeout\"" "$TMP/peers.rec"
done
[ $t -lt 40 ]
verdict $? "the stalled sessions are bounded by the 10 s control timeout (cycle over in ${t} s)"

########################################################################
# 2. Responder killed mid-session
########################################################################
start_responder resp2 --listen 127.0.0.1:0 --workers 1
KILLED=$RPID
TARGETS=()
for i in $(seq 20); do TARGETS+=("k$i:127.0.0.$((i + 1)):$RCTL:control"); done
D=$TMP/killed
make_dir "$D" '{"PacketCount": 100, "Interval": 0.05, "LossTimeout": 1}' "" "${TARGETS[@]}"
start_bg killed "$BIN" run --data-dir "$D" --once
RUN=$LASTPID
wait_log "$TMP/resp2.log" "" 1
sleep 2
kill -9 $KILLED; wait $KILLED 2>/dev/null
wait_for $RUN 60; rc=$?
records_stdout "$TMP/killed.out" >"$TMP/killed.rec"
n=$(wc -l <"$TMP/killed.rec")
lossy=$(awk '$2 == "-" && $3 > 0 && $5 == 1 || $2 != "-" && $5 == 0' "$TMP/killed.rec" | wc -l)
[ $rc = 0 ] && [ "$n" = 20 ] && [ "$lossy" = 20 ] && sanitizer_clean "$TMP/killed.log"
verdict $? "responder killed (SIGKILL) mid-session: exit 0, 20 records, each with its loss or an error" "$TMP/killed.log" "$TMP/killed.rec"

echo "faults: $pass passed, $fail failed ($(( $(date +%s) - T0 )) s)"
[ $fail -eq 0 ]
