#!/bin/bash
# kvfs-logprint over logs the real journal wrote (mklog): an empty log, a
# dirty one (head, tail, checkpoints, items, -v deltas), a clean one, one
# recovered; agreement with recovery (same counts, same messages); damage
# in the middle refused with the place named (and a checkpoint claiming
# more than the log holds); a torn tail reported but
# readable; usage errors; and never a byte of the image changed.
set -u
LP=$1 MKLOG=$2 MKFS=$3 DB=$4
. "$(dirname "$0")/../format/lib.sh"
tmpdir logprint /tmp

# run_lp ARGS... IMG: kvfs-logprint into $T/out, $T/err, $rc; the image
# must be byte-for-byte unchanged
run_lp() {
	local img=${!#} before
	before=$(hash "$img")
	"$LP" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	expect_eq "$(hash "$img")" "$before" "image after kvfs-logprint $*"
}
has() {
	grep -qF -- "$1" "$T/out" || fail "$2: no '$1' in: $(cat "$T/out")"
}
hasnt() {
	! grep -qF -- "$1" "$T/out" || fail "$2: unexpected '$1'"
}
count() { grep -c -- "$1" "$T/out"; }
no_err() { [ -s "$T/err" ] && fail "$1: stderr: $(cat "$T/err")"; }
one_err() {
	expect_eq "$(wc -l <"$T/err")" 1 "$1: stderr lines"
	grep -qF -- "$2" "$T/err" ||
		fail "$1: stderr lacks '$2': $(cat "$T/err")"
}
# block of the first record of type $2 and checkpoint seq $3 in $1
rec_blk() {
	awk -v t="$2" -v s="$3," '$1 == "record" && $4 == t && $6 == s {
		split($2, a, "/"); print a[2]; exit }' "$1"
}

# ---- usage ----
"$LP" -h >"$T/out" 2>&1 || fail "-h failed"
has "Usage: kvfs-logprint [-v] [-h] TARGET" "-h"
has "Exit status" "-h"
"$LP" --help >"$T/out" 2>&1 || fail "--help failed"
has "-v, --verbose" "--help"
"$LP" >"$T/out" 2>"$T/err"
expect_eq $? 2 "no target"
grep -q "no TARGET given" "$T/err" || fail "no target: $(cat "$T/err")"
"$LP" a b >/dev/null 2>"$T/err"
expect_eq $? 2 "two targets"
"$LP" -x "$T/none" >/dev/null 2>"$T/err"
expect_eq $? 2 "bad option"
run_lp "$T/none"
expect_eq $rc 1 "missing target"
one_err "missing target" "cannot open $T/none: No such file or directory"
head -c 1048576 /dev/zero >"$T/zero.img"
run_lp "$T/zero.img"
expect_eq $rc 1 "zero image"
one_err "zero image" "$T/zero.img: no kvfs superblock"

# ---- a fresh filesystem: empty log ----
"$MKFS" -q -s 64M "$T/fresh.img" || fail "mkfs"
run_lp "$T/fresh.img"
expect_eq $rc 0 "fresh rc"
no_err fresh
has "log state: empty" fresh
has "head: 1/0 (0x100000000)" fresh
has "tail: 1/0 (0x100000000)" fresh
expect_eq "$(count '^record ')" 0 "fresh records"
has "0 records, 0 checkpoints, 0 items" fresh
BS=$(field "$T/fresh.img" sb blocksize)
has "log of $T/fresh.img: $(field "$T/fresh.img" sb logblocks) blocks of $BS bytes at block $(field "$T/fresh.img" sb logstart) ($(($(field "$T/fresh.img" sb logblocks) * BS / 512)) basic blocks)" \
	"fresh log geometry"

# ---- a crashed dirty log ----
"$MKLOG" dirty "$T/d.img" >"$T/view" 2>"$T/mklog.err" ||
	fail "mklog dirty: $(cat "$T/mklog.err")"
