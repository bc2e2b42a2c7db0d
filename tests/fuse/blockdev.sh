#!/usr/bin/env bash
# kvfs on a block device, as on an image file: mkfs.kvfs on a loop device
# takes the device's size, mount.kvfs mounts it, a second mount of the
# same device is refused (its lock), files written through the mount read
# back after an unmount and a mount, fsck.kvfs checks the device clean and
# the checker agrees.  The loop device is detached at exit, also on a
# failure (lib.sh's trap runs at_exit first).  SKIP (77) without losetup
# or a free loop device.
# usage: blockdev.sh MOUNT_KVFS MKFS_KVFS FSCK_KVFS SCRUB_IMAGE
set -u
mount_kvfs=$1 mkfs=$2 fsck=$3 scrub=$4
. "$(dirname "$0")/lib.sh"

command -v losetup >/dev/null || { echo "SKIP: no losetup"; exit 77; }
truncate -s 192M "$img" || fail "truncate"
dev=$(T losetup -f --show "$img" 2>"$tmp/losetup.err") ||
	{ echo "SKIP: no loop device: $(cat "$tmp/losetup.err")"; exit 77; }
at_exit='T losetup -d "$dev"'

T "$mkfs" -q "$dev" || fail "mkfs.kvfs $dev"
"$fsck" -n -f "$dev" >"$tmp/fsck0" 2>&1 || fail "fsck of a new fs: $(cat "$tmp/fsck0")"

mount_fg "$dev" "$mnt"
# the device's size, not a default
blocks=$(stat -f -c %b "$mnt")
[ "$blocks" -gt $((150 << 8)) ] && [ "$blocks" -le $((192 << 8)) ] ||
	fail "statfs says $blocks blocks on a 192 MiB device"
T "$mount_kvfs" "$dev" "$mnt2" >"$tmp/second" 2>&1 &&
	fail "a second mount of $dev was accepted"
grep -q "in use" "$tmp/second" || fail "second mount's message: $(cat "$tmp/second")"
mounted "$mnt2" && fail "$mnt2 mounted"

mkdir "$mnt/d" || fail "mkdir"
head -c 5000000 /dev/urandom >"$tmp/big" || fail "urandom"
cp "$tmp/big" "$mnt/d/big" || fail "cp big"
for i in $(seq 200); do echo "file $i" >"$mnt/d/f$i" || fail "write f$i"; done
ln -s d/big "$mnt/link" || fail "symlink"
sync -f "$mnt" || fail "syncfs"
unmount_fg "$mnt"

"$fsck" -n -f "$dev" >"$tmp/fsck1" 2>&1 || fail "fsck -n -f after use: $(cat "$tmp/fsck1")"
T "$scrub" "$dev" >"$tmp/scrub" 2>&1 || fail "checker: $(cat "$tmp/scrub")"

mount_fg "$dev" "$mnt"
cmp "$tmp/big" "$mnt/d/big" || fail "big differs after a remount"
cmp "$tmp/big" "$mnt/link" || fail "the symlink does not reach big"
for i in $(seq 200); do
	[ "$(cat "$mnt/d/f$i")" = "file $i" ] || fail "f$i differs after a remount"
done
unmount_fg "$mnt"
echo "blockdev: mkfs, mount, 201 files, remount, fsck on $dev"
exit 0
