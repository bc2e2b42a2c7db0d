#!/bin/bash
# What fsck.kvfs does with a sound dirty log (populate orphan) whose
# replay fails (issue 12):
#   replay-eio    the replay's first metadata read fails (KVFS_ERRTAGS
#                 meta_read_io): -n and -y -L exit 8, the log
#                 byte-identical (a passing fault never costs the log); a
#                 later -y replays it (exit 1), then -n is clean
#   replay-block  a block the replay changes is damaged outside what the
#                 log holds (the inode-chunk tree root's magic, which no
#                 delta of the log restores): -n and -y exit 4, keep the
#                 log and name -L; -y -L, the user's override, zeroes the
#                 log and repairs (exit 1), then -n is clean
#   replay-agf    every AGF's crc broken (kvfs-db write -c): recovery
#                 replays over the AGF the log changes and completes, the
#                 mount then fails reading another AG's: the log is
#                 replayed, not blocked, so -n exits 4 and keeps the log,
#                 -y replays it and repairs the AGFs in one run (exit 1;
#                 it said the log was kept and named -L, or crashed in the
#                 AGF's verifier, before), then -n is clean
# (A damaged log is zeroed by -L: catalogue.sh log-corrupt; test_fsck
# badrec.)
#
# Usage: zaplog.sh MKFS KVFS_DB FSCK POPULATE LOGPRINT
set -u
MKFS=$1 DB=$2 FSCK=$3 POP=$4 LOGPRINT=$5
. "$(dirname "$0")/../lib.sh"
tmpdir zaplog "${TMPDIR:-/var/tmp}"
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

field() { "$DB" "$T/base" sb | sed -n "s/^$1 = //p"; }
# The orphan's inode-chunk record is logged (bytes of the root block past
# its header) unless its creation also changed the header (a new chunk,
# some of the time): then the replay restores the magic, and the damage
# below is no damage.  Build again until the header is not in the log.
for try in 1 2 3 4 5 6; do
	"$MKFS" -q -f -s 48M "$T/base" && "$POP" build "$T/base" &&
		"$POP" orphan "$T/base" 2>/dev/null || die setup
	IROOT=$("$DB" "$T/base" btree 0 ino | sed -n 's/^block 0:0 = fsb \([0-9]*\) .*/\1/p')
	[ -n "$IROOT" ] || { echo "FAIL: no inode-chunk tree root"; exit 1; }
	"$LOGPRINT" -v "$T/base" >"$T/logprint" || die logprint
	grep -q "^    buf block $IROOT nblks .* chunks: bytes [1-9]" "$T/logprint" &&
		break
	[ $try -lt 6 ] || die "the log never holds the inode-chunk root's records alone"
done
LS=$(field logstart) LB=$(field logblocks) BS=$(field blocksize)
logsum() {
	dd if="$1" bs="$BS" skip="$LS" count="$LB" status=none | sha256sum
}

# keep NAME ENV EXIT ARGS..: fsck ARGS exits EXIT and leaves the log as it was
keep() {
	local name=$1 env=$2 want=$3 rc h1 h2
	shift 3
	h1=$(logsum "$T/img")
	timeout 300 env $env "$FSCK" "$@" "$T/img" >"$T/out" 2>&1
	rc=$?
	[ $rc -eq "$want" ] || fail "$name: fsck $* exit $rc, expected $want: $(tail -3 "$T/out")"
	grep -q "log was zeroed" "$T/out" && fail "$name: fsck $* zeroed the log"
	h2=$(logsum "$T/img")
	[ "$h1" = "$h2" ] || fail "$name: fsck $* changed the log"
}
# after NAME EXIT WORDS ARGS..: fsck ARGS exits EXIT and says WORDS
after() {
	local name=$1 want=$2 words=$3 rc
	shift 3
	timeout 300 "$FSCK" "$@" "$T/img" >"$T/out" 2>&1
	rc=$?
	[ $rc -eq "$want" ] || fail "$name: fsck $* exit $rc, expected $want: $(tail -3 "$T/out")"
	[ -z "$words" ] || grep -q -- "$words" "$T/out" ||
		fail "$name: fsck $* does not say '$words': $(tail -3 "$T/out")"
}

cp --sparse=always "$T/base" "$T/img"
keep replay-eio KVFS_ERRTAGS=meta_read_io:count=1 8 -n -f
keep replay-eio KVFS_ERRTAGS=meta_read_io:count=1 8 -y -f -L
after replay-eio 1 "log replayed" -y -f
after replay-eio 0 "" -n -f
# a malformed spec arms nothing (the reads go through) and is said
KVFS_ERRTAGS=meta_read_io:cuont=1 after env-typo 0 \
	"KVFS_ERRTAGS: .*cuont.*: nothing armed" -n -f

cp --sparse=always "$T/base" "$T/img"
dd if=/dev/zero of="$T/img" bs=4 count=1 seek=$((IROOT * BS / 4)) \
	conv=notrunc status=none
keep replay-block "" 4 -n -f
keep replay-block "" 4 -y -f
grep -q -- "-L zeroes it" "$T/out" ||
	fail "replay-block: fsck -y does not name -L: $(tail -3 "$T/out")"
after replay-block 1 "the log was zeroed" -y -f -L
after replay-block 0 "" -n -f

cp --sparse=always "$T/base" "$T/img"
for ((ag = 0; ag < $(field agcount); ag++)); do
	"$DB" -x "$T/img" write -c agf $ag freeblks 1 >/dev/null ||
		fail "replay-agf: kvfs-db write -c agf $ag"
done
keep replay-agf "" 4 -n -f
grep -q -- "-L zeroes it" "$T/out" && fail "replay-agf: fsck -n names -L"
after replay-agf 1 "log replayed" -y -f
grep -q "damaged (block" "$T/out" ||
	fail "replay-agf: fsck -y repaired no AGF: $(tail -3 "$T/out")"
after replay-agf 0 "" -n -f

[ $failures -eq 0 ] && echo "ok: replay-eio, replay-block, replay-agf"
[ $failures -eq 0 ]
