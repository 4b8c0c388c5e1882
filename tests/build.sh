#!/bin/bash
# make build-test: the build's dependencies and how the Makefile finds them.
#
#   - scripts/install-deps.sh's groups: the build's (make, make run, the
#     image) without Criterion, --unit with it; where libcriterion-dev has no
#     candidate (Debian 12 armhf) --unit fails naming why and --test --unit
#     installs everything else.  Against fake dpkg, dpkg-query, apt-cache,
#     apt-get and id commands in a private PATH: nothing is installed or
#     removed, nothing outside this script's mktemp -d is written;
#   - the Makefile: a module $(PKG_CONFIG) does not find stops make before
#     anything is compiled, one line per module naming the -dev package (with
#     :ARCH for a TRIPLET-pkg-config); a missing PKG_CONFIG is named; the
#     PKG_CONFIG given is the one run, and its flags are the ones used;
#   - make unit-test without Criterion: every unit suite counts as failed, with
#     the reason, and nothing is compiled; make all / make run never ask for it;
#   - the Dockerfile's build stage installs Criterion only for the unit tests
#     and the runtime stage never.
#
# Ends with "build: N passed, M failed" and exits 1 on any failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE" || exit 1
MAKE=${MAKE:-make}
pass=0
fail=0
TMP=$(mktemp -d /tmp/twamp-build.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ok() { echo "ok: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }
show() { sed 's/^/   | /' "$@"; }

BUILD_PKGS="build-essential pkg-config python3 libcurl4-openssl-dev libjson-c-dev libgit2-dev liburcu-dev libssl-dev"

# ---- fake package tools ------------------------------------------------------
# FAKE_ARCH: dpkg --print-architecture; FAKE_UID: id -u; $TMP/installed: one
# package per line (dpkg-query); $TMP/nocand: packages apt-cache policy has no
# candidate for; $TMP/apt.log: every apt-get call (an install "installs").
FB=$TMP/bin
mkdir -p "$FB"
cat >"$FB/dpkg" <<'EOF'
#!/bin/sh
[ "$1" = --print-architecture ] && { echo "$FAKE_ARCH"; exit 0; }
echo "fake dpkg: $*" >&2; exit 2
EOF
cat >"$FB/dpkg-query" <<'EOF'
#!/bin/sh
for p; do :; done
grep -qxF "$p" "$FAKE_DIR/installed" && printf 'install ok installed' && exit 0
exit 1
EOF
cat >"$FB/apt-cache" <<'EOF'
#!/bin/sh
[ "$1" = policy ] || exit 2
echo "$2:"
echo "  Installed: (none)"
if grep -qxF "$2" "$FAKE_DIR/nocand"; then echo "  Candidate: (none)"; else echo "  Candidate: 1.0-1"; fi
EOF
cat >"$FB/apt-get" <<'EOF'
#!/bin/sh
echo "apt-get $*" >>"$FAKE_DIR/apt.log"
inst=
for a; do
	case $a in
	install) inst=1 ;;
	-*|DPkg::*) ;;
	*) [ -n "$inst" ] && echo "$a" >>"$FAKE_DIR/installed" ;;
	esac
