# The counting of a shell suite, sourced by it (bash):
#   verdict STATUS TEXT [FILE...]  one check: STATUS 0 prints "ok   TEXT", any
#                                  other "FAIL TEXT" and the end of each FILE
#   ok TEXT, ko TEXT [FILE...]     the same when the outcome is already known
# VERDICT_SHOW (default "tail -n 15") is what a failure shows of each FILE.
# The suite prints "NAME: $pass passed, $fail failed" at its end.
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() {
	fail=$((fail + 1)); echo "FAIL $1"
	shift
	for f in "$@"; do
		# shellcheck disable=SC2086
		[ -f "$f" ] && ${VERDICT_SHOW:-tail -n 15} "$f" | sed "s/^/     $(basename "$f"): /"
	done
}
verdict() {
	local st=$1; shift
	if [ "$st" = 0 ]; then ok "$1"; else ko "$@"; fi
}
