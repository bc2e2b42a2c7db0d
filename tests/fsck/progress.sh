#!/bin/bash
# fsck.kvfs's progress (issue 12: percentages on stderr when it runs longer
# than a second, on a terminal).  The second is brought to zero with
# KVFS_FSCK_PROGRESS_AFTER=0 (fsck.kvfs --help) so that a small image
# shows it:
#   stderr a pseudo-terminal (script(1)), stdout thrown away: percentages
#   appear on the terminal, so they are stderr's;
#   stderr and stdout files: no percentage in either.
#
# Usage: progress.sh MKFS FSCK POPULATE
set -u
MKFS=$1 FSCK=$2 POP=$3
command -v script >/dev/null || { echo "SKIP: script(1) (util-linux) missing"; exit 77; }
. "$(dirname "$0")/../lib.sh"
tmpdir progress "$fast_tmp"
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

"$MKFS" -q -s 48M "$T/img" || die mkfs
"$POP" build "$T/img" || die populate

cmd=$(printf '%q -f -n %q >/dev/null' "$FSCK" "$T/img")
KVFS_FSCK_PROGRESS_AFTER=0 timeout 120 script -qec "$cmd" /dev/null \
	>"$T/tty" 2>&1 </dev/null
rc=$?
[ $rc -eq 0 ] || fail "fsck under a terminal: exit $rc: $(tail -c 300 "$T/tty")"
n=$(tr '\r' '\n' <"$T/tty" | grep -cE '^ *[0-9]{1,3}%$')
[ "$n" -gt 0 ] || fail "no percentage on the terminal: $(head -c 300 "$T/tty" | od -c | head -5)"
echo "terminal: $n percentages"

KVFS_FSCK_PROGRESS_AFTER=0 timeout 120 "$FSCK" -f -n "$T/img" \
	>"$T/out" 2>"$T/err" </dev/null
rc=$?
[ $rc -eq 0 ] || fail "fsck without a terminal: exit $rc: $(tail -3 "$T/out")"
grep -q '%' "$T/err" && fail "percentages without a terminal: $(head -c 200 "$T/err")"
grep -q '%' "$T/out" && fail "percentages on stdout: $(grep -m1 '%' "$T/out")"

echo "$failures failures"
[ $failures -eq 0 ]
