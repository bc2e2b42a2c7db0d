#!/usr/bin/env bash
# The failures of a mounted kvfs with their exact errnos (test_fuse_errno):
# names, permissions as uid 65534 under default_permissions, SUID/SGID,
# EFBIG, xattr limits, nanosecond timestamps; EROFS on a read-only mount
# (which leaves the image's bytes as they were); ENOSPC on a small image,
# from write() soon after the space is gone (the dirty limit follows the
# free space), and of the host's filesystem under a sparse image (the
# mount lives on), also of an O_DIRECT write (a short count) and of a
# write back stored in part with no write-back reserve (fsync says
# ENOSPC), of stores through mmap past the reserve (close says ENOSPC,
# both cache modes); what the reserve takes when the space is gone,
# there after a remount; a punch and a copy_file_range (-o
# copy_file_range: the daemon's) failing part way (injected) leave the
# kernel's cache true to the image.
# The checker clean on each image after its unmount.  Always unmounts
# (lib.sh's trap); every step under a timeout.
# usage: errno.sh MOUNT_KVFS MKFS_KVFS TEST_FUSE_ERRNO SCRUB_IMAGE
set -u
mount_kvfs=$1 mkfs=$2 prog=$3 scrub=$4
. "$(dirname "$0")/lib.sh"

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
T "$mount_kvfs" "$img" "$mnt" || fail "mount"
grep -q " $mnt fuse.kvfs .*default_permissions" /proc/mounts ||
	fail "not mounted with default_permissions"
mkdir "$mnt/e" || fail "mkdir"
T "$prog" all "$mnt/e" || fail "test_fuse_errno all"
T "$prog" ro-prep "$mnt" || fail "test_fuse_errno ro-prep"
unmount "$mnt" "$img"
T "$scrub" "$img" || fail "the checker after the errno cases"

sum=$(md5sum <"$img")
T "$mount_kvfs" "$img" "$mnt" -o ro || fail "mount -o ro"
T "$prog" ro "$mnt" || fail "test_fuse_errno ro"
unmount "$mnt" "$img"
[ "$(md5sum <"$img")" = "$sum" ] || fail "a read-only mount changed the image"
echo "ok: the read-only mount left the image as it was"

T "$mkfs" -q -s 48M "$tmp/small" || fail "mkfs.kvfs small"
T "$mount_kvfs" "$tmp/small" "$mnt" || fail "mount small"
T "$prog" enospc "$mnt" || fail "test_fuse_errno enospc"
unmount "$mnt" "$tmp/small"
T "$scrub" "$tmp/small" || fail "the checker after ENOSPC"

T "$mkfs" -q -f -s 256M "$tmp/small" || fail "mkfs.kvfs small (bound)"
T "$mount_kvfs" "$tmp/small" "$mnt" || fail "mount small (bound)"
T "$prog" enospc-bound "$mnt" || fail "test_fuse_errno enospc-bound"
unmount "$mnt" "$tmp/small"
T "$scrub" "$tmp/small" || fail "the checker after the bounded ENOSPC"

T "$mkfs" -q -f -s 48M "$tmp/small" || fail "mkfs.kvfs small (dio)"
T "$mount_kvfs" "$tmp/small" "$mnt" || fail "mount small (dio)"
T "$prog" enospc-dio "$mnt" || fail "test_fuse_errno enospc-dio"
unmount "$mnt" "$tmp/small"
T "$scrub" "$tmp/small" || fail "the checker after the O_DIRECT ENOSPC"

# No write-back reserve (wbreserve=0): a write back stored in part must
# still be heard of, the reserve taking nothing of it.
T "$mkfs" -q -f -s 48M "$tmp/small" || fail "mkfs.kvfs small (fsync)"
T "$mount_kvfs" "$tmp/small" "$mnt" -o wbreserve=0 || fail "mount small (fsync)"
T "$prog" enospc-fsync "$mnt" || fail "test_fuse_errno enospc-fsync"
unmount "$mnt" "$tmp/small"
T "$scrub" "$tmp/small" || fail "the checker after the short write back"

