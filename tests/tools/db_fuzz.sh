#!/bin/bash
# kvfs-db's fuzz: each verb's result on fields of known value and of each
# width (the copy superblock's fdblocks, 64 bits; inodesize, 16; agblklog,
# 8; the root's mtime, its seconds), "old F = V" and "new F = V" printed,
# the crc recomputed unless -c, random the same bytes for the same seed,
# add refused on a field wider than 64 bits with the image untouched.
set -u
MKFS=$1 DB=$2
. "$(dirname "$0")/../lib.sh"
tmpdir db-fuzz "$fast_tmp"

"$MKFS" -q -s 32M "$T/base" || fail mkfs
ROOT=$("$DB" "$T/base" sb | awk '$1 == "rootino" { print $3 }')
SB1=$("$DB" "$T/base" sb | awk '$1 == "agblocks" { print $3 }')
[ -n "$ROOT" ] && [ -n "$SB1" ] || fail "rootino, agblocks"
"$DB" -x -c "write sb 1 fdblocks 1000" -c "write sb 1 inodesize 300" \
	-c "write sb 1 agblklog 7" -c "write inode $ROOT mtime 100.5" \
	"$T/base" >/dev/null || fail "known values"

# check NAME OLD NEW -- FUZZ ARGS: on a fresh copy the fuzz prints the old
# and new value, and a second fuzz then reads the new one from the image
# (a read command refuses a superblock the verifier rejects)
check() {
	local name=$1 old=$2 new=$3 field
	shift 4
	field=${*: -2:1}
	cp "$T/base" "$T/img"
	"$DB" -x "$T/img" fuzz "$@" >"$T/out" 2>&1 ||
		fail "$name: fuzz $*: $(cat "$T/out")"
	grep -qxF "old $field = $old" "$T/out" ||
		fail "$name: no 'old $field = $old' in: $(cat "$T/out")"
	grep -qxF "new $field = $new" "$T/out" ||
		fail "$name: no 'new $field = $new' in: $(cat "$T/out")"
	"$DB" -x "$T/img" fuzz "${@:1:$#-1}" zeroes 2>&1 |
		grep -qxF "old $field = $new" ||
		fail "$name: the image does not hold $field = $new"
	echo "ok: $name"
}

U64=18446744073709551615
check u64-zeroes 1000 0 -- sb 1 fdblocks zeroes
check u64-ones 1000 $U64 -- sb 1 fdblocks ones
# bash's arithmetic is signed: the top bit's value written out
check u64-firstbit 1000 9223372036854776808 -- sb 1 fdblocks firstbit
check u64-middlebit 1000 $((1000 ^ (1 << 31))) -- sb 1 fdblocks middlebit
check u64-lastbit 1000 1001 -- sb 1 fdblocks lastbit
check u64-add 1000 3000 -- sb 1 fdblocks add
check u64-sub 1000 18446744073709550616 -- sb 1 fdblocks sub
check u16-firstbit 300 $((300 ^ (1 << 15))) -- sb 1 inodesize firstbit
check u16-middlebit 300 $((300 ^ (1 << 7))) -- sb 1 inodesize middlebit
check u16-ones 300 65535 -- sb 1 inodesize ones
check u16-sub 300 $(((300 - 2000) & 65535)) -- sb 1 inodesize sub
check u8-add 7 9 -- sb 1 agblklog add
check u8-sub 7 5 -- sb 1 agblklog sub
check u8-firstbit 7 135 -- sb 1 agblklog firstbit
check u8-middlebit 7 15 -- sb 1 agblklog middlebit
check u8-lastbit 7 6 -- sb 1 agblklog lastbit
check ts-add 100.500000000 2100.500000000 -- \
	inode "$ROOT" mtime add
check ts-zeroes 100.500000000 0.500000000 -- \
	inode "$ROOT" mtime zeroes

# the crc: recomputed, or with -c left as it was (then wrong)
cp "$T/base" "$T/img"
"$DB" -x "$T/img" fuzz sb 1 fdblocks ones >/dev/null || fail "fuzz for crc"
"$DB" "$T/img" block "$SB1" | grep -q '^crc = .*(correct)' ||
	fail "crc not fixed"
"$DB" -x "$T/img" fuzz -c sb 1 fdblocks lastbit >/dev/null || fail "fuzz -c"
"$DB" "$T/img" block "$SB1" 2>/dev/null | grep -q '^crc = .*(bad)' ||
	fail "-c: crc recomputed"
echo "ok: crc"

# random: the seed printed, the same seed the same value, another another
rnd() {
	cp "$T/base" "$T/img"
	"$DB" -x "$T/img" fuzz -s "$1" sb 1 fdblocks random >"$T/out" ||
		fail "random -s $1"
	grep -qxF "seed = $1" "$T/out" || fail "random: seed not printed"
	sed -n 's/^new fdblocks = //p' "$T/out"
}
a=$(rnd 5) b=$(rnd 5) c=$(rnd 6)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "random -s 5: $a then $b"
[ "$a" != "$c" ] || fail "random: seeds 5 and 6 both wrote $a"
[ "$a" != 1000 ] || fail "random -s 5 left the value"
cp "$T/base" "$T/img"
"$DB" -x "$T/img" fuzz sb 1 fdblocks random | grep -q '^seed = [0-9]' ||
	fail "random unseeded: no seed printed"
echo "ok: random"

# refused: add on a uuid, a verb that is none, no -x; the image untouched
cp "$T/base" "$T/img"
"$DB" -x "$T/img" fuzz sb 1 uuid add >"$T/out" 2>&1 && fail "add on a uuid"
grep -q "64 bits at most" "$T/out" || fail "add on a uuid: $(cat "$T/out")"
"$DB" -x "$T/img" fuzz sb 1 fdblocks flip 2>/dev/null && fail "verb flip"
"$DB" "$T/img" fuzz sb 1 fdblocks ones 2>/dev/null && fail "without -x"
cmp -s "$T/base" "$T/img" || fail "refused fuzzes changed the image"
echo "ok: refused"