HEAD=$(awk '$1 == "head" { print $2 }' "$T/view")
NCK=$(awk '$1 == "checkpoints" { print $2 }' "$T/view")
NIT=$(awk '$1 == "items" { print $2 }' "$T/view")
expect_eq "$NCK $NIT" "3 15" "mklog view"
LOGOFF=$(($(field "$T/d.img" sb logstart) * $(field "$T/d.img" sb blocksize)))
run_lp "$T/d.img"
expect_eq $rc 0 "dirty rc"
no_err dirty
cp "$T/out" "$T/dirty.out"
has "log state: dirty" dirty
has "head: $HEAD (0x" dirty
has "tail: 1/0 (0x100000000)" dirty
has "last record: " dirty
expect_eq "$(count '^checkpoint ')" "$NCK" "dirty checkpoints"
expect_eq "$(count '^  item ')" "$NIT" "dirty items"
expect_eq "$(sed -n 's/^checkpoint .*, \([0-9]*\) items\{0,1\}, .*/\1/p' \
	"$T/out" | awk '{ n += $1 } END { print n }')" "$NIT" "items named by checkpoint lines"
has "3 checkpoints, 15 items (intents 2, dones 1, bufs 0)" dirty
has "checkpoint seq 1 at 1/0 (0x100000000) commit 1/2: 1 part, 6 items" dirty
grep -q "^checkpoint seq 1 .*(zstd, ratio [0-9.]*)$" "$T/out" ||
	fail "checkpoint 1 not compressed"
grep -q "^checkpoint seq 2 .*: 1 part, 5 items," "$T/out" ||
	fail "checkpoint 2 items"
grep -q "^checkpoint seq 3 .*: 3 parts, 4 items, 100192 bytes -> 100192 stored (uncompressed, ratio 1.00)$" \
	"$T/out" || fail "checkpoint 3: $(grep '^checkpoint seq 3' "$T/out")"
expect_eq "$(count '^record .* CKPT .*, crc ok$')" 5 "CKPT records crc ok"
expect_eq "$(count '^record .* COMMIT ')" 3 "COMMIT records"
expect_eq "$(count '^  item [0-9]*: type 1 (intent) len 20$')" 2 "intents"
expect_eq "$(count '^  item [0-9]*: type 2 (done) len 8$')" 1 "dones"
expect_eq "$(count '^  item [0-9]*: type 272 (unknown) len 48$')" 11 "items"
hasnt "|LOGPRINT" "dirty without -v"
hasnt "intent id" "dirty without -v"
# the head is just past the last record
LAST=$(awk '$1 == "record" { split($2, a, "/"); b = a[2]; n = $7 } END {
	print "1/" b + n }' "$T/out")
expect_eq "$LAST" "$HEAD" "head after the last record"

# -v: the deltas, decoded and dumped
run_lp -v "$T/d.img"
expect_eq $rc 0 "-v rc"
no_err "-v"
has "intent id 1 subtype 7 payload 4 bytes" "-v intent"
has "intent id 2 subtype 7 payload 4 bytes" "-v intent"
has "done id 1" "-v done"
has "|op-A|" "-v intent payload"
for c in 1 2; do
	for i in 0 1 2 3; do
		has "0000: 4c 4f 47 50 52 49 4e 54 20 63 3$c 20 69 3$i" \
			"-v hex c$c i$i"
		has "|LOGPRINT c$c i$i" "-v ascii c$c i$i"
	done
done
has "|LOGPRINT c3 i2" "-v big checkpoint"
has "... 99936 more bytes (-vv dumps them all)" "-v big item truncated"
expect_eq "$(grep -v '^    ' "$T/out")" "$(cat "$T/dirty.out")" \
	"-v adds only delta lines"
run_lp -vv "$T/d.img"
expect_eq $rc 0 "-vv rc"
hasnt "more bytes" "-vv"
expect_eq "$(count '^      [0-9a-f]*:')" \
	$((100000 / 16 + 11 * 3 + 2 * 2 + 1)) "-vv dump lines"

# recovery replays what logprint printed, then the log is clean
cp "$T/d.img" "$T/r.img"
"$MKLOG" recover "$T/r.img" >"$T/rec" 2>"$T/rec.err" ||
	fail "recover: $(cat "$T/rec" "$T/rec.err")"
expect_eq "$(cat "$T/rec")" \
	"replayed $NCK checkpoints $NIT items torn 0 intents finished 1" \
	"recovery of the dirty log"