done
exit 0
EOF
cat >"$FB/id" <<'EOF'
#!/bin/sh
[ "$1" = -u ] && { echo "$FAKE_UID"; exit 0; }
exec /usr/bin/id "$@"
EOF
chmod +x "$FB"/*

# deps ARCH UID ARGS...: install-deps.sh with the fakes; output in $TMP/deps.out
deps() {
	local arch=$1 uid=$2
	shift 2
	: >"$TMP/apt.log"
	PATH=$FB:$PATH FAKE_DIR=$TMP FAKE_ARCH=$arch FAKE_UID=$uid \
		INSTALL_DEPS_POLICY_RC_D=$TMP/policy-rc.d scripts/install-deps.sh "$@" >"$TMP/deps.out" 2>&1
}
fresh() { # the packages "installed": ARGS
	printf '%s\n' "$@" >"$TMP/installed"
}

# ---- install-deps.sh's groups ------------------------------------------------
echo libcriterion-dev >"$TMP/nocand"
# shellcheck disable=SC2086
fresh $BUILD_PKGS
if deps armhf 0 && [ ! -s "$TMP/apt.log" ]; then
	ok "install-deps: the build's group is complete without libcriterion-dev (armhf, nothing to install)"
else
	show "$TMP/deps.out" "$TMP/apt.log"
	ko "install-deps: the build's group needs no libcriterion-dev (exit 0, no apt-get)"
fi
deps amd64 0 --list && l=$(cat "$TMP/deps.out")
if [ -n "${l:-}" ] && ! grep -qw libcriterion-dev <<<"$l" && grep -qw libgit2-dev <<<"$l"; then
	ok "install-deps --list: the build's packages, no Criterion"
else
	show "$TMP/deps.out"
	ko "install-deps --list: the build's packages without libcriterion-dev"
fi
if deps amd64 0 --list --unit && grep -qw libcriterion-dev "$TMP/deps.out" &&
	deps amd64 0 --list --test && ! grep -qw libcriterion-dev "$TMP/deps.out" && grep -qw nginx "$TMP/deps.out"; then
	ok "install-deps: --unit adds libcriterion-dev, --test the shell suites' tools only"
else
	show "$TMP/deps.out"
	ko "install-deps: --unit adds libcriterion-dev, --test does not"
fi
make_run=$($MAKE -s -n run 2>&1 | grep install-deps)
if [ -n "$make_run" ] && ! grep -q -- '--unit\|--test' <<<"$make_run"; then
	ok "make run installs the build's group only ($make_run)"
else
	echo "   | ${make_run:-no install-deps.sh in make -n run}"
	ko "make run installs the build's group only"
fi

# armhf, as root: --unit fails with the reason, without calling apt-get install for it
# shellcheck disable=SC2086
fresh $BUILD_PKGS
rc=0
deps armhf 0 --unit || rc=$?
if [ "$rc" = 1 ] && grep -q "Criterion is not packaged for armhf in Debian 12" "$TMP/deps.out" &&
	grep -q "apt-get source criterion" "$TMP/deps.out" && ! grep -q "install.*libcriterion-dev" "$TMP/apt.log"; then
	ok "install-deps --unit on armhf (no candidate): fails, says Criterion is not packaged for armhf"
else
	show "$TMP/deps.out" "$TMP/apt.log"
	ko "install-deps --unit on armhf: exit 1 (got $rc) naming why, no apt-get install libcriterion-dev"
fi
# armhf, as root, --test --unit: every other package is installed, then the failure
# shellcheck disable=SC2086
fresh $BUILD_PKGS
rc=0
deps armhf 0 --test --unit || rc=$?
if [ "$rc" = 1 ] && grep -q "Criterion is not packaged for armhf" "$TMP/deps.out" &&
	grep -q "install.* nginx" "$TMP/apt.log" && grep -qx faketime "$TMP/installed" &&
	! grep -q "libcriterion-dev" "$TMP/apt.log"; then
	ok "install-deps --test --unit on armhf: installs the tools, then fails naming Criterion"
else
	show "$TMP/deps.out" "$TMP/apt.log"
	ko "install-deps --test --unit on armhf: the tools installed, exit 1 (got $rc) naming Criterion"
fi
[ ! -e "$TMP/policy-rc.d" ] && ok "install-deps: its policy-rc.d removed again" ||
	ko "install-deps: $TMP/policy-rc.d left behind"
# armhf, not root (or --no-install): the reason, no apt-get
# shellcheck disable=SC2086
fresh $BUILD_PKGS
rc=0
deps armhf 1000 --unit || rc=$?
if [ "$rc" = 1 ] && grep -q "Criterion is not packaged for armhf" "$TMP/deps.out" && [ ! -s "$TMP/apt.log" ]; then
	ok "install-deps --unit on armhf, not root: the reason, no apt-get"
else
	show "$TMP/deps.out" "$TMP/apt.log"
	ko "install-deps --unit on armhf, not root: exit 1 (got $rc) with the reason, no apt-get"
fi
# amd64: Criterion has a candidate and is installed
: >"$TMP/nocand"
# shellcheck disable=SC2086
fresh $BUILD_PKGS
if deps amd64 0 --unit && grep -q "install.*libcriterion-dev" "$TMP/apt.log"; then
	ok "install-deps --unit on amd64: apt-get install libcriterion-dev"
else
	show "$TMP/deps.out" "$TMP/apt.log"
	ko "install-deps --unit on amd64 installs libcriterion-dev"
fi
echo libcriterion-dev >"$TMP/nocand"

# ---- the Makefile and PKG_CONFIG ----------------------------------------------
real_pc=$(command -v pkg-config)
[ -n "$real_pc" ] || ko "pkg-config is not installed (scripts/install-deps.sh installs it)"
# fakepc FILE MISSING-MODULE...: pkg-config without those modules, logging its calls
fakepc() {
	local f=$1
	shift
	cat >"$f" <<EOF
#!/bin/sh
echo "\$*" >>"$f.log"
if [ "\$1" = --exists ]; then
	for m in $*; do [ "\$2" = "\$m" ] && exit 1; done
fi
out=\$("$real_pc" "\$@") || exit \$?
[ "\$1" = --cflags ] && out="\$out -DVIA_FAKE_PKG_CONFIG"
echo "\$out"
EOF
	chmod +x "$f"
	: >"$f.log"
}

fakepc "$TMP/pc-nogit" libgit2
rc=0
$MAKE -n -B all PKG_CONFIG="$TMP/pc-nogit" >"$TMP/make.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] && grep -q "no module libgit2: apt-get -o DPkg::Lock::Timeout=300 install -y libgit2-dev$" "$TMP/make.out" &&
	! grep -q -- " -c -o " "$TMP/make.out" && [ "$(grep -c "no module" "$TMP/make.out")" = 1 ]; then
	ok "make: libgit2 missing stops before compiling, one line naming libgit2-dev"
else
	show "$TMP/make.out"
	ko "make: libgit2 missing: exit non-zero (got $rc), 'no module libgit2: apt-get ... install -y libgit2-dev', nothing compiled"
fi
fakepc "$TMP/pc-two" liburcu json-c
rc=0
$MAKE -n -B all PKG_CONFIG="$TMP/pc-two" >"$TMP/make.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] && grep -q "no module json-c: .* install -y libjson-c-dev$" "$TMP/make.out" &&
	grep -q "no module liburcu: .* install -y liburcu-dev$" "$TMP/make.out" && ! grep -q -- " -c -o " "$TMP/make.out"; then
	ok "make: two modules missing, one line each (libjson-c-dev, liburcu-dev)"
else
	show "$TMP/make.out"
	ko "make: json-c and liburcu missing: one line each, nothing compiled"
fi
# a cross pkg-config's name gives the packages' architecture
fakepc "$TMP/arm-linux-gnueabihf-pkg-config" libgit2
rc=0
$MAKE -n -B all PKG_CONFIG="$TMP/arm-linux-gnueabihf-pkg-config" >"$TMP/make.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] && grep -q "install -y libgit2-dev:armhf$" "$TMP/make.out"; then
	ok "make: arm-linux-gnueabihf-pkg-config without libgit2 names libgit2-dev:armhf"
else
	show "$TMP/make.out"
	ko "make: a cross pkg-config's missing module names PKG:armhf"
fi
rc=0
$MAKE -n -B all PKG_CONFIG="$TMP/no-such-pkg-config" >"$TMP/make.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] && grep -q "no-such-pkg-config not found" "$TMP/make.out" && ! grep -q -- " -c -o " "$TMP/make.out"; then
	ok "make: a PKG_CONFIG that does not exist is named"
else
	show "$TMP/make.out"
	ko "make: PKG_CONFIG=no-such-pkg-config: exit non-zero (got $rc) naming it"
fi
# the PKG_CONFIG given is the one run, and its flags reach the compiler
fakepc "$TMP/pc-log"
rc=0
$MAKE -n -B all PKG_CONFIG="$TMP/pc-log" CC=my-cross-gcc >"$TMP/make.out" 2>&1 || rc=$?
if [ "$rc" = 0 ] && grep -q -- "--exists libgit2" "$TMP/pc-log.log" && grep -q -- "--cflags" "$TMP/pc-log.log" &&
	grep -q -- "--libs" "$TMP/pc-log.log" && grep -q "^my-cross-gcc .*-DVIA_FAKE_PKG_CONFIG.* -c -o " "$TMP/make.out" &&
	! grep -q "^cc " "$TMP/make.out"; then
	ok "make PKG_CONFIG=... CC=...: that pkg-config is asked (--exists, --cflags, --libs), its flags and that CC used"
else
	show "$TMP/pc-log.log"
	head -5 "$TMP/make.out" | show
	ko "make PKG_CONFIG=wrapper CC=my-cross-gcc: the wrapper is run and its flags used (exit $rc)"
fi
# goals that compile nothing do not ask for the libraries
fakepc "$TMP/pc-none" libcurl json-c libgit2 liburcu openssl criterion
if $MAKE -n clean PKG_CONFIG="$TMP/pc-none" >"$TMP/make.out" 2>&1; then
	ok "make clean without any library"
else
	show "$TMP/make.out"
	ko "make clean without any library"
fi

# ---- make unit-test without Criterion -------------------------------------------
fakepc "$TMP/pc-nocrit" criterion
# shellcheck disable=SC2086
fresh $BUILD_PKGS
nsuites=$(find tests -maxdepth 1 -name 'test_*.c' | wc -l)
rc=0
PATH=$FB:$PATH FAKE_DIR=$TMP FAKE_ARCH=armhf FAKE_UID=0 \
	timeout 300 $MAKE --no-print-directory unit-test PKG_CONFIG="$TMP/pc-nocrit" >"$TMP/make.out" 2>&1 || rc=$?
if [ "$rc" != 0 ] && grep -q "^unit-test: 0 passed, $nsuites failed" "$TMP/make.out" &&
	grep -q "Criterion is not packaged for armhf in Debian 12" "$TMP/make.out" &&
	! grep -q -- " -c -o \|-lcriterion" "$TMP/make.out"; then
	ok "make unit-test without Criterion (armhf): $nsuites unit suites failed, with the reason, nothing compiled"
else
	show "$TMP/make.out"
	ko "make unit-test without Criterion: exit non-zero (got $rc), 'unit-test: 0 passed, $nsuites failed', the reason"
fi
# the build step of make check and make all never need it
rc=0
$MAKE -n -B all unit-bins PKG_CONFIG="$TMP/pc-nocrit" >"$TMP/make.out" 2>&1 || rc=$?
if [ "$rc" = 0 ] && grep -q -- " -c -o " "$TMP/make.out" && ! grep -q "criterion" "$TMP/make.out"; then
	ok "make all unit-bins without Criterion: builds the program, no test binary"
else
	show "$TMP/make.out"
	ko "make all unit-bins without Criterion (exit $rc)"
fi

# ---- the Dockerfile -------------------------------------------------------------
code=$(grep -v '^\s*#' Dockerfile)
build_stage=$(awk '/^FROM/ { n++ } n == 1' <<<"$code")
runtime_stage=$(awk '/^FROM/ { n++ } n == 2' <<<"$code")
first_deps=$(grep -m1 'install-deps.sh' <<<"$build_stage")
if [ -n "$first_deps" ] && ! grep -q -- '--unit\|--test' <<<"$first_deps" &&
	grep -q 'install-deps.sh --unit' <<<"$build_stage" && ! grep -qi 'criterion\|install-deps' <<<"$runtime_stage" &&
	grep -q 'RUN_TESTS=auto' <<<"$build_stage"; then
	ok "Dockerfile: the build's packages first, Criterion only for the unit tests (RUN_TESTS=auto), none at run time"
else
	echo "   | first: ${first_deps:-none}"
	ko "Dockerfile: build stage without Criterion, --unit for the unit tests only, runtime stage without"
fi

echo "build: $pass passed, $fail failed"
[ "$fail" = 0 ]
