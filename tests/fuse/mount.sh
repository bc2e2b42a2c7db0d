#!/usr/bin/env bash
# mount.kvfs on a real FUSE mount: the option and image errors (message,
# exit status, nothing mounted), POSIX through the kernel (test_fuse_ops),
# a second mount of the image refused, a tree byte-identical after an
# unmount and a mount, a read-only mount, a mount without the writeback
# cache, SIGTERM writing back (also while SEEK_DATA waits on write backs).
# Always unmounts (lib.sh's trap); every command is bounded by a timeout.
# usage: mount.sh MOUNT_KVFS MKFS_KVFS TEST_FUSE_OPS
set -u
mount_kvfs=$1 mkfs=$2 ops=$3

. "$(dirname "$0")/lib.sh"

# expect STATUS MESSAGE MOUNT_KVFS-ARGS...: that one line, that status,
# nothing mounted
expect() {
	local want=$1 msg=$2 out st before
	shift 2
	before=$(grep -c " $tmp/mnt" /proc/mounts)
	out=$(T "$mount_kvfs" "$@" 2>&1)
	st=$?
	[ "$st" -eq "$want" ] || fail "mount.kvfs $*: status $st, expected $want ($out)"
	# one line, matching msg (a glob: * where the core words the reason)
	[ "$(wc -l <<<"$out")" -eq 1 ] && [[ $out == $msg ]] ||
		fail "mount.kvfs $*: '$out', expected '$msg'"
	[ "$(grep -c " $tmp/mnt" /proc/mounts)" -eq "$before" ] ||
		fail "mount.kvfs $*: mounted anyway"
	echo "ok: $msg"
}

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
head -c 1M /dev/zero > "$tmp/zero"

expect 1 "mount.kvfs: unknown option 'bogus'" "$img" "$mnt" -o bogus
expect 1 "mount.kvfs: bad value '0' for option threads (1..256)" \
	"$img" "$mnt" -o rw,threads=0
expect 1 "mount.kvfs: option mem needs a value" "$img" "$mnt" -o mem
expect 1 "mount.kvfs: missing MOUNTPOINT" "$img"
# a malformed KVFS_ERRTAGS arms nothing, and says so
out=$(KVFS_ERRTAGS=meta_read_io:evrey=2 T "$mount_kvfs" "$tmp/none" "$mnt" 2>&1)
grep -q "^mount.kvfs: KVFS_ERRTAGS: .*evrey.*: nothing armed$" <<<"$out" ||
	fail "a malformed KVFS_ERRTAGS: '$out'"
expect 32 "mount.kvfs: $tmp/none: No such file or directory" \
	"$tmp/none" "$mnt"
expect 32 "mount.kvfs: $tmp/nodir: No such file or directory" \
	"$img" "$tmp/nodir"
expect 32 "mount.kvfs: $tmp/zero: not a kvfs filesystem (*fsck.kvfs*" \
	"$tmp/zero" "$mnt"
# a kvfs image whose primary superblock (block 0) is zeroed: fsck.kvfs named
cp "$img" "$tmp/sb0"
dd if=/dev/zero of="$tmp/sb0" bs=4096 count=1 conv=notrunc status=none
expect 32 "mount.kvfs: $tmp/sb0: not a kvfs filesystem (*fsck.kvfs*" \
	"$tmp/sb0" "$mnt"
cp "$img" "$tmp/bad"
printf '\377\377\377\377' |
	dd of="$tmp/bad" bs=1 seek=200 conv=notrunc status=none
expect 32 "mount.kvfs: $tmp/bad: damaged (*fsck.kvfs*" "$tmp/bad" "$mnt"
expect 1 "mount.kvfs: bad value '0' for option commit (seconds, 1..3600)" \
	"$img" "$mnt" -o commit=0
expect 1 "mount.kvfs: bad value '1K' for option mem (a size, 1M or more, e.g. 512M)" \
	"$img" "$mnt" -o mem=1K
expect 1 "mount.kvfs: bad value 'abc' for option threads (1..256)" \
	"$img" "$mnt" -o threads=abc
expect 1 "mount.kvfs: option ro takes no value" "$img" "$mnt" -o ro=1
expect 1 "mount.kvfs: bad value '' for option fsname" "$img" "$mnt" -o fsname=
expect 1 "mount.kvfs: unknown option -x" "$img" "$mnt" -x
expect 1 "mount.kvfs: unexpected argument 'extra'" "$img" "$mnt" extra
expect 32 "mount.kvfs: $tmp/zero: Not a directory" "$img" "$tmp/zero"
expect 32 "mount.kvfs: $tmp: Is a directory" "$tmp" "$mnt"
head -c 64K "$img" >"$tmp/short"
expect 32 "mount.kvfs: $tmp/short: damaged (*fsck.kvfs*" "$tmp/short" "$mnt"

