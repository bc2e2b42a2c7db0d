#!/usr/bin/env bash
# tools/fuse-null (tools/fsbench's FUSE ceiling) on a real mount: files
# created, stat'ed, written, listed and unlinked with exact results, the
# negative lookup cached as ENOENT, errnos, the background mode, and a
# clean exit on unmount (status 0, nothing leaked under the sanitizers).
# Always unmounts (lib.sh's trap); every command is bounded by a timeout.
# usage: null.sh FUSE_NULL
set -u
null=$1
. "$(dirname "$0")/lib.sh"

# null_fg: fuse-null -f -s on $mnt, as lib.sh's mount_fg does mount.kvfs
null_fg() {
	daemon_log=$tmp/daemon.log
	"$null" -f -s "$mnt" </dev/null >"$daemon_log" 2>&1 &
	daemon_pid=$!
	for _ in $(seq 100); do
		mounted "$mnt" && return 0
		kill -0 "$daemon_pid" 2>/dev/null || fail "fuse-null exited: $(cat "$daemon_log")"
		sleep 0.1
	done
	fail "fuse-null: not mounted in 10 s"
}

out=$(T "$null" "$tmp/none" 2>&1)
[ $? -eq 32 ] && [ "$out" = "fuse-null: $tmp/none: No such file or directory" ] ||
	fail "a missing mountpoint: '$out'"
out=$(T "$null" -t 0 "$mnt" 2>&1)
[ $? -eq 1 ] && [ "$out" = "fuse-null: -t 0: 1..256 expected" ] ||
	fail "-t 0: '$out'"
echo "ok: errors"

null_fg
umask 022
T mkdir "$mnt/a" "$mnt/b" || fail "mkdir"
for d in a b; do
	for i in $(seq 20); do
		: >"$mnt/$d/f$i" || fail "create $d/f$i"
	done
done
[ "$(T stat -c '%s %h %a %F' "$mnt/a/f7")" = "0 1 644 regular empty file" ] ||
	fail "stat a/f7: $(stat -c '%s %h %a %F' "$mnt/a/f7")"
[ "$(T stat -c '%h %a' "$mnt/a")" = "2 755" ] || fail "stat a"
[ "$(T stat -c '%h' "$mnt")" = "4" ] || fail "the root's links"
[ "$(T ls "$mnt/b" | wc -l)" -eq 20 ] || fail "ls b: $(ls "$mnt/b")"
printf hello >"$mnt/a/f3" || fail "write"
[ "$(T cat "$mnt/a/f3")" = hello ] || fail "read: $(cat "$mnt/a/f3")"
# the page cache dropped: the size and the bytes come from the daemon
echo 3 >/proc/sys/vm/drop_caches
[ "$(T stat -c %s "$mnt/a/f3")" = 5 ] || fail "size after drop_caches"
[ "$(T cat "$mnt/a/f3")" = hello ] || fail "read after drop_caches"
T stat "$mnt/a/none" 2>/dev/null && fail "stat of a missing name"
T stat "$mnt/a/none" 2>/dev/null && fail "stat of a missing name (cached)"
: >"$mnt/a/none" || fail "create over a cached negative entry"
T rm "$mnt/a/none" || fail "rm none"
T rmdir "$mnt/a" 2>/dev/null && fail "rmdir of a full directory"
out=$(T rm "$mnt/a" 2>&1) && fail "rm of a directory"
[[ $out == *"Is a directory"* ]] || fail "rm a: '$out'"
T rm "$mnt"/a/f* "$mnt"/b/f* || fail "unlink"
[ -z "$(T ls -A "$mnt/a")$(T ls -A "$mnt/b")" ] || fail "names left"
T rmdir "$mnt/a" "$mnt/b" || fail "rmdir"
[ -z "$(T ls -A "$mnt")" ] || fail "the root not empty: $(ls -A "$mnt")"
[ "$(T stat -f -c %T "$mnt")" = fuseblk ] ||
	[ "$(T stat -f -c %T "$mnt")" = fuse ] || fail "statfs"
echo "ok: create, stat, write, read, unlink"

unmount_fg "$mnt"
grep -Eq '^fuse-null: the lock taken [1-9][0-9]* times, [0-9]+ of them after a wait$' \
	"$daemon_log" || fail "-s: $(cat "$daemon_log")"
echo "ok: unmounted, exit 0"

# without -f: the mount is live once fuse-null returned
T "$null" "$mnt" || fail "fuse-null in the background"
mounted "$mnt" || fail "not mounted after fuse-null returned"
: >"$mnt/x" && [ -e "$mnt/x" ] || fail "create in the background mode"
T fusermount3 -u "$mnt" || fail "fusermount3 -u"
mounted "$mnt" && fail "still mounted"
echo "ok: background"
