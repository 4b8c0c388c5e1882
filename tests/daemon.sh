#!/bin/bash
# Tests of `twamp-client run` as deployed: a real responder, a real HTTP sink,
# real files and signals.  TWAMP_CLIENT names the binary (the Makefile passes
# the one of the current build, sanitized or not).
set -u
BIN=${TWAMP_CLIENT:-build/twamp-client}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
pass=0 fail=0
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; for f in "${@:2}"; do [ -f "$f" ] && sed 's/^/     | /' "$f" | tail -25; done; }
# shellcheck source=tests/util/peers.sh
. "$HERE/util/peers.sh"
sanitizer_clean() { # file...: no sanitizer report
	! grep -q "Sanitizer\|runtime error" "$@"
}

# --- a responder on every 127/8 address --------------------------------------
touch "$TMP/resp.log"
"$BIN" responder --listen 0.0.0.0:0 --light 0.0.0.0:0 --workers 2 2>"$TMP/resp.log" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "reflector on" "$TMP/resp.log" && break; sleep 0.1; done
CTL=$(grep "TWAMP server on" "$TMP/resp.log" | sed 's/.*\]:\([0-9]*\).*/\1/')
LIGHT=$(grep "reflector on" "$TMP/resp.log" | sed 's/.*\]:\([0-9]*\).*/\1/')