# a mount, POSIX through it
T "$mount_kvfs" "$img" "$mnt" -o threads=4 || fail "mount"
mounted "$mnt" || fail "not mounted after mount.kvfs returned"
grep -q "^$img $mnt fuse.kvfs rw,.*default_permissions,allow_other" \
	/proc/mounts || fail "mount options: $(grep " $mnt " /proc/mounts)"
mkdir "$mnt/ops" || fail "mkdir"
T "$ops" "$mnt/ops" || fail "test_fuse_ops"

# Each refusal below waits for the lock first: 100 ms (tag
# image_lock_wait), not the tools' 5 s (KVFS_IMAGE_LOCK_WAIT_MS), the
# same refusal.  A mount that waits for the lock and gets it is below.
lockwait=image_lock_wait:value=100
# the image is locked while mounted
KVFS_ERRTAGS=$lockwait expect 32 \
	"mount.kvfs: $img: in use (locked by another mount)" "$img" "$mnt2"
# the lock is the file's, whatever name reaches it
ln -s "$img" "$tmp/link"
KVFS_ERRTAGS=$lockwait expect 32 \
	"mount.kvfs: $img: in use (locked by another mount)" "$tmp/link" "$mnt2"
# and mkfs.kvfs, even with -f, leaves it alone: it had formatted the
# mounted image, and the daemon's write back at unmount then left a mix
# of both (fsck: 69 problems)
out=$(KVFS_ERRTAGS=$lockwait T "$mkfs" -q -f -s 256M "$img" 2>&1) &&
	fail "mkfs -f of a mounted image"
[ "$out" = "mkfs.kvfs: $img is in use (mounted, or being checked): not formatted" ] ||
	fail "mkfs -f of a mounted image: '$out'"

# persistence: a tree written, unmounted, mounted again, compared
mkdir "$mnt/tree" || fail "mkdir tree"
T "$ops" write "$mnt/tree" || fail "write tree"
unmount "$mnt" "$img"
T "$mount_kvfs" "$img" "$mnt" || fail "mount again"
T "$ops" verify "$mnt/tree" || fail "tree differs after remount"
unmount "$mnt" "$img"

# a daemon still writing back after its unmount returned holds the lock a
# while: a mount right after an unmount waits for it, not "in use"
timeout 10 flock "$img" sleep 1 &
holder=$!
sleep 0.3
T "$mount_kvfs" "$img" "$mnt" || fail "mount while the lock is held for 1 s"
wait "$holder"
unmount "$mnt" "$img"

# read-only: the tree is there, nothing can change
T "$mount_kvfs" "$img" "$mnt" -o ro || fail "mount -o ro"
T "$ops" verify "$mnt/tree" || fail "tree differs on a ro mount"
out=$(T touch "$mnt/tree/new" 2>&1) && fail "touch on a ro mount"
case $out in *"Read-only file system"*) ;; *) fail "ro: $out" ;; esac
unmount "$mnt" "$img"

# without the writeback cache (every write reaches the daemon at once),
# on a fresh image: extents stay in the inode until the extent B+tree lands;
# with dio, so that the daemon's large writes go O_DIRECT (from libfuse's
# unaligned buffers) where the host has it
T "$mkfs" -q -s 256M "$tmp/img2" || fail "mkfs.kvfs img2"
T "$mount_kvfs" "$tmp/img2" "$mnt" -o nowriteback_cache,dio ||
	fail "mount nowb"
T "$ops" "$mnt" || fail "test_fuse_ops without the writeback cache"
unmount "$mnt" "$tmp/img2"

# foreground: SIGTERM writes everything back and exits 0
# (not under timeout: the signal goes to the daemon itself; the trap's
# unmount ends it if anything below fails)
T "$mkfs" -q -s 64M "$tmp/img3" || fail "mkfs.kvfs img3"
mount_fg "$tmp/img3" "$mnt"
T dd if=/dev/urandom of="$mnt/sig" bs=64K count=16 status=none ||
	fail "dd"
sum=$(T md5sum < "$mnt/sig")
kill -TERM "$daemon_pid"
wait_fg
mounted "$mnt" && fail "mounted after SIGTERM"
T "$mount_kvfs" "$tmp/img3" "$mnt" || fail "mount after SIGTERM"
[ "$(T md5sum < "$mnt/sig")" = "$sum" ] || fail "data lost at SIGTERM"
unmount "$mnt" "$tmp/img3"

