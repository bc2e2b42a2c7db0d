#!/bin/bash
# A mount meeting corrupt metadata (issue 12): "returns EIO/EUCLEAN for
# that file and stays up for the rest", reports the damage in its log with
# the block named, never crashes or hangs.  On a populated image
# (tests/fsck/populate) damaged with kvfs-db -x:
#  - one structure of one file or directory at a time: the mount comes up;
#    reading the damaged object fails with EIO, EUCLEAN or EBADMSG; every
#    other file reads byte-identical to the undamaged image; a new file can
#    still be written, fsync'd and read back; the daemon's log names the
#    block; it unmounts and exits 0, leaving the superblock in the error
#    state (a plain fsck.kvfs -n, without -f, checks it and exits 4);
#    fsck.kvfs -y repairs, -n is clean after;
#  - the root inode damaged: the mount is refused with a message naming
#    fsck.kvfs, whose -y mends it so that the tree mounts and walks whole;
#  - AG 0's inode header stamped with an LSN past the log's head (its crc
#    right): the mount comes up without AG 0's unlinked lists, its log
#    naming the LSN and fsck.kvfs; the whole tree walks, a file of another
#    AG is made and removed, removing one of AG 0 fails with EUCLEAN; the
#    unmount leaves the error state; fsck.kvfs -y mends it so that the
#    tree mounts and walks whole (an inode or extent-map block so stamped
#    is one of the cases above);
#  - random bit flips (blocktrash, every metadata type but the log) over a
#    few seeds: the mount is refused with a message, or comes up and the
#    whole tree can be walked without the daemon dying (no ENOTCONN, no
#    sanitizer report), then unmounts.
#
# Usage: corrupt.sh MOUNT_KVFS MKFS KVFS_DB POPULATE FSCK [SEEDS [CASES]]
# SEEDS: N for the seeds 1 to N (6 when not given), or FIRST-LAST.
# CASES: "all" (the default), or "few" to leave out the loop of fixed
# damage cases below (the root inode, lsn-future-agi and the seeds run).
mount_kvfs=$1 mkfs=$2 db=$3 pop=$4 fsck=$5 seeds=${6:-6} which=${7:-all}
case $which in all | few) ;; *) echo "FAIL: CASES '$which'"; exit 1 ;; esac
case $seeds in
*-*) seed_list=$(seq "${seeds%-*}" "${seeds#*-}") ;;
*) seed_list=$(seq "$seeds") ;;
esac
[ -n "$seed_list" ] || { echo "FAIL: no seed in '$seeds'"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
walk() { timeout 120 python3 "$here/walk.py" "$1"; }

T "$mkfs" -q -s 48M "$tmp/base" || fail mkfs
T "$pop" build "$tmp/base" || fail populate
T "$pop" dump-sums "$tmp/base" "$tmp/orig" >/dev/null || fail dump
ino_of() { awk -v p="$1" '$5 == p { print $1 }' "$tmp/orig/manifest"; }
FRAG=$(ino_of /frag) F4095=$(ino_of /file4095) F65537=$(ino_of /file65537)
[ -n "$FRAG" ] && [ -n "$F4095" ] && [ -n "$F65537" ] || fail manifest
DBLOCKS=$(T "$db" "$tmp/base" sb | sed -n 's/^dblocks = //p')

# the undamaged tree, through the mount
cp "$tmp/base" "$img"
mount_fg "$img" "$mnt"
walk "$mnt" >"$tmp/clean" || fail walk
# statfs's inodes and free inodes, for the damaged AGI's mount
CLEAN_SF=$(T stat -f -c '%c %d' "$mnt") || fail "stat -f"
unmount_fg "$mnt"
grep -q '^ERR' "$tmp/clean" && fail "undamaged image: $(grep -m3 ERR "$tmp/clean")"
[ "$(grep -c '^OK' "$tmp/clean")" -gt 5000 ] || fail "undamaged walk too short"

# NAME%DAMAGED PATH (a regex over walk's paths)%kvfs-db -x commands
cases=(
"inode-flags%^file4095$%write inode $F4095 flags 0x40000000"
"bmbt-node%^frag$%write -c btree $FRAG bmbt 0:1 level 4"
"extent-past-end%^file65537$%write inode $F65537 u.extent[0].startblock $((DBLOCKS + 10))"
"dir-block%^big(/|$)%blocktrash -s 11 -n 1 -b 8 -t dir"
"xattr-block%^xattr-block@xattr$%blocktrash -s 5 -n 1 -b 16 -t attr"
"lsn-future-inode%^file4095$%write inode $F4095 lsn $((100 << 32 | 7))"
"lsn-future-bmbt%^frag$%write btree $FRAG bmbt 0:1 lsn $((100 << 32))"
)
[ "$which" = few ] && cases=()
for c in "${cases[@]}"; do
	IFS='%' read -r name re cmds <<<"$c"
	cp "$tmp/base" "$img"
	T "$db" -x "$img" $cmds >"$tmp/db.out" 2>&1 ||
		fail "$name: kvfs-db -x $cmds: $(cat "$tmp/db.out")"
	mount_fg "$img" "$mnt"
	walk "$mnt" >"$tmp/walk" || fail "$name: walk"
	# the damage shows, as EIO, EUCLEAN or EBADMSG, and only there
	awk '$1 == "ERR" { print $2, $3 }' "$tmp/walk" >"$tmp/errs"
	[ -s "$tmp/errs" ] || fail "$name: no error met"
	while read -r p e; do
		echo "$p" | grep -qE "$re" ||
			fail "$name: error outside the damage: $p $e"
		case $e in EIO | EUCLEAN | EBADMSG) ;;
		*) fail "$name: $p: $e, not EIO/EUCLEAN/EBADMSG" ;;
		esac
	done <"$tmp/errs"
	# everything else as it was (what the walk still saw, and all of it)
	grep '^OK' "$tmp/walk" | sort >"$tmp/ok"
	grep '^OK' "$tmp/clean" | awk -v re="$re" '!($2 ~ re)' | sort >"$tmp/want"
	comm -13 "$tmp/ok" "$tmp/want" | awk -v re="$re" '{
		p = $2; while (p ~ /\//) { sub(/\/[^\/]*$/, "", p); if (p ~ re) next }
		print }' >"$tmp/changed"
	comm -23 "$tmp/ok" "$tmp/want" | awk -v re="$re" '!($2 ~ re)' >>"$tmp/changed"
	[ -s "$tmp/changed" ] && fail "$name: changed or lost: $(head -3 "$tmp/changed")"
	# still up for the rest
	T dd if=/dev/urandom of="$tmp/new" bs=64K count=16 status=none
	T dd if="$tmp/new" of="$mnt/new-after-damage" bs=64K conv=fsync \
		status=none || fail "$name: write after the damage"
	cmp -s "$tmp/new" "$mnt/new-after-damage" || fail "$name: new file differs"
	unmount_fg "$mnt"
	grep -qE 'corrupt|block [0-9]+' "$daemon_log" ||
		fail "$name: the daemon's log names no block: $(cat "$daemon_log")"
	# the mount met the damage: its unmount left the error state,
	# so a plain fsck (no -f) checks rather than skips a clean one
	T "$fsck" -n "$img" >"$tmp/fsck.out" 2>&1
	st=$?
	[ $st -eq 4 ] ||
		fail "$name: fsck -n without -f after the mount: exit $st, not 4: $(tail -3 "$tmp/fsck.out")"
	T "$fsck" -y -f "$img" >"$tmp/fsck.out" 2>&1
	st=$?
	[ $st -eq 1 ] || fail "$name: fsck -y exit $st: $(tail -5 "$tmp/fsck.out")"
	T "$fsck" -n -f "$img" >"$tmp/fsck.out" 2>&1 ||
		fail "$name: not clean after repair: $(tail -5 "$tmp/fsck.out")"
	T "$fsck" -n "$img" >"$tmp/fsck.out" 2>&1 ||
		fail "$name: plain fsck -n not clean after repair: $(tail -5 "$tmp/fsck.out")"
	echo "corrupt $name: $(wc -l <"$tmp/errs") error(s), the rest intact, repaired"
