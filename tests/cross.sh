#!/bin/bash
# tests/cross.sh QEMU SYSROOT BINARY: a cross-built twamp-client (armhf) under
# qemu-user, the way a Raspberry Pi runs it: the responder, ping in every
# mode (TWAMP open, authenticated, encrypted, mixed; TWAMP Light; STAMP;
# several DSCPs; -R, -M, --json), `run --once` on the demo configuration, and
# `run --once` with a git ConfigSource and an HTTP destination, which makes
# the daemon dlopen() the target's libgit2 and libcurl by the sonames the
# build recorded.  qemu-user has no SO_TIMESTAMPING: every process falls back
# to user-space times, which the checks require to be said and used.
# Everything runs on 127.0.0.1, in a temporary directory removed at the end.
set -u
QEMU=${1:?usage: tests/cross.sh QEMU SYSROOT BINARY}
SYSROOT=${2:?usage: tests/cross.sh QEMU SYSROOT BINARY}
TARGET_BIN=${3:?usage: tests/cross.sh QEMU SYSROOT BINARY}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/util/verdict.sh
. "$HERE/util/verdict.sh"
# shellcheck source=tests/util/peers.sh
. "$HERE/util/peers.sh"
# The scratch directory is a tmpfs in a mount namespace of this script's own.
# A 32-bit process under qemu-user reads directories through the host's
# 64-bit getdents64, and ext4 gives a 64-bit process 64-bit directory hash
# offsets, which qemu cannot hand to 32-bit getdents: libgit2 (Debian armhf
# builds it with a 32-bit off_t) fails with EOVERFLOW.  A real 32-bit or
# compat kernel gives such a process 32-bit hashes; tmpfs gives small offsets
# to everyone.
if [ -z "${TWAMP_CROSS_NS:-}" ]; then
	TWAMP_CROSS_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
TMP=$(mktemp -d /tmp/twamp-cross.XXXXXX)
mount -t tmpfs -o size=256m,mode=0700 tmpfs "$TMP" || { echo "FAIL cannot mount a tmpfs on $TMP (root needed)"; rmdir "$TMP"; exit 1; }
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	umount "$TMP"
	rmdir "$TMP"
}
trap cleanup EXIT
command -v "$QEMU" >/dev/null || { ko "$QEMU not found (apt-get install qemu-user-static)"; echo "cross-test: $pass passed, $fail failed"; exit 1; }
# the binary under qemu, as one command the checks can call
BIN=$TMP/twamp-client
printf '#!/bin/sh\nQEMU_LD_PREFIX=%q exec %q %q "$@"\n' "$SYSROOT" "$(command -v "$QEMU")" "$(realpath "$TARGET_BIN")" >"$BIN"
chmod +x "$BIN"

arch=$(file -b "$TARGET_BIN")
v=$("$BIN" --version 2>&1)
case "$arch" in *"ELF 32-bit LSB"*ARM*) a=ok ;; *) a=no ;; esac
[ "$a" = ok ] && [[ "$v" == "twamp-client "* ]] &&
	ok "the binary is 32-bit ARM and runs under $QEMU ($v)" || ko "binary ($arch; --version: $v)"

# --- the responder: TWAMP (open and keyed modes) and a light/STAMP port ---
"$BIN" responder --listen '[::]:0' --light '[::]:0' --keys "$HERE/data/keys/test.pfs" --workers 1 \
	2>"$TMP/resp.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "light/STAMP reflector on" "$TMP/resp.log" && break; sleep 0.1; done
CTL=$(sed -n 's/.*TWAMP server on \[::\]:\([0-9]*\).*/\1/p' "$TMP/resp.log" | head -1)
LIGHT=$(sed -n 's/.*light\/STAMP reflector on \[::\]:\([0-9]*\).*/\1/p' "$TMP/resp.log" | head -1)
[ -n "$CTL" ] && [ -n "$LIGHT" ] && grep -q "timestamps: receive user space, transmit user space" "$TMP/resp.log" &&
	ok "responder under qemu: control port $CTL, light/STAMP port $LIGHT, user-space timestamps (qemu has no SO_TIMESTAMPING)" ||
	{ ko "responder did not start" "$TMP/resp.log"; echo "cross-test: $pass passed, $fail failed"; exit 1; }

