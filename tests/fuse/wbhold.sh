#!/usr/bin/env bash
# The room kept for what the writeback cache may hold dirty (fs/fuse/dirty.h,
# kvfs-stat's space.wb_pending_blocks) on a fresh 32 MiB image: none while
# no file is open for writing; while one is, more than none and at most
# 1/16 of the filesystem, kept from a fallocate through another descriptor
# (which gets the rest of the free space) and counted free by statfs; none
# again once the writer is closed (its release follows its write backs);
# a shared writable mapping keeps it after its descriptor's close, until
# it is unmapped.
# Always unmounts (lib.sh's trap); every step under a timeout.
# usage: wbhold.sh MOUNT_KVFS MKFS_KVFS KVFS_STAT
set -u
mount_kvfs=$1 mkfs=$2 kstat=$3
. "$(dirname "$0")/lib.sh"

# the bytes kept now
held() {
	T "$kstat" --json "$mnt" >"$tmp/s.json" || fail "kvfs-stat --json"
	python3 - "$tmp/s.json" <<'PY' || fail "kvfs-stat: $(cat "$tmp/s.json")"
import json, sys
s = json.load(open(sys.argv[1]))["space"]
print(s["wb_pending_blocks"] * s["block_size"])
PY
}

# wait_none WHAT: the room is given back (a release comes after close)
wait_none() {
	local h
	for _ in $(seq 50); do
		h=$(held)
		[ "$h" = 0 ] && return 0
		sleep 0.1
	done
	fail "$1: $h bytes still kept"
}

T "$mkfs" -q -f -s 32M "$img" || fail "mkfs.kvfs"
T "$mount_kvfs" "$img" "$mnt" || fail "mount"
total=$(($(stat -f -c '%b * %S' "$mnt")))
wait_none "no file open"

exec 3>"$mnt/w"
h=$(held) most=$((total / 16 + (64 << 10))) # df's size is a little less
[ "$h" -gt 0 ] && [ "$h" -le "$most" ] ||
	fail "with a writer: $h bytes kept, expected 1 to $most"
avail=$(($(stat -f -c '%a * %S' "$mnt")))
# statfs counts it free: buffered write() may fill it
got=$(T python3 - "$mnt/f" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
off, step = 0, 256 << 10
while step >= 4096:
    try:
        os.posix_fallocate(fd, off, step)
        off += step
    except OSError:
        step //= 4
print(off)
PY
) || fail "fallocate"
# the writer's room kept, all the rest taken (1 MiB for the transaction's
# own reservation and the last step)
[ "$got" -le $((avail - h)) ] && [ "$got" -ge $((avail - h - (1 << 20))) ] ||
	fail "fallocate got $got of $avail free with $h kept"
echo "ok: a writer open: $h bytes kept of $total, fallocate got $got of $avail"
exec 3>&-
wait_none "writer closed"
T rm -f "$mnt/f" || fail "rm"

# a shared mapping: its file stays open (and its pages may be dirtied)
# after the descriptor's close, until unmapped
T python3 - "$mnt/m" "$kstat" "$mnt" <<'PY' || fail "the mapping"
import json, mmap, os, subprocess, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)
os.ftruncate(fd, 1 << 20)
m = mmap.mmap(fd, 1 << 20, mmap.MAP_SHARED)
os.close(fd)
def held():
    s = json.loads(subprocess.check_output([sys.argv[2], "--json",
                                            sys.argv[3]], timeout=60))
    return s["space"]["wb_pending_blocks"]
m[:4096] = b"x" * 4096
if held() == 0:
    sys.exit("nothing kept for a mapping whose descriptor is closed")
m.close()
PY
wait_none "mapping unmapped"
echo "ok: kept for a mapping after its close, given back once unmapped"
unmount "$mnt" "$img"
