#!/bin/bash
# Soak test (issue 9 section 4), `make soak`: the daemon measures 1,000 targets
# (control, light and STAMP, on distinct 127.1.x.y addresses) every minute
# against a local responder and delivers to a local HTTP sink, for
# SOAK_SECONDS (default 3600).  Every SOAK_SAMPLE seconds it samples the
# daemon's and the responder's RSS, open descriptors and threads; at the end it
# prints one line per cycle and fails when
#   - a record is lost (per cycle: every target ok; over the run: the target
#     records delivered equal the ok + failed of the cycle records, none twice),
#   - RSS, descriptors or threads drift (second half of the run against the
#     first, after a warm-up of two cycles: peak RSS by more than 5 % or 2 MiB,
#     the idle floor of descriptors by more than 2, threads at all),
#   - delivery latency (sink arrival minus session start) drifts or exceeds
#     SOAK_MAX_LATENCY seconds at the 99th percentile.
set -u
BIN=${TWAMP_CLIENT:-build/twamp-client}
HERE=$(cd "$(dirname "$0")" && pwd)
SECS=${SOAK_SECONDS:-3600}
SAMPLE=${SOAK_SAMPLE:-5}
NT=${SOAK_TARGETS:-1000}
MAXLAT=${SOAK_MAX_LATENCY:-10}
TMP=$(mktemp -d /tmp/tcf-soak.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${SOAK_KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
[ -x "$BIN" ] || { echo "no binary $BIN"; exit 1; }
[ "$SECS" -ge 180 ] || { echo "SOAK_SECONDS must be at least 180 (three cycles)"; exit 2; }

touch "$TMP/resp.log"
"$BIN" responder --listen 0.0.0.0:0 --light 0.0.0.0:0 --workers 1 </dev/null >/dev/null 2>"$TMP/resp.log" &
RPID=$!; PIDS+=($RPID)
for _ in $(seq 50); do grep -q "worker(s)" "$TMP/resp.log" && break; sleep 0.1; done
CTL=$(grep "TWAMP server on" "$TMP/resp.log" | sed 's/.*\]:\([0-9]*\).*/\1/')
LIGHT=$(grep "reflector on" "$TMP/resp.log" | sed 's/.*\]:\([0-9]*\).*/\1/')

echo 204 >"$TMP/sink.status"
python3 "$HERE/util/faultsink.py" "$TMP/sink.port" "$TMP/sink.req" "$TMP/sink.status" </dev/null >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$TMP/sink.port" ] && break; sleep 0.1; done
SP=$(cat "$TMP/sink.port")

D=$TMP/data
mkdir -p "$D"
python3 - "$D" "$NT" "$CTL" "$LIGHT" "$SP" <<'PY'
import json, sys
d, n, ctl, light, sp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
json.dump({"Probe": {"Schedule": "* * * * *", "PacketCount": 10, "Interval": 0.1, "LossTimeout": 1,
                     "Workers": 2},
           "Destinations": [{"DestinationURL": "http://127.0.0.1:%s/soak" % sp, "BatchSize": 100,
                             "FlushInterval": 1}]}, open(d + "/global_config.json", "w"), indent=1)
ts = []
for i in range(n):
    mode = ["control", "light", "stamp"][i % 3]
    ts.append({"IP": "127.1.%d.%d" % (i // 250, i % 250 + 1), "Port": ctl if mode == "control" else light,
               "Mode": mode, "DSCP": "0", "Custom_comment": "s%04d" % i, "Custom_id": str(i)})
json.dump({"Targets": ts}, open(d + "/targets_list.json", "w"))
json.dump({"SourceName": "tcf-soak"}, open(d + "/local_config.json", "w"))
PY

"$BIN" run --data-dir "$D" </dev/null >"$TMP/run.out" 2>"$TMP/run.log" &
RUN=$!; PIDS+=($RUN)
echo "soak: $NT targets, one cycle a minute, for $SECS s (samples every $SAMPLE s in $TMP)"
T0=$(date +%s)
: >"$TMP/samples"
while [ $(( $(date +%s) - T0 )) -lt "$SECS" ]; do
	kill -0 $RUN 2>/dev/null || break
	now=$(date +%s)
	echo "$now $(awk '/^VmRSS/{print $2}' /proc/$RUN/status) $(ls /proc/$RUN/fd | wc -l)" \
	     "$(awk '/^Threads/{print $2}' /proc/$RUN/status) $(awk '/^VmRSS/{print $2}' /proc/$RPID/status)" \
	     "$(ls /proc/$RPID/fd | wc -l)" >>"$TMP/samples"
	sleep "$SAMPLE"
done
alive=0; kill -0 $RUN 2>/dev/null && alive=1
kill -TERM $RUN 2>/dev/null
wait $RUN; rc=$?
kill $RPID; wait $RPID 2>/dev/null

python3 - "$TMP/sink.req" "$TMP/samples" "$MAXLAT" "$alive" "$rc" "$NT" <<'PY'
import json, sys, statistics as st, collections
req, samples, maxlat, alive, rc, nt = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
probes, recs = [], []
for line in open(req):
    q = json.loads(line)
    if not 200 <= q["status"] < 300:
        continue
    for r in json.loads(q["body"]):
        if r["measurement_name"] == "twamp_probe":
            probes.append(r)
        else:
            recs.append((r["timestamp"], q["t"], r["custom_comment"], r.get("error"), r.get("lost_pkt")))
probes.sort(key=lambda p: p["cycle"])
starts = [p["timestamp"] for p in probes]
per = collections.defaultdict(list)
for ts, arr, cc, err, lost in recs:
    c = max([i for i, s in enumerate(starts) if s <= ts + 1e-6], default=None)
    per[c].append((arr - ts, err, lost))
S = [list(map(float, l.split())) for l in open(samples) if len(l.split()) == 6]
fails = []
print("cycle  targets  ok  failed  skipped  records  lat_p50_s  lat_p99_s  lost_pkt")
lat_med = []
for i, p in enumerate(probes):
    L = per.get(i, [])
    lats = sorted(x[0] for x in L) or [0]
    p50, p99 = lats[len(lats) // 2], lats[min(len(lats) - 1, int(len(lats) * 0.99))]
    lostpkt = sum((x[2] or 0) for x in L)
    last = i == len(probes) - 1
    print("%5d  %7d  %4d  %6d  %7d  %7d  %9.2f  %9.2f  %8d" % (p["cycle"], p["targets"], p["ok"], p["failed"],
          p["skipped"], len(L), p50, p99, lostpkt))
    if len(L) != p["ok"] + p["failed"]:
        fails.append("cycle %d: %d records delivered, %d sessions ran" % (p["cycle"], len(L), p["ok"] + p["failed"]))
    if not last and (p["ok"] != nt or p["failed"] or p["skipped"]):
        fails.append("cycle %d: not every target measured ok" % p["cycle"])
    if not last:
        lat_med.append(p50)
        if p99 > maxlat:
            fails.append("cycle %d: delivery latency p99 %.1f s > %.0f s" % (p["cycle"], p99, maxlat))
keys = [(r[2], round(r[0], 6)) for r in recs]
if len(set(keys)) != len(keys):
    fails.append("%d records delivered twice" % (len(keys) - len(set(keys))))
tot = sum(p["ok"] + p["failed"] for p in probes)
print("records delivered %d, sessions run %d, cycles %d" % (len(recs), tot, len(probes)))
if len(recs) != tot:
    fails.append("records delivered (%d) != sessions run (%d)" % (len(recs), tot))
if len(probes) < 3:
    fails.append("only %d cycles" % len(probes))
if len(lat_med) >= 2 and lat_med[-1] > 2 * lat_med[0] + 1:
    fails.append("delivery latency drifts: median %.2f s in the first cycle, %.2f s in the last full one" % (lat_med[0], lat_med[-1]))
# resources: after two cycles of warm-up, second half against first half
if starts and len(S) >= 8:
    warm = starts[min(2, len(starts) - 1)] if len(starts) > 2 else S[0][0]
    W = [s for s in S if s[0] >= warm] or S
    h = len(W) // 2
    A, B = W[:h] or W, W[h:] or W
    # RSS: the peaks must not grow.  Descriptors follow the sessions in flight at the
    # sampling instant, so their floor (sampled while idle between two cycles'
    # spreads) is what must not grow.  Threads: fixed.
    for name, col, kind in (("daemon RSS kB", 1, "rss"), ("daemon fds", 2, "fd"), ("daemon threads", 3, "n"),
                            ("responder RSS kB", 4, "rss"), ("responder fds", 5, "fd")):
        a0, a1 = min(x[col] for x in A), max(x[col] for x in A)
        b0, b1 = min(x[col] for x in B), max(x[col] for x in B)
        if kind == "rss":
            grow, allowed, what = b1 - a1, max(2048, 0.05 * a1), "max"
        elif kind == "fd":
            grow, allowed, what = b0 - a0, 2, "min"
        else:
            grow, allowed, what = max(b1 - a1, a0 - b0, b1 - b0), 0, "min/max"
        print("%-17s first half min/max %7.0f/%-7.0f  second half %7.0f/%-7.0f  (%s may grow by %.0f)" %
              (name, a0, a1, b0, b1, what, allowed))
        if grow > allowed:
            fails.append("%s grows (%s): %.0f/%.0f -> %.0f/%.0f" % (name, what, a0, a1, b0, b1))
    print("daemon RSS min/max over the run: %.0f / %.0f kB" % (min(x[1] for x in S), max(x[1] for x in S)))
else:
    fails.append("too few samples")
if alive != "1":
    fails.append("the daemon died during the run")
if rc != 0:
    fails.append("the daemon exited %d" % rc)
for f in fails:
    print("FAIL " + f)
print("soak: %s" % ("FAIL" if fails else "ok"))
sys.exit(1 if fails else 0)
PY
st=$?
grep -q "Sanitizer\|runtime error" "$TMP/run.log" "$TMP/resp.log" && { echo "FAIL sanitizer report"; st=1; }
exit $st
