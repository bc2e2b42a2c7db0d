#!/usr/bin/env bash
# A power cut under a mount: mount.kvfs with KVFS_DEV_FAULT (the image's
# writes held in a volatile cache until a flush: 'volatile' drops every
# unflushed write at the cut, 'sectors:SEED' keeps any subset of their
# sectors, in any order), a 4-thread workload that fsyncs (test_fuse_kill
# work), then SIGUSR2: the daemon leaves on the image what a power cut
# would and dies at once.  A SIGKILL (kill.sh) keeps the host's page cache
# of the image; this does not, so it checks that each fsync through the
# mount flushed what it had to.  After each cut: the next mount recovers,
# every file fsync'd before the cut is there with its bytes
# (test_fuse_kill verify), a clean unmount, the core's checker finds
# nothing.  Always unmounts (lib.sh's trap); every step under a timeout.
# usage: powercut.sh MOUNT_KVFS MKFS_KVFS TEST_FUSE_KILL SCRUB_IMAGE [ROUNDS
#        [MOUNT_OPTIONS]]   (options for mount.kvfs -o during the workload)
set -u
mount_kvfs=$1 mkfs=$2 prog=$3 scrub=$4 rounds=${5:-10} opts=${6:-}
. "$(dirname "$0")/lib.sh"

daemon=""
at_exit='[ -n "$daemon" ] && kill -KILL $daemon 2>/dev/null'

# wait_gone PID SECONDS: the process ended within SECONDS
wait_gone() {
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
# a malformed value: one line, nothing mounted
out=$(env KVFS_DEV_FAULT=sectors:x timeout 60 "$mount_kvfs" -f "$img" "$mnt" 2>&1) &&
	fail "KVFS_DEV_FAULT=sectors:x accepted"
grep -q "KVFS_DEV_FAULT: 'volatile' or 'sectors:SEED' expected" <<<"$out" ||
	fail "KVFS_DEV_FAULT=sectors:x: '$out'"
mounted "$mnt" && fail "mounted with a bad KVFS_DEV_FAULT"
for r in $(seq "$rounds"); do
	fault=volatile
	[ $((r % 2)) -eq 0 ] && fault="sectors:$((r * 7919 + RANDOM))"
	KVFS_DEV_FAULT=$fault "$mount_kvfs" -f "$img" "$mnt" ${opts:+-o "$opts"} \
		2>"$tmp/daemon.err" &
	daemon=$!
	for _ in $(seq 100); do mounted "$mnt" && break; sleep 0.1; done
	mounted "$mnt" || fail "round $r: mount: $(cat "$tmp/daemon.err")"
	rm -f "$tmp/list"
	"$prog" work "$mnt/r$r" "$tmp/list" 4 &
	work=$!
	# after 1 to 40 files were made durable, then 0 to 0.2 s more
	want=$((1 + RANDOM % 40))
	for _ in $(seq 600); do
		[ -f "$tmp/list" ] && [ "$(wc -l <"$tmp/list")" -ge "$want" ] && break
		sleep 0.05
	done
	sleep "$(printf '0.%03d' $((RANDOM % 200)))"
	kill -0 "$work" 2>/dev/null || fail "round $r: the workload ended before the cut"
	kill -USR2 "$daemon"
	wait "$daemon" 2>/dev/null
	st=$?
	daemon=""
	[ "$st" -eq 137 ] || fail "round $r ($fault): the daemon exited $st at the cut, not 137"
	wait_gone "$work" 30 || fail "round $r: the workload hangs on the dead mount"
	T fusermount3 -u "$mnt" || fail "round $r: unmount after the cut"
	mounted "$mnt" && fail "round $r: still mounted"
	[ "$(grep -c . "$tmp/list")" -gt 0 ] ||
		fail "round $r: nothing was fsync'd before the cut"

	out=$(T "$mount_kvfs" "$img" "$mnt" 2>&1) || fail "round $r ($fault): mount after the cut: $out"
	grep -q "was not cleanly unmounted: log replayed" <<<"$out" ||
		fail "round $r ($fault): no recovery at the mount after the cut: '$out'"
	res=$(T "$prog" verify "$mnt/r$r" "$tmp/list") ||
		fail "round $r ($fault): fsync'd data lost: $res"
	# the previous round's files go: the image stays far from full
	[ "$r" -gt 1 ] && { T rm -rf "$mnt/r$((r - 1))" || fail "rm"; }
	unmount "$mnt" "$img"
	T "$scrub" "$img" >/dev/null || fail "round $r ($fault): the checker found something"
	echo "ok: round $r ($fault): recovered, $res, checker clean"
done
echo "fuse powercut: ok ($rounds rounds)"
