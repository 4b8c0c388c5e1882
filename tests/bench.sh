#!/bin/bash
# `twamp-client bench` against our own responder on loopback, with short
# steps: the table, the closing lines, CSV and JSON (parsed, checked against
# each other and for plausible figures), the gnuplot PNG and our own SVG page,
# the progress line on a terminal only, and each threshold stopping the ramp
# (the responder's impairments make the loss and the delay).
# TWAMP_CLIENT names the binary (the Makefile passes the one of its build).
set -u
BIN=${TWAMP_CLIENT:-build/twamp-client}
TMP=$(mktemp -d)
pass=0 fail=0
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$TMP/out" ] && sed 's/^/     | /' "$TMP/out" | head -40; }
check() { # name, command...: the command must succeed
	local name=$1; shift
	if "$@" >"$TMP/check.out" 2>&1; then ok "$name"; else cp "$TMP/check.out" "$TMP/out"; ko "$name"; fi
}

# responder NAME ARGS...: start one on port 0, its log in $TMP/NAME.log
responder() {
	local name=$1; shift
	"$BIN" responder --workers 1 "$@" 2>"$TMP/$name.log" &
	PIDS+=($!)
	for _ in $(seq 50); do
		grep -q "TWAMP server on\|reflector on" "$TMP/$name.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "responder $name did not start:"; cat "$TMP/$name.log"; exit 1
}
port() { # log name, pattern
	grep "$2" "$TMP/$1.log" | head -1 | sed 's/.*\]:\([0-9]*\).*/\1/'
}

# bench ARGS...: run it, stdout in $TMP/out, stderr in $TMP/err, status in $rc
bench() {
	"$BIN" bench "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	cat "$TMP/err" >>"$TMP/out.err" 2>/dev/null
}

# --- usage -----------------------------------------------------------------------
"$BIN" bench --help >"$TMP/out" 2>&1 && grep -q -- "--max-inflation" "$TMP/out" &&
	ok "bench --help lists its options" || ko "bench --help lists its options"
"$BIN" --help | grep -q "^  bench " && ok "twamp-client --help names bench" || ko "twamp-client --help names bench"
"$BIN" bench >"$TMP/out" 2>&1; [ $? -eq 2 ] && ok "no target: exit 2" || ko "no target: exit 2"
"$BIN" bench --growth 0.5 127.0.0.1 >"$TMP/out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "invalid value '0.5' for --growth" "$TMP/out" && ok "bad --growth names the value" ||
	ko "bad --growth names the value (rc $rc)"

responder plain --listen 127.0.0.1:0 --light 127.0.0.1:0 --light '[::1]:0'
CTL=$(port plain "TWAMP server on \[127.0.0.1\]")

# --- output files are checked before the ramp, not after it -----------------------------
echo "keep me" >"$TMP/keep.json"
start=$(date +%s%N)
bench --sessions 2 --rate 100 --hold 5 --steps 3 --json "$TMP/keep.json" --csv "$TMP/new.csv" \
	--plot "$TMP/nodir/p.svg" "127.0.0.1:$CTL"
ms=$((($(date +%s%N) - start) / 1000000))
[ $rc -eq 1 ] && [ $ms -lt 3000 ] && [ "$(cat "$TMP/err")" = "twamp-client bench: --plot $TMP/nodir/p.svg: cannot write: No such file or directory" ] &&
	[ "$(cat "$TMP/keep.json")" = "keep me" ] && [ ! -e "$TMP/new.csv" ] && [ ! -s "$TMP/out" ] &&
	ok "--plot in a missing directory: exit 1 at once (${ms} ms), path and reason; other files untouched" ||
	ko "--plot in a missing directory (rc $rc, ${ms} ms: $(cat "$TMP/err"))"
