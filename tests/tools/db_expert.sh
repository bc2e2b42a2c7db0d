#!/bin/bash
# kvfs-db's expert mode and its read commands on a populated image: each
# write changes its field and nothing else (the read side shows only that
# line and the crc changed; the image differs only inside that block),
# the crc is recomputed unless -c (then the verifier reports it), every
# write command is refused without -x, blocktrash with a seed flips the
# same bits every time, and ls/bmap/xattr/btree show what populate made.
set -u
MKFS=$1 DB=$2 POP=$3
# images on tmpfs when there is one: every write is flushed
. "$(dirname "$0")/../lib.sh"
tmpdir db-x "$fast_tmp"
BS=4096

"$MKFS" -q -s 48M "$T/base" || fail mkfs
"$POP" build "$T/base" || fail populate
"$POP" dump-sums "$T/base" "$T/dump" || fail dump
ino_of() { awk -v p="$1" '$5 == p { print $1 }' "$T/dump/manifest"; }
ROOT=128 BIG=$(ino_of /big) FRAG=$(ino_of /frag) F4096=$(ino_of /file4096)
D3=$(ino_of /sub/d2/d3) XB=$(ino_of /xattr-block) XS=$(ino_of /xattr-small)
[ -n "$BIG" ] && [ -n "$FRAG" ] && [ -n "$D3" ] || fail "manifest"

fresh() { cp --sparse=always "$T/base" "$T/img"; }

# check_write NAME READCMD WANT_LINE -- WRITE ARGS: the write succeeds, the
# read command's output then differs from before exactly in WANT_LINE
# (and a crc line), and the image only inside one block
check_write() {
	local name=$1 read=$2 want=$3
	shift 4
	fresh
	$DB "$T/img" $read >"$T/before" 2>&1 || fail "$name: read before"
	"$DB" -x "$T/img" write "$@" >"$T/wout" 2>&1 ||
		fail "$name: write $*: $(cat "$T/wout")"
	# a verifier may reject the new value: the read still prints it
	$DB "$T/img" $read >"$T/after" 2>/dev/null
	grep -qxF -- "$want" "$T/after" ||
		fail "$name: '$want' not in: $(head -5 "$T/after")"
	grep -qxF -- "$want" "$T/before" && fail "$name: '$want' already there"
	local changed
	changed=$(diff "$T/before" "$T/after" | grep '^>' | grep -v '^> crc = ' |
		sed 's/^> //')
	[ "$changed" = "$want" ] || fail "$name: changed lines: $changed"
	grep -q '^crc = .*(bad)' "$T/after" && fail "$name: crc left bad"
	"$DB" "$T/img" check-crc 2>/dev/null | grep -q '^0 checksum errors' ||
		fail "$name: check-crc finds a checksum error"
	local blocks
	blocks=$(cmp -l "$T/base" "$T/img" | awk -v bs=$BS '{ print int(($1 - 1) / bs) }' | sort -u | wc -l)
	[ "$blocks" -eq 1 ] || fail "$name: $blocks blocks changed"
	echo "ok: $name"
}

check_write sb "sb 1" "fdblocks = 1234" -- sb 1 fdblocks 1234
check_write sb-state "sb 1" "state = dirty,errors" -- sb 1 state dirty,errors
check_write sb-label "sb" 'label = "damaged"' -- sb label damaged
fb=$($DB "$T/base" ag 0 | sed -n 's/^freeblks = //p')
check_write agf "ag 0" "freeblks = $((fb + 1))" -- agf 0 freeblks $((fb + 1))
check_write agi "agi 0" "unlinked[18] = 4242" -- agi 0 'unlinked[18]' 4242
slot=$($DB "$T/base" agfl 0 | sed -n 's/^bno\[\([0-9]*\)\].*/\1/p' | head -1)
check_write agfl "agfl 0" "bno[$slot] = 9" -- agfl 0 "bno[$slot]" 9
check_write inode-core "inode $F4096" "uid = 4242" -- inode $F4096 uid 4242
check_write inode-time "inode $F4096" "mtime = -5.500000000" -- inode $F4096 mtime -5.5
ext=$($DB "$T/base" inode $F4096 | sed -n 's/^extent\[0\] = off 0 block \([0-9]*\) len 1$/\1/p')
[ -n "$ext" ] || fail "file4096 extent"
check_write inode-extent "inode $F4096" "extent[0] = off 0 block $((ext + 1)) len 1" \
	-- inode $F4096 'u.extent[0].startblock' $((ext + 1))
