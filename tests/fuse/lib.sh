# Helpers of the real-mount tests (sourced): a temporary directory with an
# image and a mountpoint, always unmounted at exit; every command bounded
# by a timeout.  The caller sets mount_kvfs and mkfs first.
# shellcheck shell=bash

[ "$(id -u)" -eq 0 ] || { echo "SKIP: not root"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
command -v fusermount3 >/dev/null || { echo "SKIP: no fusermount3"; exit 77; }

tmp=$(mktemp -d /tmp/kvfs-fuse.XXXXXX)
img=$tmp/img mnt=$tmp/mnt mnt2=$tmp/mnt2
mkdir "$mnt" "$mnt2"
chmod 755 "$tmp"
# extra cleanup of the caller (tools.sh's tmpfs), run first
at_exit=:
cleanup() {
	eval "$at_exit"
	for m in "$mnt" "$mnt2"; do
		timeout 10 fusermount3 -u -z "$m" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
mounted() { grep -q " $1 fuse" /proc/mounts; }
T() { timeout 60 "$@"; }

# unmount MOUNTPOINT IMAGE: and wait for the daemon to finish writing back
# (it holds the image's lock until kvfs_close() returned)
unmount() {
	T fusermount3 -u "$1" || fail "fusermount3 -u $1"
	timeout 30 flock -w 25 "$2" true || fail "daemon did not exit"
	mounted "$1" && fail "$1 still mounted"
	return 0
}
