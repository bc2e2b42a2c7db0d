# Helpers of the real-mount tests (sourced, after ../lib.sh's preamble): a
# temporary directory with an image and a mountpoint, always unmounted at
# exit; every command bounded
# by a timeout; a daemon in the foreground whose exit status and sanitizer
# reports count.  The caller sets mount_kvfs and mkfs first.
# shellcheck shell=bash

[ "$(id -u)" -eq 0 ] || { echo "SKIP: not root"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
command -v fusermount3 >/dev/null || { echo "SKIP: no fusermount3"; exit 77; }

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
tmpdir fuse /tmp
tmp=$T
img=$tmp/img mnt=$tmp/mnt mnt2=$tmp/mnt2
mkdir "$mnt" "$mnt2"
chmod 755 "$tmp" # test_fuse_ops works as an unprivileged user too
# at_exit (../lib.sh): extra cleanup of the caller (tools.sh's tmpfs), run
# first; daemon_pid: the daemon of mount_fg while it runs
unmount_at_exit "$mnt" "$mnt2"

# the daemon's last words go with a failure: what it logged (corruption
# reports, a shutdown) is the cause the caller's message cannot name
fail() {
	echo "FAIL: $*"
	if [ -n "${daemon_log:-}" ] && [ -s "$daemon_log" ]; then
		echo "--- mount.kvfs log (last 40 lines) ---"
		tail -40 "$daemon_log"
	fi
	exit 1
}
mounted() { grep -q " $1 fuse" /proc/mounts; }

# fusermount_u MOUNTPOINT: fusermount3 -u, failing with what it said, its
# exit status (124: its 60 s ran out) and the processes whose working
# directory or open files are under MOUNTPOINT (a busy mount's holders)
fusermount_u() {
	local out rc
	out=$(T fusermount3 -u "$1" 2>&1)
	rc=$?
	[ $rc = 0 ] && return 0
	fail "fusermount3 -u $1: exit $rc: $out; held by: $(ls -l /proc/[0-9]*/cwd /proc/[0-9]*/fd 2>/dev/null | grep -F " -> $1" | head -5)"
}

# unmount MOUNTPOINT IMAGE: and wait for the daemon to finish writing back
# (it holds the image's lock until kvfs_close() returned)
unmount() {
	fusermount_u "$1"
	timeout 30 flock -w 25 "$2" true || fail "daemon did not exit"
	mounted "$1" && fail "$1 still mounted"
	return 0
}

# try_mount_fg IMAGE MOUNTPOINT [OPTION...]: mount.kvfs in the foreground,
# in the background of this shell (daemon_pid), its output in daemon_log;
# returns 0 once mounted, 1 if the daemon exited first (a refused image)
try_mount_fg() {
	local image=$1 m=$2
	shift 2
	daemon_log=$tmp/daemon.log
	"$mount_kvfs" -f "$image" "$m" "$@" </dev/null >"$daemon_log" 2>&1 &
	daemon_pid=$!
	# polled every 20 ms: each mount and unmount waited half of 0.1 s
	# more than it took, on average
	for _ in $(seq 500); do
		mounted "$m" && return 0
		if ! kill -0 "$daemon_pid" 2>/dev/null; then
			wait "$daemon_pid"
			daemon_pid=
			mounted "$m" && fail "$m mounted by a daemon that exited"
			return 1
		fi
		sleep 0.02
	done
	fail "mount.kvfs -f $image $m $*: neither mounted nor exited in 10 s: $(cat "$daemon_log")"
}

# mount_fg IMAGE MOUNTPOINT [OPTION...]: try_mount_fg, which must mount
mount_fg() {
	try_mount_fg "$@" ||
		fail "mount.kvfs -f $*: not mounted: $(cat "$daemon_log")"
}

# wait_fg: the daemon of mount_fg exits within 30 s, with status 0 and no
# sanitizer report (the debug build's leaks and errors fail the test)
wait_fg() {
	local st
	for _ in $(seq 1500); do
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.02
	done
	kill -0 "$daemon_pid" 2>/dev/null && fail "daemon did not exit"
	wait "$daemon_pid"
	st=$?
	daemon_pid=
	if [ "$st" -ne 0 ] || grep -q 'Sanitizer\|runtime error' "$daemon_log"; then
		cat "$daemon_log"
		fail "daemon exit status $st"
	fi
	return 0
}

# unmount_fg MOUNTPOINT: unmount the mount of mount_fg, then wait_fg
unmount_fg() {
	fusermount_u "$1"
	wait_fg
	mounted "$1" && fail "$1 still mounted"
	return 0
}
