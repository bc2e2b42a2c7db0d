#!/usr/bin/env bash
# Writes into a file's preallocated space on a full image, through a mount
# (tests/file/test_prealloc_full's case, as a user meets it): 32 MiB of
# 1 KiB blocks, a file fallocated over 27 MiB, the rest filled by dd until
# ENOSPC, then every other block of the fallocation written, one O_DIRECT
# pwrite(2) of 1 KiB each (each reaches the daemon alone, its answer the
# call's), each one splitting an unwritten extent in three.  Mounted with
# wbreserve=0: the removals' reserve alone backs the splits and runs out
# on this size (the 2 MiB write-back reserve would hold them all).  Each
# write answers 1024 or ENOSPC (some of each), fsync 0, the daemon never
# shuts down; after a remount every accepted block reads back and every
# refused one zeros; the daemon exits clean; the checker and fsck.kvfs -n
# find nothing.
# Before: 9816 accepted, 4008 refused, fsync ENOSPC, the daemon's exit 32
# ("writing back at unmount: No space left on device"), and 8 accepted
# blocks read zeros after the remount.  Always unmounts (lib.sh's trap);
# every step under a timeout.
# usage: prealloc.sh MOUNT_KVFS MKFS_KVFS PREALLOC_WRITE SCRUB_IMAGE FSCK
set -u
mount_kvfs=$1 mkfs=$2 prog=$3 scrub=$4 fsck=$5
. "$(dirname "$0")/lib.sh"

bs=1024 nblk=27648
writes=$((nblk / 2))
T "$mkfs" -q -f -b 1K -s 32M "$img" || fail "mkfs.kvfs"
mount_fg "$img" "$mnt" -o wbreserve=0
T fallocate -l $((nblk * bs)) "$mnt/p" || fail "fallocate"
for b in 64K 1K; do
	T dd if=/dev/zero of="$mnt/fill" bs=$b oflag=append conv=notrunc \
		2>"$tmp/dd.err"
	grep -q "No space left on device" "$tmp/dd.err" ||
		fail "dd bs=$b did not end with ENOSPC: $(cat "$tmp/dd.err")"
done
T sync || fail "sync"
out=$(timeout 240 "$prog" write "$mnt/p" $bs 1 $writes 2 "$tmp/list") ||
	fail "the writes: $out"
echo "$out"
read -r _ ok _ nospc _ err <<<"$out"
[ "$err" = 0 ] || fail "fsync: errno $err"
[ "$ok" -gt 0 ] && [ "$nospc" -gt 0 ] ||
	fail "$writes writes: $ok accepted, $nospc refused: both expected"
grep -q "shut" "$daemon_log" && fail "the daemon shut the filesystem down"
unmount_fg "$mnt"
mount_fg "$img" "$mnt" -o wbreserve=0
timeout 240 "$prog" verify "$mnt/p" $bs 1 $writes 2 "$tmp/list" ||
	fail "the blocks after the remount"
unmount_fg "$mnt"
T "$scrub" "$img" || fail "the checker"
T "$fsck" -n -f "$img" >"$tmp/fsck" 2>&1 || fail "fsck: $(cat "$tmp/fsck")"
echo "ok: $ok writes into preallocated space accepted and there after a remount, $nospc refused and unchanged"
