#!/usr/bin/env bash
# SIGKILL of mount.kvfs in the middle of a 4-thread workload that fsyncs
# (test_fuse_kill work), once 1 to 40 files are durable, ROUNDS times on
# one image.  After each kill:
# the next mount says it recovered, every file fsync'd before the kill is
# there with its bytes (test_fuse_kill verify), a clean unmount, and the
# core's checker finds nothing (no block leaked or owned twice, counters
# exact).  With FSCK_KVFS, fsck.kvfs -f -n finds nothing on the killed
# image (its log replayed in memory) and again after the clean unmount.
# Always unmounts (lib.sh's trap); every step under a timeout.
# usage: kill.sh MOUNT_KVFS MKFS_KVFS TEST_FUSE_KILL SCRUB_IMAGE [ROUNDS
#        [FSCK_KVFS]]
set -u
mount_kvfs=$1 mkfs=$2 prog=$3 scrub=$4 rounds=${5:-20} fsck=${6:-}
. "$(dirname "$0")/lib.sh"

daemon=""
at_exit='[ -n "$daemon" ] && kill -KILL $daemon 2>/dev/null'

# fsck_clean WHEN [DIRTY]: fsck.kvfs -f -n finds nothing, if given; with
# DIRTY the one problem -n reports of a killed image, its dirty log (the
# checks then read the filesystem as the replay will leave it)
fsck_clean() {
	[ -n "$fsck" ] || return 0
	out=$(T "$fsck" -f -n "$img" 2>&1) && return 0
	[ -n "${2:-}" ] && grep -q "log is dirty; not replayed" <<<"$out" &&
		grep -q ": 1 problems found, 0 fixed, 1 left" <<<"$out" && return 0
	fail "round $r: fsck.kvfs -f -n $1: $out"
}

# wait_gone PID SECONDS: the process ended within SECONDS
wait_gone() {
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
for r in $(seq "$rounds"); do
	"$mount_kvfs" -f "$img" "$mnt" 2>"$tmp/daemon.err" &
	daemon=$!
	for _ in $(seq 100); do mounted "$mnt" && break; sleep 0.1; done
	mounted "$mnt" || fail "round $r: mount: $(cat "$tmp/daemon.err")"
	rm -f "$tmp/list"
	"$prog" work "$mnt/r$r" "$tmp/list" 4 &
	work=$!
	# after 1 to 40 files were made durable (however loaded the machine
	# is), then 0 to 0.2 s more
	want=$((1 + RANDOM % 40))
	for _ in $(seq 600); do
		[ "$(wc -l <"$tmp/list" 2>/dev/null || echo 0)" -ge "$want" ] && break
		sleep 0.05
	done
	sleep "$(printf '0.%03d' $((RANDOM % 200)))"
	kill -0 "$work" 2>/dev/null || fail "round $r: the workload ended before the kill"
	kill -KILL "$daemon"
	wait "$daemon" 2>/dev/null
	daemon=""
	wait_gone "$work" 30 || fail "round $r: the workload hangs on the dead mount"
	T fusermount3 -u "$mnt" || fail "round $r: unmount after the kill"
	mounted "$mnt" && fail "round $r: still mounted"
	[ "$(grep -c . "$tmp/list")" -gt 0 ] ||
		fail "round $r: nothing was fsync'd before the kill"
	fsck_clean "after the kill" dirty

	out=$(T "$mount_kvfs" "$img" "$mnt" 2>&1) || fail "round $r: mount after the kill: $out"
	grep -q "was not cleanly unmounted: log replayed" <<<"$out" ||
		fail "round $r: no recovery at the mount after the kill: '$out'"
	res=$(T "$prog" verify "$mnt/r$r" "$tmp/list") ||
		fail "round $r: fsync'd data lost: $res"
	# the previous round's files go: the image stays far from full
	[ "$r" -gt 1 ] && { T rm -rf "$mnt/r$((r - 1))" || fail "rm"; }
	unmount "$mnt" "$img"
	T "$scrub" "$img" >/dev/null || fail "round $r: the checker found something"
	fsck_clean "after the recovery"
	echo "ok: round $r: recovered, $res, checker clean"
done
echo "fuse kill: ok ($rounds rounds)"
