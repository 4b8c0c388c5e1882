#!/bin/bash
# make container-check: the Dockerfile's image, built and run without a Docker
# engine.  podman builds it (--isolation=chroot) on a debian:bookworm-slim base
# made with debootstrap (no registry is needed; only Debian's archive), then
# runs it with runc on the host network against a responder started on the
# host's loopback:
#
#   1. first start on an empty volume: the default configuration is copied in,
#      one cycle (--once) runs, exit 0;
#   2. --once on a configuration whose targets are that responder (TWAMP,
#      STAMP, and a port where nothing listens): one JSON record per target on
#      the container's stdout, PROBE_SOURCE names the probe;
#   3. the daemon as `docker compose up` starts it (the image's CMD, hostname
#      set): unhealthy before its first cycle, records in its log, healthy
#      after the cycle (the image's HEALTHCHECK and `twamp-client health`),
#      runs as uid 10001, `podman stop` (SIGTERM) exits 0;
#   4. a volume that belongs to root (the original client's): refused with the
#      fix as a non-root start; started with --user 0 it is given to twamp;
#   5. the image's responder (the demo's) answers a ping from the host;
#   6. make install's systemd unit in a privileged container that boots
#      systemd: first start, sandbox (dynamic user, no capability, seccomp),
#      records in the journal, adjtimex allowed, health, systemctl stop;
#   7. docker-compose.demo.yml with Debian's docker-compose on podman's Docker
#      API: responder, InfluxDB (influxdb:1.8, or a stand-in built from
#      Debian's influxdb when the image is not there) and probe; the records
#      arrive in InfluxDB; down -v leaves nothing.
#
# Opt-in (not part of make check): the first run debootstraps (~30 s) and
# builds with apt in the build stage (a few minutes).  The base image is cached
# as a tarball in $TWAMP_BASE_CACHE (default /var/tmp/twamp-client-base) and in
# podman's storage; podman keeps the build's layers, so a re-run rebuilds only
# what changed.  Needs root (podman, buildah, debootstrap and runc are
# installed with apt-get when missing; step 7 adds docker-compose and the CNI
# dnsname plugin).
#
# Environment: TWAMP_CLIENT (host binary for the responder, default
# build/twamp-client), IMAGE (default localhost/twamp-client:check),
# CONTAINER_RUNTIME (default runc), BUILD_CONTEXT (default: this tree),
# DEBIAN_MIRROR, TWAMP_BASE_CACHE,
# KEEP=1 (keep the scratch directory).
set -uo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE" || exit 1
BIN=$(realpath "${TWAMP_CLIENT:-build/twamp-client}")
IMAGE=${IMAGE:-localhost/twamp-client:check}
BASE=debian:bookworm-slim
BASE_CACHE=${TWAMP_BASE_CACHE:-/var/tmp/twamp-client-base}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
RUNTIME=${CONTAINER_RUNTIME:-runc}
CONTEXT=${BUILD_CONTEXT:-$HERE}
TWAMP_UID=10001
T0=$(date +%s)
pass=0
fail=0