# make_dir DIR NTARGETS DEST_JSON [PROBE_EXTRA]: later-generation files
make_dir() {
	mkdir -p "$1"
	python3 - "$1" "$2" "$3" "${4:-}" "$CTL" "$LIGHT" <<'PY'
import json, sys
d, n, dest, extra, ctl, light = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
probe = {"Schedule": "* * * * *", "PacketCount": 5, "Interval": 0.01, "LossTimeout": 0.5,
         "Workers": 2, "MaxConcurrentSessions": 100}
if extra:
    probe.update(json.loads(extra))
g = {"Probe": probe}
if dest:
    g["Destinations"] = json.loads(dest)
json.dump(g, open(d + "/global_config.json", "w"), indent=1)
targets = []
for i in range(n):
    mode = ["control", "light", "stamp"][i % 3]
    targets.append({"IP": "127.1.%d.%d" % (i // 250, i % 250 + 1), "DSCP": str(i % 64),
                    "Port": ctl if mode == "control" else light, "Mode": mode,
                    "Custom_comment": "t%04d" % i, "Custom_id": str(i),
                    "Latitude": 50.0, "Longitude": 14.4})
json.dump({"Targets": targets}, open(d + "/targets_list.json", "w"), indent=1)
json.dump({"SourceName": "test-probe", "Tags": "ci"}, open(d + "/local_config.json", "w"))
PY
}

# count_records LOG: target records (delivered 2xx) per custom_comment -> prints "unique total probes"

# --- 1. stdout: one record per target, seed keys --------------------------------
D=$TMP/stdout; make_dir "$D" 30 ""
"$BIN" run --data-dir "$D" --once >"$TMP/stdout.out" 2>"$TMP/stdout.err"; rc=$?
python3 - "$TMP/stdout.out" <<'PY' >"$TMP/check.out" 2>&1
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
t = [r for r in recs if r["measurement_name"] == "twamp_twping1"]
p = [r for r in recs if r["measurement_name"] == "twamp_probe"]
assert len(t) == 30 and len(p) == 1, (len(t), len(p))
assert sorted(r["custom_comment"] for r in t) == ["t%04d" % i for i in range(30)]
seed = ["from_host", "from_addr", "to_host", "to_addr", "dscp_dec", "sent_pkt", "lost_pkt",
        "duplicates_fwd_pkt", "duplicates_bck_pkt", "min_rtt_seconds", "median_rtt_seconds",
        "max_rtt_seconds", "min_latency_fwd_seconds", "median_latency_fwd_seconds",
        "max_latency_fwd_seconds", "min_latency_bck_seconds", "median_latency_bck_seconds",
        "max_latency_bck_seconds", "jitter_rt_seconds", "jitter_fwd_seconds", "jitter_bck_seconds",
        "measurement_error_rtt_seconds", "measurement_error_fwd_seconds",
        "measurement_error_bck_seconds", "min_hops_fwd", "max_hops_fwd", "min_hops_bck",
        "max_hops_bck", "reachable_bool", "custom_comment", "custom_id", "geo_lon", "geo_lat",
        "timestamp", "loss_ratio", "mode"]
for r in t:
    missing = [k for k in seed if k not in r]
    assert not missing, (r["custom_comment"], missing)
    assert r["reachable_bool"] == 1 and r["sent_pkt"] == 5 and r["lost_pkt"] == 0, r
    assert r["from_host"] == "test-probe" and r["to_addr"] == r["to_host"], r
    assert r["dscp_dec"] == int(r["custom_id"]) % 64, r
    assert r["min_hops_fwd"] == 0 and r["geo_lat"] == 50.0, r
assert p[0]["targets"] == 30 and p[0]["ok"] == 30 and p[0]["failed"] == 0, p
PY
[ $rc -eq 0 ] && [ ! -s "$TMP/check.out" ] && sanitizer_clean "$TMP/stdout.err" &&
	ok "--once, 30 targets in 3 modes: one record each on stdout, every seed key, a probe record" ||
	ko "--once to stdout (rc $rc)" "$TMP/check.out" "$TMP/stdout.err"

"$BIN" health --data-dir "$TMP/stdout" >"$TMP/health.out" 2>&1 && grep -q "healthy: cycle 1" "$TMP/health.out" &&
	! "$BIN" health --data-dir "$TMP/nonexistent" >/dev/null 2>&1 &&
	ok "health: 0 after a cycle, 1 when none completed" || ko "health" "$TMP/health.out"

# --- 2. an HTTP sink: Basic header verbatim, JSON arrays -------------------------
start_sink sink1
D=$TMP/http; make_dir "$D" 60 "[{\"DestinationURL\": \"http://127.0.0.1:$P/telegraf\", \"DestinationPassword\": \"dGVzdDpzZWNyZXQ=\", \"BatchSize\": 25, \"FlushInterval\": 0.2}]"
"$BIN" run --data-dir "$D" --once >"$TMP/http.out" 2>"$TMP/http.err"; rc=$?
read -r uniq total probes < <(count_records "$TMP/sink1.log")
auth_ok=$(python3 -c '
import json,sys
reqs=[json.loads(l) for l in open(sys.argv[1])]
print(all(r["auth"]=="Basic dGVzdDpzZWNyZXQ=" and r["ctype"].startswith("application/json") and r["path"]=="/telegraf" for r in reqs) and len(reqs)>=3)' "$TMP/sink1.log")
[ $rc -eq 0 ] && [ "$uniq" = 60 ] && [ "$total" = 60 ] && [ "$probes" = 1 ] && [ "$auth_ok" = True ] &&
	ok "HTTP sink: 60 records in batches of 25, Basic header verbatim, JSON" ||
	ko "HTTP sink (rc $rc, $uniq unique, $total total, $probes probe, auth $auth_ok)" "$TMP/http.err"

# --- 3. sink down, then back: spooled, then delivered exactly once -------------
echo 503 >"$TMP/status2"
start_sink sink2 "$TMP/status2"
D=$TMP/spool; make_dir "$D" 40 "[{\"DestinationURL\": \"http://127.0.0.1:$P/t\", \"DestinationPassword\": \"x\", \"BatchSize\": 10, \"FlushInterval\": 0.2}]"
"$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/spool1.err"; rc1=$?
spooled=$(find "$D/spool" -name '*.batch' | wc -l)
echo 204 >"$TMP/status2"
"$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/spool2.err"; rc2=$?
read -r uniq total probes < <(count_records "$TMP/sink2.log")
left=$(find "$D/spool" -name '*.batch' -not -path '*/reject/*' | wc -l)
[ $rc1 -eq 3 ] && [ $rc2 -eq 0 ] && [ "$spooled" -gt 0 ] && [ "$uniq" = 40 ] && [ "$total" = 80 ] &&
	[ "$probes" = 2 ] && [ "$left" = 0 ] &&
	ok "destination down: $spooled batches spooled, then every record delivered exactly once (80 = 2 cycles x 40)" ||
	ko "spool and replay (rc $rc1/$rc2, spooled $spooled, $uniq unique, $total total, $probes probes, $left left)" "$TMP/spool1.err" "$TMP/spool2.err"

# --- 4. SIGTERM mid-cycle: nothing lost ------------------------------------------
start_sink sink3
D=$TMP/term; make_dir "$D" 20 "[{\"DestinationURL\": \"http://127.0.0.1:$P/t\", \"DestinationPassword\": \"x\", \"FlushInterval\": 0.2}]" '{"PacketCount": 200, "Interval": 0.05}'
"$BIN" run --data-dir "$D" --once --grace 1 >/dev/null 2>"$TMP/term.err" &
RUN=$!
sleep 2
kill -TERM $RUN
wait $RUN; rc=$?
read -r uniq total probes < <(count_records "$TMP/sink3.log")
aborted=$(grep -c '"error":"aborted"' "$TMP/sink3.log")
[ $rc -eq 0 ] && [ "$uniq" = 20 ] && [ "$total" = 20 ] && [ "$probes" = 1 ] &&
	ok "SIGTERM mid-cycle: exit 0, all 20 records delivered (aborted sessions reported as such)" ||
	ko "SIGTERM mid-cycle (rc $rc, $uniq unique, $total total, $probes probes)" "$TMP/term.err"

# --- 4b. SIGTERM before a cycle's last starts: no advice about MaxConcurrentSessions ---
D=$TMP/term2; make_dir "$D" 30 "" '{"ConnectRate": 2}'
"$BIN" run --data-dir "$D" --once --grace 1 >/dev/null 2>"$TMP/term2.err" &
RUN=$!
for _ in $(seq 100); do grep -q "cycle 1: 30 targets" "$TMP/term2.err" && break; sleep 0.1; done
sleep 1
kill -TERM $RUN
wait $RUN; rc=$?
[ $rc -eq 0 ] && grep -qE "cycle 1: shutting down: [0-9]+ targets? not started" "$TMP/term2.err" &&
	! grep -q "MaxConcurrentSessions" "$TMP/term2.err" &&
	ok "SIGTERM mid-cycle: the starts left are logged as a shutdown, no advice to raise MaxConcurrentSessions" ||
	ko "SIGTERM mid-cycle: shutdown message (rc $rc)" "$TMP/term2.err"

# --- 5. bad configuration -----------------------------------------------------------
D=$TMP/bad; make_dir "$D" 3 ""
python3 - "$D/targets_list.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1])); t["Targets"][1]["DSCP"] = "99"; t["Targets"][2]["IP"] = "999.1.1.1"
json.dump(t, open(sys.argv[1], "w"))
PY
"$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/bad.err"; rc=$?
[ $rc -ne 0 ] && grep -q "targets_list.json: Targets\[1\].DSCP" "$TMP/bad.err" &&
	grep -q "Targets\[2\].IP" "$TMP/bad.err" &&
	ok "bad config at start: exit $rc, every problem named with file and key" ||
	ko "bad config at start (rc $rc)" "$TMP/bad.err"

# A bad file while running: the last good set keeps measuring.
D=$TMP/reload; make_dir "$D" 50 "" '{"MaxConcurrentSessions": 5, "PacketCount": 20, "Interval": 0.01}'
"$BIN" run --data-dir "$D" --once >"$TMP/reload.out" 2>"$TMP/reload.err" &
RUN=$!
for _ in $(seq 100); do grep -q "cycle 1:" "$TMP/reload.err" && break; sleep 0.05; done
echo '{"Targets": [ {"IP": ' >"$D/targets_list.json"   # truncated download
kill -HUP $RUN
wait $RUN; rc=$?
n=$(grep -c '"measurement_name":"twamp_twping1"' "$TMP/reload.out")
[ $rc -eq 0 ] && [ "$n" = 50 ] && grep -q "targets_list.json.*JSON" "$TMP/reload.err" &&
	grep -q "previous one keeps running" "$TMP/reload.err" &&
	ok "truncated targets file + SIGHUP: rejected with a reason, the running cycle finishes (50 records)" ||
	ko "bad file while running (rc $rc, $n records)" "$TMP/reload.err"

# --- 6. target list swapped 20 times during a cycle -----------------------------
D=$TMP/swap; make_dir "$D" 300 "" '{"MaxConcurrentSessions": 20, "PacketCount": 20, "Interval": 0.02}'
cp "$D/targets_list.json" "$TMP/targets_a.json"
make_dir "$TMP/swapb" 120 ""
"$BIN" run --data-dir "$D" --once >"$TMP/swap.out" 2>"$TMP/swap.err" &
RUN=$!
for _ in $(seq 100); do grep -q "cycle 1:" "$TMP/swap.err" && break; sleep 0.05; done
for i in $(seq 20); do
	if [ $((i % 2)) = 1 ]; then cp "$TMP/swapb/targets_list.json" "$D/targets_list.json.new"
	else cp "$TMP/targets_a.json" "$D/targets_list.json.new"; fi
	mv "$D/targets_list.json.new" "$D/targets_list.json"
	kill -HUP $RUN 2>/dev/null
	sleep 0.1
done
wait $RUN; rc=$?
n=$(grep -c '"measurement_name":"twamp_twping1"' "$TMP/swap.out")
ok_n=$(grep -c '"reachable_bool":1' "$TMP/swap.out")
loads=$(grep -c "configuration [0-9]* loaded" "$TMP/swap.err")
[ $rc -eq 0 ] && [ "$n" = 300 ] && [ "$ok_n" = 300 ] && [ "$loads" -ge 15 ] && sanitizer_clean "$TMP/swap.err" &&
	ok "target list swapped 20 times during a cycle: $loads loads, the cycle's 300 sessions all ran" ||
	ko "swap during a cycle (rc $rc, $n records, $ok_n ok, $loads loads)" "$TMP/swap.err"


# --- 7. central configuration over HTTP: downloaded before the cycle ------------
mkdir -p "$TMP/central/p1"
make_dir "$TMP/central/p1" 7 ""
python3 - "$TMP/central/p1/global_config.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1])); g["Probe"]["Workers"] = 1
json.dump(g, open(sys.argv[1], "w"))
PY
python3 -u -m http.server --bind 127.0.0.1 0 --directory "$TMP/central" >"$TMP/web.log" 2>&1 &
PIDS+=($!)
WEBPID=$!
for _ in $(seq 50); do grep -q "port" "$TMP/web.log" && break; sleep 0.1; done
WPORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$TMP/web.log" | head -1)
D=$TMP/central_probe; make_dir "$D" 3 ""
python3 - "$D/global_config.json" "$WPORT" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
g["ConfigSource"] = {"ConfigMethod": "web", "ConfigURL": "http://127.0.0.1:%s/{probe}" % sys.argv[2]}
json.dump(g, open(sys.argv[1], "w"))
PY
# the central copy keeps pointing at itself, so later downloads still work
python3 - "$TMP/central/p1/global_config.json" "$WPORT" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
g["ConfigSource"] = {"ConfigMethod": "web", "ConfigURL": "http://127.0.0.1:%s/{probe}" % sys.argv[2]}
json.dump(g, open(sys.argv[1], "w"))
PY
PROBE_SOURCE=p1 "$BIN" run --data-dir "$D" --once >"$TMP/central.out" 2>"$TMP/central.err"; rc=$?
n=$(grep -c '"measurement_name":"twamp_twping1"' "$TMP/central.out")
[ $rc -eq 0 ] && [ "$n" = 7 ] && cmp -s "$D/targets_list.json" "$TMP/central/p1/targets_list.json" &&
	[ -f "$D/config.old/targets_list.json" ] && [ ! -e "$D/.incoming" ] &&
	ok "web ConfigSource with {probe}: downloaded, validated, installed (old pair in config.old/), used by the cycle (7 targets)" ||
	ko "central configuration (rc $rc, $n records)" "$TMP/central.err"

# the same probe name served nothing: the download fails, the local set measures
PROBE_SOURCE=p2 "$BIN" run --data-dir "$D" --once >"$TMP/central2.out" 2>"$TMP/central2.err"; rc=$?
n=$(grep -c '"measurement_name":"twamp_twping1"' "$TMP/central2.out")
[ $rc -eq 0 ] && [ "$n" = 7 ] && grep -q "configuration download failed: .*404" "$TMP/central2.err" &&
	grep -q '"config_errors":1' "$TMP/central2.out" &&
	ok "download failing (404): one clear line, counted in twamp_probe, the last good set measures" ||
	ko "failing download (rc $rc, $n records)" "$TMP/central2.err"

# --- 7b. the first day: only the global config with a ConfigSource in DIR ---------
# (the original's documented first step).  The daemon downloads with backoff
# until a valid pair is installed, one log line per reason, then measures.
wait_for() { # SECONDS FILE REGEX: until the file matches
	local i
	for i in $(seq $(($1 * 10))); do grep -qE -- "$3" "$2" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
boot_global() { # FILE URL [EXTRA_SOURCE_JSON]: a seed global config naming the source
	python3 - "$1" "$2" "${3:-}" <<'PY'
import json, sys
src = {"ConfigMethod": "web", "ConfigURL": sys.argv[2]}
if sys.argv[3]:
    src.update(json.loads(sys.argv[3]))
json.dump({"ConfigSource": src, "Probe": {"Schedule": "* * * * *", "PacketCount": 5, "Interval": 0.01,
           "LossTimeout": 0.5, "Workers": 1}}, open(sys.argv[1], "w"))
PY
}
boot_targets() { # FILE COMMENT
	printf '{ "Targets": [ { "IP": "127.0.0.1", "DSCP": 0, "Port": %s, "Mode": "light", "Custom_comment": "%s" } ] }\n' \
		"$LIGHT" "$2" >"$1"
}
BPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
D=$TMP/firstday; mkdir -p "$D" "$TMP/bootweb"
boot_global "$D/twamp_global_config.json" "http://127.0.0.1:$BPORT/{probe}"
t0=$(date +%s)
PROBE_SOURCE=boot1 "$BIN" run --data-dir "$D" --once -v >"$TMP/boot.out" 2>"$TMP/boot.err" &
RUN=$!
phase=refused
if wait_for 10 "$TMP/boot.err" "download failed: .*Couldn't connect"; then
	phase=404
	python3 -u -m http.server --bind 127.0.0.1 "$BPORT" --directory "$TMP/bootweb" >"$TMP/bootweb.log" 2>&1 &
	PIDS+=($!)
	# two attempts answered 404: the second must not log another error line
	for _ in $(seq 200); do [ "$(grep -c '" 404 ' "$TMP/bootweb.log")" -ge 2 ] && break; sleep 0.1; done
fi
if [ "$(grep -c '" 404 ' "$TMP/bootweb.log" 2>/dev/null)" -ge 2 ]; then
	phase=invalid
	mkdir -p "$TMP/bootweb/boot1"
	cp "$D/twamp_global_config.json" "$TMP/bootweb/boot1/"
	echo '{ "Targets": [ { "IP": "127.0.0.1", "DSC' >"$TMP/bootweb/boot1/twamp_targets_list.json"
	wait_for 30 "$TMP/boot.err" "download failed: .*not valid JSON" && phase=valid
	boot_targets "$TMP/bootweb/boot1/twamp_targets_list.json" first-day
fi
timeout 60 tail --pid=$RUN -f /dev/null
kill $RUN 2>/dev/null
wait $RUN; rc=$?
took=$(($(date +%s) - t0))
n_refused=$(grep -c "error: configuration download failed: .*Couldn't connect" "$TMP/boot.err")
n_404=$(grep -c "error: configuration download failed: .*HTTP 404" "$TMP/boot.err")
n_json=$(grep -c "error: configuration download failed: .*not valid JSON" "$TMP/boot.err")
python3 - "$TMP/boot.out" <<'PY' >"$TMP/check.out" 2>&1
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
t = [r for r in recs if r["measurement_name"] == "twamp_twping1"]
assert len(t) == 1 and t[0]["custom_comment"] == "first-day" and t[0]["reachable_bool"] == 1, t
PY
[ $rc -eq 0 ] && [ "$phase" = valid ] && [ ! -s "$TMP/check.out" ] && [ "$n_refused" = 1 ] && [ "$n_404" = 1 ] &&
	[ "$n_json" = 1 ] && cmp -s "$D/twamp_targets_list.json" "$TMP/bootweb/boot1/twamp_targets_list.json" &&
	[ "$took" -lt 120 ] && sanitizer_clean "$TMP/boot.err" &&
	ok "first day, web: refused, 404 twice, invalid JSON, then valid: one error line per reason, installed, measured (${took} s)" ||
	ko "first day, web (rc $rc, phase $phase, lines: refused $n_refused, 404 $n_404, json $n_json, ${took} s)" "$TMP/check.out" "$TMP/boot.err"

# the same from a git repository (file://): empty at first, then a commit
if command -v git >/dev/null; then
	D=$TMP/firstday-git; mkdir -p "$D"
	git init -q --bare -b main "$TMP/boot.git"
	boot_global "$D/twamp_global_config.json" "file://$TMP/boot.git" '{"ConfigMethod": "git", "ConfigPath": "{probe}"}'
	PROBE_SOURCE=boot2 "$BIN" run --data-dir "$D" --once >"$TMP/bootgit.out" 2>"$TMP/bootgit.err" &
	RUN=$!
	if wait_for 10 "$TMP/bootgit.err" "download failed"; then
		W=$TMP/bootwork
		git init -q -b main "$W" && mkdir -p "$W/boot2" && cp "$D/twamp_global_config.json" "$W/boot2/" &&
			boot_targets "$W/boot2/twamp_targets_list.json" first-day-git &&
			git -C "$W" add -A && git -C "$W" -c user.name=t -c user.email=t@example.net commit -qm first &&
			git -C "$W" push -q "$TMP/boot.git" main 2>>"$TMP/bootgit.err"
	fi
	timeout 30 tail --pid=$RUN -f /dev/null
	kill $RUN 2>/dev/null
	wait $RUN; rc=$?
	[ $rc -eq 0 ] && grep -q '"custom_comment":"first-day-git"' "$TMP/bootgit.out" &&
		[ "$(grep -c 'error: configuration download failed' "$TMP/bootgit.err")" = 1 ] &&
		ok "first day, git: an empty repository, then a commit: installed and measured" ||
		ko "first day, git (rc $rc)" "$TMP/bootgit.err"
else
	ko "first day, git: git is not installed (scripts/install-deps.sh --test installs it)"
fi

# SIGTERM while waiting for the first configuration: exit 0 at once
D=$TMP/firstday-term; mkdir -p "$D"
boot_global "$D/twamp_global_config.json" "http://127.0.0.1:$BPORT/nothing-here"
"$BIN" run --data-dir "$D" >"$TMP/bootterm.out" 2>"$TMP/bootterm.err" &
RUN=$!
wait_for 10 "$TMP/bootterm.err" "download failed: .*404"
start=$(date +%s%N)
kill -TERM $RUN
wait $RUN; rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
[ $rc -eq 0 ] && [ $ms -lt 3000 ] && grep -q "stopping before the first configuration was installed" "$TMP/bootterm.err" &&
	ok "SIGTERM while waiting for the first configuration: exit 0 in $ms ms" ||
	ko "SIGTERM while waiting for the first configuration (rc $rc, $ms ms)" "$TMP/bootterm.err"

# without a ConfigSource a lone global config stays an error
D=$TMP/firstday-nosource; mkdir -p "$D"
echo '{ "Probe": { "PacketCount": 5 } }' >"$D/twamp_global_config.json"
timeout 20 "$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/bootnone.err"; rc=$?
[ $rc -eq 1 ] && grep -q "twamp_targets_list.json: missing" "$TMP/bootnone.err" &&
	ok "a lone global config without ConfigSource: exit 1, the missing file named" ||
	ko "a lone global config without ConfigSource (rc $rc)" "$TMP/bootnone.err"

# --- a DSCP list: one test session per class on one control connection, one record each
D=$TMP/dscps; mkdir -p "$D"
python3 - "$D" "$CTL" <<'PY'
import json, sys
d, port = sys.argv[1], int(sys.argv[2])
json.dump({"Probe": {"Schedule": "* * * * *", "PacketCount": 5, "Interval": 0.01, "LossTimeout": 0.5}},
          open(d + "/global_config.json", "w"))
json.dump({"Targets": [{"IP": "127.0.4.1", "DSCP": [46, "34", 0], "Port": port, "Custom_comment": "classes"}]},
          open(d + "/targets_list.json", "w"))
PY
"$BIN" run --data-dir "$D" --once >"$TMP/dscps.out" 2>"$TMP/dscps.err"; rc=$?
python3 - "$TMP/dscps.out" <<'PY' >"$TMP/check.out" 2>&1
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
t = sorted((r for r in recs if r["measurement_name"] == "twamp_twping1"), key=lambda r: -r["dscp_dec"])
assert [(r["dscp_dec"], r["dscp_rx_fwd"], r["sent_pkt"], r["lost_pkt"], r["reachable_bool"]) for r in t] == \
    [(46, 46, 5, 0, 1), (34, 34, 5, 0, 1), (0, 0, 5, 0, 1)], t
p = [r for r in recs if r["measurement_name"] == "twamp_probe"]
assert p[0]["targets"] == 1 and p[0]["ok"] == 1, p
PY
[ $rc -eq 0 ] && [ ! -s "$TMP/check.out" ] && sanitizer_clean "$TMP/dscps.err" &&
	ok "DSCP [46, 34, 0]: three test sessions on one control connection, one record per class" ||
	ko "DSCP list (rc $rc)" "$TMP/check.out" "$TMP/dscps.err"

# --- per-target AuthMode / KeyID / SecretFile against a keyed responder ----------
"$BIN" responder --listen 0.0.0.0:0 --keys "$HERE/data/keys/test.pfs" --workers 1 2>"$TMP/kresp.log" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "TWAMP server on" "$TMP/kresp.log" && break; sleep 0.1; done
KCTL=$(grep "TWAMP server on" "$TMP/kresp.log" | sed 's/.*\]:\([0-9]*\).*/\1/')
D=$TMP/keyed; mkdir -p "$D"
printf 'probe\t00112233445566778899aabbccddeeff\nwrong\t0badc0ffee\n' >"$D/probe.pfs"
python3 - "$D" "$KCTL" <<'PY'
import json, sys
d, port = sys.argv[1], int(sys.argv[2])
json.dump({"Probe": {"Schedule": "* * * * *", "PacketCount": 5, "Interval": 0.01, "LossTimeout": 0.5}},
          open(d + "/global_config.json", "w"))
# one address each: the scheduler never overlaps two sessions to one target
t = [{"IP": "127.0.3.%d" % (i + 1), "DSCP": 0, "Port": port, "AuthMode": m, "KeyID": "probe",
      "SecretFile": "probe.pfs", "Custom_comment": m} for i, m in enumerate(("A", "E", "M", "AEMO"))]
t.append({"IP": "127.0.3.5", "DSCP": 0, "Port": port, "AuthMode": "A", "KeyID": "wrong",
          "SecretFile": "probe.pfs", "Custom_comment": "wrong"})
t.append({"IP": "127.0.3.6", "DSCP": 0, "Port": port, "Custom_comment": "open"})
json.dump({"Targets": t}, open(d + "/targets_list.json", "w"))
PY
"$BIN" run --data-dir "$D" --once >"$TMP/keyed.out" 2>"$TMP/keyed.err"; rc=$?
python3 - "$TMP/keyed.out" <<'PY' >"$TMP/check.out" 2>&1
import json, sys
r = {x["custom_comment"]: x for x in map(json.loads, open(sys.argv[1])) if x["measurement_name"] == "twamp_twping1"}
for m in ("A", "E", "M", "AEMO", "open"):
    assert r[m]["reachable_bool"] == 1 and r[m]["lost_pkt"] == 0, (m, r[m])
assert r["wrong"]["reachable_bool"] == 0 and r["wrong"]["error"] == "denied", r["wrong"]
PY
[ $rc -eq 0 ] && [ ! -s "$TMP/check.out" ] && ! grep -q "00112233\|0badc0ffee" "$TMP/keyed.err" "$TMP/kresp.log" &&
	sanitizer_clean "$TMP/keyed.err" &&
	ok "per-target AuthMode A, E, M, AEMO with KeyID/SecretFile: measured; a wrong secret: error denied; no secret logged" ||
	ko "per-target security (rc $rc)" "$TMP/check.out" "$TMP/keyed.err"

# --- entries for one IP differing only by DSCP (the original's list format) -------
# Each entry is its own measurement: none skipped because a sibling runs; an
# exact duplicate is merged at load with a warning.
D=$TMP/siblings; mkdir -p "$D"
python3 - "$D" "$CTL" "$LIGHT" <<'PY'
import json, sys
d, ctl, light = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
json.dump({"Probe": {"Schedule": "* * * * *", "PacketCount": 20, "Interval": 0.01, "LossTimeout": 0.5}},
          open(d + "/global_config.json", "w"))
t = [{"IP": "127.0.5.1", "DSCP": v, "Port": ctl} for v in ("0", "46", "34")]
t.append({"IP": "127.0.5.1", "DSCP": [10, 12], "Port": ctl})
t += [{"IP": "127.0.5.2", "DSCP": v, "Port": light, "Mode": "stamp"} for v in (0, 46)]
t.append({"IP": "127.0.5.1", "DSCP": 46, "Port": ctl, "Mode": "control"})  # identical to t[1]
json.dump({"Targets": t}, open(d + "/targets_list.json", "w"))
PY
"$BIN" check-config "$D" >"$TMP/sib.check" 2>&1; rc0=$?
timeout -k 5 60 "$BIN" run --data-dir "$D" --once >"$TMP/sib.out" 2>"$TMP/sib.err"; rc=$?
python3 - "$TMP/sib.out" <<'PY' >"$TMP/check.out" 2>&1
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
t = sorted((r["to_host"], r["mode"], r["dscp_dec"], r["sent_pkt"], r["lost_pkt"], r["reachable_bool"])
           for r in recs if r["measurement_name"] == "twamp_twping1")
want = sorted([("127.0.5.1", "control", v, 20, 0, 1) for v in (0, 46, 34, 10, 12)] +
              [("127.0.5.2", "stamp", v, 20, 0, 1) for v in (0, 46)])
assert t == want, t
p = [r for r in recs if r["measurement_name"] == "twamp_probe"]
assert len(p) == 1 and p[0]["targets"] == 6 and p[0]["ok"] == 6 and p[0]["skipped"] == 0, p
PY
[ $rc0 -eq 0 ] && grep -q "warning: targets_list.json: Targets\[6\]: identical to Targets\[1\]: measured once" "$TMP/sib.check" &&
	[ $rc -eq 0 ] && [ ! -s "$TMP/check.out" ] && grep -q "cycle 1: 6 targets, 6 ok, 0 failed, 0 skipped" "$TMP/sib.err" &&
	grep -q "Targets\[6\]: identical to Targets\[1\]" "$TMP/sib.err" && sanitizer_clean "$TMP/sib.err" &&
	ok "entries for one IP differing only by DSCP (3 control, a DSCP list, 2 stamp): all measured, 7 records, 0 skipped; a duplicate merged with a warning" ||
	ko "DSCP siblings (check-config rc $rc0, run rc $rc)" "$TMP/sib.check" "$TMP/check.out" "$TMP/sib.err"

# --- a FIFO in place of a configuration file or a SecretFile ---------------------
# open() used to block on it for good: at start (SIGTERM ignored) and on reload
# (the config thread hung).  Every command runs under timeout.
fifo_dir() { # DIR: a keyed target, so that a SecretFile is read
	mkdir -p "$1"
	printf 'probe\t00112233445566778899aabbccddeeff\n' >"$1/probe.pfs"
	python3 - "$1" "$CTL" <<'PY'
import json, sys
d, port = sys.argv[1], int(sys.argv[2])
json.dump({"Probe": {"Schedule": "* * * * *", "PacketCount": 5, "Interval": 0.01, "LossTimeout": 0.5}},
          open(d + "/global_config.json", "w"))
json.dump({"Targets": [{"IP": "127.0.6.1", "DSCP": 0, "Port": port},
                       {"IP": "127.0.6.2", "DSCP": 0, "Port": port, "AuthMode": "AO", "KeyID": "probe",
                        "SecretFile": "probe.pfs"}]}, open(d + "/targets_list.json", "w"))
PY
}
for f in global_config.json targets_list.json probe.pfs; do
	D=$TMP/fifo_$f; fifo_dir "$D"
	rm "$D/$f"; mkfifo "$D/$f"
	timeout -k 5 10 "$BIN" check-config "$D" >"$TMP/fifo.check" 2>&1; rc1=$?
	timeout -k 5 10 "$BIN" run --data-dir "$D" --once >/dev/null 2>"$TMP/fifo.err"; rc2=$?
	[ $rc1 -eq 1 ] && grep -q "$D/$f is a FIFO (named pipe), not a regular file" "$TMP/fifo.check" &&
		[ $rc2 -eq 1 ] && grep -q "$D/$f is a FIFO (named pipe), not a regular file" "$TMP/fifo.err" &&
		ok "FIFO as $f: check-config and run refuse it at once, naming the path (exit 1, 1)" ||
		ko "FIFO as $f (check-config rc $rc1, run rc $rc2; 124 = hung)" "$TMP/fifo.check" "$TMP/fifo.err"
done

# ... and on reload: rejected, the last good set stays, the config thread still
# reloads afterwards, SIGTERM stops the daemon promptly.
for f in targets_list.json probe.pfs; do
	D=$TMP/fifo_reload_$f; fifo_dir "$D"
	: >"$TMP/fiforl.err"
	timeout 60 "$BIN" run --data-dir "$D" >/dev/null 2>"$TMP/fiforl.err" &
	RUN=$!
	for _ in $(seq 100); do grep -q "scheduler:" "$TMP/fiforl.err" && break; sleep 0.05; done
	mv "$D/$f" "$D/$f.good"; mkfifo "$D/$f"
	kill -HUP $RUN
	for _ in $(seq 100); do grep -q "previous one keeps running" "$TMP/fiforl.err" && break; sleep 0.05; done
	rm "$D/$f"; mv "$D/$f.good" "$D/$f"; touch "$D/targets_list.json"
	kill -HUP $RUN
	for _ in $(seq 100); do grep -q "configuration 2 loaded" "$TMP/fiforl.err" && break; sleep 0.05; done
	t0=$(date +%s%N)
	kill -TERM $RUN
	wait $RUN; rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	grep -q "$D/$f is a FIFO (named pipe), not a regular file" "$TMP/fiforl.err" &&
		grep -q "previous one keeps running" "$TMP/fiforl.err" && grep -q "configuration 2 loaded" "$TMP/fiforl.err" &&
		[ $rc -eq 0 ] && [ $ms -lt 10000 ] && sanitizer_clean "$TMP/fiforl.err" &&
		ok "FIFO as $f on SIGHUP: rejected naming it, the last good set stays, the next reload works, SIGTERM stops in $ms ms" ||
		ko "FIFO as $f on reload (rc $rc, $ms ms; 124 = hung)" "$TMP/fiforl.err"
done
# --- Probe.MaxPBKDF2Count against a responder whose greeting asks for 4096 -------
"$BIN" responder --listen 127.0.0.1:0 --keys "$HERE/data/keys/test.pfs" --workers 1 --greeting-count 4096 \
	2>"$TMP/cresp.log" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "TWAMP server on" "$TMP/cresp.log" && break; sleep 0.1; done
CCTL=$(grep "TWAMP server on" "$TMP/cresp.log" | sed 's/.*\]:\([0-9]*\).*/\1/')
for cap in default 4096; do
	D=$TMP/count-$cap; mkdir -p "$D"
	printf 'probe\t00112233445566778899aabbccddeeff\n' >"$D/probe.pfs"
	python3 - "$D" "$CCTL" "$cap" <<'PY'
import json, sys
d, port, cap = sys.argv[1], int(sys.argv[2]), sys.argv[3]
probe = {"Schedule": "* * * * *", "PacketCount": 3, "Interval": 0.01, "LossTimeout": 0.5}
if cap != "default":
    probe["MaxPBKDF2Count"] = int(cap)
json.dump({"Probe": probe}, open(d + "/global_config.json", "w"))
json.dump({"Targets": [{"IP": "127.0.0.1", "DSCP": 0, "Port": port, "AuthMode": "A", "KeyID": "probe",
                        "SecretFile": "probe.pfs"}]}, open(d + "/targets_list.json", "w"))
PY
	"$BIN" run --data-dir "$D" --once >"$TMP/count-$cap.out" 2>"$TMP/count-$cap.err"
done
python3 - "$TMP/count-default.out" "$TMP/count-4096.out" <<'PY' >"$TMP/check.out" 2>&1
import json, sys
rec = lambda f: [x for x in map(json.loads, open(f)) if x["measurement_name"] == "twamp_twping1"][0]
r = rec(sys.argv[1])
assert r["reachable_bool"] == 0 and r["error"] == "mode", r
r = rec(sys.argv[2])
assert r["reachable_bool"] == 1 and r["lost_pkt"] == 0, r
PY
[ ! -s "$TMP/check.out" ] && sanitizer_clean "$TMP/count-default.err" "$TMP/count-4096.err" &&
	ok "greeting Count 4096: refused under the default cap (error mode), measured with Probe.MaxPBKDF2Count 4096" ||
	ko "Probe.MaxPBKDF2Count" "$TMP/check.out" "$TMP/count-default.err" "$TMP/count-4096.err"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null

# --- libcurl and libgit2: dlopen()ed by the daemon when it downloads or delivers ---
# (src/io/dynlib.c; `ping`, `responder` and `bench` never load them: tests/cli.sh).
# TWAMP_LIBGIT2_PATH / TWAMP_LIBCURL_PATH, test and debug knobs, name the file to
# open instead of the soname: a file that is not there makes the load fail.
dl_setup() { # NAME: a git repository $TMP/NAME.git (3 targets) and a data dir $TMP/NAME (2 targets),
	# both with it as ConfigSource and the sink $P as destination
	local dest="[{\"DestinationURL\": \"http://127.0.0.1:$P/dl\", \"DestinationPassword\": \"x\", \"BatchSize\": 1, \"FlushInterval\": 0.2}]"
	make_dir "$TMP/$1.src" 3 "$dest" '{"PacketCount": 40, "Interval": 0.05, "Workers": 1}'
	make_dir "$TMP/$1" 2 "$dest" '{"PacketCount": 40, "Interval": 0.05, "Workers": 1}'
	for g in "$TMP/$1.src/global_config.json" "$TMP/$1/global_config.json"; do
		python3 - "$g" "file://$TMP/$1.git" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
g["ConfigSource"] = {"ConfigMethod": "git", "ConfigURL": sys.argv[2]}
json.dump(g, open(sys.argv[1], "w"))
PY
	done
	git -C "$TMP/$1.src" init -q -b main && git -C "$TMP/$1.src" add -A &&
		git -C "$TMP/$1.src" -c user.name=t -c user.email=t@localhost commit -q -m config &&
		git clone -q --bare "$TMP/$1.src" "$TMP/$1.git"
}
libs_in() { # FILE: which of libcurl, libgit2 the maps FILE holds ("none" for neither)
	local l=
	grep -q '/libcurl[.-]' "$1" && l="libcurl"
	grep -q '/libgit2[.-]' "$1" && l="${l:+$l+}libgit2"
	echo "${l:-none}"
}
start_sink sinkdl
dl_setup dlok
"$BIN" run --data-dir "$TMP/dlok" --once -v >/dev/null 2>"$TMP/dlok.err" &
RUN=$!
maps=unread
if wait_for 20 "$TMP/dlok.err" "configuration downloaded from git source"; then
	sleep 0.3
	cat "/proc/$RUN/maps" >"$TMP/dlok.maps" 2>/dev/null && grep -q 'libc\.so' "$TMP/dlok.maps" && maps=$(libs_in "$TMP/dlok.maps")
fi
wait $RUN; rc=$?
read -r uniq total probes < <(count_records "$TMP/sinkdl.log")
[ $rc -eq 0 ] && [ "$maps" = "libcurl+libgit2" ] && [ "$total" = 3 ] && [ "$probes" = 1 ] &&
	sanitizer_clean "$TMP/dlok.err" &&
	ok "run with a git source and an HTTP destination: maps libgit2 and libcurl once it downloaded, delivers 3 records" ||
	ko "run loading libgit2 and libcurl (rc $rc, maps: $maps, $total records, $probes probe)" "$TMP/dlok.err"

start_sink sinkdl2
dl_setup dlfail
TWAMP_LIBGIT2_PATH=/nonexistent/libgit2.so.1.5 TWAMP_LIBCURL_PATH=/nonexistent/libcurl.so.4 \
	"$BIN" run --data-dir "$TMP/dlfail" --once -v >/dev/null 2>"$TMP/dlfail.err" &
RUN=$!
maps=unread
if wait_for 20 "$TMP/dlfail.err" "configuration download failed"; then
	sleep 0.3
	cat "/proc/$RUN/maps" >"$TMP/dlfail.maps" 2>/dev/null && grep -q 'libc\.so' "$TMP/dlfail.maps" && maps=$(libs_in "$TMP/dlfail.maps")
fi
wait $RUN; rc=$?
spooled=$(find "$TMP/dlfail/spool" -name '*.batch' -not -path '*/reject/*' | wc -l)
read -r uniq total probes < <(count_records "$TMP/sinkdl2.log")
[ $rc -eq 3 ] && [ "$maps" = none ] && [ "$spooled" -gt 0 ] && [ "$total" = 0 ] &&
	grep -q "configuration download failed: cannot load /nonexistent/libgit2.so.1.5 (TWAMP_LIBGIT2_PATH; Debian package libgit2-1.5): .*; the previous configuration keeps running" "$TMP/dlfail.err" &&
	grep -q "destination http://127.0.0.1:$P/dl: cannot load /nonexistent/libcurl.so.4 (TWAMP_LIBCURL_PATH; Debian package libcurl4): .*spooled" "$TMP/dlfail.err" &&
	find "$TMP/dlfail/spool" -name '*.batch' -exec grep -l '"reachable_bool":1' {} + | grep -q . && sanitizer_clean "$TMP/dlfail.err" &&
	ok "libgit2 and libcurl cannot be loaded: both named with their Debian package, the local set measures, $spooled batches spooled" ||
	ko "libraries that cannot be loaded (rc $rc, maps: $maps, $spooled spooled, $total delivered)" "$TMP/dlfail.err"
"$BIN" run --data-dir "$TMP/dlfail" --once >/dev/null 2>"$TMP/dlfail2.err"; rc=$?
left=$(find "$TMP/dlfail/spool" -name '*.batch' -not -path '*/reject/*' | wc -l)
read -r uniq total probes < <(count_records "$TMP/sinkdl2.log")
[ $rc -eq 0 ] && [ "$left" = 0 ] && [ "$total" = 5 ] && [ "$probes" = 2 ] &&
	ok "the next run, with the libraries: downloads (3 targets) and delivers the spooled records too (2 + 3)" ||
	ko "after the libraries came back (rc $rc, $left left, $total records, $probes probes)" "$TMP/dlfail2.err"

kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null
sanitizer_clean "$TMP/resp.log" || ko "responder sanitizer report" "$TMP/resp.log"

echo "daemon: $pass passed, $fail failed"
[ $fail -eq 0 ]
