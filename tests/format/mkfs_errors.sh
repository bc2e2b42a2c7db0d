#!/bin/bash
# Bad mkfs.kvfs input: every case gets a clear one-line error naming what
# was wrong, a non-zero exit, and leaves the target exactly as it was (or
# absent).  Includes refusing to overwrite kvfs, XFS and ext4 without -f,
# and an image in use with it.
set -u
MKFS=$1 DB=$2
. "$(dirname "$0")/lib.sh"
tmpdir mkfs-err /tmp
chmod 755 "$T"
AS=() # command prefix: run mkfs as another user

# refuse TARGET "EXPECTED MESSAGE" MKFS-ARGS...
refuse() {
	local target=$1 msg=$2 before
	shift 2
	before=$(hash "$target")
	"${AS[@]}" "$MKFS" "$@" "$target" >"$T/out" 2>"$T/err" &&
		fail "mkfs $* $target succeeded; expected: $msg"
	[ "$(wc -l <"$T/err")" = 1 ] ||
		fail "mkfs $*: not one line: $(cat "$T/err")"
	grep -q "^mkfs.kvfs: .*$msg" "$T/err" ||
		fail "mkfs $*: '$(cat "$T/err")' lacks '$msg'"
	[ -s "$T/out" ] && fail "mkfs $*: printed on failure: $(cat "$T/out")"
	expect_eq "$(hash "$target")" "$before" "mkfs $* changed $target"
}

N=$T/new.img
refuse "$N" "too small for a filesystem (minimum 16 MiB)" -s 1M
refuse "$N" "too small" -s 16383K
refuse "$N" 'invalid size "12X" for -s' -s 12X
refuse "$N" 'invalid size "abc" for -s' -s abc
refuse "$N" 'invalid size "1GG" for -s' -s 1GG
refuse "$N" 'invalid size "" for -s' -s ''
refuse "$N" 'invalid size "-5M" for -s' -s -5M
refuse "$N" 'invalid size "0" for -s' -s 0
refuse "$N" "does not exist (give -s SIZE to create it)"
refuse "$T/no/such/dir/img" "directory $T/no/such/dir: No such file or directory" -s 64M
refuse "$N" "block size 3072 is not a power of two" -s 64M -b 3K
refuse "$N" "block size 131072 is not a power of two" -s 64M -b 128K
refuse "$N" "block size 512 is not a power of two" -s 64M -b 512
refuse "$N" "AG count 100 gives AGs of" -s 1G -a 100
refuse "$N" 'invalid AG count "x"' -s 1G -a x
refuse "$N" "is outside 16 MiB .. 1 TiB" -s 1G -A 8M
refuse "$N" "is larger than the filesystem" -s 1G -A 2G
refuse "$N" "is not a multiple of the block size" -s 1G -A 16385K
refuse "$N" "mutually exclusive" -s 1G -a 4 -A 64M
refuse "$N" "below the 4 MiB minimum" -s 1G -l 1M
refuse "$N" "minimum of this block and inode size" -b 64K -s 256M -l 8M
refuse "$N" "above the 2 GiB maximum" -s 64G -l 3G
refuse "$N" "does not fit in AG 0" -s 64M -a 4 -l 16M
refuse "$N" "into 5 AGs of at least 16 MiB" -s $((20481 * 4096)) -a 5
refuse "$N" "is longer than 32 bytes" -s 64M -L 123456789012345678901234567890123
refuse "$N" 'invalid UUID "nope"' -s 64M -U nope
refuse "$T" "is not a regular file or block device" -s 64M
[ -e "$N" ] && fail "a refused mkfs created the target"

# an existing file too small for a filesystem, and a 0-byte one
truncate -s 8M "$T/small.img"
refuse "$T/small.img" "too small"
: >"$T/empty.img"
refuse "$T/empty.img" "0 bytes is too small"

# read-only target and directory (as an unprivileged user when root)
truncate -s 64M "$T/ro.img"
chmod 444 "$T/ro.img"
mkdir "$T/rodir"
chmod 555 "$T/rodir"
if [ "$(id -u)" = 0 ]; then
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
refuse "$T/ro.img" "cannot open $T/ro.img for writing: Permission denied"
refuse "$T/rodir/img" "cannot create $T/rodir/img: Permission denied" -s 64M
[ -e "$T/rodir/img" ] && fail "created a file in a read-only directory"
AS=()

# existing filesystems are not overwritten without -f, and say which
"$MKFS" -q -s 64M "$T/kvfs.img" || fail "mkfs kvfs.img"
refuse "$T/kvfs.img" "contains an existing kvfs signature (use -f to overwrite it)"
refuse "$T/kvfs.img" "existing kvfs signature" -b 1K -s 128M

truncate -s 320M "$T/xfs.img"
/sbin/mkfs.xfs -q "$T/xfs.img" || fail "mkfs.xfs"
refuse "$T/xfs.img" "contains an existing XFS signature"

truncate -s 64M "$T/ext4.img"
if command -v mke2fs >/dev/null; then
	mke2fs -q -F -t ext4 "$T/ext4.img" || fail "mke2fs"
else
	# the ext4 superblock magic at 1080 and the extents feature at 1120
	printf '\123\357' | dd of="$T/ext4.img" bs=1 seek=1080 conv=notrunc status=none
	printf '\100' | dd of="$T/ext4.img" bs=1 seek=1120 conv=notrunc status=none
fi
refuse "$T/ext4.img" "contains an existing ext4 signature"

# -f or not, an image in use (its lock held, as mount.kvfs, fsck.kvfs and
# kvfs-db -x hold it) is not formatted
timeout 20 flock "$T/kvfs.img" sleep 10 &
holder=$!
sleep 0.3
# (after 100 ms of waiting for the lock, tag image_lock_wait, not 5 s)
KVFS_ERRTAGS=image_lock_wait:value=100 \
	refuse "$T/kvfs.img" "is in use (mounted, or being checked): not formatted" -f
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

# -f overwrites each of them, and the result is a clean kvfs
for f in kvfs xfs ext4; do
	"$MKFS" -q -f "$T/$f.img" || fail "mkfs -f over $f"
	"$DB" "$T/$f.img" check-crc >/dev/null || fail "check after -f over $f"
done
# the old ext4/XFS signatures are gone for other tools too
if command -v blkid >/dev/null; then
	expect_eq "$(blkid -p -o value -s TYPE "$T/ext4.img")" "" "ext4 remnant"
	expect_eq "$(blkid -p -o value -s TYPE "$T/xfs.img")" "" "XFS remnant"
fi

# kvfs-db on something that is not kvfs, and bad commands
truncate -s 64M "$T/zero.img"
"$DB" "$T/zero.img" sb 2>"$T/err" && fail "kvfs-db on zeros succeeded"
grep -q "no kvfs superblock" "$T/err" || fail "kvfs-db zeros: $(cat "$T/err")"
"$DB" "$T/kvfs.img" frobnicate 2>"$T/err"
expect_eq $? 2 "unknown command exit"
grep -q 'unknown command "frobnicate"' "$T/err" || fail "unknown command"
"$DB" "$T/kvfs.img" ag 99 2>"$T/err" && fail "ag 99 succeeded"
grep -q 'invalid AG "99"' "$T/err" || fail "ag 99: $(cat "$T/err")"
"$DB" "$T/kvfs.img" inode 1 2>"$T/err" && fail "inode 1 succeeded"
grep -q 'invalid inode number "1"' "$T/err" || fail "inode 1"
echo "mkfs_errors: ok"
