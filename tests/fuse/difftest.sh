#!/usr/bin/env bash
# tools/kvfs-difftest's bounded run: the same random system calls (a few
# fixed seeds) on a mounted kvfs and on a tmpfs, every result, attribute,
# name, byte and user xattr compared; in both page cache modes
# (writeback_cache, the default, and nowriteback_cache), the daemon in
# the foreground (its sanitizer reports count), the checker clean after
# each unmount.  A difference prints a minimal reproducer.  Always
# unmounts (lib.sh's trap); every step under a timeout.
# usage: difftest.sh MOUNT_KVFS MKFS_KVFS KVFS_DIFFTEST SCRUB_IMAGE
set -u
mount_kvfs=$1 mkfs=$2 prog=$3 scrub=$4
. "$(dirname "$0")/lib.sh"

ref=$tmp/ref
mkdir "$ref"
mount -t tmpfs -o size=256M tmpfs "$ref" || fail "mount tmpfs"
at_exit='umount "$ref"'

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
for opts in writeback_cache nowriteback_cache; do
	mount_fg "$img" "$mnt" -o "$opts"
	# --minimize replays a difference: bounded apart from T's 60 s
	timeout 150 "$prog" "$mnt" "$ref" --seed 1 --seeds 2 --ops 800 \
		--minimize || fail "kvfs and tmpfs differ (-o $opts)"
	unmount_fg "$mnt"
	T "$scrub" "$img" || fail "the checker after the calls (-o $opts)"
	echo "ok: seeds 1-2, 800 calls each, the same (-o $opts)"
done