child=$($DB "$T/base" inode $FRAG | sed -n 's/^extent_key\[0\] = off 0 child //p')
[ -n "$child" ] || fail "frag's extent-tree root"
check_write inode-bmdr "inode $FRAG" "extent_key[0] = off 0 child $((child + 1))" \
	-- inode $FRAG 'u.bmdr.ptr[0]' $((child + 1))
check_write btree-ino "btree 0 ino" "rec[0].freecount = 3" -- btree 0 ino 0:0 'rec[0].freecount' 3
check_write btree-bno "btree 0 bno" "rec[1].blockcount = 1" -- btree 0 bno 0:0 'rec[1].blockcount' 1
check_write btree-bmbt "btree $FRAG bmbt" "rec[2].blockcount = 7" -- btree $FRAG bmbt 0:1 'rec[2].blockcount' 7
check_write dirent-block "ls $BIG" "$($DB "$T/base" ls $BIG | awk '$4 == "entry-00042" { print $1 }') 131 reg entry-00042" \
	-- dirent $BIG entry-00042 inumber 131
check_write dirent-sf "ls $D3" "$($DB "$T/base" ls $D3 | awk '$4 == "deepfile" { print $1, $2 }') dir deepfile" \
	-- dirent $D3 deepfile type 2
check_write dirhead "ls $BIG" "1 $(ino_of /sub) dir .." -- dirhead $BIG parent "$(ino_of /sub)"

# -c: the field changes, the crc stays as it was, and the verifier says so
fresh
"$DB" -x "$T/img" write -c agf 0 longest 1 >/dev/null || fail "write -c"
"$DB" "$T/img" block 1 2>/dev/null | grep -q '^crc = .*(bad)$' || fail "-c: crc not bad"
out=$("$DB" "$T/img" check-crc 2>/dev/null) && fail "-c: check-crc passed"
echo "$out" | grep -q '^1 checksum errors' || fail "-c: check-crc said: $out"
"$DB" "$T/img" ag 0 >/dev/null 2>&1 && fail "-c: ag 0 verified"
echo "ok: -c leaves a bad crc"

# nothing writes without -x, and the image is untouched
fresh
for cmd in "write sb fdblocks 1" "blocktrash -s 1 -n 1"; do
	# shellcheck disable=SC2086
	"$DB" "$T/img" $cmd >/dev/null 2>"$T/err"
	rc=$?
	[ $rc -eq 2 ] || fail "$cmd without -x: exit $rc"
	grep -q 'refused without -x' "$T/err" || fail "$cmd: $(cat "$T/err")"
done
cmp -s "$T/base" "$T/img" || fail "refused writes changed the image"
# a mounted image (mount.kvfs and fsck.kvfs hold its flock) is refused
# (after 100 ms of waiting for the lock, tag image_lock_wait, not 5 s)
KVFS_ERRTAGS=image_lock_wait:value=100 flock -n "$T/img" \
	"$DB" -x "$T/img" write sb fdblocks 1 >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "-x on a locked image: exit $rc"
grep -q 'in use' "$T/err" || fail "-x on a locked image: $(cat "$T/err")"
grep -q 'KVFS_ERRTAGS' "$T/err" && fail "-x on a locked image: $(cat "$T/err")"
cmp -s "$T/base" "$T/img" || fail "-x on a locked image changed it"
"$DB" -x "$T/img" write sb nosuchfield 1 2>/dev/null && fail "bad field"
"$DB" -x "$T/img" write agi 0 'unlinked[64]' 1 2>/dev/null && fail "index"
"$DB" -x "$T/img" write agf 0 bno_level 256 2>/dev/null && fail "range"
cmp -s "$T/base" "$T/img" || fail "failed writes changed the image"
echo "ok: refusals"

