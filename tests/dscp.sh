#!/bin/bash
# DSCP and ECN monitoring (RFC 7750) against re-marking on a real path: the
# client and the responder in two network namespaces joined by a veth pair,
# with iptables (mangle table) re-marking DSCP or setting CE in one direction
# at a time.  The records must show where the DS field changed.  Needs root;
# installs iptables when missing.  TWAMP_CLIENT names the binary.
set -u
BIN=$(readlink -f "${TWAMP_CLIENT:-build/twamp-client}")
TMP=$(mktemp -d)
NS_C=tdscp-c-$$ NS_R=tdscp-r-$$
pass=0 fail=0 RESP_PID=

cleanup() {
	[ -n "$RESP_PID" ] && kill "$RESP_PID" 2>/dev/null && wait "$RESP_PID" 2>/dev/null
	ip netns delete "$NS_C" 2>/dev/null
	ip netns delete "$NS_R" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$TMP/out" ] && sed 's/^/     | /' "$TMP/out" | head -30; }

if [ "$(id -u)" != 0 ]; then
	echo "dscp: needs root for network namespaces and iptables; run: sudo make check" >&2
	exit 1
fi
# iptables, iproute2: scripts/install-deps.sh --test (apt's error when it cannot)
"$(dirname "$0")/../scripts/install-deps.sh" --test || { echo "dscp: cannot install the test dependencies" >&2; exit 1; }
command -v iptables >/dev/null && command -v ip >/dev/null || { echo "dscp: iptables or ip is missing" >&2; exit 1; }

ip netns add "$NS_C" && ip netns add "$NS_R" &&
ip link add tdc$$ netns "$NS_C" type veth peer name tdr$$ netns "$NS_R" &&
ip -n "$NS_C" addr add 10.99.0.1/24 dev tdc$$ && ip -n "$NS_R" addr add 10.99.0.2/24 dev tdr$$ &&
ip -n "$NS_C" link set tdc$$ up && ip -n "$NS_R" link set tdr$$ up &&
ip -n "$NS_C" link set lo up && ip -n "$NS_R" link set lo up || { echo "dscp: cannot build the namespaces"; exit 1; }

start_responder() {
	ip netns exec "$NS_R" "$BIN" responder --listen 10.99.0.2:862 --workers 1 "$@" 2>"$TMP/resp.log" &
	RESP_PID=$!
	for _ in $(seq 50); do
		grep -q "TWAMP server on" "$TMP/resp.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "responder did not start:"; cat "$TMP/resp.log"; exit 1
}
stop_responder() { kill "$RESP_PID"; wait "$RESP_PID" 2>/dev/null; RESP_PID=; }

# ping -D EF --ecn ect0 as JSON; then field checks "key=value" with python
measure() {
	ip netns exec "$NS_C" "$BIN" ping -c 20 -i 0.005 -D EF --ecn ect0 --json "$@" 10.99.0.2 >"$TMP/out" 2>&1
}
fields() { # name, key=value...
	local name=$1; shift
	if python3 - "$TMP/out" "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    want = json.loads(v)
    if d.get(k, "missing") != want:
        bad.append("%s is %r, want %r" % (k, d.get(k, "missing"), want))
if bad:
    print("; ".join(bad))
    sys.exit(1)
PY
	then ok "$name"; else ko "$name"; fi
}
mangle() { # namespace, iptables rule arguments (added to PREROUTING)
	local ns=$1; shift
	ip netns exec "$ns" iptables -t mangle -F PREROUTING
	[ $# -gt 0 ] && ip netns exec "$ns" iptables -t mangle -A PREROUTING -p udp "$@"
}

start_responder
measure
fields "clean path: EF and ECT(0) seen at both ends" received=20 dscp_tx=46 dscp_rx_fwd=46 \
	dscp_rx_bck=46 ecn_tx=2 ecn_rx_fwd=2 ecn_rx_bck=2 ecn_ce_fwd=0 ecn_ce_bck=0 dscp_remarked=false \
	'extensions=["individual-session-control", "dscp-ecn"]'

mangle "$NS_R" -j DSCP --set-dscp 10
measure
fields "forward re-marked to AF11: dscp_rx_fwd 10, dscp_remarked" received=20 dscp_rx_fwd=10 \
	dscp_rx_bck=46 dscp_remarked=true
mangle "$NS_R"

mangle "$NS_C" -j DSCP --set-dscp 0
measure
fields "backward bleached to 0: dscp_rx_bck 0, dscp_remarked" received=20 dscp_rx_fwd=46 \
	dscp_rx_bck=0 dscp_remarked=true
mangle "$NS_C"

mangle "$NS_R" -j TOS --set-tos 0x03/0x03
measure
fields "forward congestion marks: ecn_rx_fwd CE on all 20" received=20 ecn_rx_fwd=3 ecn_ce_fwd=20 \
	ecn_ce_bck=0 dscp_rx_fwd=46 dscp_remarked=false
mangle "$NS_R"

mangle "$NS_C" -j TOS --set-tos 0x03/0x03
measure
fields "backward congestion marks: ecn_ce_bck 20" received=20 ecn_ce_bck=20 ecn_ce_fwd=0
mangle "$NS_C"

# the records of the daemon path use the same summary: -M shows the keys too
ip netns exec "$NS_C" "$BIN" ping -c 5 -i 0.01 -D AF41 -M 10.99.0.2 >"$TMP/out" 2>&1
grep -qx $'DSCP_RX_FWD\t34' "$TMP/out" && grep -qx $'DSCP_REMARKED\t0' "$TMP/out" &&
	ok "-M: DSCP_RX_FWD and DSCP_REMARKED" || ko "-M keys"
stop_responder

# a reflector that does not offer the extension: we still see our own side
start_responder --extensions none
mangle "$NS_C" -j DSCP --set-dscp 8
measure
fields "reflector without RFC 7750: backward re-marking still detected" received=20 dscp_rx_fwd=null \
	dscp_rx_bck=8 dscp_remarked=true 'extensions=[]'
mangle "$NS_C"
stop_responder

echo "dscp: $pass passed, $fail failed"
[ $fail -eq 0 ]
