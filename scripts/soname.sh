#!/bin/sh
# scripts/soname.sh NAME: the soname that linking with -lNAME records (what
# src/io/dynlib.c must dlopen), found where the toolchain $CC (default cc)
# looks for libNAME.so, so a cross build gets the target's.  readelf reads
# any architecture's ELF.  A linker script (INPUT/GROUP) is followed to the
# first library it names.  Prints nothing (exit 1) when there is none.
set -u
lib=$(${CC:-cc} -print-file-name="lib$1.so") || exit 1
[ -e "$lib" ] || exit 1
so=$(${READELF:-readelf} -d "$lib" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ -z "$so" ] && grep -q 'INPUT\|GROUP' "$lib" 2>/dev/null; then
	first=$(sed -n 's/.*\(INPUT\|GROUP\) *( *\([^ )]*\).*/\2/p' "$lib" | head -1)
	[ -n "$first" ] && so=$(${READELF:-readelf} -d "$first" 2>/dev/null |
		sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
fi
[ -n "$so" ] || exit 1
echo "$so"
