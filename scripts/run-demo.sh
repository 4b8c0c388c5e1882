#!/bin/bash
# `make run`: until the probe daemon exists, start a responder on loopback and
# measure it with `twamp-client ping` (control, light and STAMP modes).
set -eu
BIN=${1:-build/twamp-client}
LOG=$(mktemp)
"$BIN" responder --listen 127.0.0.1:0 --light 127.0.0.1:0 --workers 1 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; cat "$LOG" >&2; rm -f "$LOG"' EXIT
for _ in $(seq 50); do grep -q "reflector on" "$LOG" && break; sleep 0.1; done
CTL=$(grep "TWAMP server on" "$LOG" | sed 's/.*\]:\([0-9]*\).*/\1/')
LIGHT=$(grep "reflector on" "$LOG" | sed 's/.*\]:\([0-9]*\).*/\1/')
echo "== twamp-client ping -c 20 -i 0.05 127.0.0.1:$CTL   (TWAMP with TWAMP-Control)"
"$BIN" ping -c 20 -i 0.05 "127.0.0.1:$CTL"
echo
echo "== twamp-client ping --mode stamp -c 20 -i 0.05 -M 127.0.0.1:$LIGHT   (STAMP, twping's -M keys)"
"$BIN" ping --mode stamp -c 20 -i 0.05 -M "127.0.0.1:$LIGHT"
