#!/bin/bash
# kvfs-db -c CMD (a batch on one open): stdout and stderr are those of the
# commands run one at a time; the first failing command ends the batch
# with its status and message, the later ones not run; -k runs them all,
# naming each failure's status; a bad command (name, word count, -x)
# runs none; a damaged superblock falls back to raw blocks only when
# every command can use them; writes in a batch land as separate runs'.
set -u
MKFS=$1 DB=$2
. "$(dirname "$0")/../lib.sh"
tmpdir db-c "$fast_tmp"
BS=4096

"$MKFS" -q -s 64M -a 4 "$T/img" || fail mkfs

# one_by_one CMD...: each command alone, outputs appended, status of the
# first failure (the later ones not run), as a batch must give
one_by_one() {
	local c rc=0
	: >"$T/o1" && : >"$T/e1"
	for c in "$@"; do
		# shellcheck disable=SC2086
		"$DB" "$T/img" $c >>"$T/o1" 2>>"$T/e1" || { rc=$?; break; }
	done
	return $rc
}
# batched CMD...: the same commands as one -c batch
batched() {
	local -a a=()
	local c
	for c in "$@"; do a+=(-c "$c"); done
	"$DB" "${a[@]}" "$T/img" >"$T/o2" 2>"$T/e2"
}
# same CMD...: batch and separate runs agree in stdout, stderr, status
same() {
	local r1 r2
	one_by_one "$@"
	r1=$?
	batched "$@"
	r2=$?
	[ $r1 = $r2 ] || fail "$*: status $r2 batched, $r1 one by one"
	cmp -s "$T/o1" "$T/o2" || fail "$*: stdout differs: $(diff "$T/o1" "$T/o2" | head -5)"
	cmp -s "$T/e1" "$T/e2" || fail "$*: stderr differs: $(diff "$T/e1" "$T/e2" | head -5)"
	[ -s "$T/o1" ] || [ $r1 != 0 ] || fail "$*: no output"
}

same sb "sb 2" "ag 1" "agi 3" "agfl 0" "freesp 2 -v" "inode 128" check-crc \
	"btree 0 bno" "ls 128" "bmap 128" "xattr 128" "block 1" "echo a b"
# the first failure ends the batch: status 2 (a bad AG), then 1
same "sb 1" "ag 9" "sb 2"
[ "$(grep -c '^magic' "$T/o2")" = 1 ] || fail "the batch ran past a failure"
same "inode 128" "btree 0 nosuch" "sb"

# a bad command anywhere: none runs, exit 2, nothing on stdout
for bad in "frobnicate" "sb 1 2" "write sb fdblocks 1" "ag"; do
	"$DB" -c sb -c "$bad" "$T/img" >"$T/o" 2>"$T/e"
	rc=$?
	[ $rc = 2 ] || fail "bad command \"$bad\": exit $rc"
	[ -s "$T/o" ] && fail "bad command \"$bad\": a command ran"
	[ -s "$T/e" ] || fail "bad command \"$bad\": no message"
done
"$DB" -c "" "$T/img" 2>/dev/null && fail "an empty command ran"
"$DB" -c sb "$T/img" sb >/dev/null 2>&1 && fail "-c with a command after TARGET"

# -k: every command runs, each failure followed by its status line
"$DB" -k -c "ag 9" -c "sb 1" -c "inode 1" -c "echo end" "$T/img" >"$T/o" 2>"$T/e"
rc=$?
[ $rc = 2 ] || fail "-k: exit $rc, expected the first failure's (2)"
grep -q '^magic' "$T/o" || fail "-k: sb 1 after a failure did not run"
tail -1 "$T/o" | grep -qx end || fail "-k: the last command did not run"
[ "$(grep -c ': exit ' "$T/e")" = 2 ] || fail "-k: $(cat "$T/e")"
grep -qx 'kvfs-db: ag 9: exit 2' "$T/e" || fail "-k: ag 9 status: $(cat "$T/e")"
grep -qx 'kvfs-db: inode 1: exit 2' "$T/e" || fail "-k: inode 1 status"
grep -B1 -x 'kvfs-db: ag 9: exit 2' "$T/e" | grep -q 'invalid AG "9"' ||
	fail "-k: the status line does not follow its error"

# writes: a batch of writes leaves the image as the separate runs do
cp --sparse=always "$T/img" "$T/w1"
cp --sparse=always "$T/img" "$T/w2"
"$DB" -x "$T/w1" write agf 1 longest 7 >/dev/null &&
	"$DB" -x "$T/w1" write inode 128 nlink 9 >/dev/null &&
	"$DB" -x "$T/w1" write -c sb 2 fdblocks 5 >/dev/null || fail "writes"
"$DB" -x -c "write agf 1 longest 7" -c "write inode 128 nlink 9" \
	-c "write -c sb 2 fdblocks 5" "$T/w2" >/dev/null || fail "batched writes"
cmp -s "$T/w1" "$T/w2" || fail "batched writes differ from separate ones"
cmp -s "$T/img" "$T/w2" && fail "batched writes changed nothing"
"$DB" -c "write agf 1 longest 7" "$T/w2" 2>/dev/null && fail "write without -x"

# a damaged primary superblock: raw blocks when every command can use
# them, else the open fails for all as one of them alone does
printf '\xff' | dd of="$T/img" bs=1 seek=100 conv=notrunc status=none
same "block 0" "echo x" "block 1"
grep -q '^000000: 4b 56 53 42' "$T/o2" || fail "raw: block 0 not dumped"
same "sb"
batched "block 0" "sb"
rc=$?
[ $rc = 1 ] || fail "raw and sb: exit $rc"
[ -s "$T/o2" ] && fail "raw and sb: a command ran on a failed open"
cmp -s "$T/e1" "$T/e2" || fail "raw and sb: not sb's error: $(cat "$T/e2")"
echo "db_batch: ok"
