#!/usr/bin/env bash
# mount.kvfs's connection limits as root (bdi and fusectl files).
# Always unmounts (lib.sh's trap); every command is bounded by a timeout.
# usage: stat.sh MOUNT_KVFS MKFS_KVFS
set -u
mount_kvfs=$1 mkfs=$2
. "$(dirname "$0")/lib.sh"

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"

# the connection's limits: fusectl mounted for the test if it is not
if ! grep -q " /sys/fs/fuse/connections fusectl" /proc/mounts; then
	mount -t fusectl none /sys/fs/fuse/connections ||
		fail "cannot mount fusectl"
	at_exit='umount /sys/fs/fuse/connections'
fi
out=$(T "$mount_kvfs" -d -f "$img" "$mnt" 2>&1 >/dev/null &
	for _ in $(seq 100); do mounted "$mnt" && break; sleep 0.1; done
	sleep 0.5; T fusermount3 -u "$mnt")
mounted "$mnt" && fail "still mounted"
T "$mount_kvfs" "$img" "$mnt" || fail "mount"
dev=$(stat -c %d "$mnt")
major=$((dev >> 8 & 0xfff)) minor=$((dev & 0xff | (dev >> 12 & 0xfff00)))
bdi=/sys/class/bdi/$major:$minor conn=/sys/fs/fuse/connections/$((major << 20 | minor))
for f in "$bdi/max_ratio 50" "$bdi/read_ahead_kb 1024" \
	"$conn/max_background 128" "$conn/congestion_threshold 96"; do
	set -- $f
	[ "$(cat "$1")" = "$2" ] || fail "$1: $(cat "$1"), expected $2"
	grep -q "mount.kvfs: $1: set to $2" <<<"$out" ||
		fail "-d did not say it set $1: $out"
done
echo "ok: connection limits"
unmount "$mnt" "$img"
echo "fuse stat: ok"
