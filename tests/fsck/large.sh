#!/bin/bash
# fsck.kvfs on an 8 TiB filesystem (a sparse image): its block maps (a bit
# per block, 256 MiB each at 4 KiB blocks) fill the default 256 MiB
# kvalloc budget, so fsck sizes its budget from the target's size
# (kvfs_repair_budget()) and the map goes through the vmap path in one
# mapping a run of pages (alloc/vmap.c), not one a page.
#   -n -f and -y -f       exit 0, "clean"
#   -m 64M -n -f          exit 8, the budget named with -m
#   -m 1M                 exit 16 (below -m's least)
# and the default budget (-v says it) holds both maps at 4 KiB blocks and
# grows with the superblock's count of inodes in use: 3.9M inodes failed
# in 288 MiB (~52 bytes each needed).
#
# Usage: large.sh MKFS KVFS_DB FSCK
set -u
MKFS=$1 DB=$2 FSCK=$3
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
budget() {
	T "$FSCK" -v -n -f "$T/img" 2>&1 | sed -n 's/^memory budget: \([0-9]*\) MiB$/\1/p'
}
B0=$(budget)
[ -n "$B0" ] && [ "$B0" -ge $((256 + 2 * 256)) ] ||
	fail "fsck -v's budget for 8 TiB: '$B0' MiB, less than 256 MiB and two maps"
"$DB" -x -c 'write sb icount 4000064' -c 'write sb ifree 64' "$T/img" >/dev/null ||
	die "kvfs-db write sb icount"
B1=$(budget)
[ -n "$B1" ] && [ $((B1 - B0)) -ge $((4000000 * 52 >> 20)) ] ||
	fail "fsck -v's budget with 4M inodes in use: '$B1' MiB, '$B0' without"
[ $failures = 0 ] || die "$failures failed"
echo "ok: 8 TiB checked and repaired, -m refusals, budgets $B0 and $B1 MiB"