bench --sessions 2 --rate 100 --hold 5 --steps 3 --csv "$TMP" "127.0.0.1:$CTL"
[ $rc -eq 1 ] && grep -qx "twamp-client bench: --csv $TMP: cannot write: Is a directory" "$TMP/err" &&
	ok "--csv naming a directory: exit 1 at once" || ko "--csv naming a directory (rc $rc)"
CTL=$(port plain "TWAMP server on \[127.0.0.1\]")
LIGHT4=$(port plain "reflector on \[127.0.0.1\]")
LIGHT6=$(port plain "reflector on \[::1\]")

# --- a control-mode ramp with every output ---------------------------------------------
bench --sessions 2 --rate 200 --hold 0.5 --steps 3 --max-inflation 0 -L 0.5 \
	--csv "$TMP/r.csv" --json "$TMP/r.json" --plot "$TMP/r.html" "127.0.0.1:$CTL"
[ $rc -eq 0 ] && ok "control ramp: exit 0" || ko "control ramp: exit 0 (rc $rc)"
grep -qE '^step +sessions +offered/s +achieved/s +loss +dups +rtt_p50 +rtt_p99 +rtt_p99.9 +proc_p50 +proc_p99 +proc_p99.9 +setup_50 +setup_99 +refused +failed +cpu$' "$TMP/out" &&
	ok "table header" || ko "table header"
[ "$(grep -cE '^ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9]+( +[0-9.]+){8} +0 +0 +[0-9]+$' "$TMP/out")" = 3 ] &&
	ok "table: three step rows, no refusal or failure" || ko "table: three step rows"
[ "$(tail -1 "$TMP/out" | sed 's/ (.*//')" = "sustained capacity: 6 sessions, $(python3 -c "
import json; print(round(json.load(open('$TMP/r.json'))['sustained']['packets_per_s']))") packets/s" ] &&
	ok "last line: sustained capacity of the last step, as in the JSON" || ko "last line: sustained capacity"
grep -q "^stopped: ramp complete: 3 steps" "$TMP/out" && ok "stop reason: the --steps cap" || ko "stop reason"
grep -q $'\r' "$TMP/err" && ko "no progress line when stderr is not a terminal" ||
	ok "no progress line when stderr is not a terminal"

cat >"$TMP/check.py" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
doc = json.load(open(sys.argv[2]))
mode = sys.argv[3]
assert len(rows) == len(doc["steps"]) == int(sys.argv[4]), (len(rows), len(doc["steps"]))
assert len(rows[0]) == 35, len(rows[0])
for i, (r, j) in enumerate(zip(rows, doc["steps"])):
    assert int(r["step"]) == j["step"] == i + 1
    assert int(r["sessions"]) == j["sessions"]
    off, ach = float(r["offered_pps"]), float(r["achieved_pps"])
    assert abs(off - j["offered_pps"]) < 0.01 and abs(ach - j["achieved_pps"]) < 0.01
    assert 0.8 * off < ach <= 1.05 * off, (off, ach)
    assert int(r["sent"]) == int(r["received"]) + int(r["lost"]) and 0 <= int(r["late"]) <= int(r["lost"])
    assert int(r["sent"]) == int(r["sessions"]) * int(r["packets_per_session"])
    assert float(r["loss_pct"]) <= 1.0
    p50, p99, p999, mx = (float(r[k]) for k in ("rtt_p50_ms", "rtt_p99_ms", "rtt_p999_ms", "rtt_max_ms"))
    assert 0 < p50 <= p99 <= p999 <= mx < 1000, (p50, p99, p999, mx)
    assert abs(p99 - j["rtt_ms"]["p99"]) < 1e-6
    q50, q99, q999 = (float(r[k]) for k in ("proc_p50_ms", "proc_p99_ms", "proc_p999_ms"))
    assert 0 <= q50 <= q99 <= q999 < 1000
    if mode == "control":
        s50, s99 = float(r["setup_p50_ms"]), float(r["setup_p99_ms"])
        assert 0 < s50 <= s99 < 5000 and j["setup_ms"]["p50"] > 0
    else:
        assert r["setup_p50_ms"] == "" and j["setup_ms"]["p50"] is None
    assert int(r["ok"]) == j["ok"] == int(r["sessions"]) and j["refused"] == 0 and j["failed"] == 0
    assert float(r["start_unix"]) < float(r["end_unix"])
    assert r["complete"] == "1" and r["met"] == "1"