run_lp "$T/r.img"
expect_eq $rc 0 "recovered rc"
has "log state: clean" recovered
expect_eq "$(count '^record ')" 1 "recovered records"
has " UNMOUNT seq " recovered
has "0 checkpoints" recovered

# ---- a cleanly closed log ----
"$MKLOG" clean "$T/c.img" >"$T/view" 2>"$T/mklog.err" ||
	fail "mklog clean: $(cat "$T/mklog.err")"
run_lp "$T/c.img"
expect_eq $rc 0 "clean rc"
no_err clean
has "log state: clean" clean
TAIL=$(awk '$1 == "tail:" { print $2 }' "$T/out")
expect_eq "$(awk '$1 == "record" { print $2, $4 }' "$T/out")" \
	"$TAIL UNMOUNT" "clean: the one record is the unmount record at the tail"
has "1 records, 0 checkpoints, 0 items" clean

# ---- a filesystem buffer item, described by libkvfs ----
"$MKLOG" buf "$T/b.img" >"$T/view" 2>"$T/mklog.err" ||
	fail "mklog buf: $(cat "$T/mklog.err")"
BUFBLK=$(awk '$1 == "bufblk" { print $2 }' "$T/view")
run_lp "$T/b.img"
expect_eq $rc 0 "buf rc"
has "1 checkpoints, 2 items (intents 0, dones 0, bufs 1)" buf
grep -q "^  item [01]: type 16 (buf) len [0-9]*$" "$T/out" || fail "buf item"
hasnt "buf block" "buf without -v"
run_lp -v "$T/b.img"
expect_eq $rc 0 "buf -v rc"
has "    buf block $BUFBLK nblks 1 map_words 1 logged 3 chunks: bytes 0-127,512-767" \
	"buf -v"
has "|1.......KVAG" "buf -v dump of the AG header"

# ---- an inode chunk's creation item, checked and described by libkvfs ----
"$MKLOG" icreate "$T/i.img" >"$T/view" 2>"$T/mklog.err" ||
	fail "mklog icreate: $(cat "$T/mklog.err")"
read -r _ IAG IAGBNO <<<"$(grep '^ichunk ' "$T/view")"
run_lp -v "$T/i.img"
expect_eq $rc 0 "icreate -v rc"
no_err "icreate -v"
grep -q "^  item [0-9]*: type 18 (icreate) len 40$" "$T/out" ||
	fail "icreate item: $(cat "$T/out")"
grep -q "^    icreate ag $IAG agbno $IAGBNO length 8 count 64 isize 512 gen 0x[0-9a-f]\{8\} time [0-9]*\.[0-9]\{9\}$" \
	"$T/out" || fail "icreate -v line: $(grep icreate "$T/out")"
hasnt "malformed" "icreate -v"

# ---- damage in the middle: refused, the place named ----
B1=$(rec_blk "$T/dirty.out" CKPT 1)
B2=$(rec_blk "$T/dirty.out" CKPT 2)
B3=$(awk '$1 == "record" && $4 == "CKPT" && $6 == "3," {
	split($2, a, "/"); b = a[2] } END { print b }' "$T/dirty.out")
[ -n "$B1" ] && [ -n "$B2" ] && [ -n "$B3" ] || fail "records not found"

# payload of checkpoint 1's record
cp "$T/d.img" "$T/m1.img"
flip "$T/m1.img" $((LOGOFF + B1 * 512 + 512 + 20))
run_lp "$T/m1.img"
expect_eq $rc 1 "mid payload rc"
MSG="log record at lsn 1/$B1 is damaged (record payload checksum mismatch) but a record of another checkpoint follows at 1/$B2: the log cannot be recovered"
one_err "mid payload" "kvfs-logprint: $T/m1.img: $MSG"
has "record 1/$B1 (0x$(printf %x $((1 << 32 | B1)))) CKPT seq 1," "mid payload"
grep -q "^record 1/$B1 .*crc BAD$" "$T/out" || fail "mid payload: no crc BAD"
"$MKLOG" recover "$T/m1.img" >"$T/rec" 2>"$T/rec.err"
expect_eq $? 3 "recovery of mid payload damage"
expect_eq "$(grep '^kvjournal: log record' "$T/rec.err")" \
	"kvjournal: $(sed "s|^kvfs-logprint: $T/m1.img: ||" "$T/err")" \
	"recovery and logprint say the same"

