#!/usr/bin/env bash
# Real tools on a mounted kvfs, each result compared with the same on a
# tmpfs: cp -a of the source tree's fs/ and tests/ (names, types, modes,
# sizes, nanosecond mtimes, symlinks, bytes), a tar of it made and
# extracted (the archives byte-identical), git init/add/commit (the same
# commit id, git fsck clean), a C program compiled and run (the same
# binary and output).  Then persistence: every file's bytes and
# attributes the same after an unmount and a mount, and the checker clean.
# Always unmounts (lib.sh's trap); every step under a timeout.
# usage: tools.sh MOUNT_KVFS MKFS_KVFS SCRUB_IMAGE SOURCE_ROOT
set -u
mount_kvfs=$1 mkfs=$2 scrub=$3 src=$4
. "$(dirname "$0")/lib.sh"

git=$(command -v git)
[ -n "$git" ] || echo "not checked: git commit (git is not installed)"
ref=$tmp/ref
mkdir "$ref"
mount -t tmpfs -o size=256M tmpfs "$ref" || fail "mount tmpfs"
at_exit='umount "$ref"'

# build DIR: the same steps in DIR (on kvfs, on the tmpfs)
build() {
	local d=$1
	mkdir "$d/src" || return 1
	T cp -a "$src/fs" "$src/tests" "$d/src/" || return 1
	ln -s fs/kvfs.h "$d/src/link" && ln "$d/src/fs/format.h" "$d/src/hard" ||
		return 1
	touch -h -d '2001-02-03 04:05:06.123456789' "$d/src/link" &&
		touch -d '2002-03-04 05:06:07.987654321' "$d/src" || return 1
	T tar --sort=name --format=posix --numeric-owner \
		--pax-option=delete=atime,delete=ctime \
		-cf "$d/src.tar" -C "$d" src || return 1
	mkdir "$d/x" && T tar -xf "$d/src.tar" -C "$d/x" || return 1
	mkdir "$d/cc" && cat >"$d/cc/a.c" <<'C'
#include <stdio.h>
int sum(int n);
int main(void) { printf("%d\n", sum(1000)); return 0; }
C
	printf 'int sum(int n) { int s = 0; while (n) s += n--; return s; }\n' \
		>"$d/cc/b.c"
	(cd "$d/cc" && T cc -O2 -c a.c && T cc -O2 -c b.c &&
		T cc -o prog a.o b.o && ./prog >out) || return 1
	[ -n "$git" ] || return 0
	(cd "$d/src" && export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t \
		GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t \
		GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' \
		GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' HOME="$d" &&
		T git init -q -b main . && T git add -A &&
		T git commit -q -m tree &&
		T git fsck --strict --no-progress >/dev/null &&
		git rev-parse HEAD >"$d/head") || return 1
}

# listing DIR: every entry's name, type, mode, size (not a directory's:
# the filesystem's own), mtime (ns), target; ./.git's inside not
listing() {
	(cd "$1" && find . -mindepth 1 -path ./.git -prune -o \
		-type d -printf '%p d %m %T@\n' -o \
		-printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort)
}

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
T "$mount_kvfs" "$img" "$mnt" || fail "mount"
mkdir "$mnt/w" "$ref/w" || fail "mkdir"
build "$ref/w" || fail "the tools on the tmpfs"
build "$mnt/w" || fail "the tools on kvfs: $(df "$mnt" | tail -1)"

[ "$(listing "$mnt/w/src")" = "$(listing "$ref/w/src")" ] ||
	fail "cp -a: trees differ: $(diff <(listing "$mnt/w/src") <(listing "$ref/w/src") | head -4; diff <(listing "$mnt/w/src") <(listing "$ref/w/src") | grep "^>" | head -3)"
diff -r --no-dereference -x .git "$mnt/w/src" "$ref/w/src" >/dev/null ||
	fail "cp -a: bytes differ"
[ "$(stat -c %h "$mnt/w/src/hard")" = 2 ] || fail "hard link count"
echo "ok: cp -a"
cmp "$mnt/w/src.tar" "$ref/w/src.tar" || fail "tar: archives differ"
[ "$(listing "$mnt/w/x")" = "$(listing "$ref/w/x")" ] ||
	fail "tar x: trees differ"
diff -r --no-dereference "$mnt/w/x" "$ref/w/x" >/dev/null ||
	fail "tar x: bytes differ"
echo "ok: tar c/x"
if [ -n "$git" ]; then
	cmp "$mnt/w/head" "$ref/w/head" || fail "git: commit ids differ"
	echo "ok: git commit $(cat "$mnt/w/head")"
fi
cmp "$mnt/w/cc/prog" "$ref/w/cc/prog" || fail "cc: binaries differ"
[ "$(cat "$mnt/w/cc/out")" = 500500 ] || fail "cc: prog printed $(cat "$mnt/w/cc/out")"
echo "ok: cc"

# persistence: everything the same after an unmount and a mount
sums() {
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z |
		timeout 60 xargs -0 md5sum)
}
before=$(listing "$mnt/w") sb=$(sums "$mnt/w")
[ "$(grep -c . <<<"$sb")" -gt 500 ] || fail "too few files summed: $sb"
unmount "$mnt" "$img"
T "$scrub" "$img" || fail "the checker after the tools"
T "$mount_kvfs" "$img" "$mnt" -o ro || fail "mount again"
[ "$(listing "$mnt/w")" = "$before" ] || fail "attributes differ after a remount"
[ "$(sums "$mnt/w")" = "$sb" ] || fail "bytes differ after a remount"
[ -z "$git" ] ||
	(cd "$mnt/w/src" && HOME=$tmp T git -c safe.directory='*' fsck --strict --no-progress >/dev/null) ||
	fail "git fsck after a remount"
echo "ok: $(grep -c . <<<"$sb") files the same after a remount"
unmount "$mnt" "$img"
echo "fuse tools: ok"
