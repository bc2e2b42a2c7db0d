#!/usr/bin/env bash
# mount.kvfs installed like a filesystem: meson install into a temporary
# DESTDIR puts mount.kvfs and the mount.fuse.kvfs link in sbin; the helper
# called the way mount(8) calls it mounts; then mount(8) itself, in a
# private mount namespace whose /usr/sbin (/sbin) holds the installed
# helpers: mount -t kvfs, mount -t fuse.kvfs -o ro, and an fstab line
# (mount -T FSTAB DIR), each then unmounted with umount(8).
# Always unmounts (lib.sh's trap, and the namespace's own); every step
# under a timeout.
# usage: install.sh BUILD_ROOT MKFS_KVFS
set -u
build=$1 mkfs=$2
. "$(dirname "$0")/lib.sh"
command -v unshare >/dev/null || { echo "SKIP: no unshare"; exit 77; }

dest=$tmp/dest
T meson install -C "$build" --destdir "$dest" --no-rebuild --quiet \
	>"$tmp/install.log" 2>&1 || fail "meson install: $(tail -3 "$tmp/install.log")"
helper=$(find "$dest" -name mount.kvfs -type f)
[ -n "$helper" ] && [ -x "$helper" ] || fail "no mount.kvfs installed"
sbin=$(dirname "$helper")
case $sbin in */sbin) ;; *) fail "mount.kvfs installed in $sbin, not sbin" ;; esac
[ "$(readlink "$sbin/mount.fuse.kvfs")" = mount.kvfs ] ||
	fail "mount.fuse.kvfs is not a link to mount.kvfs"
echo "ok: installed ${sbin#"$dest"}/mount.kvfs and mount.fuse.kvfs"

T "$mkfs" -q -s 64M "$img" || fail "mkfs.kvfs"

# as mount(8) runs a helper: SPEC DIR [-s] [-n] -o OPTIONS [-t TYPE]
T "$sbin/mount.fuse.kvfs" "$img" "$mnt" -n -o rw,noatime -t fuse.kvfs ||
	fail "mount.fuse.kvfs as mount(8) calls it"
grep -q "^$img $mnt fuse.kvfs rw,.*noatime" /proc/mounts ||
	fail "mount.fuse.kvfs: $(grep " $mnt " /proc/mounts)"
echo data >"$mnt/f" || fail "write"
T umount "$mnt" || fail "umount"
timeout 30 flock -w 25 "$img" true || fail "daemon did not exit"
echo "ok: the helper called as mount(8) does"

# mount(8) in a namespace of its own, the helpers in its /usr/sbin
mkdir "$tmp/sbin"
cp -P "$sbin/mount.kvfs" "$sbin/mount.fuse.kvfs" "$tmp/sbin/"
printf '%s %s kvfs defaults,noatime,threads=2 0 0\n' "$img" "$mnt" >"$tmp/fstab"
out=$(timeout 120 unshare -m --propagation private bash -s \
	"$tmp/sbin" "$img" "$mnt" "$tmp/fstab" <<'NS' 2>&1
set -u
sbin=$1 img=$2 mnt=$3 fstab=$4
trap 'umount -l "$mnt" 2>/dev/null' EXIT
fail() { echo "FAIL: $*"; exit 1; }
T() { timeout 60 "$@"; }
gone() { timeout 30 flock -w 25 "$img" true || fail "daemon did not exit"; }
mount --bind "$sbin" /usr/sbin || fail "bind $sbin"
[ -x /sbin/mount.kvfs ] || fail "/sbin/mount.kvfs not there"

T mount -t kvfs "$img" "$mnt" || fail "mount -t kvfs"
grep -q "^$img $mnt fuse.kvfs rw," /proc/self/mounts ||
	fail "mount -t kvfs: $(grep " $mnt " /proc/self/mounts)"
[ "$(cat "$mnt/f")" = data ] || fail "mount -t kvfs: data"
echo more >"$mnt/g" || fail "write"
T umount "$mnt" || fail "umount"
gone
echo "ok: mount -t kvfs"

T mount -t fuse.kvfs -o ro "$img" "$mnt" || fail "mount -t fuse.kvfs"
grep -q "^$img $mnt fuse.kvfs ro," /proc/self/mounts ||
	fail "mount -t fuse.kvfs -o ro: $(grep " $mnt " /proc/self/mounts)"
[ "$(cat "$mnt/g")" = more ] || fail "mount -t fuse.kvfs: data"
touch "$mnt/h" 2>/dev/null && fail "mount -t fuse.kvfs -o ro: writable"
T umount "$mnt" || fail "umount"
gone
echo "ok: mount -t fuse.kvfs -o ro"

T mount -T "$fstab" "$mnt" || fail "mount from the fstab line"
grep -q "^$img $mnt fuse.kvfs rw,.*noatime" /proc/self/mounts ||
	fail "fstab: $(grep " $mnt " /proc/self/mounts)"
[ "$(cat "$mnt/g")" = more ] || fail "fstab: data"
T umount "$mnt" || fail "umount"
gone
echo "ok: fstab line"
NS
) || fail "mount(8): $out"
echo "$out"
mounted "$mnt" && fail "still mounted"
echo "fuse install: ok"
