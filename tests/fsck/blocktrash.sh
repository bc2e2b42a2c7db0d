#!/bin/bash
# The random campaign of issue 12: for each seed, kvfs-db -x blocktrash
# flips bits in the metadata of a populated image (every type but the log),
# then fsck.kvfs -y -f must neither crash nor leave errors (exit 0 or 1),
# fsck.kvfs -n -f then finds it clean (exit 0), and opening the image
# through the core (populate dump-sums, read-only) either works or refuses with
# an error, never crashes.  Seeds 1..N (N the SEEDS argument, else
# $KVFS_BLOCKTRASH_SEEDS, else 16); a failing seed prints its flips, and
# is reproduced with
#   kvfs-db -x IMG blocktrash -s SEED -n 4 -b 4 [-t TYPES]
#
# Usage: blocktrash.sh MKFS KVFS_DB FSCK POPULATE [TYPES [SEEDS]]
# (TYPES as kvfs-db blocktrash -t, "" or absent: every type but the log)
set -u
MKFS=$1 DB=$2 FSCK=$3 POP=$4 TYPES=${5:-}
N=${6:-${KVFS_BLOCKTRASH_SEEDS:-16}}
. "$(dirname "$0")/../lib.sh"
tmpdir blocktrash "$fast_tmp"
failures=0
fail() {
	echo "FAIL: seed $seed: $*" >&2
	failures=$((failures + 1))
}

"$MKFS" -q -s 48M "$T/base" || die mkfs
"$POP" build "$T/base" || die populate

for ((seed = 1; seed <= N; seed++)); do
	cp --sparse=always "$T/base" "$T/img"
	# shellcheck disable=SC2086
	"$DB" -x "$T/img" blocktrash -s $seed -n 4 -b 4 ${TYPES:+-t $TYPES} \
		>"$T/flips" 2>&1 ||
		{ fail "blocktrash: $(cat "$T/flips")"; continue; }
	timeout 300 "$FSCK" -y -f "$T/img" >"$T/y" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
		fail "fsck -y exit $rc: $(tail -3 "$T/y") (flips: $(grep -c bit "$T/flips"))"
		cat "$T/flips" >&2
		continue
	fi
	timeout 300 "$FSCK" -n -f "$T/img" >"$T/n" 2>&1
	rc=$?
	[ $rc -eq 0 ] || { fail "fsck -n after -y exit $rc: $(tail -3 "$T/n")"; cat "$T/flips" >&2; }
	rm -rf "$T/dump"
	timeout 300 "$POP" dump-sums "$T/img" "$T/dump" >/dev/null 2>&1
	rc=$?
	# 0 works, 1 refused with an error; anything else is a crash
	[ $rc -le 1 ] || fail "opening the repaired image: exit $rc"
done
echo "$N seeds, $failures failures"
[ $failures -eq 0 ]
