#!/bin/sh
# Installs the Debian packages twamp-client needs to build and test, if any is
# missing.  As root it runs apt-get; otherwise it prints the exact command.
# --analyze adds the static analysers of `make analyze` (kept out of the
# default list: the container's build stage does not need LLVM).
set -e
PKGS="build-essential pkg-config python3 libcurl4-openssl-dev libjson-c-dev libgit2-dev liburcu-dev libssl-dev libcriterion-dev"
[ "$1" = --analyze ] && PKGS="$PKGS cppcheck clang-tidy"
# --fuzz: clang and its libFuzzer runtime, for make fuzz and fuzz-smoke
[ "$1" = --fuzz ] && PKGS="$PKGS clang libclang-rt-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing
else
	echo "missing Debian packages:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi
