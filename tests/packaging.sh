#!/bin/bash
# make packaging-test: what is installed and deployed, without a container
# engine.
#
#   - make install DESTDIR=... PREFIX=/usr/local and PREFIX=/usr: the exact
#     file list, modes, the unit's paths rewritten for the prefix;
#   - the systemd unit: systemd-analyze verify, and its sandbox's exposure
#     (systemd-analyze security --offline) below 3.0;
#   - the man page: groff without warnings, every command and option of every
#     --help documented;
#   - the default and demo data directories pass check-config;
#   - docker-compose.yml with docker-compose.override.yml, and
#     docker-compose.demo.yml: `docker-compose config` (Debian's docker-compose,
#     installed with apt-get when missing and root) and what they must say;
#   - the Dockerfile names no architecture; the entrypoint parses.
#
# Ends with "packaging: N passed, M failed" and exits 1 on any failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE" || exit 1
MAKE=${MAKE:-make}
BIN=$(realpath "${TWAMP_CLIENT:-build/twamp-client}")
pass=0
fail=0
TMP=$(mktemp -d /tmp/twamp-packaging.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

[ -x "$BIN" ] || { echo "no $BIN: run make first" >&2; exit 1; }
# systemd (systemd-analyze), man-db and procps (which verify looks for), groff,
# docker-compose: scripts/install-deps.sh --test installs them; one it cannot
# install is a failure with apt's error, and the checks that need it fail too
check "test dependencies (scripts/install-deps.sh --test)" scripts/install-deps.sh --test

# ---- make install ----------------------------------------------------------
expected_files() { # PREFIX
	local p=$1
	{
		echo "$p/bin/twamp-client"
		echo "$p/lib/systemd/system/twamp-client.service"
		echo "$p/share/man/man1/twamp-client.1"
		echo "$p/share/doc/twamp-client/README.md"
		find config_example -type f | sed "s|^config_example/|$p/share/doc/twamp-client/examples/|"
		find packaging/default-data -type f | sed "s|^packaging/|$p/share/twamp-client/|"
	} | sort
}

for prefix in /usr/local /usr; do
	dest=$TMP/dest$(echo "$prefix" | tr / _)
	if ! $MAKE -s install DESTDIR="$dest" PREFIX="$prefix" >"$TMP/install.log" 2>&1; then
		cat "$TMP/install.log"
		bad "make install DESTDIR=$dest PREFIX=$prefix"
		continue
	fi
	ok "make install DESTDIR=... PREFIX=$prefix"
	(cd "$dest" && find . -type f | sed 's|^\.||' | sort) >"$TMP/got"
	expected_files "$prefix" >"$TMP/want"
	if diff -u "$TMP/want" "$TMP/got" >"$TMP/diff"; then
		ok "PREFIX=$prefix: the expected $(wc -l <"$TMP/want") files, nothing else"
	else
		cat "$TMP/diff"
		bad "PREFIX=$prefix: installed files differ from the expected list"
	fi
	check "PREFIX=$prefix: the binary is 0755 and runs" \
		test "$(stat -c %a "$dest$prefix/bin/twamp-client")" = 755 -a \
		-n "$("$dest$prefix/bin/twamp-client" --help 2>/dev/null | grep 'usage: twamp-client')"
	check "PREFIX=$prefix: every other file is 0644" \
		test -z "$(find "$dest" -type f ! -path "*/bin/twamp-client" ! -perm 0644)"
	unit=$dest$prefix/lib/systemd/system/twamp-client.service
	check "PREFIX=$prefix: the unit runs $prefix/bin/twamp-client and copies $prefix/share/twamp-client/default-data" \
		test -n "$(grep "^ExecStart=$prefix/bin/twamp-client run --data-dir /var/lib/twamp-client$" "$unit")" -a \
		-n "$(grep "^ExecStartPre=.*cp -R $prefix/share/twamp-client/default-data/\. \." "$unit")"
	if [ "$prefix" != /usr/local ]; then
		check "PREFIX=$prefix: no /usr/local left in the unit's settings" \
			test -z "$(grep -v '^#' "$unit" | grep /usr/local)"
	fi
done

check "default data directory passes check-config" "$BIN" check-config packaging/default-data
check "demo data directory passes check-config" "$BIN" check-config docker/demo-data

# ---- the systemd unit ------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	# a real prefix, so that verify finds the binary and the man page
	real=$TMP/prefix
	$MAKE -s install PREFIX="$real" >/dev/null 2>&1
	out=$(MANPATH=$real/share/man systemd-analyze verify "$real/lib/systemd/system/twamp-client.service" 2>&1)
	rc=$?
	[ -n "$out" ] && echo "$out"
	check "systemd-analyze verify: no complaint" test $rc = 0 -a -z "$out"
	sec=$(systemd-analyze security --offline=yes "$real/lib/systemd/system/twamp-client.service" 2>&1)
	if [ $? = 0 ]; then
		level=$(sed -n 's/.*Overall exposure level for twamp-client.service: \([0-9.]*\).*/\1/p' <<<"$sec")
		check "systemd-analyze security: exposure ${level:-?} < 3.0" \
			awk -v l="${level:-99}" 'BEGIN { exit !(l < 3.0) }'
	else
		echo "$sec"
		bad "systemd-analyze security --offline failed"
	fi
else
	bad "systemd-analyze is not installed (Debian package systemd): the unit is not verified"
fi
check "the unit: no capability, sandboxed" test -n "$(grep -x 'CapabilityBoundingSet=' packaging/twamp-client.service)" -a \
	-n "$(grep -x 'AmbientCapabilities=' packaging/twamp-client.service)" -a \
	-n "$(grep -x 'ProtectSystem=strict' packaging/twamp-client.service)" -a \
	-n "$(grep -x 'DynamicUser=yes' packaging/twamp-client.service)" -a \
	-n "$(grep -x 'StateDirectory=twamp-client' packaging/twamp-client.service)"

# ---- the man page ----------------------------------------------------------
if command -v groff >/dev/null; then
	out=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 packaging/twamp-client.1 2>&1)
	check "man page: groff -ww finds nothing" test -z "$out"
