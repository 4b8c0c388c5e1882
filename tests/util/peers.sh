# shellcheck shell=bash
# The local peers of the shell suites, sourced by them (bash).  They use the
# suite's $HERE (its tests/ directory) and $TMP, and append what they start
# to its PIDS array, which the suite's cleanup kills.
#   start_sink NAME [STATUSFILE]  tests/util/httpsink.py on 127.0.0.1, logging to
#                                 $TMP/NAME.log; sets P to its port; 1 if it
#                                 did not start within 5 s
#   count_records LOG             "UNIQUE TOTAL PROBES" over the 2xx requests of
#                                 a sink log: distinct custom_comment values,
#                                 target records, twamp_probe records
start_sink() {
	rm -f "$TMP/$1.port"
	touch "$TMP/$1.log"
	python3 "$HERE/util/httpsink.py" "$TMP/$1.port" "$TMP/$1.log" ${2:+"$2"} </dev/null >/dev/null 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do [ -s "$TMP/$1.port" ] && break; sleep 0.1; done
	P=$(cat "$TMP/$1.port" 2>/dev/null)
	[ -n "$P" ] || { echo "the HTTP sink $1 did not start" >&2; return 1; }
}

count_records() {
	python3 - "$1" <<'PY'
import json, sys, collections
c = collections.Counter(); probes = 0
for line in open(sys.argv[1]):
    req = json.loads(line)
    if not 200 <= req["status"] < 300:
        continue
    for r in json.loads(req["body"]):
        if r["measurement_name"] == "twamp_probe":
            probes += 1
        else:
            c[r["custom_comment"]] += 1
print(len(c), sum(c.values()), probes)
PY
}