# jcheck FILE EXPECT_SENT EXPECT_MODE: a --json result with every packet back and sane times
jcheck() {
	python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for s in d if isinstance(d, list) else [d]:
    ok = (s["sent"] == int(sys.argv[2]) and s["received"] == s["sent"] and s["lost"] == 0
          and s["mode"] == sys.argv[3] and 0 < s["rtt"]["min"] <= s["rtt"]["max"] < 1.0
          and s["timestamp_source_rx"] == "user" and s["malformed"] == 0)
    if not ok:
        sys.exit("bad session: " + json.dumps(s)[:600])
print(len(d) if isinstance(d, list) else 1)
PY
}
ping_case() { # NAME EXPECT_MODE SENT ARGS...: ping --json, checked by jcheck
	local name=$1 mode=$2 n=$3; shift 3
	"$BIN" ping --json -c "$n" -i 0.01 "$@" >"$TMP/$name.json" 2>"$TMP/$name.err"
	local rc=$? s
	s=$(jcheck "$TMP/$name.json" "$n" "$mode" 2>&1)
	[ $rc -eq 0 ] && [[ "$s" =~ ^[0-9]+$ ]] &&
		ok "ping $name: $s session(s), $n of $n back" || ko "ping $name (rc $rc: $s)" "$TMP/$name.err" "$TMP/$name.json"
}
ping_case open control 20 "127.0.0.1:$CTL"
for m in A E M; do
	ping_case "keyed-$m" control 10 -A $m -u probe -k "$HERE/data/keys/test.pfs" "127.0.0.1:$CTL"
done
ping_case light light 20 --mode light "127.0.0.1:$LIGHT"
ping_case stamp stamp 20 --mode stamp --ssid 7 "127.0.0.1:$LIGHT"
ping_case dscp control 10 -D 0,EF,AF41 "127.0.0.1:$CTL"
ping_case user-timestamps control 10 --timestamps user "127.0.0.1:$CTL"
grep -q '"dscp_rx_fwd": *46' "$TMP/dscp.json" && ok "ping -D 0,EF,AF41: the reflector saw EF (46)" ||
	ko "ping -D: EF not seen by the reflector" "$TMP/dscp.json"

"$BIN" ping -R -c 5 -i 0.01 "127.0.0.1:$CTL" >"$TMP/raw.out" 2>"$TMP/raw.err"; rc=$?
rows=$(awk '$1 ~ /^[0-9]+$/ && NF == 7 && $2 > 0 && $2 <= $3 && $3 <= $4 && $4 <= $5 { n++ } END { print n + 0 }' "$TMP/raw.out")
[ $rc -eq 0 ] && [ "$rows" = 5 ] && ok "ping -R: 5 rows with T1 <= T2 <= T3 <= T4 (64-bit ns on a 32-bit target)" ||
	ko "ping -R (rc $rc, $rows good rows)" "$TMP/raw.out" "$TMP/raw.err"
"$BIN" ping -M -c 5 -i 0.01 "127.0.0.1:$CTL" >"$TMP/m.out" 2>"$TMP/m.err"; rc=$?
[ $rc -eq 0 ] && grep -q '^SENT[[:space:]]5$' "$TMP/m.out" && grep -q '^LOST[[:space:]]0$' "$TMP/m.out" &&
	ok "ping -M: twping's machine-readable keys" || ko "ping -M (rc $rc)" "$TMP/m.out" "$TMP/m.err"

# --- run --once on the demo configuration (make run's), against this responder ---
D=$TMP/demo; mkdir -p "$D"; cp "$HERE/../config_example/demo/"*.json "$D/"
sed -i -e "s/18620/$CTL/g" -e "s/18621/$LIGHT/g" "$D/targets_list.json"
"$BIN" run --data-dir "$D" --once >"$TMP/demo.out" 2>"$TMP/demo.err"; rc=$?
res=$(python3 - "$TMP/demo.out" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
t = {r["custom_comment"]: r for r in recs if r.get("measurement_name") != "twamp_probe"}
up = [c for c in ("demo-control", "demo-ipv6", "demo-stamp") if t.get(c, {}).get("reachable_bool") == 1 and t[c].get("lost_pkt") == 0]
down = t.get("demo-down", {}).get("reachable_bool") == 0
print(len(up), down)
PY
)
# the IPv6 target needs ::1, which a container may lack; the other two must be up
[ $rc -le 3 ] && { [ "$res" = "3 True" ] || { [ "$res" = "2 True" ] && ! ip -6 addr show lo 2>/dev/null | grep -q '::1'; }; } &&
	ok "run --once on the demo: the reachable targets measured without loss, the down one reported ($res)" ||
	ko "run --once on the demo (rc $rc, $res)" "$TMP/demo.err" "$TMP/demo.out"