else
	bad "groff is not installed (Debian package groff-base): the man page is not rendered"
fi
# the page's text, with roff's escapes of '-' undone
man_text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\c$//' packaging/twamp-client.1)
missing=""
commands=$("$BIN" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
for c in $commands; do
	grep -q "^\.B twamp-client $c\b" <<<"$man_text" || missing="$missing $c"
	for o in $("$BIN" "$c" --help 2>/dev/null | grep -E '^ +-' |
		grep -oE '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9-]*' | tr -d ' ,' | sort -u); do
		grep -qE -- "(^|[^A-Za-z0-9-])$o([^A-Za-z0-9-]|$)" <<<"$man_text" || missing="$missing $c:$o"
	done
done
check "man page: every command and option of --help is documented${missing:+ (missing:$missing)}" \
	test -z "$missing" -a -n "$commands"

# ---- Dockerfile and entrypoint ------------------------------------------------
code=$(grep -v '^\s*#' Dockerfile)
check "Dockerfile: both stages FROM debian:bookworm-slim" \
	test "$(grep -c '^FROM debian:bookworm-slim\b' <<<"$code")" = 2
check "Dockerfile: nothing architecture-specific" \
	test -z "$(grep -iE 'amd64|x86_64|x86-64|aarch64|arm64|armhf|armel|armv7|i386|i686|--platform' <<<"$code")"
check "Dockerfile: the runtime stage runs as twamp, HEALTHCHECK twamp-client health, no EXPOSE" \
	test -n "$(grep -x 'USER twamp' <<<"$code")" -a \
	-n "$(grep -A1 '^HEALTHCHECK' <<<"$code" | grep '"twamp-client", "health", "--data-dir", "/config/data"')" -a \
	-z "$(grep '^EXPOSE' <<<"$code")"
check ".dockerignore: local build trees and .git left out" \
	test -n "$(grep -x 'build' .dockerignore)" -a -n "$(grep -x 'build-\*' .dockerignore)" -a \
	-n "$(grep -x '.git' .dockerignore)"
check "docker/entrypoint.sh: sh -n" sh -n docker/entrypoint.sh
check "docker/entrypoint.sh: executable" test -x docker/entrypoint.sh
# every command of --help but run (the daemon mode, which needs /config) and
# --version go through to twamp-client: a stub on PATH records its arguments
mkdir -p "$TMP/stub"
printf '#!/bin/sh\necho "twamp-client $*"\n' >"$TMP/stub/twamp-client"
chmod 755 "$TMP/stub/twamp-client"
unpassed=""
for c in $commands --version -V; do
	[ "$c" = run ] && continue
	out=$(PATH="$TMP/stub:$PATH" sh docker/entrypoint.sh "$c" --an-arg 2>&1 </dev/null)
	want="twamp-client $c --an-arg"
	case "$c" in -*) want="twamp-client $c" ;; esac
	[ "$out" = "$want" ] || unpassed="$unpassed $c"
done
check "docker/entrypoint.sh: passes every command of --help (and --version) to twamp-client${unpassed:+ (not:$unpassed)}" \
	test -z "$unpassed" -a -n "$(grep -x '  bench.*' <<<"$("$BIN" --help)")"

