#!/usr/bin/env bash
# On real mounts: kvfs-stat (its figures move with what is done, --json
# parses, writes spared a getxattr each, -w prints lines as time goes, two mounts each answer for
# themselves, a directory of another filesystem refused), the requests the
# kernel sends per operation (upper bounds), copy_file_range
# through the kernel (contents compared, the errno cases; by default one
# request reaching the daemon, answered ENOSYS, with -o copy_file_range
# each), and mount.kvfs's connection limits as root (the
# bdi and fusectl files; the bdi's dirty limit below the free space).
# Always unmounts (lib.sh's trap); every command is bounded by a timeout.
# usage: stat.sh MOUNT_KVFS MKFS_KVFS KVFS_STAT COPY_RANGE
set -u
mount_kvfs=$1 mkfs=$2 kstat=$3 copy=$4
. "$(dirname "$0")/lib.sh"

# json FILE EXPR...: each python expression over the object d holds
command -v python3 >/dev/null && python3 -c 'import json' 2>/dev/null ||
	fail "python3 is needed to parse kvfs-stat --json"
json() {
	local f=$1
	shift
	python3 - "$f" "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for e in sys.argv[2:]:
    if not eval(e):
        sys.exit("false: " + e)
PY
}

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
T "$mkfs" -q -s 64M "$tmp/img2" || fail "mkfs.kvfs img2"
T "$mount_kvfs" "$img" "$mnt" || fail "mount"
T "$mount_kvfs" "$tmp/img2" "$mnt2" || fail "mount img2"

# ---- kvfs-stat ----
T dd if=/dev/urandom of="$mnt/f" bs=64K count=40 conv=fsync status=none ||
	fail "dd"
T "$kstat" --json "$mnt" > "$tmp/s.json" || fail "kvfs-stat --json"
json "$tmp/s.json" 'd["fuse"]["write"]["count"] > 0' \
	'd["fuse"]["write"]["mean_ns"] > 0' \
	'd["fuse"]["create"]["count"] == 1' \
	'd["journal"]["commits"] > 0' 'd["fuse"]["fsync"]["count"] > 0' \
	'd["journal"]["log_bytes_used"] <= d["journal"]["log_bytes"]' \
	'd["bcache"]["hits"] + d["bcache"]["misses"] > 0' \
	'd["icache"]["cached"] > 0' 'd["space"]["agcount"] > 0' \
	'd["ag"]["0"]["lock_acquired"] > 0' 'd["ag"]["0"]["sick"] == 0' \
	'd["alloc"]["pages_total"] > 0' ||
	fail "kvfs-stat --json: $(cat "$tmp/s.json")"
echo "ok: kvfs-stat --json"

# HANDLE_KILLPRIV_V2 (fs/fuse/kio.h): once a file was written, a write(2)
# no longer asks for its security.capability first (kvfs-stat's own
# getxattr calls are the few left)
T "$kstat" --json "$mnt" > "$tmp/x0.json" || fail "kvfs-stat --json"
T dd if=/dev/zero of="$mnt/f" bs=512 count=300 conv=notrunc status=none ||
	fail "dd of 300 writes"
T "$kstat" --json "$mnt" > "$tmp/x1.json" || fail "kvfs-stat --json"
python3 - "$tmp/x0.json" "$tmp/x1.json" <<'PY' || fail "getxattr per write"
import json, sys
a, b = (json.load(open(f))["fuse"]["getxattr"]["count"] for f in sys.argv[1:])
if b - a > 4:
    sys.exit("%d getxattr requests for 300 writes" % (b - a))
PY
echo "ok: no getxattr per write"

# the other mount answers for itself: no write reached it
T "$kstat" --json "$mnt2" > "$tmp/s2.json" || fail "kvfs-stat --json mnt2"
json "$tmp/s2.json" 'd["fuse"]["write"]["count"] == 0' \
	'd["space"]["free_blocks"] * d["space"]["block_size"] < 64 << 20' ||
	fail "kvfs-stat of the second mount: $(cat "$tmp/s2.json")"
out=$(T "$kstat" "$mnt") || fail "kvfs-stat"
grep -Eq '^  write +[1-9][0-9]* ' <<<"$out" || fail "kvfs-stat: $out"
grep -q '^journal: [1-9][0-9]* commits' <<<"$out" || fail "kvfs-stat: $out"
echo "ok: two mounts at once"