assert doc["mode"] == mode
assert doc["sustained"]["step"] == len(rows) and rows[-1]["sustained"] == "1"
assert doc["stop_reason"].startswith("ramp complete")
EOF
check "CSV and JSON: well formed, consistent, plausible (control)" \
	python3 "$TMP/check.py" "$TMP/r.csv" "$TMP/r.json" control 3

cat >"$TMP/svg.py" <<'EOF'
import re, sys, xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
if sys.argv[1].endswith(".html"):
    assert text.startswith("<!DOCTYPE html>") and "sustained capacity: " in text
    text = re.search(r"<svg.*</svg>", text, re.S).group(0)
svg = ET.fromstring(text)
ns = "{http://www.w3.org/2000/svg}"
lines = svg.findall(f".//{ns}polyline")
assert len(lines) == 4, len(lines)           # RTT p50, p99, p99.9 and loss
for pl in lines:
    pts = pl.get("points").split()
    assert len(pts) == int(sys.argv[2]), pts  # one point per step
    for p in pts:
        x, y = map(float, p.split(","))
        assert 0 <= x <= 900 and 0 <= y <= 660
assert len(svg.findall(f".//{ns}circle")) == 4 * int(sys.argv[2])
assert svg.find(f".//{ns}line[@class='sustained']") is not None
EOF
check "--plot FILE.html: our own SVG in an HTML page" python3 "$TMP/svg.py" "$TMP/r.html" 3

# --- STAMP over two targets (IPv4 and IPv6), bare SVG, PNG fallback -----------------------
mkdir -p "$TMP/nognuplot"
PATH="$TMP/nognuplot:/usr/bin:/bin" bench --mode stamp --sessions 4 --rate 400 --hold 0.5 --steps 2 \
	--max-inflation 0 -L 0.5 --csv "$TMP/s.csv" --json "$TMP/s.json" --plot "$TMP/s.svg" \
	"127.0.0.1:$LIGHT4" "[::1]:$LIGHT6"
[ $rc -eq 0 ] && python3 -c "import json,sys; assert json.load(open('$TMP/s.json'))['targets'] == ['127.0.0.1:$LIGHT4', '[::1]:$LIGHT6']" &&
	ok "stamp ramp over two targets" || ko "stamp ramp over two targets (rc $rc)"
check "CSV and JSON: well formed, consistent, plausible (stamp)" \
	python3 "$TMP/check.py" "$TMP/s.csv" "$TMP/s.json" stamp 2
check "--plot FILE.svg: a bare SVG document" python3 "$TMP/svg.py" "$TMP/s.svg" 2

if command -v gnuplot >/dev/null; then
	# no gnuplot on this PATH: a PNG was asked for, an HTML page is written
	PATH="$TMP/nognuplot" "$BIN" bench --mode light --sessions 2 --rate 200 --hold 0.3 --steps 2 -L 0.5 \
		--plot "$TMP/p.png" "127.0.0.1:$LIGHT4" >"$TMP/out" 2>"$TMP/err"; rc=$?
else
	"$BIN" bench --mode light --sessions 2 --rate 200 --hold 0.3 --steps 2 -L 0.5 \
		--plot "$TMP/p.png" "127.0.0.1:$LIGHT4" >"$TMP/out" 2>"$TMP/err"; rc=$?
fi
[ $rc -eq 0 ] && [ ! -e "$TMP/p.png" ] && grep -q "gnuplot is not installed: the plot is $TMP/p.html" "$TMP/err" &&
	python3 "$TMP/svg.py" "$TMP/p.html" 2 && ok "--plot FILE.png without gnuplot: FILE.html with our SVG" ||
	ko "--plot FILE.png without gnuplot: FILE.html (rc $rc)"