ok() { echo "  ok: $*"; pass=$((pass + 1)); }
bad() { echo "  FAIL: $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
step() { echo "== [$(($(date +%s) - T0)) s] $*"; }
finish() {
	step "done in $(($(date +%s) - T0)) s"
	echo "container-check: $pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

[ -x "$BIN" ] || { echo "no $BIN: run make first" >&2; exit 1; }

# ---- tools ---------------------------------------------------------------
# podman, buildah, debootstrap, runc, docker-compose and the dnsname plugin
# (step 7): scripts/install-deps.sh --container, which shows apt's error
scripts/install-deps.sh --container || exit 1
if [ "$(id -u)" != 0 ]; then
	echo "container-check needs root (rootful podman, debootstrap)" >&2
	exit 1
fi

# Limits: a container may not get a limit above the host's hard one (where
# CAP_SYS_RESOURCE is withheld, as on this machine, podman's default of
# 1048576 fails), so ask for what the host has.
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
RUN=(podman run --runtime "$RUNTIME" --network=host
	--ulimit "nofile=$NOFILE:$NOFILE" --ulimit nproc=4096:4096)

# ---- base image ----------------------------------------------------------
if podman image exists "$BASE"; then
	step "base image $BASE: in podman's storage"
else
	tarball=$BASE_CACHE/bookworm-slim-rootfs.tar
	if [ ! -s "$tarball" ]; then
		step "base image: debootstrap --variant=minbase bookworm ($MIRROR)"
		mkdir -p "$BASE_CACHE"
		root=$BASE_CACHE/rootfs.tmp
		rm -rf "$root"
		if ! debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$BASE_CACHE/debootstrap.log" 2>&1; then
			tail -20 "$BASE_CACHE/debootstrap.log"
			bad "debootstrap (log: $BASE_CACHE/debootstrap.log)"
			finish
		fi
		# the sources of the official image: the release, its updates, security
		rm -f "$root/etc/apt/sources.list"
		cat >"$root/etc/apt/sources.list.d/debian.sources" <<-EOF
			Types: deb
			URIs: $MIRROR
			Suites: bookworm bookworm-updates
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

			Types: deb
			URIs: ${MIRROR%/debian}/debian-security
			Suites: bookworm-security
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
		tar --numeric-owner -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
		rm -rf "$root"
	fi
	step "base image: importing $tarball as $BASE"
	podman import --change 'CMD ["bash"]' "$tarball" "localhost/$BASE" >/dev/null || { bad "podman import"; finish; }
fi
# FROM debian:bookworm-slim resolves to docker.io/library/... : that name too
podman tag "$BASE" "docker.io/library/$BASE" 2>/dev/null

# ---- build ---------------------------------------------------------------
SCRATCH=$(mktemp -d /tmp/twamp-container-check.XXXXXX)
RESP=""
CTR=twamp-container-check-$$
RCTR=twamp-container-check-responder-$$
SCTR=twamp-container-check-systemd-$$
SVC=""
DEMO=""
cleanup() {
	if [ -n "$SVC" ]; then
		[ -n "$DEMO" ] && DOCKER_HOST="unix://$SCRATCH/podman.sock" \
			docker-compose -p "$DEMO" -f docker-compose.demo.yml down -v >/dev/null 2>&1
		kill "$SVC" 2>/dev/null
		wait "$SVC" 2>/dev/null
	fi
	[ -n "$RESP" ] && kill "$RESP" 2>/dev/null && wait "$RESP" 2>/dev/null
	for c in "$CTR" "$RCTR" "$SCTR"; do podman rm -f -v -t 0 "$c" >/dev/null 2>&1; done
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $SCRATCH"; else rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

step "podman build --isolation=chroot -t $IMAGE $CONTEXT (log: $SCRATCH/build.log)"
tb=$(date +%s)
podman build --isolation=chroot --pull=never --format docker --layers -t "$IMAGE" \
	-f "$CONTEXT/Dockerfile" "$CONTEXT" \
	>"$SCRATCH/build.log" 2>&1
rc=$?
grep -E "^STEP|Synthesis|unit tests skipped|Using cache" "$SCRATCH/build.log" | sed 's/^/  | /'
if [ $rc != 0 ]; then
	tail -40 "$SCRATCH/build.log" | sed 's/^/  | /'
	bad "image build (exit $rc)"
	KEEP=1
	finish
fi
ok "image built in $(($(date +%s) - tb)) s ($(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
if grep "Synthesis" "$SCRATCH/build.log" | grep -qv "Failing: 0 | Crashing: 0"; then
	bad "unit tests in the build stage"
fi

# ---- the image's configuration -------------------------------------------
inspect() { podman image inspect --format "$1" "$IMAGE"; }
check "runs as user twamp" test "$(inspect '{{.Config.User}}')" = twamp
check "HEALTHCHECK runs twamp-client health" \
	grep -q 'twamp-client health --data-dir /config/data\|"twamp-client","health","--data-dir","/config/data"' \
	<<<"$(inspect '{{json .Config.Healthcheck}}')"
check "no exposed port" test "$(inspect '{{json .Config.ExposedPorts}}')" = null
check "volume /config" grep -q '"/config"' <<<"$(inspect '{{json .Config.Volumes}}')"
check "entrypoint, CMD run" test "$(inspect '{{json .Config.Entrypoint}} {{json .Config.Cmd}}')" \
	= '["/usr/local/bin/twamp-client-entrypoint"] ["run"]'
out=$("${RUN[@]}" --rm --no-healthcheck "$IMAGE" sh -c 'id -u; id -g; ls /usr/share/doc/twamp-client/examples; command -v gcc cc make || true')
check "uid 10001, gid 10001, examples in the image, no compiler" \
	test "$out" = "$(printf '10001\n10001\nREADME.md\ndemo\nlater\nseed-git\nseed-web\ntelegraf.conf')"

# ---- a responder on the host ---------------------------------------------
step "responder on the host's loopback"
for try in 1 2 3 4 5; do
	PORT=$((20000 + RANDOM % 20000))
	"$BIN" responder --listen "127.0.0.1:$PORT" --light "127.0.0.1:$((PORT + 1))" --workers 1 \
		2>"$SCRATCH/responder.log" &
	RESP=$!
	for _ in $(seq 30); do
		grep -q "reflector on" "$SCRATCH/responder.log" && break
		kill -0 "$RESP" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "reflector on" "$SCRATCH/responder.log" && break
	kill "$RESP" 2>/dev/null
	wait "$RESP" 2>/dev/null
	RESP=""
done
[ -n "$RESP" ] || { cat "$SCRATCH/responder.log"; bad "responder could not start"; finish; }
echo "  TWAMP on 127.0.0.1:$PORT, STAMP on 127.0.0.1:$((PORT + 1)), nothing on $((PORT + 2))"

VOL=$SCRATCH/volume
mkdir -p "$VOL"
chown "$TWAMP_UID:$TWAMP_UID" "$VOL"

# ---- 1. first start: the default configuration ---------------------------
step "1. first start on an empty volume (--once)"
"${RUN[@]}" --rm --no-healthcheck -v "$VOL:/config" "$IMAGE" --once >"$SCRATCH/1.out" 2>"$SCRATCH/1.err"
rc=$?
sed 's/^/  | /' "$SCRATCH/1.err"
check "exit 0" test $rc = 0
check "default configuration copied into data/" \
	diff -r packaging/default-data "$VOL/data" -x health -x spool -x config.old -x repo
check "files belong to uid $TWAMP_UID" test -z "$(find "$VOL" ! -uid $TWAMP_UID)"
check "a twamp_probe record on stdout" grep -q '"measurement_name":"twamp_probe"' "$SCRATCH/1.out"
check "the first start is logged" grep -q "first run: copied the default configuration" "$SCRATCH/1.err"

# ---- 2. records ------------------------------------------------------------
step "2. --once against the host's responder"
rm -f "$VOL"/data/twamp_*.json
cat >"$VOL/data/global_config.json" <<EOF
{ "Probe": { "Schedule": "* * * * *", "PacketCount": 20, "Interval": 0.02, "LossTimeout": 1, "Workers": 1 } }
EOF
cat >"$VOL/data/targets_list.json" <<EOF
{ "Targets": [
  { "IP": "127.0.0.1", "DSCP": "0", "Port": $PORT, "Custom_comment": "check-control" },
  { "IP": "127.0.0.1", "DSCP": "46", "Port": $((PORT + 1)), "Mode": "stamp", "Custom_comment": "check-stamp" },
  { "IP": "127.0.0.1", "DSCP": "0", "Port": $((PORT + 2)), "Custom_comment": "check-down" }
] }
EOF
chown -R "$TWAMP_UID:$TWAMP_UID" "$VOL"
"${RUN[@]}" --rm --no-healthcheck -v "$VOL:/config" -e PROBE_SOURCE=container-check "$IMAGE" --once \
	>"$SCRATCH/2.out" 2>"$SCRATCH/2.err"
rc=$?
sed 's/^/  | /' "$SCRATCH/2.err"
check "exit 0" test $rc = 0
echo "  records:"
sed 's/^/  > /' "$SCRATCH/2.out" | cut -c1-200
check "one record per target: control and STAMP reachable with 20 packets and no loss, the closed port unreachable, from_host = PROBE_SOURCE" \
	python3 - "$SCRATCH/2.out" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {r.get("custom_comment"): r for r in recs if r["measurement_name"] == "twamp_twping1"}
probe = [r for r in recs if r["measurement_name"] == "twamp_probe"]
ok = set(by) == {"check-control", "check-stamp", "check-down"} and len(probe) == 1
for c in ("check-control", "check-stamp"):
    r = by.get(c, {})
    ok = ok and r.get("reachable_bool") == 1 and r.get("sent_pkt") == 20 and r.get("lost_pkt") == 0 \
        and r.get("to_host") == "127.0.0.1" and r.get("median_rtt_seconds") is not None
ok = ok and by.get("check-down", {}).get("reachable_bool") == 0
ok = ok and all(r.get("from_host") == "container-check" for r in recs)
ok = ok and probe[0].get("targets") == 3
sys.exit(0 if ok else 1)
EOF

# ---- 3. the daemon -----------------------------------------------------------
step "3. the daemon (the image's CMD), hostname site1-twamp-client"
# (podman schedules the HEALTHCHECK with systemd timers; with no systemd here
# it says so on stderr: kept in podman.err; `podman healthcheck run` works)
"${RUN[@]}" -d --name "$CTR" --hostname site1-twamp-client -v "$VOL:/config" "$IMAGE" \
	>/dev/null 2>>"$SCRATCH/podman.err"
check "started" test "$(podman inspect --format '{{.State.Running}}' "$CTR")" = true
check "runs as uid $TWAMP_UID, not root" test "$(podman exec "$CTR" id -u)" = $TWAMP_UID
check "the daemon process is twamp-client run (PID 1, exec'd by the entrypoint)" \
	grep -q "^twamp-client run --data-dir /config/data" <<<"$(podman exec "$CTR" cat /proc/1/cmdline | tr '\0' ' ')"
out=$(podman exec "$CTR" twamp-client health --data-dir /config/data)
rc=$?
echo "  before the first cycle: $out"
check "unhealthy before the first cycle (the previous run's health file was removed)" test $rc = 1
echo "  waiting for the first cycle (next minute, starts spread over the minute)"
deadline=$(($(date +%s) + 150))
until podman logs "$CTR" 2>&1 | grep -q "cycle [0-9]*: 3 targets, [0-9]* ok"; do
	if [ "$(date +%s)" -gt "$deadline" ] || [ "$(podman inspect --format '{{.State.Running}}' "$CTR")" != true ]; then
		break
	fi
	sleep 2
done
podman logs "$CTR" >"$SCRATCH/3.out" 2>"$SCRATCH/3.err"
sed 's/^/  | /' "$SCRATCH/3.err"
check "a cycle completed" grep -q "cycle [0-9]*: 3 targets, 2 ok" "$SCRATCH/3.err"
check "its records in the container's stdout, from_host = the hostname" \
	test "$(grep -c '"measurement_name":"twamp_twping1".*"from_host":"site1-twamp-client"' "$SCRATCH/3.out")" = 3
out=$(podman exec "$CTR" twamp-client health --data-dir /config/data)
rc=$?
echo "  after the cycle: $out"
check "twamp-client health: healthy" test $rc = 0
out=$(podman healthcheck run "$CTR" 2>&1)
rc=$?
echo "  podman healthcheck run: ${out:-(no output)}, exit $rc"
check "the image's HEALTHCHECK passes" test $rc = 0
ts=$(date +%s.%N)
podman stop -t 30 "$CTR" >/dev/null 2>>"$SCRATCH/podman.err"
te=$(date +%s.%N)
podman logs "$CTR" >/dev/null 2>"$SCRATCH/3b.err"
check "SIGTERM: stopped in $(awk "BEGIN { printf \"%.1f\", $te - $ts }") s, exit code 0" \
	test "$(podman inspect --format '{{.State.ExitCode}}' "$CTR")" = 0
check "SIGTERM: the daemon drained (logged)" grep -q "signal 15: stopping" "$SCRATCH/3b.err"
podman rm -v "$CTR" >/dev/null 2>>"$SCRATCH/podman.err"

# ---- 4. a volume that belongs to root ---------------------------------------
step "4. a volume that belongs to root (as the original client left it)"
chown -R 0:0 "$VOL"
mkdir -p "$VOL/bin" "$VOL/cron.d"
"${RUN[@]}" --rm --no-healthcheck -v "$VOL:/config" "$IMAGE" --once >/dev/null 2>"$SCRATCH/4a.err"
rc=$?
sed 's/^/  | /' "$SCRATCH/4a.err"
check "as twamp: refused (exit 1) with the fix" \
	test $rc = 1 -a -n "$(grep 'cannot write /config/data' "$SCRATCH/4a.err")"
"${RUN[@]}" --rm --no-healthcheck --user 0 -v "$VOL:/config" "$IMAGE" --once >"$SCRATCH/4b.out" 2>"$SCRATCH/4b.err"
rc=$?
sed 's/^/  | /' "$SCRATCH/4b.err"
check "--user 0: exit 0, three records" \
	test $rc = 0 -a "$(grep -c twamp_twping1 "$SCRATCH/4b.out")" = 3
check "--user 0: the volume now belongs to twamp" test -z "$(find "$VOL" ! -uid $TWAMP_UID)"
check "--user 0: the daemon ran as twamp (its health file is twamp's)" \
	test "$(stat -c %u "$VOL/data/health")" = $TWAMP_UID
check "bin/ and cron.d/ of the original: a note says they are unused" \
	grep -q "are not used any more" "$SCRATCH/4b.err"

# ---- 5. the image's responder (the demo's) -------------------------------------
step "5. the image's responder"
RPORT=$((PORT + 3))
"${RUN[@]}" -d --no-healthcheck --name "$RCTR" "$IMAGE" responder --listen "127.0.0.1:$RPORT" --workers 1 >/dev/null
for _ in $(seq 50); do podman logs "$RCTR" 2>&1 | grep -q "TWAMP server on" && break; sleep 0.1; done
out=$("$BIN" ping -c 10 -i 0.01 "127.0.0.1:$RPORT" 2>&1)
rc=$?
echo "$out" | tail -4 | sed 's/^/  | /'
check "a ping from the host to the responder in the container" test $rc = 0
podman stop -t 10 "$RCTR" >/dev/null
check "the responder stops on SIGTERM with exit 0" \
	test "$(podman inspect --format '{{.State.ExitCode}}' "$RCTR")" = 0
podman rm -v "$RCTR" >/dev/null 2>>"$SCRATCH/podman.err"

# ---- 6. the systemd unit, in a container that boots systemd -------------------
step "6. make install + twamp-client.service under systemd (a privileged container booting systemd)"
mkdir -p "$SCRATCH/systemd"
if ! make -s install DESTDIR="$SCRATCH/systemd/stage" PREFIX=/usr/local >"$SCRATCH/systemd/install.log" 2>&1; then
	cat "$SCRATCH/systemd/install.log"
	bad "make install"
	finish
fi
cat >"$SCRATCH/systemd/Containerfile" <<'END'
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends systemd libnss-systemd \
        libcurl4 libjson-c5 libgit2-1.5 liburcu8 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY stage/ /
CMD ["/lib/systemd/systemd"]
END
if ! podman build --isolation=chroot --pull=never --layers -t "$IMAGE-systemd" "$SCRATCH/systemd" \
	>"$SCRATCH/systemd/build.log" 2>&1; then
	tail -20 "$SCRATCH/systemd/build.log"
	bad "systemd image build"
	finish
fi
"${RUN[@]}" -d --no-healthcheck --privileged --systemd=always --name "$SCTR" "$IMAGE-systemd" >/dev/null
state=""
for _ in $(seq 100); do
	state=$(podman exec "$SCTR" systemctl is-system-running 2>/dev/null)
	case $state in running | degraded) break ;; esac
	sleep 0.2
done
check "systemd boots in the container (state: ${state:-none})" test "$state" = running -o "$state" = degraded
sx() { podman exec "$SCTR" sh -c "$1"; }
sx 'systemctl start twamp-client'
sleep 1
check "first start: active, the default configuration copied into the state directory" \
	test "$(sx 'systemctl is-active twamp-client; ls /var/lib/twamp-client/')" = \
	"$(printf 'active\ntwamp_global_config.json\ntwamp_targets_list.json')"
status=$(sx 'grep -E "^(Uid|CapEff|NoNewPrivs|Seccomp):" /proc/$(systemctl show -p MainPID --value twamp-client)/status')
echo "$status" | sed 's/^/  | /'
check "sandbox: a dynamic unprivileged user, no capability, no_new_privs, seccomp filter" \
	test -z "$(awk '$1 == "Uid:" && $2 == 0' <<<"$status")" -a \
	-n "$(grep -x 'CapEff:[[:space:]]*0000000000000000' <<<"$status")" -a \
	-n "$(grep -x 'NoNewPrivs:[[:space:]]*1' <<<"$status")" -a \
	-n "$(grep -x 'Seccomp:[[:space:]]*2' <<<"$status")"
sx "cd /var/lib/twamp-client && rm -f twamp_*.json &&
	echo '{ \"Probe\": { \"Schedule\": \"* * * * *\", \"PacketCount\": 20, \"Interval\": 0.02, \"LossTimeout\": 1, \"Workers\": 1 } }' >global_config.json &&
	echo '{ \"Targets\": [ { \"IP\": \"127.0.0.1\", \"DSCP\": \"0\", \"Port\": $PORT, \"Custom_comment\": \"unit-control\" },
		{ \"IP\": \"127.0.0.1\", \"DSCP\": \"46\", \"Port\": $((PORT + 1)), \"Mode\": \"stamp\", \"Custom_comment\": \"unit-stamp\" } ] }' >targets_list.json &&
	chown twamp-client:twamp-client ./*.json && echo PROBE_SOURCE=unit-check >/etc/default/twamp-client &&
	systemctl restart twamp-client"
echo "  waiting for a cycle (next minute)"
deadline=$(($(date +%s) + 150))
until sx 'journalctl -u twamp-client -o cat' 2>/dev/null | grep -q "cycle [0-9]*: 2 targets, [0-9]* ok"; do
	[ "$(date +%s)" -gt "$deadline" ] && break
	sleep 2
done
sx 'journalctl -u twamp-client -o cat' >"$SCRATCH/6.journal" 2>&1
grep -v '^{' "$SCRATCH/6.journal" | sed 's/^/  | /'
check "records in the journal: both targets reachable, no loss, from_host = PROBE_SOURCE of /etc/default" \
	test "$(grep -c '"measurement_name":"twamp_twping1","timestamp":[0-9.]*,"from_host":"unit-check".*"reachable_bool":1,"sent_pkt":20,"lost_pkt":0,' "$SCRATCH/6.journal")" = 2
# The system-call filter lets adjtimex through: the records carry the clock's
# own error estimate, not the 1 s the probe assumes when it cannot ask.
host_err=$("$BIN" ping -c 2 -i 0.01 --json "127.0.0.1:$PORT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["maxerr"])')
unit_err=$(grep -o '"measurement_error_rtt_seconds":[0-9.e+-]*' "$SCRATCH/6.journal" | head -1 | cut -d: -f2)
check "adjtimex allowed: the records' error estimate (${unit_err:-none} s) is the host's (${host_err:-none} s)" \
	python3 -c "import sys; sys.exit(not abs(float('${unit_err:-0}') - float('${host_err:-1}')) < 1e-9)"
out=$(sx 'twamp-client health --data-dir /var/lib/twamp-client')
rc=$?
echo "  $out"
check "twamp-client health on the state directory: healthy" test $rc = 0
sx 'systemctl stop twamp-client'
check "systemctl stop: SIGTERM, the service ended with success" \
	test "$(sx 'systemctl show -p Result --value twamp-client; systemctl show -p ExecMainStatus --value twamp-client')" \
	= "$(printf 'success\n0')"
podman rm -f -v -t 0 "$SCTR" >/dev/null 2>&1

# ---- 7. the demo: docker-compose.demo.yml, end to end ---------------------------
step "7. docker-compose.demo.yml: docker-compose on podman's Docker API, responder and InfluxDB containers"
command -v docker-compose >/dev/null || { bad "docker-compose is missing (scripts/install-deps.sh --container)"; finish; }
# influxdb:1.8 cannot be pulled here: a stand-in from Debian's influxdb, unless
# the real image is there
influx_image=docker.io/library/influxdb:1.8
if podman image exists "$influx_image" &&
	[ -z "$(podman image inspect --format '{{index .Labels "org.twamp-client.stand-in"}}' "$influx_image")" ]; then
	echo "  influxdb:1.8: the real image"
elif ! podman build --isolation=chroot --pull=never --layers --label org.twamp-client.stand-in=influxdb \
	-t "$influx_image" docker/test-influxdb >"$SCRATCH/influx-build.log" 2>&1; then
	tail -20 "$SCRATCH/influx-build.log"
	bad "influxdb:1.8 stand-in build"
	finish
else
	echo "  influxdb:1.8: a stand-in (docker/test-influxdb: Debian's influxdb), no registry here"
fi
podman tag "$IMAGE" localhost/twamp-client:latest docker.io/library/twamp-client:latest
cat >"$SCRATCH/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=4096:4096"]
[engine]
runtime = "$RUNTIME"
EOF
SOCK=$SCRATCH/podman.sock
CONTAINERS_CONF=$SCRATCH/containers.conf podman system service --time=0 "unix://$SOCK" \
	>"$SCRATCH/podman-service.log" 2>&1 &
SVC=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
DEMO=twamp-client-demo-check-$$
DC=(env DOCKER_HOST="unix://$SOCK" docker-compose -p "$DEMO" -f docker-compose.demo.yml)
"${DC[@]}" up -d --no-build >"$SCRATCH/demo-up.log" 2>&1
rc=$?
sed 's/^/  | /' "$SCRATCH/demo-up.log"
check "docker-compose up -d: three containers" test $rc = 0 -a \
	"$(podman ps --filter "label=com.docker.compose.project=$DEMO" --format '{{.Names}}' | wc -l)" = 3
echo "  waiting for records in InfluxDB (a cycle a minute)"
deadline=$(($(date +%s) + 180))
rows=""
while [ "$(date +%s)" -le "$deadline" ]; do
	rows=$("${DC[@]}" exec -T demo-influxdb influx -database twamp -format csv \
		-execute 'SELECT custom_comment, reachable_bool, lost_pkt, from_host FROM twamp' 2>/dev/null)
	[ "$(grep -c ',demo-' <<<"$rows")" -ge 3 ] && break
	sleep 5
done
"${DC[@]}" logs --no-color demo-probe >"$SCRATCH/demo-probe.log" 2>&1
grep -v '^Attaching' "$SCRATCH/demo-probe.log" | cut -c1-220 | sed 's/^/  | /'
echo "$rows" | head -7 | sed 's/^/  > /'
check "InfluxDB has the probe's records: control and STAMP reachable without loss, the closed port unreachable" \
	test -n "$(grep ',demo-control,true,0,demo-probe$' <<<"$rows")" -a \
	-n "$(grep ',demo-stamp,true,0,demo-probe$' <<<"$rows")" -a \
	-n "$(grep ',demo-down,false,,demo-probe$' <<<"$rows")"
check "the probe's volume started from demo-data" \
	grep -q "copied the default configuration from /usr/share/twamp-client/demo-data" "$SCRATCH/demo-probe.log"
"${DC[@]}" down -v >"$SCRATCH/demo-down.log" 2>&1
rc=$?
check "docker-compose down -v: nothing left" test $rc = 0 -a \
	-z "$(podman ps -a --filter "label=com.docker.compose.project=$DEMO" --format '{{.Names}}')" -a \
	-z "$(podman volume ls --format '{{.Name}}' | grep "^${DEMO}_")"
kill "$SVC" 2>/dev/null
wait "$SVC" 2>/dev/null
SVC=""

finish
