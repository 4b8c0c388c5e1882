#!/bin/sh
# scripts/binfmt-run.sh ARCH COMMAND...: COMMAND with ARCH's ELF binaries handed
# to qemu-ARCH-static, through a binfmt_misc of this user namespace's own
# (Linux 6.7 and later), so that a program that re-executes itself (Criterion
# does) runs under qemu too.  Run it as
#   unshare --user --map-root-user --mount --fork scripts/binfmt-run.sh ARCH ...
# The host's binfmt_misc is not touched.  QEMU_LD_PREFIX names the sysroot.
set -eu
arch=$1; shift
case $arch in
aarch64) magic='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
	mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff' ;;
arm) magic='\x7f\x45\x4c\x46\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00'
	mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff' ;;
*) echo "binfmt-run: unknown architecture $arch (aarch64, arm)" >&2; exit 2 ;;
esac
qemu=$(command -v "qemu-$arch-static") || { echo "binfmt-run: qemu-$arch-static not found (apt-get install qemu-user-static)" >&2; exit 1; }
d=/proc/sys/fs/binfmt_misc
mount -t binfmt_misc binfmt_misc "$d" ||
	{ echo "binfmt-run: cannot mount a binfmt_misc of this namespace (Linux 6.7+ and unshare --user --mount)" >&2; exit 1; }
printf ':twamp-%s:M::%s:%s:%s:F\n' "$arch" "$magic" "$mask" "$qemu" >"$d/register"
exec "$@"
