#!/usr/bin/env bash
# File handles on a real mount (export support): test_fuse_handles takes
# handles, changes the namespace, then opens them in the same mount (the
# kernel's cache) and after a remount (the kernel asks the daemon for "."
# of each node id: any number, checked as untrusted); the daemon exits
# clean (no sanitizer report) and the image checks clean.
# Always unmounts (lib.sh's trap); every command is bounded by a timeout.
# usage: handles.sh MOUNT_KVFS MKFS_KVFS TEST_FUSE_HANDLES FSCK_KVFS
set -u
mount_kvfs=$1 mkfs=$2 th=$3 fsck=$4
. "$(dirname "$0")/lib.sh"

T "$mkfs" -q -s 64M "$img" || fail "mkfs.kvfs"
mount_fg "$img" "$mnt"
T "$th" save "$mnt" "$tmp/state" || fail "save"
T "$th" cached "$mnt" "$tmp/state" || fail "handles in the same mount"
unmount_fg "$mnt"
mount_fg "$img" "$mnt"
T "$th" check "$mnt" "$tmp/state" || fail "handles after a remount"
[ "$(cat "$mnt/dir/ren")" = renamed ] || fail "dir/ren after the handles"
unmount_fg "$mnt"
T "$fsck" -n -f "$img" >"$tmp/fsck" 2>&1 || fail "fsck: $(cat "$tmp/fsck")"
echo PASS