done

# a refused mount's daemon: no sanitizer report on its way out either
refused_clean() {
	grep -q 'Sanitizer\|runtime error' "$daemon_log" &&
		fail "$1: refused with a sanitizer report"
	return 0
}

# repaired_walks NAME: fsck -y mended the image (exit 1, its output in
# $tmp/fsck.out) that now mounts and walks whole with no error
repaired_walks() {
	local st
	T "$fsck" -y -f "$img" >"$tmp/fsck.out" 2>&1
	st=$?
	[ $st -eq 1 ] || fail "$1: fsck -y exit $st: $(tail -5 "$tmp/fsck.out")"
	mount_fg "$img" "$mnt"
	walk "$mnt" >"$tmp/walk" || fail "$1: walk after repair"
	grep -q '^ERR' "$tmp/walk" &&
		fail "$1: errors after repair: $(grep -m3 '^ERR' "$tmp/walk")"
	unmount_fg "$mnt"
}

# the root inode damaged: the mount is refused naming fsck.kvfs (the
# kernel needs the root before anything), which mends it
ROOT=$(T "$db" "$tmp/base" sb | sed -n 's/^rootino = //p')
[ -n "$ROOT" ] || fail "no rootino in kvfs-db sb"
cp "$tmp/base" "$img"
T "$db" -x "$img" write inode "$ROOT" flags 0x40000000 >"$tmp/db.out" 2>&1 ||
	fail "root: kvfs-db: $(cat "$tmp/db.out")"
try_mount_fg "$img" "$mnt" && fail "root inode damaged: mounted"
grep -q 'root directory: .*fsck\.kvfs' "$daemon_log" ||
	fail "root inode damaged: refused without naming fsck.kvfs: $(cat "$daemon_log")"
refused_clean "root inode damaged"
repaired_walks root
echo "corrupt root-inode: refused naming fsck.kvfs, repaired, mounted"