# -w 1: lines as time goes (a header, then the line since the mount and one
# a second), and the writes of the interval in the line
(sleep 1.3; dd if=/dev/zero of="$mnt/w" bs=1M count=2 status=none;
	sync -f "$mnt/w") &
timeout 3 "$kstat" -w 1 "$mnt" > "$tmp/w.out"
[ $? -eq 124 ] || fail "kvfs-stat -w 1 did not run until killed"
wait
lines=$(grep -Ec '^ *[0-9]+ ' "$tmp/w.out")
[ "$lines" -ge 2 ] || fail "kvfs-stat -w 1: $lines lines in 3 s: $(cat "$tmp/w.out")"
head -2 "$tmp/w.out" | grep -q 'req  read write' || fail "no header: $(cat "$tmp/w.out")"
echo "ok: kvfs-stat -w 1 ($lines lines in 3 s)"

# not kvfs: refused with a message
out=$(T "$kstat" "$tmp" 2>&1) && fail "kvfs-stat of $tmp succeeded"
[ "$out" = "kvfs-stat: $tmp: not a kvfs mount" ] || fail "kvfs-stat $tmp: '$out'"
out=$(T "$kstat" -w 0 "$mnt" 2>&1) && fail "kvfs-stat -w 0 succeeded"
echo "ok: $out"

# ---- requests per operation ----
# What the kernel sends for each operation (README, "tools/fsbench"), as
# upper bounds that fail if a request spared comes back: no OPENDIR or
# RELEASEDIR per opendir (one OPENDIR answered ENOSYS per mount), negative
# entries cached, cached listings.  Forgets are not counted (the kernel
# sends them when memory is short); a few lookups of slack for dentries
# another test's memory pressure took.
python3 - "$kstat" "$mnt" <<'PY' || fail "requests per operation"
import json, os, subprocess, sys
kstat, mnt = sys.argv[1:]
n, slack = 200, 20
def counts():
    out = subprocess.run(["timeout", "60", kstat, "--json", mnt], check=True,
                         stdout=subprocess.PIPE).stdout
    return {k: v["count"] for k, v in json.loads(out)["fuse"].items()
            if isinstance(v, dict)}
a, b = counts(), counts()
own = {k: b[k] - a[k] for k in a}  # kvfs-stat's own question
def sent(fn):
    a = counts()
    fn()
    b = counts()
    return {k: b[k] - a[k] - own[k] for k in a
            if b[k] - a[k] - own[k] and "forget" not in k}
bad = []
def bound(what, d, total, **each):
    t, was = sum(d.values()), len(bad)
    if t > total:
        bad.append("%s: %d requests > %d: %s" % (what, t, total, d))
    for k, v in each.items():
        if d.get(k, 0) > v:
            bad.append("%s: %d %s > %d: %s" % (what, d.get(k, 0), k, v, d))
    if len(bad) == was:
        print("ok: %s: %d requests (%s)" % (what, t, d))