if command -v gnuplot >/dev/null; then
	bench --mode light --sessions 2 --rate 200 --hold 0.3 --steps 2 -L 0.5 --plot "$TMP/g.png" "127.0.0.1:$LIGHT4"
	[ $rc -eq 0 ] && [ "$(head -c 8 "$TMP/g.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] &&
		ok "--plot FILE.png with gnuplot: a PNG" || ko "--plot FILE.png with gnuplot: a PNG (rc $rc)"
else
	ko "--plot FILE.png with gnuplot: gnuplot is not installed (scripts/install-deps.sh --test installs gnuplot-nox)"
fi

# --- the progress line, on a terminal only ---------------------------------------------------
if command -v script >/dev/null; then
	script -qec "'$BIN' bench --mode light --sessions 2 --rate 100 --hold 1 --steps 1 -L 0.5 127.0.0.1:$LIGHT4 >'$TMP/tty.out'" \
		"$TMP/tty.log" >/dev/null 2>&1 </dev/null
	grep -q $'\r.*step 1: 2 sessions, 100 packets/s offered' "$TMP/tty.log" &&
		grep -q "^sustained capacity: 2 sessions" "$TMP/tty.out" &&
		ok "progress line on a terminal, table on stdout" || { cp "$TMP/tty.log" "$TMP/out"; ko "progress line on a terminal"; }
else
	ko "progress line on a terminal: script(1) is not installed (Debian package bsdutils)"
fi

# --- thresholds stop the ramp ---------------------------------------------------------------
responder lossy --light 127.0.0.1:0 --loss 20 --seed 7
LOSSY=$(port lossy "reflector on")
bench --mode light --sessions 2 --rate 400 --hold 0.5 --steps 3 --max-loss 5 -L 0.3 --json "$TMP/l.json" "127.0.0.1:$LOSSY"
[ $rc -eq 0 ] && grep -qE "^stopped: step 1: loss [0-9.]+% > 5% \(0 of [0-9]+ lost came back after the loss timeout\)" "$TMP/out" &&
	[ "$(tail -1 "$TMP/out")" = "sustained capacity: 0 sessions, 0 packets/s (no step met the thresholds)" ] &&
	python3 -c "
import json; d = json.load(open('$TMP/l.json')); s = d['steps']
assert len(s) == 1 and not s[0]['met'] and 10 < s[0]['loss_pct'] < 30 and d['sustained'] is None" &&
	ok "20% loss stops the ramp at step 1 (--max-loss 5)" || ko "loss threshold (rc $rc)"

responder slow --light 127.0.0.1:0 --delay 20
SLOW=$(port slow "reflector on")
bench --mode light --sessions 2 --rate 100 --hold 0.5 --steps 3 --max-p99 5 -L 0.5 "127.0.0.1:$SLOW"
[ $rc -eq 0 ] && grep -qE "^stopped: step 1: RTT p99 2[0-9]\.[0-9]+ ms > 5\.000 ms" "$TMP/out" &&
	ok "20 ms of delay stops the ramp (--max-p99 5)" || ko "absolute latency threshold (rc $rc)"
bench --mode light --sessions 2 --rate 100 --hold 0.5 --steps 3 -L 0.01 --json "$TMP/late.json" "127.0.0.1:$SLOW"
[ $rc -eq 0 ] && grep -qE "^stopped: step 1: loss 100\.000% > 1% \([0-9]+ of 50 lost came back after the loss timeout\)" "$TMP/out" &&
	python3 -c "
import json; s = json.load(open('$TMP/late.json'))['steps'][0]
assert s['lost'] == 50 and 40 <= s['late'] <= 50, s" &&
	ok "replies later than the loss timeout are lost, and counted as late" || ko "late replies (rc $rc)"
