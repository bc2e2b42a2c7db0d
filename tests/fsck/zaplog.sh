#!/bin/bash
# fsck.kvfs -L zeroes only a log at fault (issue 12): a dirty log
# (populate orphan) whose replay fails for another reason is kept, and the
# repair stops:
#   replay-eio    the replay's first metadata read fails (KVFS_ERRTAGS
#                 meta_read_io): -y -L exit 8; a later -y replays it
#                 (exit 1), then -n is clean
#   replay-block  a block the replay changes is damaged outside what the
#                 log holds (the inode-chunk tree root's magic, which no
#                 delta of the log restores): -n and -y -L exit 4
# and in both the log's blocks are byte-identical after -y -L.  (A damaged
# log is still zeroed: catalogue.sh log-corrupt; test_fsck badrec.)
#
# Usage: zaplog.sh MKFS KVFS_DB FSCK POPULATE
set -u
MKFS=$1 DB=$2 FSCK=$3 POP=$4
T=$(mktemp -d "${TMPDIR:-/var/tmp}/kvfs-zaplog.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

"$MKFS" -q -s 48M "$T/base" && "$POP" build "$T/base" &&
	"$POP" orphan "$T/base" 2>/dev/null || { echo "FAIL: setup"; exit 1; }
field() { "$DB" "$T/base" sb | sed -n "s/^$1 = //p"; }
LS=$(field logstart) LB=$(field logblocks) BS=$(field blocksize)
logsum() {
	dd if="$1" bs="$BS" skip="$LS" count="$LB" status=none | sha256sum
}

IROOT=$("$DB" "$T/base" btree 0 ino | sed -n 's/^block 0:0 = fsb \([0-9]*\) .*/\1/p')
[ -n "$IROOT" ] || { echo "FAIL: no inode-chunk tree root"; exit 1; }

# run NAME DAMAGE ENV -n-EXIT -y-L-EXIT (DAMAGE: "" or "magic BLOCK")
run() {
	local name=$1 dmg=$2 env=$3 nexp=$4 yexp=$5 rc h1 h2
	cp --sparse=always "$T/base" "$T/img"
	[ -z "$dmg" ] || dd if=/dev/zero of="$T/img" bs=4 count=1 \
		seek=$((${dmg#magic } * BS / 4)) conv=notrunc status=none
	h1=$(logsum "$T/img")
	timeout 300 env $env "$FSCK" -n -f "$T/img" >"$T/n" 2>&1
	rc=$?
	[ $rc -eq "$nexp" ] || fail "$name: fsck -n exit $rc, expected $nexp: $(tail -3 "$T/n")"
	timeout 300 env $env "$FSCK" -y -f -L "$T/img" >"$T/y" 2>&1
	rc=$?
	[ $rc -eq "$yexp" ] || fail "$name: fsck -y -L exit $rc, expected $yexp: $(tail -3 "$T/y")"
	grep -q "log zeroed" "$T/y" && fail "$name: fsck -y -L zeroed the log"
	h2=$(logsum "$T/img")
	[ "$h1" = "$h2" ] || fail "$name: the log changed"
}

run replay-eio "" KVFS_ERRTAGS=meta_read_io:count=1 8 8
timeout 300 "$FSCK" -y -f "$T/img" >"$T/y2" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "replay-eio: fsck -y without the fault exit $rc: $(tail -3 "$T/y2")"
grep -q "log replayed" "$T/y2" || fail "replay-eio: the log was not replayed"
timeout 300 "$FSCK" -n -f "$T/img" >"$T/n2" 2>&1 ||
	fail "replay-eio: fsck -n after the replay exit $?: $(tail -3 "$T/n2")"
run replay-block "magic $IROOT" "" 4 4

[ $failures -eq 0 ] && echo "ok: replay-eio, replay-block"
[ $failures -eq 0 ]