# header of checkpoint 2's record
cp "$T/d.img" "$T/m2.img"
flip "$T/m2.img" $((LOGOFF + B2 * 512 + 40))
run_lp "$T/m2.img"
expect_eq $rc 1 "mid header rc"
one_err "mid header" "log record at lsn 1/$B2 has a damaged header written in the current pass: the log cannot be recovered"
has "checkpoint seq 1 at" "records before the damage"
hasnt "record 1/$B2 " "the damaged record"
"$MKLOG" recover "$T/m2.img" >"$T/rec" 2>"$T/rec.err"
expect_eq $? 3 "recovery of mid header damage"
grep -qF "kvjournal: log record at lsn 1/$B2 has a damaged header written in the current pass" \
	"$T/rec.err" || fail "recovery message: $(cat "$T/rec.err")"

# block 0's header damaged
cp "$T/d.img" "$T/m0.img"
flip "$T/m0.img" $((LOGOFF + 4))
run_lp "$T/m0.img"
expect_eq $rc 1 "block 0 rc"
one_err "block 0" "log record at lsn 1/0 has a damaged header written in the current pass"

# a block past the head that was never written is not zero
cp "$T/d.img" "$T/mz.img"
flip "$T/mz.img" $((LOGOFF + 8000 * 512 + 100))
run_lp "$T/mz.img"
expect_eq $rc 1 "unwritten block rc"
one_err "unwritten block" "log block 8000 was never written (cycle 0) but is not zero"

# a commit record claiming more bytes uncompressed than the log holds
# (crcs right: not a torn write): refused at that record, nothing allocated
"$MKLOG" badulen "$T/u.img" >"$T/view" 2>"$T/mklog.err" ||
	fail "mklog badulen: $(cat "$T/mklog.err")"
AT=$(awk '$1 == "commit" { print $2 }' "$T/view")
run_lp "$T/u.img"
expect_eq $rc 1 "huge ulen rc"
MSG="log record at lsn $AT: checkpoint seq 1 claims 3221225472 bytes uncompressed, more than the $(($(field "$T/u.img" sb logblocks) * $(field "$T/u.img" sb blocksize)))-byte log holds: the log cannot be recovered"
one_err "huge ulen" "kvfs-logprint: $T/u.img: $MSG"
hasnt "checkpoint seq 1" "huge ulen"
"$MKLOG" recover "$T/u.img" >"$T/rec" 2>"$T/rec.err"
expect_eq $? 3 "recovery of a huge ulen"
grep -qF "kvjournal: $MSG" "$T/rec.err" ||
	fail "recovery huge ulen message: $(cat "$T/rec.err")"
grep -q "allocation" "$T/rec.err" "$T/err" &&
	fail "huge ulen: an allocation was tried"

# ---- a torn tail: readable, reported, discarded by recovery ----
cp "$T/d.img" "$T/t.img"
flip "$T/t.img" $((LOGOFF + B3 * 512 + 512 + 1000))
run_lp "$T/t.img"
expect_eq $rc 0 "torn rc"
no_err torn
TORN="discarding the torn tail of the log from lsn 1/$(rec_blk "$T/dirty.out" CKPT 3) to $HEAD (an incomplete last checkpoint)"
has "torn tail: $TORN" torn
expect_eq "$(count '^checkpoint ')" 2 "torn checkpoints"
grep -q "^record 1/$B3 .*crc BAD$" "$T/out" || fail "torn: no crc BAD"
"$MKLOG" recover "$T/t.img" >"$T/rec" 2>"$T/rec.err" ||
	fail "recover torn: $(cat "$T/rec" "$T/rec.err")"
expect_eq "$(cat "$T/rec")" \
	"replayed 2 checkpoints 11 items torn 1 intents finished 1" \
	"recovery of the torn log"
grep -qxF "kvjournal: $TORN" "$T/rec.err" ||
	fail "recovery torn message: $(cat "$T/rec.err")"
echo "ok"
