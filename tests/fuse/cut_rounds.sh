# shellcheck shell=bash
# The rounds of kill.sh and powercut.sh (sourced after lib.sh and a mkfs
# of $img, with mount_kvfs, prog, scrub, rounds, fsck (may be empty), opts
# (may be empty) and how set): ROUNDS times on one image, test_fuse_kill's 4-thread
# fsyncing workload ($prog work), stopped once 1 to 40 files are durable
# (then 0 to 0.2 s more) by $how: "kill", a SIGKILL of mount.kvfs;
# "powercut", mount.kvfs under KVFS_DEV_FAULT (volatile, sectors:SEED every
# other round) and SIGUSR2.  Either way the daemon dies with status 137.
# After each stop: fsck.kvfs -f -n ($fsck, if set) finds only the dirty
# log, the next mount says it replayed the log, every file fsync'd before
# the stop is there with its bytes ($prog verify), a clean unmount, the
# core's checker ($scrub) and fsck find nothing.  $opts: mount.kvfs -o
# during the workload.  Every step under a timeout.

daemon=""
at_exit='[ -n "$daemon" ] && kill -KILL $daemon 2>/dev/null'

# fsck_clean WHEN [DIRTY]: fsck.kvfs -f -n finds nothing, if given; with
# DIRTY the one problem -n reports of a stopped image, its dirty log (the
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
	for _ in $(seq $(($2 * 50))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.02
	done
	return 1
}

case $how in
kill) word=kill sig=KILL ;;
powercut) word=cut sig=USR2 ;;
*) fail "cut_rounds.sh: how=$how" ;;
esac
for r in $(seq "$rounds"); do
	fault=
	if [ "$how" = powercut ]; then
		fault=volatile
		[ $((r % 2)) -eq 0 ] && fault="sectors:$((r * 7919 + RANDOM))"
	fi
	tag="round $r${fault:+ ($fault)}"
	${fault:+env KVFS_DEV_FAULT=$fault} "$mount_kvfs" -f "$img" "$mnt" \
		${opts:+-o "$opts"} 2>"$tmp/daemon.err" &
	daemon=$!
	for _ in $(seq 500); do mounted "$mnt" && break; sleep 0.02; done
	mounted "$mnt" || fail "$tag: mount: $(cat "$tmp/daemon.err")"
	rm -f "$tmp/list"
	"$prog" work "$mnt/r$r" "$tmp/list" 4 &
	work=$!
	# after 1 to 40 files were made durable (however loaded the machine
	# is), then 0 to 0.2 s more
	want=$((1 + RANDOM % 40))
	for _ in $(seq 600); do
		[ -f "$tmp/list" ] && [ "$(wc -l <"$tmp/list")" -ge "$want" ] && break
		sleep 0.05
	done
	sleep "$(printf '0.%03d' $((RANDOM % 200)))"
	kill -0 "$work" 2>/dev/null || fail "$tag: the workload ended before the $word"
	kill -$sig "$daemon"
	wait "$daemon" 2>/dev/null
	st=$?
	daemon=""
	[ "$st" -eq 137 ] || fail "$tag: the daemon exited $st at the $word, not 137"
	wait_gone "$work" 30 || fail "$tag: the workload hangs on the dead mount"
	T fusermount3 -u "$mnt" || fail "$tag: unmount after the $word"
	mounted "$mnt" && fail "$tag: still mounted"
	[ "$(grep -c . "$tmp/list")" -gt 0 ] ||
		fail "$tag: nothing was fsync'd before the $word"
	fsck_clean "after the $word" dirty

	out=$(T "$mount_kvfs" "$img" "$mnt" 2>&1) || fail "$tag: mount after the $word: $out"
	grep -q "was not cleanly unmounted: log replayed" <<<"$out" ||
		fail "$tag: no recovery at the mount after the $word: '$out'"
	res=$(T "$prog" verify "$mnt/r$r" "$tmp/list") ||
		fail "$tag: fsync'd data lost: $res"
	# the previous round's files go: the image stays far from full
	[ "$r" -gt 1 ] && { T rm -rf "$mnt/r$((r - 1))" || fail "rm"; }
	unmount "$mnt" "$img"
	T "$scrub" "$img" >/dev/null || fail "$tag: the checker found something"
	fsck_clean "after the recovery"
	echo "ok: $tag: recovered, $res, checker clean"
done
