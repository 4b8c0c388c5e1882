#!/bin/bash
# kill -9 durability of `twamp-client run` (issue 13 section 4) and the exit
# status of --once.
#
# A real daemon measures a real responder and delivers to a real HTTP sink
# (tests/util/faultsink.py), all in a network namespace of its own.  Rounds of
# `run --once -v` over the same DIR are killed with SIGKILL at random moments
# (seeded; the seed is printed, KILLNINE_SEED=N repeats it) while the sink
# hangs, then while it answers 500, then while it is healthy; each round
# replays what the last one left.  Then one run with the sink failing (must
# exit 3 and name the spooled count) and one with it healthy (must exit 0 with
# an empty spool).
#
# What was measured: the daemon's debug line "record <id> queued", written
# when a record is handed to the sender.  What arrived: the record_id of every
# record in a request the sink answered 2xx.  Asserted:
#   - 0 lost: every measured id arrived;
#   - duplicates only of the batch in flight: a body holding an id that had
#     arrived before is byte for byte a body that had arrived before (the same
#     spooled batch sent again), at most one such batch per kill.
# TWAMP_CLIENT names the binary.  Root (network namespace).  About 2 minutes.
set -u
BIN=$(realpath "${TWAMP_CLIENT:-build/twamp-client}")
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
NS=tcf-k9-$$
PIDS=()
pass=0 fail=0
ROUNDS=${KILLNINE_ROUNDS:-6}
SEED=${KILLNINE_SEED:-$(( $(date +%s%N) % 32768 ))}
RANDOM=$SEED

cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; for f in "${@:2}"; do [ -f "$f" ] && sed 's/^/     | /' "$f" | tail -25; done; }
# `ip netns exec` execs the command: $! of "$NSX cmd &" is the command itself (kill -9 reaches it)
NSX="ip netns exec $NS"

echo "killnine: seed $SEED (KILLNINE_SEED=$SEED repeats these kill moments)"
if ! ip netns add "$NS" 2>"$TMP/netns.err"; then
	ko "cannot create network namespace $NS (root needed)" "$TMP/netns.err"
	echo "killnine: $pass passed, $fail failed"
	exit 1
fi
$NSX ip link set lo up

# --- a responder and a sink, inside the namespace ------------------------------
$NSX "$BIN" responder --listen 0.0.0.0:0 --light 0.0.0.0:0 --workers 1 2>"$TMP/resp.log" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "reflector on" "$TMP/resp.log" && break; sleep 0.1; done
CTL=$(grep "TWAMP server on" "$TMP/resp.log" | sed 's/.*\]:\([0-9]*\).*/\1/')
LIGHT=$(grep "reflector on" "$TMP/resp.log" | sed 's/.*\]:\([0-9]*\).*/\1/')
echo 204 >"$TMP/status"
touch "$TMP/sink.log"
$NSX python3 -u "$HERE/util/faultsink.py" "$TMP/sink.port" "$TMP/sink.log" "$TMP/status" </dev/null >/dev/null 2>"$TMP/sink.err" &
PIDS+=($!)
for _ in $(seq 50); do [ -f "$TMP/sink.port" ] && break; sleep 0.1; done
SP=$(cat "$TMP/sink.port" 2>/dev/null)
if [ -z "$CTL" ] || [ -z "$LIGHT" ] || [ -z "$SP" ]; then
	ko "responder or sink did not start (ports '$CTL' '$LIGHT' '$SP')" "$TMP/resp.log" "$TMP/sink.err"
	echo "killnine: $pass passed, $fail failed"
	exit 1
fi

# 24 targets, 3 at a time, 0.4 s each: a cycle of about 4 s whose records
# arrive one by one; batches of 4, sealed after 1 s at the latest.
D=$TMP/dir
mkdir -p "$D"
python3 - "$D" "$CTL" "$LIGHT" "$SP" <<'PY'
import json, sys
d, ctl, light, sp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
json.dump({"Probe": {"Schedule": "* * * * *", "PacketCount": 20, "Interval": 0.02,
                     "LossTimeout": 0.3, "Workers": 1, "MaxConcurrentSessions": 3},
           "Destinations": [{"DestinationURL": "http://127.0.0.1:%d/w" % sp,
                             "BatchSize": 4, "FlushInterval": 1}]},
          open(d + "/global_config.json", "w"), indent=1)
t = []
for i in range(24):
    mode = ["control", "light", "stamp"][i % 3]
    t.append({"IP": "127.0.1.%d" % (i + 1), "DSCP": "0", "Port": ctl if mode == "control" else light,
              "Mode": mode, "Custom_comment": "k%02d" % i})
json.dump({"Targets": t}, open(d + "/targets_list.json", "w"), indent=1)
json.dump({"SourceName": "killnine"}, open(d + "/local_config.json", "w"))
PY

export TWAMP_SENDER_TIMEOUT_MS=1500 TWAMP_SENDER_BACKOFF_MS=100
RUNS=0 KILLS=0
run_bg() { # name: one --once run in the background, pid in RUN
	RUNS=$((RUNS + 1))
	$NSX "$BIN" run --data-dir "$D" --once -v >/dev/null 2>"$TMP/run$RUNS.$1.err" &
	RUN=$!
	PIDS+=($RUN)
}