# --- run --once: a git ConfigSource (libgit2) and an HTTP destination (libcurl) ---
start_sink sink
S=$TMP/src; G=$TMP/dl
mkdir -p "$S" "$G"
python3 - "$S" "$G" "$P" "$CTL" "$LIGHT" "file://$TMP/cfg.git" <<'PY'
import json, sys
src, dl, port, ctl, light, url = sys.argv[1:]
g = {"Probe": {"Schedule": "* * * * *", "PacketCount": 10, "Interval": 0.01, "LossTimeout": 1, "Workers": 1},
     "Destinations": [{"DestinationURL": "http://127.0.0.1:%s/t" % port, "DestinationPassword": "x",
                       "BatchSize": 1, "FlushInterval": 0.2}],
     "ConfigSource": {"ConfigMethod": "git", "ConfigURL": url}}
t = {"Targets": [{"IP": "127.0.0.1", "DSCP": "0", "Port": int(ctl), "Description": "git", "Custom_comment": "git-%d" % i}
                 for i in range(2)]
              + [{"IP": "127.0.0.1", "DSCP": "0", "Port": int(light), "Mode": "stamp", "Description": "git", "Custom_comment": "git-stamp"}]}
for d in (src, dl):
    json.dump(g, open(d + "/global_config.json", "w"))
json.dump(t, open(src + "/targets_list.json", "w"))
json.dump({"Targets": t["Targets"][:1]}, open(dl + "/targets_list.json", "w"))
PY
git -C "$S" init -q -b main && git -C "$S" add -A && git -C "$S" -c user.name=t -c user.email=t@localhost commit -q -m c &&
	git clone -q --bare "$S" "$TMP/cfg.git"
"$BIN" run --data-dir "$G" --once >"$TMP/dl.out" 2>"$TMP/dl.err"; rc=$?
read -r uniq total probes < <(count_records "$TMP/sink.log")
[ $rc -eq 0 ] && [ "$uniq $total $probes" = "3 3 1" ] && grep -q "configuration downloaded from git source" "$TMP/dl.err" &&
	ok "run --once: the configuration cloned with the target's libgit2, 3 records delivered with its libcurl" ||
	ko "run with git source and HTTP destination (rc $rc, delivered: $uniq targets, $total records, $probes probe records)" "$TMP/dl.err"

# --- the host's packages: what ran above installed nothing for armhf or arm64 and removed nothing ---
if [ -n "${HOST_PACKAGES_BEFORE:-}" ]; then
	dpkg-query -W -f '${Package}:${Architecture} ${Version}\n' | sort >"$TMP/host-packages.after"
	gone=$(comm -23 "$HOST_PACKAGES_BEFORE" "$TMP/host-packages.after")
	foreign=$(comm -13 "$HOST_PACKAGES_BEFORE" "$TMP/host-packages.after" |
		grep -v ":$(dpkg --print-architecture) \|:all " || true)
	added=$(comm -13 "$HOST_PACKAGES_BEFORE" "$TMP/host-packages.after" | wc -l)
	[ -z "$gone" ] && [ -z "$foreign" ] && [ "$(dpkg --print-foreign-architectures)" = "" ] &&
		ok "the host's packages: none removed or changed, no foreign architecture, $added host tool(s) added" ||
		ko "the host's packages changed: removed/changed: ${gone:-none}; foreign: ${foreign:-none}; architectures: $(dpkg --print-foreign-architectures | tr '\n' ' ')"
fi

echo "cross-test: $pass passed, $fail failed"
[ "$fail" = 0 ]
