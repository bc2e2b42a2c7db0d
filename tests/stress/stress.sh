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
#   TEST-cfr ARGS...  TEST (fsstress, fsstress-full, fsx, posix, pjd)
#                     mounted -o copy_file_range: the daemon answers
#                     copy_file_range (by default the kernel copies)
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
case $test in
*-nowb) mopts=(-o nowriteback_cache) ;;
*-cfr) mopts=(-o copy_file_range) ;;
esac
[ -n "${STRESS_MOUNT_OPTS:-}" ] && mopts+=(-o "$STRESS_MOUNT_OPTS")
base=${test%-cfr}
size=512M
[ "$base" = fsstress-full ] && size=16M
T "$mkfs" -q -s $size "$img" || fail "mkfs.kvfs"
# cfr_check MAX: the COPY_FILE_RANGE requests the daemon answered (its
# kvfs.stats, fs/fuse/stats.c): some with -o copy_file_range; else at
# most MAX, answered ENOSYS, the first call of each of MAX processes
# (after one reply the kernel sends no more), none where none was made
cfr_check() {
	local n
	n=$(T python3 - "$mnt" <<'PY'
import os, sys
for line in os.getxattr(sys.argv[1], "kvfs.stats").decode().splitlines():
    k, _, v = line.partition(" ")
    if k == "fuse.copy_file_range.count":
        print(v)
PY
) || fail "getxattr kvfs.stats"
	if [ "$test" != "$base" ]; then
		[ "$n" -gt 0 ] ||
			fail "-o copy_file_range: no request reached the daemon"
	else
		[ "$n" -le "$1" ] ||
			fail "$n copy_file_range requests after ENOSYS (at most $1)"
	fi
	echo "ok: $n copy_file_range requests reached the daemon"
}

mount_fg "$img" "$mnt" "${mopts[@]}"
case $base in
fsstress | fsstress-full)
	mkdir "$mnt/s" || fail "mkdir"
	timeout 150 "$here/fsstress.py" "$@" "$mnt/s" || fail "fsstress.py $*"
	procs=4 # fsstress.py's default
	while [ $# -gt 0 ]; do
		case $1 in
		-p | --procs) procs=$2 ;;
		--procs=*) procs=${1#*=} ;;
		esac
		shift
	done
	cfr_check "$procs"
	;;
fsx)
	mkdir "$mnt/fsx" || fail "mkdir"
	timeout 150 "$here/fsx.py" --manifest "$tmp/sums" "$@" "$mnt/fsx" ||
		fail "fsx.py $*"
	cfr_check 1
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
	cfr_check 1
	;;
pjd | pjd-nowb)
	mkdir "$tmp/ref" || fail "mkdir"
	T mount -t tmpfs -o size=64M,mode=0755 tmpfs "$tmp/ref" ||
		fail "mount tmpfs"
	at_exit='umount "$tmp/ref"'
	T "$here/pjd_diff.py" "$@" --save "$tmp/snap" "$mnt" "$tmp/ref" ||
		fail "pjd_diff.py"
	cfr_check 1
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
