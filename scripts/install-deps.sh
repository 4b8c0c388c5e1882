#!/bin/sh
# Installs the Debian packages twamp-client needs, if any is missing: the one
# list of every package the build and the tests use.  As root it runs apt-get;
# otherwise it prints the exact command.  A package that cannot be installed
# is a failure that shows apt's own error output, never a silent skip.
#
#   scripts/install-deps.sh              build: `make`, `make run`
#   scripts/install-deps.sh --test       + every tool tests/*.sh use (make check)
#   scripts/install-deps.sh --analyze    + cppcheck, clang-tidy (make analyze)
#   scripts/install-deps.sh --fuzz       + clang, libFuzzer (make fuzz, fuzz-smoke)
#   scripts/install-deps.sh --container  + podman & co. (make container-check)
# Options combine.  apt waits up to 300 s for another apt to finish.
set -u
PKGS="build-essential pkg-config python3 libcurl4-openssl-dev libjson-c-dev libgit2-dev liburcu-dev libssl-dev libcriterion-dev"
# What tests/*.sh call, by package (Essential packages such as coreutils
# (timeout), util-linux (setsid, unshare, mount, prlimit) and bsdutils
# (script) are always there):
#   curl              influx.sh (the /query API)
#   influxdb          influx.sh (a private influxd)
#   nginx fcgiwrap git    fetch.sh (http, https, git http-backend, git daemon)
#   openssl           fetch.sh, faults.sh (throwaway certificates)
#   iproute2 iptables dscp.sh, faults.sh (network namespaces, DSCP re-marking)
#   time              faults.sh (/usr/bin/time -v for peak RSS)
#   hping3            faults.sh (SYN flood)
#   procps            packaging.sh (systemd-analyze verify looks for /bin/kill)
#   systemd man-db groff-base   packaging.sh (verify, Documentation=man:, groff)
#   docker-compose    packaging.sh (docker-compose config; python3-yaml with it)
#   gnuplot-nox       bench.sh (the PNG plot)
#   faketime          clock.sh (libfaketime: steps CLOCK_REALTIME mid-run, CLOCK_MONOTONIC real)
TEST_PKGS="curl influxdb nginx fcgiwrap git openssl iproute2 iptables time hping3 procps systemd man-db groff-base docker-compose python3-yaml gnuplot-nox faketime"
for a in "$@"; do
	case $a in
	--test) PKGS="$PKGS $TEST_PKGS" ;;
	--analyze) PKGS="$PKGS cppcheck clang-tidy" ;;
	--fuzz) PKGS="$PKGS clang libclang-rt-dev" ;;
	# tests/container.sh; docker-compose and the dnsname plugin for its step 7
	--container) PKGS="$PKGS podman buildah debootstrap runc docker-compose golang-github-containernetworking-plugin-dnsname" ;;
	*) echo "install-deps: unknown option $a (--test, --analyze, --fuzz, --container)" >&2; exit 2 ;;
	esac
done
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=""
for p in $PKGS; do installed "$p" || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages:$missing" >&2
	echo "run: sudo apt-get -o DPkg::Lock::Timeout=300 install -y$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
APT="apt-get -o DPkg::Lock::Timeout=300"
log=$(mktemp /tmp/install-deps.XXXXXX)
policy=
# keep the services of nginx, influxdb... from starting on their standard ports
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1
fi
trap '[ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d; rm -f "$log"' EXIT
fail() {
	echo "install-deps: FAIL: $1" >&2
	sed 's/^/  apt: /' "$log" >&2
	exit 1
}
$APT update -qq >"$log" 2>&1 || fail "$APT update"
# shellcheck disable=SC2086
$APT install -y -qq --no-install-recommends $missing >"$log" 2>&1 ||
	fail "$APT install -y --no-install-recommends$missing"
still=""
for p in $missing; do installed "$p" || still="$still $p"; done
[ -z "$still" ] || fail "apt-get succeeded but not installed:$still"
