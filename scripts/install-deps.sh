#!/bin/sh
# Installs the Debian packages twamp-client needs, if any is missing: the one
# list of every package the build and the tests use.  As root it runs apt-get;
# otherwise it prints the exact command.  A package that cannot be installed
# is a failure that shows apt's own error output, never a silent skip.
#
#   scripts/install-deps.sh              build: `make`, `make run` (no test tool)
#   scripts/install-deps.sh --unit       + Criterion (make unit-test)
#   scripts/install-deps.sh --test       + every tool tests/*.sh use (make check)
#   scripts/install-deps.sh --cross      + the cross toolchains and qemu-user (make cross-check)
#   scripts/install-deps.sh --analyze    + cppcheck, clang-tidy (make analyze)
#   scripts/install-deps.sh --fuzz       + clang, libFuzzer (make fuzz, fuzz-smoke)
#   scripts/install-deps.sh --container  + podman & co. (make container-check)
#   --no-install    only say what is missing and why (exit 1 when something is)
#   --arch ARCH     the Debian architecture the packages are for (default: dpkg's);
#                   names other than the host's are asked for as PKG:ARCH
#   --list          print the package list of the groups given, install nothing
# Options combine.  apt waits up to 300 s for another apt to finish.
#
# A package with no installation candidate (apt-cache policy: "Candidate:
# (none)") cannot be installed: the others are, and the script fails naming it
# and why.  Criterion has no armhf package in Debian 12, so --unit fails there
# (make check then counts every unit suite as failed, with this reason) while
# --test installs every tool the shell suites need.
set -u
PKGS="build-essential pkg-config python3 libcurl4-openssl-dev libjson-c-dev libgit2-dev liburcu-dev libssl-dev"
# The unit tests (tests/test_*.c) only; never needed by make, make run or the image
UNIT_PKGS="libcriterion-dev"
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
install=1
list=
arch=
while [ $# -gt 0 ]; do
	case $1 in
	--unit) PKGS="$PKGS $UNIT_PKGS" ;;
	--test) PKGS="$PKGS $TEST_PKGS" ;;
	--analyze) PKGS="$PKGS cppcheck clang-tidy" ;;
	--fuzz) PKGS="$PKGS clang libclang-rt-dev" ;;
	# tests/container.sh; docker-compose and the dnsname plugin for its step 7
	--container) PKGS="$PKGS podman buildah debootstrap runc docker-compose golang-github-containernetworking-plugin-dnsname" ;;
	# make cross-check: the cross toolchains and qemu-user (host packages; the
	# target's libraries are unpacked by scripts/cross-sysroot.sh, not installed)
	--cross) PKGS="$PKGS dpkg-dev file gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu qemu-user-static git" ;;
	--no-install) install= ;;
	--list) list=1 ;;
	--arch)
		[ $# -ge 2 ] || { echo "install-deps: --arch needs a Debian architecture (armhf, arm64...)" >&2; exit 2; }
		arch=$2
		shift
		;;
	*) echo "install-deps: unknown option $1 (--unit, --test, --analyze, --fuzz, --container, --cross, --no-install, --arch ARCH, --list)" >&2; exit 2 ;;
	esac
	shift
done
if [ -n "$list" ]; then
	echo "$PKGS"
	exit 0
fi
host_arch=$(dpkg --print-architecture 2>/dev/null)
[ -n "$arch" ] || arch=$host_arch
# a package for another architecture than the host's: PKG:ARCH (multiarch)
if [ -n "$arch" ] && [ "$arch" != "$host_arch" ]; then
	p2=
	for p in $PKGS; do
		case $p in
		lib*-dev) p2="$p2 $p:$arch" ;;
		*) p2="$p2 $p" ;;
		esac
	done
	PKGS=${p2# }
fi
# why PKG cannot be installed (it has no candidate)
why() {
	case ${1%%:*} in
	libcriterion-dev)
		echo "Criterion is not packaged for $arch in Debian 12 (libcriterion-dev has no installation candidate): the unit tests cannot be built here; build Criterion from Debian's source package (apt-get source criterion, see README.md) or run make check on amd64/arm64" ;;
	*) echo "$1 has no installation candidate for $arch (apt-cache policy $1)" ;;
	esac
}
# no candidate: apt-cache policy says "(none)" or knows nothing of it (after apt-get update)
no_candidate() {
	c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n 1)
	[ -z "$c" ] || [ "$c" = "(none)" ]
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=""
for p in $PKGS; do installed "$p" || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
if [ -z "$install" ] || [ "$(id -u)" != 0 ]; then
	# without apt-get update the lists may be stale or absent: only Criterion on
	# armhf is known to be missing from Debian 12 whatever they say
	rest=""
	for p in $missing; do
		if [ "${p%%:*}" = libcriterion-dev ] && [ "$arch" = armhf ]; then
			echo "install-deps: FAIL: $(why "$p")" >&2
		else
			rest="$rest $p"
		fi
	done
	if [ -n "$rest" ]; then
		echo "missing Debian packages:$rest" >&2
		echo "run: sudo apt-get -o DPkg::Lock::Timeout=300 install -y$rest" >&2
	fi
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
APT="apt-get -o DPkg::Lock::Timeout=300"
log=$(mktemp /tmp/install-deps.XXXXXX)
policy=
# keep the services of nginx, influxdb... from starting on their standard ports
# (INSTALL_DEPS_POLICY_RC_D: another path, for tests/build.sh only)
POLICY_RC_D=${INSTALL_DEPS_POLICY_RC_D:-/usr/sbin/policy-rc.d}
if [ ! -e "$POLICY_RC_D" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC_D" && chmod 755 "$POLICY_RC_D" && policy=1
fi
trap '[ -n "$policy" ] && rm -f "$POLICY_RC_D"; rm -f "$log"' EXIT
fail() {
	echo "install-deps: FAIL: $1" >&2
	sed 's/^/  apt: /' "$log" >&2
	exit 1
}
$APT update -qq >"$log" 2>&1 || fail "$APT update"
# what has no candidate is left out: the rest is installed, then the script fails naming it
unavailable=""
todo=""
for p in $missing; do
	if no_candidate "$p"; then unavailable="$unavailable $p"; else todo="$todo $p"; fi
done
if [ -n "$todo" ]; then
	# shellcheck disable=SC2086
	$APT install -y -qq --no-install-recommends $todo >"$log" 2>&1 ||
		fail "$APT install -y --no-install-recommends$todo"
fi
still=""
for p in $todo; do installed "$p" || still="$still $p"; done
[ -z "$still" ] || fail "apt-get succeeded but not installed:$still"
if [ -n "$unavailable" ]; then
	: >"$log"
	for p in $unavailable; do echo "install-deps: FAIL: $(why "$p")" >&2; done
	exit 1
fi