# --- kill -9 at random moments: sink hanging, failing, healthy ------------------
for phase in hang 500 204; do
	echo "$phase" >"$TMP/status"
	killed=0
	for _ in $(seq "$ROUNDS"); do
		ms=$((300 + RANDOM % 5700))
		run_bg "$phase"
		sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
		if kill -0 $RUN 2>/dev/null; then
			kill -9 $RUN
			killed=$((killed + 1))
			echo "     $phase: run $RUNS killed after $ms ms"
		else
			echo "     $phase: run $RUNS ended before its kill at $ms ms"
		fi
		wait $RUN 2>/dev/null
	done
	KILLS=$((KILLS + killed))
done

# --- --once with the sink failing: exit 3, the spooled count on stderr ----------
echo 500 >"$TMP/status"
run_bg fail
wait $RUN; rc=$?
spooled_files=$(find "$D/spool" -name '*.batch' -not -path '*/reject/*' -printf '%f\n' |
	sed -n 's/^[0-9]*-\([0-9]*\)\.batch$/\1/p' | awk '{s += $1} END {print s + 0}')
said=$(sed -n 's/.*--once: not every record was delivered: \([0-9]*\) spooled.*/\1/p' "$TMP/run$RUNS.fail.err")
[ $rc = 3 ] && [ -n "$said" ] && [ "$said" = "$spooled_files" ] && [ "$said" -gt 0 ] &&
	ok "--once with the destination failing: exit 3, \"$said spooled\" on stderr = the spool's $spooled_files records" ||
	ko "--once with the destination failing (rc $rc, said '${said}', spool holds $spooled_files)" "$TMP/run$RUNS.fail.err"

# --- --once with the sink healthy: everything delivered, exit 0 -----------------
echo 204 >"$TMP/status"
run_bg final
wait $RUN; rc=$?
left=$(find "$D/spool" \( -name '*.batch' -o -name '*.journal' \) -not -path '*/reject/*' | wc -l)
[ $rc = 0 ] && [ "$left" = 0 ] && ! grep -q "not every record" "$TMP/run$RUNS.final.err" &&
	ok "--once with the destination healthy: spool replayed, exit 0, spool empty" ||
	ko "--once with the destination healthy (rc $rc, $left files left in the spool)" "$TMP/run$RUNS.final.err"

# --- the count ----------------------------------------------------------------------
cat "$TMP"/run*.err | sed -n 's/.* record \([0-9a-f]*-[0-9]*\) queued$/\1/p' >"$TMP/measured"
python3 - "$TMP/measured" "$TMP/sink.log" "$KILLS" 4 >"$TMP/count.out" 2>&1 <<'PY'
import collections, json, sys
measured = set(l.strip() for l in open(sys.argv[1]) if l.strip())
kills, batch = int(sys.argv[3]), int(sys.argv[4])
seen = collections.Counter()
bodies = set()
resent = 0          # delivered bodies that had been delivered before, byte for byte
bad = []            # a duplicate that is not a whole earlier batch sent again
for line in open(sys.argv[2]):
    req = json.loads(line)
    if not 200 <= req["status"] < 300 or not req["body"]:
        continue
    ids = [r["record_id"] for r in json.loads(req["body"])]
    dup = [i for i in ids if seen[i]]
    if dup:
        if req["body"] in bodies:
            resent += 1
        else:
            bad.append(dup)
    bodies.add(req["body"])
    seen.update(ids)
lost = measured - set(seen)
extra = sum(c - 1 for c in seen.values())
unlogged = set(seen) - measured
print("measured %d records, delivered %d distinct (%d deliveries), lost %d, duplicate deliveries %d "
      "in %d resent batches, %d kills, %d delivered without a 'queued' line (killed between the two)"
      % (len(measured), len(seen), sum(seen.values()), len(lost), extra, resent, kills, len(unlogged)))
ok = len(measured) > 0 and not lost and not bad and resent <= kills and extra <= kills * batch
if lost:
    print("lost:", sorted(lost)[:10])
if bad:
    print("duplicates outside a resent batch:", bad[:5])
sys.exit(0 if ok else 1)
PY
rc=$?
counts=$(head -1 "$TMP/count.out")
[ $rc = 0 ] && [ "$KILLS" -gt 0 ] &&
	ok "kill -9 x $KILLS under a hanging, a failing and a healthy sink: 0 lost, duplicates only of the batch in flight ($counts)" ||
	ko "kill -9 durability ($KILLS kills)" "$TMP/count.out"
san=$(grep -l "Sanitizer\|runtime error" "$TMP"/run*.err 2>/dev/null | head -1)
[ -z "$san" ] && ok "no sanitizer report in the $RUNS runs' logs" || ko "sanitizer report" "$san"
echo "killnine: seed $SEED: $counts"
echo "killnine: $pass passed, $fail failed"
[ $fail = 0 ]