# blocktrash: the same seed flips the same bits; the types asked only
cp --sparse=always "$T/base" "$T/t1"
cp --sparse=always "$T/base" "$T/t2"
"$DB" -x "$T/t1" blocktrash -s 42 -n 20 -b 3 >"$T/o1" || fail blocktrash
"$DB" -x "$T/t2" blocktrash -s 42 -n 20 -b 3 >"$T/o2" || fail blocktrash
cmp -s "$T/o1" "$T/o2" || fail "blocktrash output differs for one seed"
cmp -s "$T/t1" "$T/t2" || fail "blocktrash images differ for one seed"
[ "$(grep -c '^blocktrash: block ' "$T/o1")" -eq 60 ] || fail "60 flips"
# cmp -l prints the differing bytes in octal: count the bits that differ
nbits=$(cmp -l "$T/base" "$T/t1" | awk '
	function oct(s,  v, i) { for (i = 1; i <= length(s); i++) v = v * 8 + substr(s, i, 1); return v }
	{ x = oct($2); y = oct($3)
	  for (i = 0; i < 8; i++) if (int(x / 2^i) % 2 != int(y / 2^i) % 2) n++ }
	END { print n + 0 }')
[ "$nbits" -gt 0 ] && [ "$nbits" -le 60 ] || fail "$nbits bits differ"
# every flipped bit is where it says (distinct bits flip exactly)
want=$(sed -n 's/^blocktrash: block \([0-9]*\) ([a-z]*) bit \([0-9]*\)$/\1 \2/p' "$T/o1" |
	sort | uniq -c | awk '$1 % 2 { n++ } END { print n + 0 }')
[ "$nbits" -eq "$want" ] || fail "$nbits bits differ, output says $want"
cp --sparse=always "$T/base" "$T/t3"
"$DB" -x "$T/t3" blocktrash -s 43 -n 20 -b 3 >"$T/o3" || fail blocktrash
cmp -s "$T/o1" "$T/o3" && fail "seeds 42 and 43 flipped the same bits"
cp --sparse=always "$T/base" "$T/t4"
"$DB" -x "$T/t4" blocktrash -s 7 -n 30 -t dir,diridx >"$T/o4" || fail "-t"
sed -n 's/^blocktrash: block [0-9]* (\([a-z]*\)).*/\1/p' "$T/o4" | sort -u >"$T/types"
grep -qvxE 'dir|diridx' "$T/types" && fail "-t dir,diridx: $(cat "$T/types")"
grep -qx dir "$T/types" || fail "-t dir: no directory block"
"$DB" -x "$T/t4" blocktrash -s 7 -n 1 -t nosuch 2>/dev/null && fail "-t nosuch"
# every type is found, and a block of that type is what it says (magic)
for tm in sb:KVSB agf:KVAG agi:KVAI agfl:KVFL bnobt:KVBB cntbt:KVBC \
	inobt:KVIB inode:KVIN bmbt:KVBM dir:KVDD diridx:KVD attr:KVA \
	symlink:KVSL log:; do
	t=${tm%%:*} magic=${tm#*:}
	cp --sparse=always "$T/base" "$T/t5"
	line=$("$DB" -x "$T/t5" blocktrash -s 3 -n 1 -t $t | tail -1)
	blk=$(echo "$line" | sed -n "s/^blocktrash: block \([0-9]*\) ($t) bit [0-9]*$/\1/p")
	[ -n "$blk" ] || fail "-t $t: $line"
	[ -z "$magic" ] && continue
	# the first bytes of every metadata block are its magic, in ASCII
	"$DB" "$T/base" block "$blk" 2>/dev/null | grep -q "^000000: .*  $magic" ||
		fail "-t $t: block $blk is not $magic"
done
echo "ok: blocktrash"

# read commands against what populate made
"$DB" "$T/base" ls $ROOT >"$T/ls" || fail "ls"
[ "$(sed -n 2p "$T/ls")" = "0 $ROOT dir ." ] || fail "ls: $(sed -n 2p "$T/ls")"
grep -q " $BIG dir big$" "$T/ls" || fail "ls: big"
grep -q " lnk short-link$" "$T/ls" || fail "ls: short-link"
[ "$("$DB" "$T/base" ls $BIG | grep -c ' reg entry-')" -eq 5000 ] || fail "ls big"
"$DB" "$T/base" ls $F4096 >/dev/null 2>&1 && fail "ls of a file"
"$DB" "$T/base" bmap $FRAG >"$T/bmap" || fail bmap
head -1 "$T/bmap" | grep -qx 'data fork: btree' || fail "frag not a btree"
# 600 written blocks, every other one: the written extents are 600
[ "$(grep -c 'len 1$' "$T/bmap")" -eq 600 ] || fail "frag extents"
"$DB" "$T/base" bmap $F4096 | grep -qx "extent\[0\] = off 0 block $ext len 1" ||
	fail "bmap file4096"
"$DB" "$T/base" bmap $XB -a | head -1 | grep -qx 'attribute fork: extents' ||
	fail "xattr-block attr fork"
"$DB" "$T/base" xattr $XB >"$T/xa" || fail xattr
[ "$(wc -l <"$T/xa")" -eq 201 ] || fail "xattr count"
grep -qx 'user.remote 10000' "$T/xa" || fail "remote value size"
grep -qx 'user.attr-007 100' "$T/xa" || fail "attr value size"
"$DB" "$T/base" xattr $XS | grep -qx 'user.mime 10' || fail "short-form xattr"
echo "ok: read commands"
