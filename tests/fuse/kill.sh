#!/usr/bin/env bash
# SIGKILL of mount.kvfs in the middle of a 4-thread workload that fsyncs
# (test_fuse_kill work), once 1 to 40 files are durable, ROUNDS times on
# one image.  After each kill:
# the next mount says it recovered, every file fsync'd before the kill is
# there with its bytes (test_fuse_kill verify), a clean unmount, and the
# core's checker finds nothing (no block leaked or owned twice, counters
# exact).  With FSCK_KVFS, fsck.kvfs -f -n finds nothing on the killed
# image (its log replayed in memory) and again after the clean unmount.
# Then a SIGKILL with a thread held in the kernel: the watchdog process
# aborts the connection.
# Always unmounts (lib.sh's trap); every step under a timeout.
# usage: kill.sh MOUNT_KVFS MKFS_KVFS TEST_FUSE_KILL SCRUB_IMAGE [ROUNDS
#        [FSCK_KVFS]]
set -u
mount_kvfs=$1 mkfs=$2 prog=$3 scrub=$4 rounds=${5:-20} fsck=${6:-}
. "$(dirname "$0")/lib.sh"

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
how=kill opts=
. "$(dirname "$0")/cut_rounds.sh"

# SIGKILL while SEEK_DATA's thread of its own (kf_lseek()) waits on the
# kernel for the write back of a page written through a mapping, its WRITE
# held in the daemon (the fuse_write_delay tag): the request threads die,
# that thread waited for good, the process a zombie keeping the connection
# up and every caller of the mount stuck, until the watchdog
# (fs/fuse/watchdog.h) aborted the connection.  A daemon still there after
# 10 s has it aborted here, so that nothing stays stuck.
T "$mkfs" -q -f -s 64M "$img" || fail "mkfs.kvfs"
KVFS_ERRTAGS=fuse_write_delay:value=8000000:count=1 \
	"$mount_kvfs" -f "$img" "$mnt" 2>"$tmp/daemon.err" &
daemon=$!
for _ in $(seq 500); do mounted "$mnt" && break; sleep 0.02; done
mounted "$mnt" || fail "watchdog: mount: $(cat "$tmp/daemon.err")"
conn=$(mountpoint -d "$mnt" | cut -d: -f2)
pgrep -x -P "$daemon" kvfs-watchdog >/dev/null || fail "no watchdog process"
timeout 60 python3 -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 1 << 20)
m = mmap.mmap(fd, 1 << 20, mmap.MAP_SHARED)
m[512 << 10:(512 << 10) + 4096] = b"x" * 4096
print("seeking", flush=True)
try:
    print("data at", os.lseek(fd, 0, os.SEEK_DATA), flush=True)
except OSError as e:
    print("lseek:", e.errno, flush=True)' "$mnt/f" >"$tmp/seek.log" 2>&1 &
seeker=$!
for _ in $(seq 300); do
	grep -q seeking "$tmp/seek.log" && break
	sleep 0.1
done
grep -q seeking "$tmp/seek.log" || fail "seeker: $(cat "$tmp/seek.log")"
sleep 1
kill -KILL "$daemon"
if ! wait_gone "$daemon" 10; then
	echo 1 >"/sys/fs/fuse/connections/$conn/abort"
	fail "SIGKILL while SEEK_DATA waited on a write back: the daemon" \
		"was still there after 10 s"
fi
wait "$daemon" 2>/dev/null
daemon=""
wait_gone "$seeker" 10 || fail "the seeker hangs on the dead mount"
grep -q "^lseek: 103$" "$tmp/seek.log" ||
	fail "seeker: '$(cat "$tmp/seek.log")', expected ECONNABORTED"
grep -q "died with a thread held in the kernel: its connection aborted" \
	"$tmp/daemon.err" || fail "watchdog: '$(cat "$tmp/daemon.err")'"
T fusermount3 -u "$mnt" || fail "unmount after the watchdog's abort"
out=$(T "$mount_kvfs" "$img" "$mnt" 2>&1) || fail "mount after it: $out"
[ -f "$mnt/f" ] || fail "f, made before the kill, is missing"
unmount "$mnt" "$img"
T "$scrub" "$img" >/dev/null || fail "watchdog: the checker found something"
[ -z "$fsck" ] || T "$fsck" -f -n "$img" >/dev/null ||
	fail "watchdog: fsck.kvfs -f -n: $(T "$fsck" -f -n "$img" 2>&1)"
echo "ok: SIGKILL while SEEK_DATA waited on a write back: the watchdog" \
	"aborted the connection"
echo "fuse kill: ok ($rounds rounds)"
