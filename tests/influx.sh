#!/bin/bash
# Integration test of the Influx line protocol path against a real InfluxDB 1.x.
#
# Starts a private influxd (Debian package `influxdb`; installed with apt-get
# when missing and run as root) on 127.0.0.1 with random free ports and every
# directory in a temporary one, creates a database, sends 200 target records
# and one probe record through the sender (tests/influx_feed.c, built here
# from the project's sources with the Makefile's flags), then reads them back
# through the HTTP /query API: the number of points, exact values, nanosecond
# timestamps, escaping of hostile strings, and the type of every field.
#
#   tests/influx.sh            (from the project root or anywhere)
#   CC=clang tests/influx.sh   another compiler
set -u
cd "$(dirname "$0")/.." || exit 1

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }

# --- requirements -------------------------------------------------------------
# influxdb and curl: scripts/install-deps.sh --test installs them (a package it
# cannot install fails the test with apt's error).
scripts/install-deps.sh --test || { ko "test dependencies (scripts/install-deps.sh --test)"; echo "influx: $pass passed, $fail failed"; exit 1; }
for tool in influxd curl python3 pkg-config "${CC:-cc}"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$tool is missing (scripts/install-deps.sh installs the build dependencies)"
		exit 1
	fi
done

TMP=$(mktemp -d /tmp/influx-test.XXXXXX)
INFLUX_PID=
cleanup() {
	if [ -n "$INFLUX_PID" ]; then
		kill "$INFLUX_PID" 2>/dev/null
		wait "$INFLUX_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
HTTP_PORT=$(free_port)
RPC_PORT=$(free_port)
while [ "$RPC_PORT" = "$HTTP_PORT" ]; do RPC_PORT=$(free_port); done

# --- a private influxd ------------------------------------------------------------
cat >"$TMP/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$RPC_PORT"

[meta]
  dir = "$TMP/meta"
  logging-enabled = false

[data]
  dir = "$TMP/data"
  wal-dir = "$TMP/wal"
  query-log-enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$HTTP_PORT"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[ifql]
  enabled = false

[continuous_queries]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false

[[udp]]
  enabled = false
EOF

influxd run -config "$TMP/influxdb.conf" >"$TMP/influxd.log" 2>&1 &
INFLUX_PID=$!
BASE="http://127.0.0.1:$HTTP_PORT"
up=
for _ in $(seq 100); do
	if [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/ping")" = 204 ]; then
		up=1
		break
	fi
	kill -0 "$INFLUX_PID" 2>/dev/null || break
	sleep 0.2
done
if [ -z "$up" ]; then
	echo "influxd did not start:"
	tail -20 "$TMP/influxd.log"
	exit 1
fi
ok "influxd $(influxd version 2>/dev/null | awk '{print $2}') on 127.0.0.1:$HTTP_PORT"

if curl -sS -f -XPOST "$BASE/query" --data-urlencode "q=CREATE DATABASE twamp" >/dev/null; then
	ok "database created"
else
	ko "CREATE DATABASE twamp"
	exit 1
fi

# --- send -------------------------------------------------------------------------
CC=${CC:-cc}
PKG_CFLAGS=$(pkg-config --cflags libcurl libgit2 json-c)
# libcurl through src/io/dynlib.c's dlopen(), as in the daemon: not linked
PKG_LIBS=$(pkg-config --libs json-c)
# shellcheck disable=SC2086
if ! $CC -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Iinclude $PKG_CFLAGS \
	-DTWAMP_LIBCURL_SONAME="\"$(CC=$CC scripts/soname.sh curl)\"" -DTWAMP_LIBGIT2_SONAME="\"$(CC=$CC scripts/soname.sh git2)\"" \
	-o "$TMP/influx_feed" tests/influx_feed.c src/io/sender.c src/io/dynlib.c src/io/spool.c src/io/url.c src/io/encode.c \
	src/record.c src/version.c src/log.c src/ntptime.c $PKG_LIBS -lpthread -lm 2>"$TMP/cc.log"; then
	ko "build tests/influx_feed.c"
	cat "$TMP/cc.log"
	exit 1
fi
ok "build tests/influx_feed.c"

if "$TMP/influx_feed" "$BASE/write?db=twamp&precision=ns" "$TMP/spool" >"$TMP/feed.log" 2>&1; then
	ok "sender delivered every record ($(grep -o 'delivered [0-9]*' "$TMP/feed.log"))"
else
	ko "sender delivered every record"
	sed 's/^/     | /' "$TMP/feed.log"
fi
if [ -z "$(find "$TMP/spool" -name '*.batch' 2>/dev/null)" ]; then
	ok "nothing left in the spool or the reject folder"
else
	ko "nothing left in the spool or the reject folder"
	find "$TMP/spool" -name '*.batch' | head
fi

# --- read back --------------------------------------------------------------------
query() {
	curl -sS -G "$BASE/query" --data-urlencode "db=twamp" --data-urlencode "epoch=ns" \
		--data-urlencode "q=$1"
}

# value QUERY COLUMN: the column of the first row, as JSON (MISSING when absent)
value() {
	query "$1" | python3 -c '
import json, sys
col = sys.argv[1]
try:
    r = json.load(sys.stdin)["results"][0]
    s = r["series"][0]
    print(json.dumps(s["values"][0][s["columns"].index(col)]))
except Exception:
    print("MISSING")
' "$2"
}

# expect NAME QUERY COLUMN WANT: WANT is JSON; numbers compare to 1e-12 relative
expect() {
	local got
	got=$(value "$2" "$3")
	if python3 -c '
import json, sys
got, want = sys.argv[1], sys.argv[2]
try:
    g, w = json.loads(got), json.loads(want)
except Exception:
    sys.exit(1)
if isinstance(w, bool) or isinstance(g, bool) or not isinstance(w, (int, float)):
    sys.exit(0 if g == w and type(g) == type(w) else 1)
sys.exit(0 if isinstance(g, (int, float)) and abs(g - w) <= abs(w) * 1e-12 else 1)
' "$got" "$4"; then
		ok "$1"
	else
		ko "$1: got $got, expected $4"
	fi
}

expect "200 target points" "SELECT count(reachable_bool) FROM twamp" count 200
expect "196 reachable (sent_pkt only where reachable)" "SELECT count(sent_pkt) FROM twamp" count 196
expect "4 unreachable with an error" "SELECT count(error) FROM twamp" count 4
expect "200 distinct to_host" \
	"SELECT count(reachable_bool) FROM (SELECT reachable_bool FROM twamp GROUP BY to_host)" count 200
expect "to_host t000..t199, each once" \
	"SELECT count(reachable_bool) FROM twamp WHERE to_host =~ /^t[01][0-9][0-9]\$/" count 200

W="FROM twamp WHERE to_host = 't123'"
expect "t123 min_rtt_seconds" "SELECT min_rtt_seconds $W" min_rtt_seconds 0.001123
expect "t123 max_rtt_seconds (a whole second)" "SELECT max_rtt_seconds $W" max_rtt_seconds 1.0
expect "t123 sent_pkt" "SELECT sent_pkt $W" sent_pkt 100
expect "t123 lost_pkt" "SELECT lost_pkt $W" lost_pkt 3
expect "t123 loss_ratio" "SELECT loss_ratio $W" loss_ratio 0.03
expect "t123 duplicates_fwd_pkt" "SELECT duplicates_fwd_pkt $W" duplicates_fwd_pkt 1
expect "t123 min_hops_fwd = 255 - max TTL" "SELECT min_hops_fwd $W" min_hops_fwd 0
expect "t123 max_hops_fwd = 255 - min TTL" "SELECT max_hops_fwd $W" max_hops_fwd 5
expect "t123 jitter_rt_seconds" "SELECT jitter_rt_seconds $W" jitter_rt_seconds 0.001
expect "t123 measurement_error_rtt_seconds" "SELECT measurement_error_rtt_seconds $W" \
	measurement_error_rtt_seconds 0.0002
expect "t123 reachable_bool" "SELECT reachable_bool $W" reachable_bool true
expect "t123 clock_sync" "SELECT clock_sync $W" clock_sync false
expect "t123 timestamp_source" "SELECT timestamp_source $W" timestamp_source '"kernel"'
expect "t123 tag dscp" "SELECT sent_pkt, dscp $W" dscp '"59"'
expect "t123 tag mode" "SELECT sent_pkt, mode $W" mode '"control"'
expect "t123 tag from_host" "SELECT sent_pkt, from_host $W" from_host '"feed-probe"'
expect "t123 an unknown value is omitted, not NaN (measurement_error_fwd_seconds)" \
	"SELECT sent_pkt, measurement_error_fwd_seconds $W" measurement_error_fwd_seconds null
expect "t122 measurement_error_fwd_seconds" \
	"SELECT measurement_error_fwd_seconds FROM twamp WHERE to_host = 't122'" \
	measurement_error_fwd_seconds 0.0001
# timestamps keep their nanoseconds: BASE_NS + i * STEP_NS
expect "t005 time in ns" "SELECT reachable_bool FROM twamp WHERE to_host = 't005'" time \
	$((1767225600000000000 + 5 * 1000000007))
expect "t199 time in ns" "SELECT reachable_bool FROM twamp WHERE to_host = 't199'" time \
	$((1767225600000000000 + 199 * 1000000007))

W="FROM twamp WHERE to_host = 't049'"
expect "t049 unreachable" "SELECT reachable_bool $W" reachable_bool false
expect "t049 error with quotes and backslash" "SELECT error $W" error '"timeout \"quoted\" \\ back"'
expect "t049 has no sent_pkt" "SELECT sent_pkt, reachable_bool $W" sent_pkt null

W="FROM twamp WHERE to_host = 't007'"
expect "t007 tag with comma, space, equals and quotes" "SELECT sent_pkt, custom_comment $W" \
	custom_comment '"a, b=c \"d\" e"'
# InfluxDB 1.x keeps an escaped backslash in a tag value doubled; Telegraf and 2.x unescape it
got=$(value "SELECT sent_pkt, description $W" description)
case "$got" in
'"tab here, new line, back\\slash"' | '"tab here, new line, back\\\\slash"')
	ok "t007 tag with control characters and a backslash: $got" ;;