d = mnt + "/req"
os.mkdir(d)
p = ["%s/f%d" % (d, i) for i in range(n)]
def create():
    for f in p:
        os.close(os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
# LOOKUP, CREATE, RELEASE, GETATTR of the directory (its next permission check)
bound("create+close", sent(create), 4 * n + slack, open=0, mknod=0)
def missing():
    for f in p:
        try:
            os.stat(f + "x")
        except FileNotFoundError:
            pass
bound("stat of a missing name", sent(missing), n + slack)
bound("stat of a missing name again", sent(missing), slack)
def ls():
    for _ in range(5):
        if len(os.listdir(d)) != n:
            sys.exit("listdir: not %d names" % n)
# one listing fills the cache (a few requests of entries), four from it
bound("5 listings of %d names" % n, sent(ls), 8, opendir=1, releasedir=0)
def unlink():
    for f in p:
        os.unlink(f)
# UNLINK, SETATTR of the times the kernel writes back, GETATTR of the directory
bound("unlink", sent(unlink), 3 * n + slack)
def mkdir():
    for f in p:
        os.mkdir(f)
# LOOKUP, MKDIR, GETATTR of the directory
bound("mkdir", sent(mkdir), 3 * n + slack)
for f in p:
    os.rmdir(f)
os.rmdir(d)
sys.exit("\n".join(bad) if bad else 0)
PY

# ---- copy_file_range through the kernel ----
# Twice: by default the daemon answers the first request ENOSYS and the
# kernel, which then sends no more, copies through its page cache (one
# request counted); -o copy_file_range has the daemon copy each (the
# copies within the mount counted: the cross-mount one is the kernel's).
# The second round remounts both images, and so starts from new counts.
for mode in default copy_file_range; do
mo=()
if [ $mode = copy_file_range ]; then
	mo=(-o copy_file_range)
	T "$mount_kvfs" "$img" "$mnt" "${mo[@]}" || fail "mount ($mode)"
	T "$mount_kvfs" "$tmp/img2" "$mnt2" || fail "mount img2 ($mode)"
	rm -rf "$mnt/src" "$mnt/dst" "$mnt/a" "$mnt/x" "$mnt2/other" ||
		fail "rm ($mode)"
fi
T dd if=/dev/urandom of="$mnt/src" bs=1M count=3 status=none || fail "dd src"
T dd if=/dev/urandom of="$mnt/src" bs=1 count=123 seek=5M status=none \
	conv=notrunc || fail "dd src tail"
# a hole [3M, 5M): a plain write extending the file made it
[ "$(stat -c %s "$mnt/src")" -eq $((5 * 1048576 + 123)) ] || fail "src size"
[ "$(T "$copy" "$mnt/src" "$mnt/dst" 0 0 104857600)" = $((5 * 1048576 + 123)) ] ||
	fail "copy src dst ($mode)"
T cmp "$mnt/src" "$mnt/dst" || fail "dst differs ($mode)"
# unaligned, into the middle of an existing file
cp "$mnt/src" "$tmp/want"
[ "$(T "$copy" "$mnt/src" "$mnt/dst" 4097 1000001 1234567)" = 1234567 ] ||
	fail "copy unaligned ($mode)"
T dd if="$mnt/src" of="$tmp/want" bs=64K skip=4097 seek=1000001 \
	count=1234567 iflag=skip_bytes,count_bytes oflag=seek_bytes \
	conv=notrunc status=none || fail "dd want"
T cmp "$mnt/dst" "$tmp/want" || fail "unaligned copy differs ($mode)"
# same data after a remount: on the image, not only in the page cache
unmount "$mnt" "$img"
T "$mount_kvfs" "$img" "$mnt" "${mo[@]}" || fail "mount again ($mode)"
T cmp "$mnt/dst" "$tmp/want" || fail "copy differs after remount ($mode)"
[ "$(T "$copy" "$mnt/src" "$mnt/src" 0 1000 4096)" = EINVAL ] ||
	fail "overlapping copy within a file ($mode)"
[ "$(T "$copy" "$mnt/src" "$mnt/src" 0 6291456 4096)" = 4096 ] ||
	fail "copy within a file ($mode)"
T cmp -n 4096 "$mnt/src" <(tail -c +6291457 "$mnt/src") ||
	fail "copy within a file differs ($mode)"
[ "$(T "$copy" "$mnt" "$mnt/dst" 0 0 1)" = EISDIR ] ||
	fail "copy of a dir ($mode)"
# past the source's end: nothing copied
[ "$(T "$copy" "$mnt/src" "$mnt/dst" 104857600 0 10)" = 0 ] ||
	fail "copy past EOF ($mode)"
# across directories: never EXDEV within the filesystem
mkdir -p "$mnt/a/b" || fail "mkdir a/b"
[ "$(T "$copy" "$mnt/src" "$mnt/a/b/y" 0 0 100000)" = 100000 ] ||
	fail "copy across directories ($mode)"
T cmp -n 100000 "$mnt/src" "$mnt/a/b/y" || fail "y differs ($mode)"
# from another kvfs mount (the kernel copies between two connections)
head -c 100000 /dev/urandom > "$mnt2/other"
[ "$(T "$copy" "$mnt2/other" "$mnt/x" 0 0 100000)" = 100000 ] ||
	fail "copy from another mount ($mode)"
T cmp "$mnt2/other" "$mnt/x" || fail "x differs ($mode)"
T "$kstat" --json "$mnt" > "$tmp/s.json" || fail "kvfs-stat --json"
if [ $mode = default ]; then
	want='d["fuse"]["copy_file_range"]["count"] == 1'
else
	want='d["fuse"]["copy_file_range"]["count"] >= 2'
fi
json "$tmp/s.json" "$want" ||
	fail "copy_file_range requests ($mode): $(cat "$tmp/s.json")"
echo "ok: copy_file_range ($mode)"
unmount "$mnt" "$img"
unmount "$mnt2" "$tmp/img2"
done

# ---- the connection's limits ----
# dirty_bound BDI: the mount's dirty limit is at most half its free space
# (16 MiB at least; an eighth more for the daemon's hysteresis, and the
# kernel's rounding to a ratio), and above zero (fs/fuse/dirty.h)
dirty_bound() {
	local mb free want
	mb=$(cat "$1/max_bytes") || fail "$1/max_bytes unreadable"
	free=$(stat -f -c '%a * %S' "$mnt") || fail "stat -f"
	free=$(($free / 2))
	want=$((free > 16 << 20 ? free : 16 << 20))
	[ "$mb" -gt 0 ] && [ "$mb" -le $((want + want / 8 + (1 << 20))) ] ||
		fail "$1/max_bytes: $mb, expected at most about $want"
}

# fusectl mounted if it is not, and left mounted (as systemd mounts it at
# boot): another run of this test may be using it
grep -q " /sys/fs/fuse/connections fusectl" /proc/mounts ||
	mount -t fusectl none /sys/fs/fuse/connections ||
	fail "cannot mount fusectl"
# in the foreground with -d: the trace names each file set
T "$mount_kvfs" -d -f "$img" "$mnt" 2> "$tmp/d.log" >/dev/null &
for _ in $(seq 100); do mounted "$mnt" && break; sleep 0.1; done
mounted "$mnt" || fail "mount -d -f"
dev=$(stat -c %d "$mnt")
major=$((dev >> 8 & 0xfff)) minor=$((dev & 0xff | (dev >> 12 & 0xfff00)))
bdi=/sys/class/bdi/$major:$minor conn=/sys/fs/fuse/connections/$((major << 20 | minor))
# the tuning thread's last line
for _ in $(seq 100); do
	grep -q "congestion_threshold: set" "$tmp/d.log" && break
	sleep 0.1
done
for f in "$bdi/read_ahead_kb 1024" \
	"$conn/max_background 128" "$conn/congestion_threshold 96"; do
	set -- $f
	[ "$(cat "$1")" = "$2" ] || fail "$1: $(cat "$1"), expected $2"
	grep -q "mount.kvfs: $1: set to $2" "$tmp/d.log" ||
		fail "-d did not say it set $1: $(head -c 2000 "$tmp/d.log")"
done
# max_ratio 50, then max_bytes (the same limit in bytes) below the space
grep -q "mount.kvfs: $bdi/max_ratio: set to 50" "$tmp/d.log" ||
	fail "-d did not say it set max_ratio: $(head -c 2000 "$tmp/d.log")"
grep -q "mount.kvfs: $bdi/max_bytes: follows the free space" "$tmp/d.log" ||
	fail "-d did not say max_bytes follows the space:" \
		"$(head -c 2000 "$tmp/d.log")"
dirty_bound "$bdi"
unmount "$mnt" "$img"
wait
# in the background: set before mount.kvfs returned
T "$mount_kvfs" "$img" "$mnt" || fail "mount"
dev=$(stat -c %d "$mnt")
major=$((dev >> 8 & 0xfff)) minor=$((dev & 0xff | (dev >> 12 & 0xfff00)))
bdi=/sys/class/bdi/$major:$minor conn=/sys/fs/fuse/connections/$((major << 20 | minor))
for f in "$bdi/read_ahead_kb 1024" \
	"$conn/max_background 128" "$conn/congestion_threshold 96"; do
	set -- $f
	[ "$(cat "$1")" = "$2" ] || fail "$1: $(cat "$1"), expected $2"
done
dirty_bound "$bdi"
echo "ok: connection limits"
unmount "$mnt" "$img"
echo "fuse stat: ok"
