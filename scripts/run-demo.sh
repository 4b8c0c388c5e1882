#!/bin/bash
# `make run`: the probe daemon on its embedded default.  Starts a responder on
# loopback (TWAMP on port 18620, STAMP/light on 18621, IPv4 and IPv6), copies
# config_example/demo/ (four targets on that responder, one of them down on
# purpose; no destination, so records print to stdout as JSON lines) to a
# scratch data directory, measures once at once, then keeps running on the
# demo schedule (every minute).  Ctrl-C stops both cleanly.
set -u
BIN=${1:-build/twamp-client}
HERE=$(cd "$(dirname "$0")/.." && pwd)
DATA=$(mktemp -d /tmp/twamp-demo.XXXXXX)
cp "$HERE"/config_example/demo/*.json "$DATA/"
"$BIN" responder --listen '[::]:18620' --light '[::]:18621' --workers 1 2>"$DATA/responder.log" &
RESP=$!
cleanup() {
	kill "$RESP" 2>/dev/null
	wait "$RESP" 2>/dev/null
	echo "responder: $(tail -1 "$DATA/responder.log")" >&2
	rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 0' INT TERM
for _ in $(seq 50); do grep -q "reflector on" "$DATA/responder.log" && break; sleep 0.1; done
if ! grep -q "reflector on" "$DATA/responder.log"; then
	cat "$DATA/responder.log" >&2
	echo "the demo responder could not start (ports 18620/18621 in use?)" >&2
	exit 1
fi
echo "== twamp-client run --data-dir $DATA --once" >&2
"$BIN" run --data-dir "$DATA" --once
echo "== twamp-client run --data-dir $DATA   (a cycle every minute; Ctrl-C stops)" >&2
"$BIN" run --data-dir "$DATA" &
RUN=$!
wait $RUN
