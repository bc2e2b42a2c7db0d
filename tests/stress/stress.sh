#!/usr/bin/env bash
# The stress programs on a real mount of a fresh image, the daemon in the
# foreground (its exit status and sanitizer reports count), then
# fsck.kvfs -f -n on the unmounted image (exit 0 required):
#   fsstress ARGS...  fsstress.py on an empty directory of the mount
#   fsstress-full ARGS...  the same on a 16M image the load fills (ARGS
#                     with --enospc)
#   fsx ARGS...       fsx.py, then every file's bytes again after an
#                     unmount and a mount
#   posix             posix_diff.py: the mount's root against a tmpfs
#   posix-nowb ARGS...  the same mounted -o nowriteback_cache (ARGS:
#                     posix_diff.py's --nowriteback)
#   pjd               pjd_diff.py: pjdfstest's cases, as root and as other
#                     users, against a tmpfs; then every name's stat again
#                     after an unmount and a mount
#   pjd-nowb ARGS...  the same mounted -o nowriteback_cache (ARGS:
#                     pjd_diff.py's --nowriteback)
# Always unmounts (tests/fuse/lib.sh's trap); every step under a timeout.
# STRESS_MOUNT_OPTS, if set, is one more -o for the daemon (a squeeze:
# STRESS_MOUNT_OPTS=mem=24M).
# usage: stress.sh TEST MOUNT_KVFS MKFS_KVFS FSCK_KVFS [ARGS...]
set -u
test=$1 mount_kvfs=$2 mkfs=$3 fsck=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../fuse/lib.sh"

# pjd-nowb, posix-nowb: the daemon without the kernel's writeback cache
mopts=()
case $test in *-nowb) mopts=(-o nowriteback_cache) ;; esac
[ -n "${STRESS_MOUNT_OPTS:-}" ] && mopts+=(-o "$STRESS_MOUNT_OPTS")
size=512M
[ "$test" = fsstress-full ] && size=16M
T "$mkfs" -q -s $size "$img" || fail "mkfs.kvfs"
mount_fg "$img" "$mnt" "${mopts[@]}"
case $test in
fsstress | fsstress-full)
	mkdir "$mnt/s" || fail "mkdir"
	timeout 150 "$here/fsstress.py" "$@" "$mnt/s" || fail "fsstress.py $*"
	;;
fsx)
	mkdir "$mnt/fsx" || fail "mkdir"
	timeout 150 "$here/fsx.py" --manifest "$tmp/sums" "$@" "$mnt/fsx" ||
		fail "fsx.py $*"
	unmount_fg "$mnt"
	mount_fg "$img" "$mnt"
	(cd "$mnt/fsx" && T sha256sum --quiet -c "$tmp/sums") ||
		fail "fsx files differ after a remount"
	echo "ok: every file the same after a remount"
	;;
posix | posix-nowb)
	mkdir "$tmp/ref" || fail "mkdir"
	T mount -t tmpfs -o size=64M,mode=0755 tmpfs "$tmp/ref" ||
		fail "mount tmpfs"
	at_exit='umount "$tmp/ref"'
	T "$here/posix_diff.py" "$@" "$mnt" "$tmp/ref" || fail "posix_diff.py"
	;;
pjd | pjd-nowb)
	mkdir "$tmp/ref" || fail "mkdir"
	T mount -t tmpfs -o size=64M,mode=0755 tmpfs "$tmp/ref" ||
		fail "mount tmpfs"
	at_exit='umount "$tmp/ref"'
	T "$here/pjd_diff.py" "$@" --save "$tmp/snap" "$mnt" "$tmp/ref" ||
		fail "pjd_diff.py"
	unmount_fg "$mnt"
	mount_fg "$img" "$mnt" "${mopts[@]}"
	T "$here/pjd_diff.py" --verify "$tmp/snap" "$mnt" "$tmp/ref" ||
		fail "pjd_diff.py: the image differs from what the kernel showed"
	;;
*)
	fail "unknown test $test"
	;;
esac
unmount_fg "$mnt"
T "$fsck" -f -n "$img" >"$tmp/fsck.out" 2>&1 ||
	fail "fsck.kvfs -f -n: exit $?: $(cat "$tmp/fsck.out")"
echo "stress $test: ok, fsck.kvfs clean"