# AG 0's inode header stamped past the log's head (crc right), which a
# read refuses, as XFS's xfs_log_check_lsn() does: a clean mount reads
# every AGI for the unlinked lists (fs/inode/iunlink.c says why) and goes
# on without AG 0's, naming the LSN and fsck.kvfs; only what changes
# them fails (unlinking a file of AG 0).  fsck -y resets the LSN (phase
# 2) so that the tree mounts and walks whole.  Before (main 430cd57) the
# mount was refused: "cannot free the unlinked inodes a crash left",
# with no crash.
AG0_FILE=$(awk '$5 ~ /^\/file[0-9]+$/ && $1 < 1000 { print $5; exit }' \
	"$tmp/orig/manifest")
[ -n "$AG0_FILE" ] || fail "lsn-future-agi: no file of AG 0 in the manifest"
cp "$tmp/base" "$img"
T "$db" -x "$img" write agi 0 lsn $((100 << 32)) >"$tmp/db.out" 2>&1 ||
	fail "lsn-future-agi: kvfs-db: $(cat "$tmp/db.out")"
mount_fg "$img" "$mnt"
grep -q 'unlinked lists of 1 AG(s) did not read (corruption in block 2 (AG inode header): LSN 100/0 ahead of the log (head .*fsck\.kvfs' "$daemon_log" ||
	fail "lsn-future-agi: the daemon's log does not say the LSN and fsck.kvfs: $(cat "$daemon_log")"
grep -q 'crash' "$daemon_log" &&
	fail "lsn-future-agi: a crash blamed: $(cat "$daemon_log")"
walk "$mnt" >"$tmp/walk" || fail "lsn-future-agi: walk"
grep -q '^ERR' "$tmp/walk" &&
	fail "lsn-future-agi: errors in the walk: $(grep -m3 '^ERR' "$tmp/walk")"
cmp -s <(grep "^OK" "$tmp/walk" | sort) <(grep "^OK" "$tmp/clean" | sort) ||
	fail "lsn-future-agi: the walk differs from the undamaged one"
# statfs reads no AGI: AG 0's counted from the superblock's summary
T df -i "$mnt" >"$tmp/df.out" 2>&1 ||
	fail "lsn-future-agi: df -i: $(cat "$tmp/df.out")"
sf=$(T stat -f -c '%c %d' "$mnt" 2>&1) || fail "lsn-future-agi: stat -f: $sf"
[ "$sf" = "$CLEAN_SF" ] ||
	fail "lsn-future-agi: stat -f says $sf inodes and free, the undamaged mount $CLEAN_SF"
T rm "$mnt$AG0_FILE" 2>"$tmp/rm.err" &&
	fail "lsn-future-agi: $AG0_FILE of AG 0 removed"
grep -q 'Structure needs cleaning' "$tmp/rm.err" ||
	fail "lsn-future-agi: rm $AG0_FILE: $(cat "$tmp/rm.err")"
T dd if=/dev/urandom of="$tmp/new" bs=64K count=16 status=none
T dd if="$tmp/new" of="$mnt/new-after-damage" bs=64K conv=fsync \
	status=none || fail "lsn-future-agi: write after the damage"
cmp -s "$tmp/new" "$mnt/new-after-damage" ||
	fail "lsn-future-agi: new file differs"
T rm "$mnt/new-after-damage" || fail "lsn-future-agi: rm of the new file"
unmount_fg "$mnt"
T "$fsck" -n "$img" >"$tmp/fsck.out" 2>&1
st=$?
[ $st -eq 4 ] ||
	fail "lsn-future-agi: fsck -n without -f after the mount: exit $st, not 4: $(tail -3 "$tmp/fsck.out")"
repaired_walks lsn-future-agi
grep -q 'has LSN 100/0 ahead of the log' "$tmp/fsck.out" ||
	fail "lsn-future-agi: fsck -y does not say the LSN: $(tail -5 "$tmp/fsck.out")"
echo "corrupt lsn-future-agi: mounted without AG 0's lists naming the LSN and fsck.kvfs, its unlink refused, repaired"

# random damage: refused cleanly, or walked without the daemon dying
for seed in $seed_list; do
	cp "$tmp/base" "$img"
	T "$db" -x "$img" blocktrash -s "$seed" -n 4 -b 4 >/dev/null 2>&1 ||
		fail "blocktrash -s $seed"
	if ! try_mount_fg "$img" "$mnt"; then
		grep -q 'fsck\.kvfs' "$daemon_log" ||
			fail "seed $seed: refused without naming fsck.kvfs: $(cat "$daemon_log")"
		refused_clean "seed $seed"
		echo "blocktrash seed $seed: refused: $(grep -m1 fsck.kvfs "$daemon_log")"
		continue
	fi
	walk "$mnt" >"$tmp/walk" || fail "seed $seed: walk"
	grep -q ' ENOTCONN$' "$tmp/walk" && fail "seed $seed: the daemon died: $(tail -5 "$daemon_log")"
	kill -0 "$daemon_pid" 2>/dev/null || fail "seed $seed: the daemon died: $(tail -5 "$daemon_log")"
	unmount_fg "$mnt"
	echo "blocktrash seed $seed: $(grep -c '^ERR' "$tmp/walk") error(s) met, unmounted"
done
echo "fuse corrupt: ok"