# ---- compose files -------------------------------------------------------------
if ! command -v docker-compose >/dev/null; then
	bad "docker-compose is not installed (Debian package docker-compose): the compose files are not checked"
else
	# docker-compose 1.x reads files only; it needs no engine for `config`
	cfg() { # PROJECT FILE... -> $TMP/<project>.yml
		local p=$1
		shift
		local args=()
		for f in "$@"; do args+=(-f "$f"); done
		env -u PROBE_SOURCE PROBE_PREFIX=site1- docker-compose --project-directory "$HERE" -p "$p" "${args[@]}" \
			config >"$TMP/$p.yml" 2>"$TMP/$p.err"
	}
	check "docker-compose config: docker-compose.yml alone" cfg base docker-compose.yml
	check "docker-compose config: docker-compose.yml + docker-compose.override.yml" \
		cfg site docker-compose.yml docker-compose.override.yml
	check "docker-compose config: docker-compose.demo.yml" cfg demo docker-compose.demo.yml
	check "compose: what the deployment must say" python3 - "$TMP" <<'EOF'
import sys, yaml, json, re
tmp = sys.argv[1]
ok = True
def need(cond, what):
    global ok
    if not cond:
        print("  compose:", what)
        ok = False

site = yaml.safe_load(open(f"{tmp}/site.yml"))
s = site["services"]["twamp-client"]
need(list(site["services"]) == ["twamp-client"], "one service, twamp-client")
need(s.get("container_name") == "site1-twamp-client", "container_name ${PROBE_PREFIX}twamp-client")
need(s.get("hostname") == "site1-twamp-client", "hostname ${PROBE_PREFIX}twamp-client")
need(s.get("restart") == "unless-stopped", "restart: unless-stopped")
need("build" in s and s.get("image"), "build and image")
env = s.get("environment") or {}
need("PROBE_SOURCE" in env, "PROBE_SOURCE passed through")
vols = [v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}" for v in s.get("volumes", [])]
need(any(v.startswith("twamp-client:/config") for v in vols), "volume twamp-client:/config")
need("twamp-client" in (site.get("volumes") or {}), "named volume twamp-client declared")
need("ports" not in s and "expose" not in s, "no port exposed")

base = yaml.safe_load(open(f"{tmp}/base.yml"))["services"]["twamp-client"]
need("container_name" not in base and "hostname" not in base, "site settings only in the override")

demo = yaml.safe_load(open(f"{tmp}/demo.yml"))
ds = demo["services"]
need(set(ds) == {"demo-probe", "demo-responder", "demo-influxdb"}, "demo services")
need(not set(ds) & set(site["services"]), "demo service names differ from the deployment's")
need(all("ports" not in v for v in ds.values()), "demo: no port exposed")
need(ds["demo-influxdb"].get("image") == "influxdb:1.8", "demo: influxdb:1.8")
need((ds["demo-influxdb"].get("environment") or {}).get("INFLUXDB_DB") == "twamp", "demo: database twamp")
p = ds["demo-probe"]
need((p.get("environment") or {}).get("TWAMP_DEFAULT_DATA") == "/usr/share/twamp-client/demo-data",
     "demo: the probe starts from demo-data")
pvols = [v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}" for v in p.get("volumes", [])]
need(pvols and all(not v.startswith("twamp-client:") for v in pvols), "demo: not the deployment's volume")
cmd = ds["demo-responder"].get("command")
cmd = cmd if isinstance(cmd, list) else cmd.split()
need(cmd[0] == "responder", "demo: the responder runs twamp-client responder")
ports = {int(a.rsplit(":", 1)[1]) for o, a in zip(cmd, cmd[1:]) if o in ("--listen", "--light")}
tg = json.load(open("docker/demo-data/targets_list.json"))["Targets"]
gc = json.load(open("docker/demo-data/global_config.json"))
need(all(t["IP"] == "demo-responder" for t in tg), "demo targets: the responder service")
up = [t for t in tg if "down" not in t.get("Tags", "")]
need(up and all(t["Port"] in ports for t in up), "demo targets: the responder's ports")
urls = [d["DestinationURL"] for d in gc["Destinations"]]
need(urls and all(re.match(r"http://demo-influxdb:8086/write\?db=twamp\b", u) for u in urls),
     "demo destination: the influxdb service, database twamp")
sys.exit(0 if ok else 1)
EOF
	for p in base site demo; do [ -s "$TMP/$p.err" ] && sed "s/^/  $p: /" "$TMP/$p.err"; done
fi

echo "packaging: $pass passed, $fail failed"
[ "$fail" = 0 ]