bench --mode light --sessions 2 --rate 100 --hold 0.5 --steps 3 --baseline-rtt 2 --max-inflation 3 -L 0.5 "127.0.0.1:$SLOW"
[ $rc -eq 0 ] && grep -qE "^stopped: step 1: RTT p99 2[0-9]\.[0-9]+ ms is 1[0-9]\.[0-9] x the baseline 2\.000 ms \(> 3 x\)" "$TMP/out" &&
	ok "latency inflation over --baseline-rtt stops the ramp" || ko "inflation threshold (rc $rc)"
bench --mode light --sessions 2 --rate 100 --hold 0.5 --steps 2 --max-inflation 3 -L 0.5 "127.0.0.1:$SLOW"
[ $rc -eq 0 ] && grep -q "^stopped: ramp complete" "$TMP/out" &&
	ok "a constant delay is no inflation over the first step" || ko "inflation baseline from the first step (rc $rc)"

# refusals: the responder takes 5 sessions, the ramp asks 2, 4, then 6
responder limited --listen 127.0.0.1:0 --max-sessions 5
LIM=$(port limited "TWAMP server on")
bench --sessions 2 --rate 100 --hold 0.5 --steps 5 --max-inflation 0 -L 0.5 --csv "$TMP/x.csv" "127.0.0.1:$LIM"
[ $rc -eq 0 ] && grep -qE "^stopped: step 3: 1 session refused, 0 failed \(session refused: " "$TMP/out" &&
	grep -q "^sustained capacity: 4 sessions, " "$TMP/out" &&
	[ "$(awk -F, 'NR == 4 { print $2, $24, $25 }' "$TMP/x.csv")" = "6 5 1" ] &&
	ok "refused sessions stop the ramp; the capacity is the step before" || ko "refusal threshold (rc $rc)"

# --max-seconds: an endless ramp ends in time
start=$(date +%s.%N)
bench --mode light --sessions 1 --rate 100 --hold 0.5 --max-inflation 0 -L 0.3 --max-seconds 2.5 "127.0.0.1:$LIGHT4"
took=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || python3 -c "print($(date +%s.%N) - $start)")
[ $rc -eq 0 ] && grep -q "^stopped: --max-seconds 2.5 reached" "$TMP/out" &&
	python3 -c "assert $took < 4.5, $took" && grep -q "^sustained capacity: [1-9]" "$TMP/out" &&
	ok "--max-seconds ends the ramp in time" || ko "--max-seconds (rc $rc, ${took}s)"

# SIGINT: the running step is aborted, everything is still written
"$BIN" bench --mode light --sessions 2 --rate 200 --hold 0.5 -L 0.3 --max-inflation 0 --json "$TMP/int.json" \
	"127.0.0.1:$LIGHT4" >"$TMP/out" 2>"$TMP/err" &
bpid=$!
for _ in $(seq 50); do grep -q "^   2 " "$TMP/out" && break; sleep 0.1; done
kill -INT $bpid; wait $bpid; rc=$?
[ $rc -eq 0 ] && grep -qE "^stopped: (step [0-9]+: )?interrupted" "$TMP/out" &&
	grep -q "^sustained capacity: [1-9][0-9]* sessions" "$TMP/out" &&
	python3 -c "
import json; d = json.load(open('$TMP/int.json'))
assert d['stop_reason'].endswith('interrupted') and d['sustained']" &&
	ok "SIGINT ends the ramp and still writes the results" || ko "SIGINT (rc $rc)"

# nothing answers: exit 1
python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])" >"$TMP/deadport"
bench --mode light --sessions 1 --rate 50 --hold 0.3 --steps 2 -L 0.3 "127.0.0.1:$(cat "$TMP/deadport")"
[ $rc -eq 1 ] && grep -q "^sustained capacity: 0 sessions" "$TMP/out" &&
	ok "no reflection at all: exit 1" || ko "no reflection at all: exit 1 (rc $rc)"

echo "bench: $pass passed, $fail failed"
[ $fail -eq 0 ]
