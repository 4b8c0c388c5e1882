#!/bin/bash
# scripts/cross-sysroot.sh ARCH DIR PACKAGE...
#
# A sysroot for a cross build, made without installing anything for ARCH:
# apt runs with its own state under DIR (its own package lists for ARCH only,
# an empty dpkg status, its own archive cache; the host's sources and proxy
# settings), downloads PACKAGE... (mk/cross.mk: libc6-dev and the
# Makefile's -dev packages) with their whole dependency closure, and dpkg-deb -x unpacks each
# .deb into DIR/sysroot.  Absolute symbolic links in the packages are made
# relative; a link that still resolves outside the sysroot
# stops the script, naming it.  The host's
# dpkg database, its architectures and its installed packages are never
# touched: libgit2-dev or libcriterion-dev for a second architecture cannot be
# co-installed with the host's own, and apt would remove those.
#
# Writes DIR/pkg-config, a pkg-config that sees only the sysroot's modules,
# and DIR/stamp (the package list; a second run with the same list does
# nothing).  Exit status non-zero, with apt's error, when a download fails.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: cross-sysroot.sh ARCH DIR PACKAGE..." >&2; exit 2; }
ARCH=$1 DIR=$2
shift 2
PKGS=("$@")
TRIPLET=$(dpkg-architecture -a"$ARCH" -qDEB_HOST_MULTIARCH 2>/dev/null) && [ -n "$TRIPLET" ] ||
	{ echo "cross-sysroot: dpkg-architecture knows no architecture '$ARCH' (or is missing: apt-get install dpkg-dev)" >&2; exit 2; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
WANT="$ARCH ${PKGS[*]}"
if [ -f "$DIR/stamp" ] && [ "$(cat "$DIR/stamp")" = "$WANT" ] && [ -x "$DIR/pkg-config" ]; then
	exit 0
fi
rm -rf "$DIR/sysroot" "$DIR/stamp"
mkdir -p "$DIR/apt/lists/partial" "$DIR/apt/cache/archives/partial" "$DIR/sysroot"
: >"$DIR/apt/status"
APT=(apt-get -q -o Dir::State="$DIR/apt" -o Dir::State::Lists="$DIR/apt/lists"
	-o Dir::State::status="$DIR/apt/status" -o Dir::Cache="$DIR/apt/cache"
	-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
	-o APT::Architecture="$ARCH" -o APT::Architectures::="$ARCH" -o Debug::NoLocking=1)
echo "cross-sysroot: $ARCH package lists (apt state in $DIR/apt; the host's dpkg is not used)"
"${APT[@]}" update >"$DIR/apt/update.log" 2>&1 || { tail -20 "$DIR/apt/update.log"; exit 1; }
echo "cross-sysroot: downloading ${PKGS[*]} for $ARCH with their dependencies"
"${APT[@]}" install --download-only -y --no-install-recommends "${PKGS[@]}" >"$DIR/apt/download.log" 2>&1 ||
	{ tail -20 "$DIR/apt/download.log"; exit 1; }
n=0
shopt -s nullglob
for deb in "$DIR"/apt/cache/archives/*.deb; do
	dpkg-deb -x "$deb" "$DIR/sysroot"
	n=$((n + 1))
done
# absolute links (libz.so -> /lib/TRIPLET/libz.so.1...) made relative to the sysroot
while IFS= read -r -d '' l; do
	t=$(readlink "$l")
	ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$DIR/sysroot$t")" "$l"
done < <(find "$DIR/sysroot" -type l -lname '/*' -print0)
# every link, relative ones too, must end inside the sysroot
while IFS= read -r -d '' l; do
	case "$(realpath -m "$l")" in
	"$DIR/sysroot"/*) ;;
	*) echo "cross-sysroot: $l -> $(readlink "$l") leads outside $DIR/sysroot" >&2; exit 1 ;;
	esac
done < <(find "$DIR/sysroot" -type l -print0)
[ "$n" -gt 0 ] || { echo "cross-sysroot: apt downloaded nothing (see $DIR/apt/download.log)" >&2; exit 1; }
cat >"$DIR/pkg-config" <<EOF
#!/bin/sh
# pkg-config for the $ARCH sysroot of scripts/cross-sysroot.sh: its modules only
PKG_CONFIG_SYSROOT_DIR='$DIR/sysroot' \\
PKG_CONFIG_LIBDIR='$DIR/sysroot/usr/lib/$TRIPLET/pkgconfig:$DIR/sysroot/usr/share/pkgconfig' \\
	exec pkg-config "\$@"
EOF
chmod +x "$DIR/pkg-config"
echo "$WANT" >"$DIR/stamp"
echo "cross-sysroot: $n packages unpacked into $DIR/sysroot"
