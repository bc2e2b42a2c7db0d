#!/bin/bash
# fsck.kvfs on an 8 TiB filesystem (a sparse image): its block maps (a bit
# per block, 256 MiB each at 4 KiB blocks) fill the default 256 MiB
# kvalloc budget, so fsck sizes its budget from the target's size
# (kvfs_repair_budget()) and the map goes through the vmap path in one
# mapping a run of pages (alloc/vmap.c), not one a page.
#   -n -f and -y -f       exit 0, "clean"
#   -m 64M -n -f          exit 8, the budget named with -m
#   -m 1M                 exit 16 (below -m's least)
#
# Usage: large.sh MKFS FSCK
set -u
MKFS=$1 FSCK=$2
. "$(dirname "$0")/../lib.sh"
tmpdir large "$fast_tmp"
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

"$MKFS" -q -s 8T "$T/img" || die "mkfs -s 8T"
for mode in -n -y; do
	T "$FSCK" $mode -f "$T/img" >"$T/out" 2>&1
	rc=$?
	[ $rc = 0 ] && grep -q ': clean$' "$T/out" ||
		fail "fsck $mode -f of 8 TiB: exit $rc: $(tail -2 "$T/out")"
done
T "$FSCK" -m 64M -n -f "$T/img" >"$T/out" 2>&1
rc=$?
[ $rc = 8 ] && grep -q 'memory budget of 64 MiB (-m SIZE raises it)' "$T/out" ||
	fail "fsck -m 64M: exit $rc: $(tail -2 "$T/out")"
T "$FSCK" -m 1M -n -f "$T/img" >"$T/out" 2>&1
rc=$?
[ $rc = 16 ] && grep -q "bad -m value '1M'" "$T/out" ||
	fail "fsck -m 1M: exit $rc: $(tail -2 "$T/out")"
[ $failures = 0 ] || die "$failures failed"
echo "ok: 8 TiB checked and repaired, -m refusals"
