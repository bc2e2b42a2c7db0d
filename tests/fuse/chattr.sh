#!/usr/bin/env bash
# chattr's flags through a mount (test_fuse_chattr): the ioctls, every
# operation an immutable or append-only inode refuses, then the flags
# after a remount, in both cache modes; the checker clean on the image.
# Always unmounts (lib.sh's trap); every step under a timeout.
# usage: chattr.sh MOUNT_KVFS MKFS_KVFS TEST_FUSE_CHATTR SCRUB_IMAGE
set -u
mount_kvfs=$1 mkfs=$2 prog=$3 scrub=$4
. "$(dirname "$0")/lib.sh"

T "$mkfs" -q -s 64M "$img" || fail "mkfs.kvfs"
# both cache modes: the kernel's writes go through the daemon or not
for cache in writeback_cache nowriteback_cache; do
	T "$mount_kvfs" "$img" "$mnt" -o $cache || fail "mount -o $cache"
	T "$prog" prep "$mnt" || fail "test_fuse_chattr prep ($cache)"
	unmount "$mnt" "$img"
	T "$mount_kvfs" "$img" "$mnt" -o $cache || fail "mount again ($cache)"
	T "$prog" check "$mnt" || fail "test_fuse_chattr check ($cache)"
	unmount "$mnt" "$img"
	T "$scrub" "$img" || fail "the checker after the chattr cases ($cache)"
	echo "ok: chattr, $cache"
done