# SIGTERM while SEEK_DATA on a file being written waits for its write
# backs (kf_lseek()'s thread of its own): the request threads serve them
# before the loop stops.  They had stopped first: that thread waited on
# the kernel for good, unkillable, the writer and the seeker with it, and
# the daemon never exited (about one round in four).  A daemon still there
# has its connection aborted (fusectl), so that nothing stays stuck.
T "$mkfs" -q -s 1G "$tmp/img5" || fail "mkfs.kvfs img5"
for round in 1 2 3 4 5 6; do
	mount_fg "$tmp/img5" "$mnt"
	conn=$(mountpoint -d "$mnt" | cut -d: -f2)
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
buf = b"w" * (1 << 20)
i = 0
while True:
    os.pwrite(fd, buf, ((i * 7) % 300) << 20)
    if i == 0:
        open(sys.argv[2], "w").close()
    i += 1' "$mnt/f" "$tmp/writing" >/dev/null 2>&1 &
	writer=$!
	python3 -c '
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
fd = os.open(sys.argv[1], os.O_RDONLY)
open(sys.argv[2], "w").close()
n = 0
while True:
    try:
        os.lseek(fd, (n * 151552) % (200 << 20),
                 os.SEEK_DATA if n % 2 else os.SEEK_HOLE)
    except OSError as e:
        if e.errno != 6:
            raise
    n += 1' "$mnt/f" "$tmp/seeking" >/dev/null 2>&1 &
	seeker=$!
	# the kill 0.2 to 0.9 s into the race, once the writer has written
	# and the seeker opened the file (each says so): a fixed 2.2 to 2.9 s
	# from their start was mostly python3's start (0.6 to 1.5 s here)
	for _ in $(seq 1500); do
		[ -e "$tmp/writing" ] && [ -e "$tmp/seeking" ] && break
		sleep 0.02
	done
	if [ ! -e "$tmp/writing" ] || [ ! -e "$tmp/seeking" ]; then
		kill "$writer" "$seeker" 2>/dev/null
		fail "round $round: the writer or the seeker did not start"
	fi
	sleep "0.$((round * 3 % 10))"
	kill -TERM "$daemon_pid"
	for _ in $(seq 1500); do
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.02
	done
	if kill -0 "$daemon_pid" 2>/dev/null; then
		echo 1 >"/sys/fs/fuse/connections/$conn/abort"
		kill "$writer" "$seeker" 2>/dev/null
		fail "SIGTERM, SEEK_DATA waiting on write backs" \
			"(round $round): daemon did not exit"
	fi
	wait_fg
	kill "$writer" "$seeker" 2>/dev/null
	wait "$writer" "$seeker" 2>/dev/null
	mounted "$mnt" && fail "mounted after SIGTERM (round $round)"
	rm -f "$tmp/writing" "$tmp/seeking"
done

# a memory budget too small for the filesystem (64 KiB blocks need more
# than 4 KiB ones, each worker thread more): refused up front, one line
# naming the minimum, nothing mounted; exactly the minimum mounts and runs
# a small workload, which a mount with the default budget then reads back
T "$mkfs" -q -s 256M -b 64K "$tmp/img4" || fail "mkfs.kvfs -b 64K"
msg="mount.kvfs: $tmp/img4: Invalid argument: a memory budget of 1024 KiB is too small: this filesystem needs at least * MiB (65536-byte blocks, 2 threads)"
expect 32 "$msg" "$tmp/img4" "$mnt" -o mem=1M,threads=2
min=$(T "$mount_kvfs" "$tmp/img4" "$mnt" -o mem=1M,threads=2 2>&1 |
	sed -n 's/.*needs at least \([0-9]*\) MiB.*/\1/p')
[ -n "$min" ] && [ "$min" -gt 1 ] || fail "no minimum named: '$min'"
expect 32 "${msg/\* MiB/$min MiB}" "$tmp/img4" "$mnt" -o mem=1M,threads=2
expect 32 "mount.kvfs: $tmp/img4: Invalid argument: a memory budget of $(((min - 1) * 1024)) KiB is too small: this filesystem needs at least $min MiB (65536-byte blocks, 2 threads)" \
	"$tmp/img4" "$mnt" -o "mem=$((min - 1))M,threads=2"
T "$mount_kvfs" "$tmp/img4" "$mnt" -o "mem=${min}M,threads=2" ||
	fail "mount with mem=${min}M, the minimum"
mkdir "$mnt/small" || fail "mkdir at the minimum budget"
for i in $(seq 40); do
	T dd if=/dev/urandom of="$mnt/small/f$i" bs=64K count=2 status=none ||
		fail "write f$i at the minimum budget"
done
T sync -f "$mnt/small/f1" || fail "sync at the minimum budget"
rm "$mnt"/small/f*[02468] || fail "unlink at the minimum budget"
sum=$(cd "$mnt/small" && T md5sum f* | sort)
unmount "$mnt" "$tmp/img4"
T "$mount_kvfs" "$tmp/img4" "$mnt" || fail "mount after the minimum budget"
[ "$(cd "$mnt/small" && T md5sum f* | sort)" = "$sum" ] ||
	fail "files differ after a mount at the minimum budget"
unmount "$mnt" "$tmp/img4"
echo "fuse mount: ok"