*) ko "t007 tag with control characters and a backslash: got $got" ;;
esac

expect "probe record" "SELECT count(cycle) FROM twamp_probe" count 1
expect "probe duration_seconds" "SELECT duration_seconds FROM twamp_probe" duration_seconds 12.345
expect "probe failed" "SELECT failed FROM twamp_probe" failed 4

# --- field types --------------------------------------------------------------------
types=$(query "SHOW FIELD KEYS" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["results"][0]["series"]:
    for k, t in s["values"]:
        print(s["name"], k, t)
')
check_type() { # measurement field type
	if grep -qx "$1 $2 $3" <<<"$types"; then
		ok "field type $1.$2 is $3"
	else
		ko "field type $1.$2 is $3 (got: $(grep "^$1 $2 " <<<"$types" | cut -d' ' -f3-))"
	fi
}
for f in sent_pkt lost_pkt duplicates_fwd_pkt duplicates_bck_pkt reorder_pkt \
	min_hops_fwd max_hops_fwd min_hops_bck max_hops_bck; do
	check_type twamp $f integer
done
for f in min_rtt_seconds median_rtt_seconds max_rtt_seconds mean_rtt_seconds p95_rtt_seconds \
	p99_rtt_seconds min_latency_fwd_seconds median_latency_fwd_seconds \
	max_latency_fwd_seconds min_latency_bck_seconds jitter_rt_seconds jitter_fwd_seconds \
	measurement_error_rtt_seconds loss_ratio send_lateness_p99_seconds; do
	check_type twamp $f float
done
check_type twamp reachable_bool boolean
check_type twamp clock_sync boolean
check_type twamp error string
check_type twamp timestamp_source string
for f in cycle targets ok failed skipped queue_depth spool_bytes dropped config_errors; do
	check_type twamp_probe $f integer
done
check_type twamp_probe duration_seconds float
# one type per field: SHOW FIELD KEYS lists a field once per type it was written with
dups=$(awk '{print $1, $2}' <<<"$types" | sort | uniq -d)
if [ -z "$dups" ]; then ok "every field has one type"; else ko "fields with several types: $dups"; fi

tags=$(query "SHOW TAG KEYS FROM twamp" | python3 -c '
import json, sys
print(" ".join(v[0] for v in json.load(sys.stdin)["results"][0]["series"][0]["values"]))
')
for t in from_host from_addr to_host to_addr dscp mode custom_comment description; do
	if grep -qw "$t" <<<"$tags"; then ok "tag key $t"; else ko "tag key $t (tags: $tags)"; fi
done


# --- the daemon: one --once cycle over 200 targets into InfluxDB --------------
BIN=${TWAMP_CLIENT:-build/twamp-client}
if [ -x "$BIN" ]; then
	curl -sS -f -XPOST "$BASE/query" --data-urlencode "q=CREATE DATABASE twamp_run" >/dev/null
	"$BIN" responder --listen 0.0.0.0:0 --workers 1 2>"$TMP/resp.log" &
	RPID=$!
	for _ in $(seq 50); do grep -q "TWAMP server on" "$TMP/resp.log" && break; sleep 0.1; done
	RPORT=$(grep "TWAMP server on" "$TMP/resp.log" | sed 's/.*\]:\([0-9]*\).*/\1/')
	mkdir -p "$TMP/run"
	python3 - "$TMP/run" "$RPORT" "$BASE" <<'PY'
import json, sys
d, port, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
json.dump({"Destinations": [{"DestinationURL": base + "/write?db=twamp_run&precision=ns",
                             "DestinationFormat": "influx", "DestinationPassword": "unused",
                             "BatchSize": 50, "FlushInterval": 0.2}],
           "Probe": {"PacketCount": 10, "Interval": 0.01, "LossTimeout": 1,
                     "MaxConcurrentSessions": 100}}, open(d + "/global_config.json", "w"))
json.dump({"Targets": [{"IP": "127.3.%d.%d" % (i // 200, i % 200 + 1), "DSCP": str(i % 8),
                        "Port": port, "Custom_comment": "r%03d" % i} for i in range(200)]},
          open(d + "/targets_list.json", "w"))
PY
	if "$BIN" run --data-dir "$TMP/run" --once >"$TMP/run.out" 2>"$TMP/run.err"; then
		ok "twamp-client run --once over 200 targets exits 0"
	else
		ko "twamp-client run --once over 200 targets exits 0"
		tail -5 "$TMP/run.err"
	fi
	kill $RPID; wait $RPID 2>/dev/null
	rq() {
		curl -sS -G "$BASE/query" --data-urlencode "db=twamp_run" --data-urlencode "q=$1" |
			python3 -c 'import json,sys; s=json.load(sys.stdin)["results"][0]["series"][0]; print(" ".join(str(v) for v in s["values"][0][1:]))'
	}
	got=$(rq "SELECT count(sent_pkt), sum(sent_pkt), sum(lost_pkt), min(min_rtt_seconds) FROM twamp")
	read -r n sent lost minrtt <<<"$got"
	if [ "$n" = 200 ] && [ "$sent" = 2000 ] && [ "$lost" = 0 ] &&
		python3 -c "import sys; sys.exit(0 if 0 < float('$minrtt') < 0.5 else 1)"; then
		ok "InfluxDB holds 200 points from the daemon: 2000 packets sent, 0 lost, min RTT $minrtt s"
	else
		ko "daemon points in InfluxDB (got: $got)"
	fi
	got=$(rq "SELECT count(ok) FROM twamp_probe")
	[ "$got" = 1 ] && ok "one twamp_probe point for the cycle" || ko "twamp_probe points: $got"
	got=$(rq "SELECT count(reachable_bool) FROM twamp WHERE custom_comment = 'r042' AND dscp = '2'")
	[ "$got" = 1 ] && ok "tags of the daemon's points (custom_comment, dscp)" || ko "tag query: $got"
else
	ko "no $BIN: build it first (make)"
fi

echo "influx: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
