#!/bin/bash
# The bookkeeping of `make check`: every suite runs, whatever the others did,
# and one summary line over all of them ends the run.
#
#   scripts/check-suite.sh begin DIR            empty DIR
#   scripts/check-suite.sh record DIR           record the checksums of the host
#                                               files no test may touch (after the
#                                               packages are installed: installing
#                                               adds system users to /etc/passwd)
#   scripts/check-suite.sh run DIR NAME CMD...  run CMD (output to the terminal and
#                                               DIR/NAME.log), count what it printed,
#                                               compare the host files again
#   scripts/check-suite.sh summary DIR          the failing suites, then the line
#                                               `N passed, N failed`; exit 1 on a failure
#
# Counting, per suite: Criterion's "Synthesis: Tested: X | Passing: Y | Failing: Z |
# Crashing: W" lines and the scripts' "<name>: N passed, M failed" lines are summed;
# a suite that prints neither (a build, tsan_sender, fuzz-smoke, analyze) is one
# check, passed when it exits 0.  A suite that exits non-zero although its counts
# say 0 failed (a sanitizer report, a crash before its last line) counts one
# failure more: an exit status is never hidden by a count.
set -u
# (CHECK_HOST_FILES replaces the list only to test this script itself)
HOST_FILES=${CHECK_HOST_FILES:-/etc/passwd /etc/group /etc/hosts /etc/resolv.conf}

sums() { # one line per host file: its sha256, or "absent"
	local f
	for f in $HOST_FILES; do
		if [ -e "$f" ]; then echo "$(sha256sum <"$f" | cut -d' ' -f1) $f"; else echo "absent $f"; fi
	done
}

cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || { echo "usage: $0 begin|record|run|summary DIR ..." >&2; exit 2; }
case $cmd in
begin)
	rm -rf "$dir" && mkdir -p "$dir" || exit 1
	: >"$dir/results"
	;;
record)
	[ -f "$dir/results" ] || { echo "$0: record before begin" >&2; exit 2; }
	sums >"$dir/host.sha256"
	echo "check: host files recorded (sha256): $HOST_FILES"
	;;
run)
	name=$3
	shift 3
	[ -f "$dir/results" ] || { echo "$0: run before begin" >&2; exit 2; }
	log=$dir/$name.log
	echo "==== $name: $*"
	start=$SECONDS
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	counts=$(awk '
		/Synthesis: Tested: [0-9]+ \| Passing: [0-9]+ \| Failing: [0-9]+ \| Crashing: [0-9]+/ {
			# Criterion counts a crashed test among the failing ones too
			for (i = 1; i <= NF; i++) {
				if ($i == "Passing:") p += $(i + 1)
				if ($i == "Failing:") f1 = $(i + 1)
				if ($i == "Crashing:") c1 = $(i + 1)
			}
			f += (f1 > c1 ? f1 : c1); n++
		}
		match($0, /^([A-Za-z0-9_.-]+: )?[0-9]+ passed, [0-9]+ failed/) {
			s = substr($0, RSTART, RLENGTH); sub(/^[^0-9]*/, "", s)
			split(s, a, /[^0-9]+/); p += a[1]; f += a[2]; n++
		}
		END { printf "%d %d %d\n", n, p, f }' "$log")
	read -r n passed failed <<<"$counts"
	if [ "$n" = 0 ]; then
		if [ "$rc" = 0 ]; then passed=1 failed=0; else passed=0 failed=1; fi
	elif [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
		failed=1
		echo "FAIL $name: exit status $rc although its counts say 0 failed"
	fi
	echo "$name $rc $passed $failed" >>"$dir/results"
	# the host files, after every suite, so that the culprit is named
	[ -f "$dir/host.sha256" ] && now=$(sums) || now=""
	while read -r sum f; do
		was=$(awk -v f="$f" '$2 == f {print $1}' "$dir/host.sha256")
		if [ "$sum" != "$was" ]; then
			echo "FAIL $name: $f CHANGED during this suite (sha256 $was before, $sum after)"
			echo "$name:$f 1 0 1" >>"$dir/results"
			# blame only this suite; the summary still fails
			awk -v f="$f" -v s="$sum" '$2 == f {$1 = s} {print}' "$dir/host.sha256" >"$dir/host.tmp" &&
				mv "$dir/host.tmp" "$dir/host.sha256"
		fi
	done < <([ -n "$now" ] && echo "$now")
	echo "==== $name: exit $rc, $passed passed, $failed failed ($((SECONDS - start)) s)"
	exit 0
	;;
summary)
	[ -f "$dir/results" ] || { echo "$0: no $dir/results" >&2; exit 2; }
	[ -s "$dir/results" ] || { echo "no suite ran"; echo "0 passed, 1 failed"; exit 1; }
	awk '
		{ p += $3; f += $4; if ($2 != 0 || $4 != 0) bad = bad sprintf("  %s (exit %s, %s failed)\n", $1, $2, $4) }
		END {
			if (bad != "") printf "failing suites:\n%s", bad
			printf "%d passed, %d failed\n", p, f
			exit (f != 0 || bad != "")
		}' "$dir/results"
	;;
*)
	echo "usage: $0 begin|record|run|summary DIR ..." >&2
	exit 2
	;;
esac