for o in writeback_cache nowriteback_cache; do
	T "$mkfs" -q -f -s 48M "$tmp/small" || fail "mkfs.kvfs small (fsync, $o)"
	T "$mount_kvfs" "$tmp/small" "$mnt" -o "$o,wbreserve=0" ||
		fail "mount small (fsync, $o)"
	T "$prog" enospc-fsync-half "$mnt" || fail "test_fuse_errno enospc-fsync-half ($o)"
	unmount "$mnt" "$tmp/small"
	T "$scrub" "$tmp/small" || fail "the checker after the fsync ENOSPC ($o)"
done

for o in writeback_cache nowriteback_cache; do
	T "$mkfs" -q -f -s 48M "$tmp/small" || fail "mkfs.kvfs small (mmap, $o)"
	T "$mount_kvfs" "$tmp/small" "$mnt" -o "$o" || fail "mount small (mmap, $o)"
	T "$prog" enospc-mmap "$mnt" || fail "test_fuse_errno enospc-mmap ($o)"
	unmount "$mnt" "$tmp/small"
	T "$scrub" "$tmp/small" || fail "the checker after the mmap ENOSPC ($o)"
done

for o in writeback_cache nowriteback_cache; do
	T "$mkfs" -q -f -s 48M "$tmp/small" || fail "mkfs.kvfs small (reserve, $o)"
	T "$mount_kvfs" "$tmp/small" "$mnt" -o "$o" || fail "mount small (reserve, $o)"
	T "$prog" enospc-reserve "$mnt" || fail "test_fuse_errno enospc-reserve ($o)"
	unmount "$mnt" "$tmp/small"
	T "$scrub" "$tmp/small" || fail "the checker after the reserve ($o)"
	T "$mount_kvfs" "$tmp/small" "$mnt" -o "$o" ||
		fail "remount small (reserve, $o)"
	T "$prog" enospc-reserve-check "$mnt" ||
		fail "test_fuse_errno enospc-reserve-check ($o)"
	unmount "$mnt" "$tmp/small"
done

T "$mkfs" -q -f -s 48M "$tmp/small" || fail "mkfs.kvfs small (unmap)"
# -o copy_file_range: the copy's punch is the daemon's (by default the
# kernel copies through its page cache, and nothing of it fails here)
KVFS_ERRTAGS=file_unmap_nospc:count=2 T "$mount_kvfs" "$tmp/small" "$mnt" \
	-o copy_file_range || fail "mount small (unmap)"
T "$prog" unmap-nospc "$mnt" || fail "test_fuse_errno unmap-nospc"
unmount "$mnt" "$tmp/small"
T "$scrub" "$tmp/small" || fail "the checker after the failed unmaps"
# A sparse image on a full host filesystem: the writer hears ENOSPC and
# the mount lives on (the mount allocated its log region on the host; a
# log write into a hole had shut it down, every call EIO after)
host=$tmp/host
mkdir "$host" || fail "mkdir host"
mount -t tmpfs -o size=96M tmpfs "$host" || fail "mount tmpfs"
at_exit='umount -l "$host"'
T "$mkfs" -q -s 1G "$host/img" || fail "mkfs.kvfs on the tmpfs"
T "$mount_kvfs" "$host/img" "$mnt" || fail "mount (host full)"
out=$(T dd if=/dev/zero of="$mnt/big" bs=1M count=200 conv=fsync 2>&1) &&
	fail "dd of 200 MiB into 96 MiB of host succeeded"
case $out in
*"No space left on device"*) ;;
*) fail "dd past the host's space: $out" ;;
esac
echo small >"$mnt/after" && [ "$(cat "$mnt/after")" = small ] ||
	fail "the mount did not live on after the host filled up"
