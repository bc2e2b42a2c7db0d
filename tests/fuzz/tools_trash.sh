#!/usr/bin/env bash
# kvfs-logprint and kvfs-db's read commands on trashed images: a populated
# image (trash make) gets random bytes of its metadata blocks flipped by
# direct writes (trash flip, seeded: odd seeds recompute the crcs so the
# parsers behind the checksums see the damage), and every command must end
# with exit 0 or 1, a message on stderr with 1, and never a signal or a
# sanitizer report.  Some must see the damage: at least one exit 1.
#   tools_trash.sh TRASH KVFS_LOGPRINT KVFS_DB
set -u
trash=$1 logprint=$2 db=$3
# tmpfs when there is one: rewriting and removing 40 MiB images on a
# virtual disk costs seconds
. "$(dirname "$0")/../lib.sh"
tmpdir trash "$fast_tmp"
dir=$T
fail=0 runs=0 detected=0
SEEDS=${TRASH_SEEDS:-8}
FLIPS=${TRASH_FLIPS:-24}

"$trash" make "$dir/clean" || { echo "trash make failed"; exit 1; }
mapfile -t inos < <("$trash" inos "$dir/clean" | head -n 40)
[ ${#inos[@]} -gt 10 ] || { echo "only ${#inos[@]} inodes found"; exit 1; }
# a few inodes: the root, lost+found, and some of the populated ones
pick=("${inos[0]}" "${inos[9]}")

# run SEED CMD...: the command's exit status must be 0, or 1 with stderr
run() {
	local seed=$1 st
	shift
	runs=$((runs + 1))
	"$@" >"$dir/out" 2>"$dir/err" </dev/null
	st=$?
	if [ $st -eq 0 ]; then
		return
	fi
	if [ $st -eq 1 ] && [ -s "$dir/err" ] &&
		! grep -q 'Sanitizer\|runtime error' "$dir/err"; then
		detected=$((detected + 1))
		return
	fi
	fail=$((fail + 1))
	echo "FAIL seed $seed: exit $st: $*"
	head -n 20 "$dir/err"
	cp "$dir/img" "/tmp/kvfs-trash-seed$seed.img" 2>/dev/null &&
		echo "(image kept as /tmp/kvfs-trash-seed$seed.img)"
}

for seed in $(seq 1 "$SEEDS"); do
	cp "$dir/clean" "$dir/img"
	"$trash" flip "$dir/img" "$seed" "$FLIPS" >"$dir/flips" ||
		{ echo "trash flip failed"; exit 1; }
	# (an ASan build starts a tool in about 0.4 s: few, broad commands)
	run "$seed" "$logprint" -vv "$dir/img"
	run "$seed" "$db" "$dir/img" check-crc
	run "$seed" "$db" "$dir/img" sb 1
	run "$seed" "$db" "$dir/img" ag $((seed % 2))
	run "$seed" "$db" "$dir/img" agfl $((seed % 2))
	for ag in 0 1; do
		run "$seed" "$db" "$dir/img" freesp "$ag" -v
	done
	for ino in "${pick[@]}"; do
		run "$seed" "$db" "$dir/img" inode "$ino"
	done
	read -r _ blk _ <"$dir/flips"
	run "$seed" "$db" "$dir/img" block "$blk"
done
echo "tools_trash: $runs runs over $SEEDS seeds, $detected saw damage (exit 1), $fail failed"
[ "$fail" -eq 0 ] && [ "$detected" -gt 0 ]