rm "$mnt/big" || fail "rm big"
unmount "$mnt" "$host/img"
T "$scrub" "$host/img" || fail "the checker after the host filled up"
umount "$host" || fail "umount tmpfs"
at_exit=:
echo "ok: a full host filesystem: ENOSPC to the writer, the mount lived on"
# Metadata written back into holes of a sparse image on a full host: the
# write-back waits for room (it had shut the log down: every call EIO, and
# the next mount refused until the host had room), new operations hear
# ENOSPC once the small log is full, and space freed on the host lets the
# mount go on.  Then the unmount with the host full again: the log keeps
# what cannot be written back, and the next mount replays it.
mount -t tmpfs -o size=96M tmpfs "$host" || fail "mount tmpfs (write-back)"
at_exit='umount -l "$host"'
T "$mkfs" -q -s 1G -l 4M "$host/img" || fail "mkfs.kvfs -l 4M on the tmpfs"
# the unmount's drain gives up after 1 s stuck (tag nospace_drain), not
# after KVJ_NOSPACE_DRAIN_MS's 10 s: the same give-up, 9 s sooner
KVFS_ERRTAGS=nospace_drain:value=1000 mount_fg "$host/img" "$mnt"
grep -q KVFS_ERRTAGS "$daemon_log" && fail "tag nospace_drain: $(cat "$daemon_log")"
dd if=/dev/zero of="$host/filler" bs=1M 2>/dev/null
[ "$(df --output=avail "$host" | tail -n 1)" -lt 64 ] || fail "host not full"
# creates until one fails: ENOSPC, never EIO, after a log's worth of them
# (names of 201 bytes: each logs its name, the log fills in fewer creates)
if ! T python3 - "$mnt" <<'PY'
import errno, os, sys
d, n, pad = sys.argv[1], 0, "." + "n" * 194
try:
    while n < 200000:
        os.close(os.open(f"{d}/f{n:05}{pad}", os.O_CREAT | os.O_WRONLY, 0o644))
        n += 1
    sys.exit("200000 creates on a full host, no ENOSPC")
except OSError as e:
    if e.errno != errno.ENOSPC or n < 1000:
        sys.exit(f"create {n}: {e}")
open(f"{d}/f00000{pad}").read()
print(f"ENOSPC after {n} creates")
PY
then
	fail "creates on a full host: $(tail -n 3 "$daemon_log")"
fi
grep -q 'no space on the device' "$daemon_log" ||
	fail "the daemon did not say the host was full: $(cat "$daemon_log")"
rm "$host/filler"
T python3 - "$mnt" <<'PY' || fail "creates after the host had room again"
import os, sys
for i in range(100):
    os.close(os.open(f"{sys.argv[1]}/g{i}", os.O_CREAT | os.O_WRONLY, 0o644))
PY
n=$(ls "$mnt" | wc -l)
mkdir "$mnt/later" || fail "mkdir after the host had room again"
grep -q 'has room again' "$daemon_log" || fail "no 'room again' in the log"
dd if=/dev/zero of="$host/filler" bs=1M 2>/dev/null
for i in $(seq 50); do mkdir "$mnt/later/$i" || fail "mkdir later/$i"; done
T fusermount3 -u "$mnt" || fail "fusermount3 -u (host full)"
for _ in $(seq 1500); do
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.02
done
wait "$daemon_pid" && fail "the unmount on a full host exited 0"
daemon_pid=
grep -q 'the log stays dirty' "$daemon_log" ||
	fail "unmount on a full host: $(tail -n 3 "$daemon_log")"
rm "$host/filler"
mount_fg "$host/img" "$mnt"
[ "$(ls "$mnt" | wc -l)" -eq $((n + 1)) ] ||
	fail "after the replay: $(ls "$mnt" | wc -l) names, not $((n + 1))"
[ "$(ls "$mnt/later" | wc -l)" -eq 50 ] || fail "later/ lost names"
unmount_fg "$mnt"
T "$scrub" "$host/img" || fail "the checker after the write-back waited"
umount "$host" || fail "umount tmpfs (write-back)"
at_exit=:
echo "ok: metadata write-back on a full host waited; ENOSPC, then room again"
echo "fuse errno: ok"
