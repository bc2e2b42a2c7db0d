#!/bin/bash
# The corruption catalogue of issue 12: each damage is made with kvfs-db -x
# on a copy of one populated image, then
#   fsck.kvfs -n -f   exit 4, something said, the image byte-identical
#   fsck.kvfs -y -f   exit 1 (-L added for the log cases)
#   fsck.kvfs -n -f   exit 0 (the second run is clean)
# and the repaired image opens (populate dump, a read-only open) with every
# file outside the damage byte-identical (sha256) to the original, and
# check-crc finds nothing.  A case may also name what -n must say, and a
# damaged file whose intact part must survive the repair: each of its
# 4 KiB blocks reads as before or as a hole, at least MIN of them as
# before.  A case may also name a directory that must still be one after
# the repair: then every regular file and symlink of the original must
# be found by inode number (in its place or in lost+found), byte-identical.
# -f everywhere: the damage leaves the superblock clean, and a clean
# filesystem is skipped without it.
#
# Usage: catalogue.sh MKFS KVFS_DB FSCK POPULATE [CASE...]
set -u
MKFS=$1 DB=$2 FSCK=$3 POP=$4
shift 4
. "$(dirname "$0")/../lib.sh"
tmpdir catalogue "$fast_tmp"
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

"$MKFS" -q -s 48M "$T/base" || die mkfs
"$POP" build "$T/base" || die populate
"$POP" xattr-tree "$T/base" || die "populate xattr-tree"
"$POP" dump "$T/base" "$T/orig" || die dump

ino_of() { awk -v p="$1" '$5 == p { print $1 }' "$T/orig/manifest"; }
ROOT=128
SUB=$(ino_of /sub) BIG=$(ino_of /big) D2=$(ino_of /sub/d2) D3=$(ino_of /sub/d2/d3)
FRAG=$(ino_of /frag) F0=$(ino_of /file0) F1=$(ino_of /file1) F4095=$(ino_of /file4095)
F4096=$(ino_of /file4096) F65537=$(ino_of /file65537)
XB=$(ino_of /xattr-block) XDIR=$(ino_of /xattr-dir) XT=$(ino_of /xattr-tree)
LLINK=$(ino_of /sub/long-link) SLINK=$(ino_of /short-link)
[ -n "$SUB" ] && [ -n "$FRAG" ] && [ -n "$XB" ] || die "manifest"
"$DB" "$T/base" sb >"$T/sb0" || die "sb"
DBLOCKS=$(sed -n 's/^dblocks = //p' "$T/sb0")
LOGSTART=$(sed -n 's/^logstart = //p' "$T/sb0")
first_block() { "$DB" "$1" bmap "$2" | sed -n 's/^extent\[0\] = off [0-9]* block \([0-9]*\) .*/\1/p'; }
FREE0=$("$DB" "$T/base" btree 0 bno | sed -n 's/^rec\[0\]\.startblock = //p' | head -1)
FB0=$("$DB" "$T/base" ag 0 | sed -n 's/^freeblks = //p')
# a free inode in an allocated chunk: past the last one populate made,
# or (that one the last of its chunk, as the allocator's timing may have
# it) below it
MAXINO=$(sort -n "$T/orig/manifest" | tail -1 | cut -d' ' -f1)
FREEINO=
for ((i = MAXINO + 1; i > MAXINO - 64; i--)); do
	grep -q "^$i " "$T/orig/manifest" && continue
	"$DB" "$T/base" inode $i 2>/dev/null | grep -qx 'mode = 00*' &&
		{ FREEINO=$i; break; }
done
[ -n "$FREEINO" ] || die "no free inode near $MAXINO"

# /big's indexes: the first hash leaf's second record and its count, the
# free-space leaf's last record (the largest bestfree) and its count
"$DB" "$T/base" btree $BIG dirhash >"$T/dirhash" || die "btree $BIG dirhash"
"$DB" "$T/base" btree $BIG dirfree >"$T/dirfree" || die "btree $BIG dirfree"
leaf() { sed -n "/^block 0:0 /,/^block /p" "$T/$1"; }
HREC1=$(leaf dirhash | sed -n 's/^rec\[1\]\.hash = //p')
HADDR1=$(leaf dirhash | sed -n 's/^rec\[1\]\.addr = //p')
HNR=$(leaf dirhash | sed -n 's/^block 0:0 .* numrecs //p')
FNR=$(leaf dirfree | sed -n 's/^block 0:0 .* numrecs //p')
[ -n "$HREC1" ] && [ -n "$HADDR1" ] && [ -n "$HNR" ] && [ -n "$FNR" ] ||
	die "/big's index leaves"
FLAST=$((FNR - 1))
# the free-space index's first leaf, for the hash index's root to name
FLEAF=$(sed -n 's/^block 0:0 = fsb \([0-9]*\) .*/\1/p' "$T/dirfree")
grep -q '^block 1:0 ' "$T/dirhash" && [ -n "$FLEAF" ] ||
	die "/big's hash index is no two-level tree"

# an inode number in no chunk (past AG 1's, the last's, inodes), and one
# past the last AG (inode numbers are AG << (agblklog + inopblog) | agino)
AGC=$(sed -n 's/^agcount = //p' "$T/sb0")
INOSHIFT=$(($(sed -n 's/^agblklog = //p' "$T/sb0") +
	$(sed -n 's/^inopblog = //p' "$T/sb0")))
NOCHUNK=$(((AGC - 1 << INOSHIFT) + 200))
PASTAG=$(((AGC << INOSHIFT) + 5))
"$DB" "$T/base" inode $NOCHUNK >/dev/null 2>&1 && die "inode $NOCHUNK in a chunk"
# unlinked INO: "AG unlinked[B] AGINO", an unlinked-list head naming INO
unlinked() {
	local agino=$(($1 & ((1 << INOSHIFT) - 1)))
	echo "$(($1 >> INOSHIFT)) unlinked[$((agino % 64))] $agino"
}

# the root's inode block: each of its inodes' metadata UUID fuzzed
INOPB=$((1 << $(sed -n 's/^inopblog = //p' "$T/sb0")))
ROOTBLK_UUID=
for ((i = ROOT; i < ROOT + INOPB; i++)); do
	ROOTBLK_UUID+="fuzz inode $i uuid middlebit; "
done

# "PATH HASH" of every file and xattr value ("PATH TARGET" of symlinks):
# populate dump's sums (hashed as it reads; sha256sum(1) over the dump's
# files took a third of a case's time)
cp "$T/orig/sums" "$T/orig.sums"

# inosums DUMP SUMS: "INO HASH" of every file and symlink of a dump
inosums() {
	awk 'NR == FNR { ino["." $5] = $1; next }
		($1 in ino) { print ino[$1], $2 }' "$1/manifest" "$2" | sort -u
}
inosums "$T/orig" "$T/orig.sums" >"$T/orig.inos"

# The cases: NAME|PATHS THE DAMAGE MAY CHANGE (regex)|kvfs-db -x commands
# (';' between them)|what fsck -n says (a fixed string; empty: anything)|
# PATH:MIN, the intact part kept (empty: none)|DIR, a directory that
# must stay one, every file kept by inode (empty: no such check)|"PATH
# CALL": a read-only walk of the damaged image fails that call (an ERE) with
# EUCLEAN or EIO and no other (empty: no walk).  Values are computed
# above from the base image.  The dir-mode cases give a regular file
# (empty, with data, with an extent-map tree) a directory's type with its
# crc right, as the campaign's seed 3172 did.  link-count-zero: a linked
# file's nlink zeroed (crc right) was freed as an orphan with its entry
# removed, not given its count back.  /xattr-tree's attribute fork is
# an extent-map tree (populate xattr-tree): its one leaf damaged, the
# tree is rebuilt and every xattr kept.  /frag is a two-level extent-map
# tree (600 one-block extents: four leaves under the root in its inode),
# made after the files of every size (a higher inode number); its root
# in the inode of level 200 keeps no extent (a NULL list was copied: a
# UBSan report).  next-unlinked-*: a linked file's next unlinked pointer
# (crc right) to an inode in use, -y left it; out of range, the file was
# cleared.  dir-unwritten, symlink-unwritten: an extent flagged
# unwritten (crc right) was clean to fsck, and the directory unreadable
# (EUCLEAN) even after -y.  symlink-past-end: -n read the target's block
# past the device (exit 8).  root-forkoff: a fork offset with no attribute fork cut the
# root's extents, then cleared it (every file disconnected, -y exit 4).
# attr-fields: attribute fork extents with no fork offset cleared the
# directory (its files disconnected); only the fields are cleared.
# sf-dir-nextents, symlink-inline-nextents: an extent count on an inline
# data fork (crc right; tools/fuzz-campaign, inode nextents add) passed
# every check; XFS's verifier rejects it.  The count is zeroed, the
# directory's entries and the link's target kept.
# root-nlink-zero: a read-write open walking the image freed the root's
# blocks (a link count of 0 inactivated it at its last put).
# root-extent: the root's one extent cut (past the end), it was made a
# regular file like any directory whose blocks hold none (-y exit 4).
# root-free, root-bad: a root inode free or failing its verifier was
# cleared and nothing could be reconnected (-y exit 4); it is made an
# empty directory, everything it named found in lost+found.
# dir-size-*, dir-ndata-*: a block directory's size, or its head's
# data-block count, not its data blocks' (crc right): mounts listed a
# directory of size 0 whole and one whose head lost blocks short, with
# no error; fsck's walk of a head saying 4000000000 blocks did not end
# (its every hole), and the rebuild kept only the entries of the blocks
# below the head's count.  dir-nextents-huge: fsck -n read a directory's
# 231047 extents from its 304-byte fork (ASan: use-after-poison in
# fix_dir_inos()).  sf-dir-*: a short-form directory's size,
# count or one entry's type damaged (crc right) failed its verifier and
# was cleared, every entry cut from its path: its entries that verify
# are kept.  dir-no-extents, dir-zero-fork: a linked directory's extent
# count zeroed, or its whole data fork: it was made a regular file (its
# 5000 entries orphaned under a file); it stays a directory, rebuilt
# empty, its files in lost+found.  dirhash-*, dirfree-*: a record of
# /big's name hash index (crc right) naming no entry of its hash, or
# lost, and one of its free-space index naming a wrong bestfree or no
# block, or lost: each message names the record and its data block.
# dirhash-ptr-free: the hash index root's first pointer (crc right;
# tools/fuzz-campaign, dirhash 1:0 ptr[0] lastbit) names the free-space
# index's leaf: phase 4 claimed it for the hash index it could not walk,
# then found it the directory's own in the free index's walk, "shares
# block ... not cut (it is in a tree)", unfixable: -y exit 4 with the
# directory rebuilt and the next -n clean.  Then the inode's block count
# (54, the lost hash leaf counted) was set by -y's second pass only: it
# is set with the rebuild, the second pass says nothing (first_pass).
# uid-none-*, gid-none-*: an owner of (uint32_t)-1 (tools/fuzz-campaign,
# uid or gid ones; crc right), which no system call can store and Linux
# reads as INVALID_UID (an append refused, a rename EOVERFLOW, the root
# unwritable even by root), was clean to fsck: set to 0.
# sb-primary-layout: the primary's log start moved with its crc right
# (trash-campaign fuzz seed 20012): -y rewrote the copies from it and
# could not replay the log (exit 4); the copies outvote it now.
# sb-primary-meta-uuid, sb-primary-uuid, sb-primary-fsuuid: the primary's
# metadata UUID (kvfs-db's meta_uuid and uuid, the header's) or its UUID
# (fsuuid) fuzzed with its crc right (tools/fuzz-campaign): the primary
# verified, -n called it clean or blamed the copies, and -y stamped the
# bad identity on the copies and on every AG header it rebuilt, the
# inodes left with the old one (the mount: "metadata UUID does not
# match"); the copies and AG 0's headers outvote it now.
# inobt-lost-root: AG 0's inode-chunk tree emptied with the inode
# header's counts to match (crc right), as a repair that trusted a fuzzed
# metadata UUID left it: it walked clean, every inode of AG 0 went
# unchecked and the root with it; no chunk holding the root now sends the
# tree to the scan.  inode-uuid-scan: the metadata UUID of every inode in
# the root's block fuzzed (crc right) and the tree's crc wrong: the scan
# took the block for no inode block, the root and its neighbours were
# lost to it (-y exit 4, files disconnected, the mount "metadata UUID does
# not match"); the scan knows an inode by its place, the UUID is the
# verifier's to judge in phase 4, which sets it.
# sb-copy-lsn-zap: AG 1's superblock copy's LSN 2^64 - 1 (crc right;
# tools/fuzz-campaign, sb 1 lsn ones) and a damaged log: -L's new log,
# whose cycle must follow every LSN stamped in metadata, took the copy's
# (cycle 2^32 - 1, which none can follow) and was not made (-y -L exit
# 4, the log left damaged).  No superblock is logged (each is written
# with LSN 0), so recovery compares none's LSN either.
# lsn-cycle-zap: AG 0's by-block tree's root stamped with LSN 2^64 - 1
# (crc right) and a damaged log whose head cannot be found (its blocks'
# cycle stamps trashed): -L's new cycle followed it, none could (-y -L
# exit 4, "no log cycle can follow it", the log left damaged).  Its LSN
# is damage, reset before the new log is sized.
# sb-needsrepair: the primary's needs-repair bit set (crc right;
# trash-campaign fuzz sb seed 57): -y rewrote the copies with the bit,
# then cleared it in the primary alone, and left them differing (exit 4).
# inode-flags-unknown, inode-rdev-file: a file's unknown flag bit or a
# device number on a regular file (crc right; trash-campaign fuzz inode)
# cleared the file, its data and its entry lost for a field it does not
# use: the field is undone.
# dir-entry-type, dir-head-count, dir-entry-reclen: one entry's file type
# (crc right), block 0's entry count, one entry's record length in a data
# block of /big (trash-campaign fuzz, dirent and dirhead): the block
# failed its verifier and every name it held went to lost+found (126 for
# one byte); its records that still chain are read, an entry whose type is
# none given its inode's, only the entries past a broken length lost.
# dir-head-dblk: block 0's own block number (crc right; trash-campaign
# fuzz dirhead seeds 3400, 3404): the block, the directory's by owner,
# address and uuid, was skipped and its 124 names went to lost+found.
# dir-head-dblk-parent, dir-head-dblk-entry: block 0's own block number
# and its ".." or an entry naming an inode out of range (crc right):
# phase 4 took the block's number over the fork's place, read the head
# as records and did not see either.  The cases of only_damage: a block 0
# failing its verifier (its crc, its number, a count, an entry) also had
# -n report its index blocks leaked (13 of /big's) and its inode's block
# count wrong (what $SECONDARY matches): the head naming them was read by
# the rebuild alone, which freed them.
# dir-entry-reclen-one: one entry's record length (crc right;
# trash-campaign fuzz dirent seed 3403: the root's top level) cost every
# entry past it; the records past its name's chain, it alone is lost.
SECONDARY="are owned by nothing|blocks, its forks map"
COUNTERS="superblock summary counters wrong"
only_damage=" dir-block-crc dir-block0 dir-head-count dir-entry-reclen-one
	dir-head-dblk dir-head-dblk-parent dir-head-dblk-entry "
# cases whose fsck -y must fix everything on its first pass: its second
# pass (after a namespace repair) says nothing at all
first_pass=" dirhash-ptr-free "
cases=(
"sb-primary|^$|write -c sb blocksize 1234"
"sb-primary-copy|^$|write -c sb 1 dblocks 5; write -c sb blocksize 1234|rebuilt from the copy in AG 2"
"sb-needsrepair|^$|write sb features_incompat 1|needs-repair set"
"sb-primary-meta-uuid|^$|fuzz sb 0 meta_uuid middlebit|primary superblock's meta_uuid differs from most copies' and from the metadata UUID AG 0's headers carry: rebuilt from the copy in AG 1"
"sb-primary-uuid|^$|fuzz -s 207 sb 0 uuid random|primary superblock's meta_uuid differs from most copies'"
"sb-primary-fsuuid|^$|fuzz -s 3 sb 0 fsuuid random|primary superblock's uuid differs from most copies'"
"sb-primary-layout|^$|write sb logstart $((LOGSTART + 4))|primary superblock's logstart differs from most copies': rebuilt from the copy in AG 1"
"agf-header|^$|write agf 1 length 5"
"agi-header|^$|write -c agi 1 icount 7"
"bnobt-node|^$|write btree 0 bno 0:0 numrecs 0"
"cntbt-node|^$|write -c btree 0 cnt 0:0 rec[0].blockcount 0"
"free-and-used|/file4096$|write inode $F4096 u.extent[0].startblock $FREE0"
"shared-block|/file4096$|write inode $F4096 u.extent[0].startblock $(first_block "$T/base" $F4095)"
"link-count|^$|write inode $F1 nlink 5"
"inode-flags-unknown|^$|write inode $F4096 flags 16777216|unknown inode flags"
"inode-rdev-file|^$|write inode $F4096 rdev 2147483648|device number on a file that is not a device"
"link-count-zero|^$|write inode $F1 nlink 0|has link count 0, 1 links found"
"dir-mode-empty|^$|write inode $F0 mode 040644|hold no directory: made a regular file"
"dir-mode-data|^$|write inode $F4096 mode 040644|hold no directory: made a regular file"
"dir-mode-tree|^$|write inode $FRAG mode 040644|hold no directory: made a regular file"
"dirent-free-inode|/linked2$|write dirent $SUB linked2 inumber $FREEINO"
"dirent-free-chunk|/linked2$|write dirent $SUB linked2 inumber $NOCHUNK|names inode $NOCHUNK, which is not in use"
"dirent-past-ag|/linked2$|write dirent $SUB linked2 inumber $PASTAG|names inode $PASTAG, out of range"
"dirent-past-ag-block|^\\./big/entry-00000$|write dirent $BIG entry-00000 inumber $PASTAG|names inode $PASTAG, out of range"
"dotdot|^$|write inode $D3 u.sfdir.parent $ROOT"
"dotdot-block|^$|write dirhead $BIG parent $SUB"
"dir-cycle|^\\./sub/d2/|write dirent $D2 d3 inumber $SUB"
"disconnected|^\\./sub/|write dirent $ROOT sub inumber $XDIR"
"bmbt-node|/frag$|write -c btree $FRAG bmbt 0:1 level 4|extent-map tree|/frag:600"
"bmbt-root-level|/frag$|write inode $FRAG u.bmdr.level 200|extent-map tree"
"bmbt-leaf-level|/frag$|write btree $FRAG bmbt 0:2 level 1|extent-map tree|/frag:600"
"bmbt-record|/frag$|write btree $FRAG bmbt 0:0 rec[3].startoff 0|overlaps the previous extent: cut|/frag:599"
"bmbt-shared|/frag$|write btree $FRAG bmbt 0:2 rec[5].startblock $(first_block "$T/base" $F4095)|cut from inode $FRAG (the later owner|/frag:599"
"extent-past-end|/file65537$|write inode $F65537 u.extent[0].startblock $((DBLOCKS + 10))"
"dir-unwritten|^$|write inode $BIG u.extent[0].flags 1|is unwritten in a directory"
"symlink-unwritten|^$|write inode $LLINK u.extent[0].flags 1|is unwritten in a directory or symbolic link"
"symlink-past-end|/long-link$|write inode $LLINK u.extent[0].startblock $((DBLOCKS + 10))"
"root-forkoff|^$|write inode $ROOT forkoff 1|has a fork offset of 1 but no attribute fork"
"attr-fields|^$|write inode $D3 anextents 5|has no attribute fork but its format 0 and 5 extents"
"sf-dir-nextents|^$|write inode $D3 nextents 2000|inline data fork has extents||/sub/d2/d3"
"symlink-inline-nextents|^$|write inode $SLINK nextents 1|inline data fork has extents"
"root-nlink-zero|^$|write inode $ROOT nlink 0; WALKRW|has link count 0"
"root-extent|.|write inode $ROOT u.extent[0].blockcount 1000000|outside the filesystem"
"root-free|.|write inode $ROOT mode 0|root inode $ROOT is free: made an empty directory"
"root-bad|.|write inode $ROOT format none|data fork format invalid"
"xattr-block|^xattr/$XB/|blocktrash -s 10 -n 1 -b 16 -t attr"
"xattr-tree-leaf|^$|write -c btree $XT abmbt 0:0 leftsib 5|attribute fork's extent-map tree"
"xattr-tree-level|^$|write btree $XT abmbt 0:0 level 2|attribute fork's extent-map tree"
"free-counters|^$|write agf 0 freeblks $((FB0 - 3)); write sb fdblocks 17"
"inobt-record|^$|write btree 0 ino 0:0 rec[0].freecount 9"
"inobt-lost-records|^$|write btree 0 ino 0:0 numrecs 0|rebuilt from a scan of the AG's inode blocks"
"inobt-lost-root|^$|write btree 0 ino 0:0 numrecs 0; write agi 0 icount 0; write agi 0 ifree 0|no chunk holds the root inode $ROOT"
"inode-uuid-scan|^$|${ROOTBLK_UUID}write -c btree 0 ino 0:0 numrecs 0|inode $ROOT: metadata UUID does not match the filesystem's: the bytes it does not use zeroed"
"dir-size-zero|^$|write inode $BIG size 0|size 0 is not its 40 data blocks'||/big|/big readdir"
"dir-size-short|^$|write inode $BIG size 4096|size 4096 is not its 40 data blocks'||/big|/big readdir"
"dir-ndata-short|^$|write dirhead $BIG ndata 20|head (block||/big|/big readdir"
"dir-ndata-huge|^$|write dirhead $BIG ndata 4000000000|says 4000000000 data blocks||/big|/big readdir"
"dir-ndata-long|^$|write dirhead $BIG ndata 60|says 60 data blocks||/big|/big readdir"
"dir-no-extents|^\\./big/|write inode $BIG nextents 0|directory $BIG is a block directory with no block||/big|/big (lookup|getattr)"
"dir-zero-fork|^\\./big/|write inode $BIG nextents 0; write inode $BIG size 0; write inode $BIG nblocks 0; ZEROFORK $BIG|directory $BIG is a block directory with no block||/big|/big readdir"
"sf-dir-extents|^\\./sub/|write inode $SUB format extents; write inode $SUB size 0|directory $SUB is a block directory with no block||/sub|/sub (lookup|getattr)"
"dir-nextents-huge|^$|write inode $BIG nextents 231047|231047 extents do not fit||/big|/big (lookup|getattr)"
"sf-dir-size-zero|^$|write inode $D3 size 0|the 2 entries that check out kept||/sub/d2/d3|/sub/d2/d3 (lookup|getattr)"
"sf-dir-count|^$|write inode $SUB u.sfdir.count 5|the 3 entries that check out kept||/sub|/sub (lookup|getattr)"
"sf-dir-entry|^\\./sub/d2/d3/deepfile$|write dirent $D3 deepfile type 0|the 1 entries that check out kept||/sub/d2/d3|/sub/d2/d3 (lookup|getattr)"
"dirhash-hash|^$|write btree $BIG dirhash 0:0 rec[1].hash $((HREC1 + 1))|name no entry of their hash||/big"
"dirhash-addr|^$|write btree $BIG dirhash 0:0 rec[1].addr $((HADDR1 + 1))|name no entry of their hash||/big"
"dirhash-lost|^$|write btree $BIG dirhash 0:0 numrecs $((HNR - 1))|1 entries have none, the first at address||/big"
"dirfree-best|^$|write btree $BIG dirfree 0:0 rec[$FLAST].best 2000|differs from the block's bestfree||/big"
"dirfree-block|^$|write btree $BIG dirfree 0:0 rec[$FLAST].dblk 45|names no mapped data block||/big"
"dirfree-lost|^$|write btree $BIG dirfree 0:0 numrecs $FLAST|has no free-space index record||/big"
"dirhash-ptr-free|^$|write btree $BIG dirhash 1:0 ptr[0] $FLEAF|name hash index, level 0: unreadable||/big"
"lsn-future-block|^$|write btree 0 bno 0:0 lsn 18446744073709551615|has LSN 4294967295/4294967295 ahead of the log (head"
"lsn-future-inode|^$|write inode $F1 lsn $((100 << 32 | 7))|has LSN 100/7 ahead of the log (head|||/file1 (lookup|getattr)"
"uid-none-file|^$|write inode $F4096 mode 0104755; write inode $F4096 uid 4294967295|inode $F4096 has uid 4294967295, which no system call can set: set to 0 (root), its set-id bits cleared"
"gid-none-file|^$|write inode $F4096 gid 4294967295|inode $F4096 has gid 4294967295, which no system call can set"
"uid-none-root|^$|write inode $ROOT uid 4294967295; write inode $ROOT gid 4294967295|inode $ROOT has uid 4294967295, which no system call can set"
"dir-block-crc|^$|write -c dirent $ROOT file0 type 5|data block 0 (block"
"dir-block0|^\\./big/entry-00[01][0-9][0-9]$|write -c dirhead $BIG idxlag 1|data block 0 (block||/big"
"dir-block|^\\./big/|blocktrash -s 11 -n 1 -b 8 -t dir"
"dir-index|^$|blocktrash -s 3 -n 1 -b 8 -t diridx"
"dir-block-reclen|^\\./big/|blocktrash -s 11 -n 2 -b 8 -t dir"
"dir-entry-type|^$|write dirent $BIG entry-00246 type 64|entry file type invalid||/big"
"dir-head-count|^$|write dirhead $BIG nents 7|entry count differs from the records||/big"
"dir-entry-reclen|^\\./big/entry-002[45][0-9]$|write dirent $BIG entry-00246 reclen 0|record length invalid||/big"
"dir-entry-reclen-one|^\\./(xattr-small)?(big/entry-00246)?$|write dirent $ROOT xattr-small reclen 2; write dirent $BIG entry-00246 reclen 2|record length invalid||/big"
"dir-head-dblk|^$|write dirhead $BIG dblk 155|data block 0 (block||/big"
"dir-head-dblk-parent|^$|write dirhead $BIG parent $PASTAG; write dirhead $BIG dblk 155|'..' names inode $PASTAG, out of range||/big"
"dir-head-dblk-entry|^\\./big/entry-00000$|write dirent $BIG entry-00000 inumber $PASTAG; write dirhead $BIG dblk 155|entry 'entry-00000' names inode $PASTAG, out of range||/big"
"unlinked-linked|^$|write agi $(unlinked $F1)|on it has links"
"unlinked-free|^$|write agi $(unlinked $FREEINO)|on it is free or no inode"
"next-unlinked-linked|^$|write inode $F1 next_unlinked $F0|has links but points to a next"
"next-unlinked-invalid|^$|write inode $F1 next_unlinked 5|next unlinked inode invalid"
"orphan|^$|ORPHAN"
"orphan-damaged|/frag$|ORPHAN_WB; write -c btree $FRAG bmbt 0:1 level 4|extent-map tree"
"log-corrupt|^$|ORPHAN; blocktrash -s 9 -n 8 -b 64 -t log"
"sb-copy-lsn-zap|^$|write sb 1 lsn 18446744073709551615; ORPHAN; blocktrash -s 9 -n 8 -b 64 -t log|the log is damaged and cannot be replayed"
"lsn-cycle-zap|^$|write btree 0 bno 0:0 lsn 18446744073709551615; ORPHAN; blocktrash -s 9 -n 8 -b 64 -t log|has LSN 4294967295/4294967295, a cycle no log cycle can follow: set to 0"
"log-torn|^$|ORPHAN; TORN"
)

# damage IMG COMMANDS: run each kvfs-db -x command (or ORPHAN, ORPHAN_WB,
# TORN, WALKRW).  Consecutive kvfs-db commands run as one batch (-c: in
# order on one open, stopping at the first that fails, as the separate
# runs did): a process start under ASan costs more than a write.
damage() {
	local img=$1 cmd
	local -a parts batch=()
	IFS=';' read -ra parts <<<"$2"
	for cmd in "${parts[@]}" FLUSH; do
		cmd=${cmd# }
		case $cmd in
		ORPHAN* | WALKRW | TORN | FLUSH)
			if [ ${#batch[@]} -gt 0 ]; then
				"$DB" -x "${batch[@]}" "$img" >"$T/db.out" 2>&1 ||
					{ echo "kvfs-db -x ${batch[*]}: $(cat "$T/db.out")"; return 1; }
				batch=()
			fi ;;
		esac
		case $cmd in
		FLUSH) ;;
		ORPHAN) "$POP" orphan "$img" 2>/dev/null || return 1 ;;
		ORPHAN_WB) "$POP" orphan-wb "$img" 2>/dev/null || return 1 ;;
		# ZEROFORK INO: the in-inode extent list's slots zeroed
		ZEROFORK*)
			local ino=${cmd#ZEROFORK } x f
			for x in 0 1 2 3 4 5 6 7; do
				for f in startoff startblock blockcount flags; do
					batch+=(-c "write inode $ino u.extent[$x].$f 0")
				done
			done ;;
		# the damaged image opened read-write and walked
		WALKRW) timeout 120 "$POP" walk "$img" rw >/dev/null 2>&1 || return 1 ;;
		TORN)
			# the log's newest blocks lost: the second half of the log
			local start len bs
			"$DB" "$img" sb >"$T/sb" || return 1
			start=$(sed -n 's/^logstart = //p' "$T/sb")
			len=$(sed -n 's/^logblocks = //p' "$T/sb")
			bs=$(sed -n 's/^blocksize = //p' "$T/sb")
			dd if=/dev/zero of="$img" bs="$bs" seek=$((start + len / 2)) \
				count=$((len - len / 2)) conv=notrunc status=none ;;
		*) batch+=(-c "$cmd") ;;
		esac
	done
}

# blocks4k FILE: the sha256 of each 4 KiB block of FILE, one a line
blocks4k() {
	local d n=0
	d=$(mktemp -d "$T/blk.XXXXXX") &&
		split -b 4096 -d -a 6 "$1" "$d/b" &&
		n=$(find "$d" -type f | wc -l)
	[ "$n" -eq 0 ] || sha256sum "$d"/b* | awk '{ print $1 }'
	rm -rf "$d"
}
ZERO4K=$(head -c 4096 /dev/zero | sha256sum | awk '{ print $1 }')

# kept PATH MIN: PATH (in the dump) is as long as before, each of its
# blocks as before or a hole, at least MIN of the non-zero ones as before
kept() {
	local o=$T/orig/tree$1 a=$T/after/tree$1 r
	[ -f "$a" ] || { echo "$1 is gone"; return; }
	[ "$(stat -c %s "$o")" = "$(stat -c %s "$a")" ] ||
		{ echo "$1: size $(stat -c %s "$a"), was $(stat -c %s "$o")"; return; }
	r=$(paste -d' ' <(blocks4k "$o") <(blocks4k "$a") | awk -v z="$ZERO4K" '
		$1 != z && $1 == $2 { same++ }
		$1 != $2 && $2 != z { bad++ }
		END { print same + 0, bad + 0 }')
	set -- "$1" "$2" $r
	[ "$4" -eq 0 ] || { echo "$1: $4 blocks neither as before nor a hole"; return; }
	[ "$3" -ge "$2" ] || echo "$1: $3 blocks kept, fewer than $2"
}

run_case() {
	local name=$1 allow=$2 cmds=$3 says=$4 keep=$5 dir=$6 walkerr=$7
	local img=$T/img rc
	local lflag="" k
	local before=$failures
	# the log cases may need it; the orphan met on disk must be repaired
	# with the log replayed, not zeroed
	case $cmds in ORPHAN_WB*) ;; *ORPHAN*) lflag=-L ;; esac
	cp --sparse=always "$T/base" "$img"
	damage "$img" "$cmds" || { fail "$name: damage"; return; }
	cmp -s "$T/base" "$img" && { fail "$name: the damage changed nothing"; return; }
	if [ -n "$walkerr" ]; then
		cp --sparse=always "$img" "$T/walked"
		timeout 120 "$POP" walk "$T/walked" >"$T/walk" 2>&1 ||
			fail "$name: walk of the damaged image exit $?"
		grep -aqE "^E $walkerr (Structure needs cleaning|Input/output error)\$" "$T/walk" ||
			fail "$name: the walk of the damaged image met no \"$walkerr\" EUCLEAN or EIO: $(grep -a "^[ER] ${walkerr% *} " "$T/walk" | head -2)"
		grep -a '^E ' "$T/walk" | grep -avqE "^E $walkerr " &&
			fail "$name: the walk met other errors: $(grep -a '^E ' "$T/walk" | grep -avE "^E $walkerr " | head -2)"
	fi
	# any write sets the modification time, which no fsck sets back: a
	# time of 0 kept says the image was not written (a copy compared byte
	# for byte took a tenth of a case's time)
	touch -m -d @0 "$img"
	timeout 300 "$FSCK" -n -f "$img" >"$T/n1" 2>&1
	rc=$?
	[ $rc -eq 4 ] || fail "$name: fsck -n exit $rc, expected 4: $(tail -3 "$T/n1")"
	[ -s "$T/n1" ] || fail "$name: fsck -n said nothing"
	[ -z "$says" ] || grep -qF -- "$says" "$T/n1" ||
		fail "$name: fsck -n does not say \"$says\": $(head -12 "$T/n1")"
	[[ $only_damage != *[[:space:]]$name[[:space:]]* ]] ||
		! grep -qE -- "$SECONDARY" "$T/n1" ||
		fail "$name: fsck -n says: $(grep -E -- "$SECONDARY" "$T/n1" | head -2)"
	[ "$(stat -c %Y "$img")" = 0 ] || fail "$name: fsck -n wrote the image"
	timeout 300 "$FSCK" -y -f $lflag "$img" >"$T/y" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "$name: fsck -y exit $rc, expected 1: $(tail -3 "$T/y")"
	# the second space pass after a namespace repair (from the second
	# "Phase 3") judged the summary counters by the first pass's
	# superblock, not the one the mount left: "wrong" by the blocks a
	# rebuilt directory moved, the pass's only problem (dir-block0,
	# dir-head-dblk, dir-head-dblk-parent: 8208 free blocks, the AGs
	# 8207).  After a fix of its own (a leaked index block freed, as in
	# dir-index) the counters are wrong indeed.
	awk -v c="$COUNTERS" '/^Phase 3 /{ n++ }
		n > 1 && /^ / { if (index($0, c)) said = 1; else other = 1 }
		END { exit !(said && !other) }' "$T/y" &&
		fail "$name: fsck -y's second pass says: $(grep -F "$COUNTERS" "$T/y")"
	[[ $first_pass != *[[:space:]]$name[[:space:]]* ]] ||
		! awk '/^Phase 3 /{ n++ } n > 1 && /^ / { s = 1 } END { exit !s }' "$T/y" ||
		fail "$name: fsck -y's second pass says: $(awk '/^Phase 3 /{ n++ } n > 1 && /^ /' "$T/y" | head -2)"
	timeout 300 "$FSCK" -n -f "$img" >"$T/n2" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "$name: second fsck -n exit $rc: $(tail -3 "$T/n2")"
	"$DB" "$img" check-crc >"$T/crc" 2>&1 ||
		fail "$name: check-crc after repair: $(tail -2 "$T/crc")"
	rm -rf "$T/after"
	# the bytes only where kept() reads them: writing the 5000 files of
	# the dump, and removing them, was a fifth of a case's time
	if ! "$POP" $([ -n "$keep" ] && echo dump || echo dump-sums) \
		"$img" "$T/after" 2>"$T/dump.err"; then
		fail "$name: repaired image does not open: $(tail -2 "$T/dump.err")"
		return
	fi
	cp "$T/after/sums" "$T/after.sums"
	# every file outside the damage: same path, same bytes (a hash
	# join: grep -vxFf took 0.1 s a case)
	local lost
	lost=$(awk -v re="$allow" 'NR == FNR { a[$0]; next }
		$1 !~ re && !($0 in a)' "$T/after.sums" "$T/orig.sums" |
		head -3)
	[ -z "$lost" ] || fail "$name: changed or lost by the repair: $lost"
	if [ -n "$dir" ]; then
		awk -v p="$dir" '$5 == p { t = $2 } END { exit t !~ /^4/ }' \
			"$T/after/manifest" ||
			fail "$name: $dir is not a directory after the repair"
		lost=$(inosums "$T/after" "$T/after.sums" |
			comm -23 "$T/orig.inos" - | head -3)
		[ -z "$lost" ] ||
			fail "$name: changed or lost by the repair (by inode): $lost"
	fi
	if [ -n "$keep" ]; then
		k=$(kept "${keep%:*}" "${keep##*:}")
		[ -z "$k" ] || fail "$name: $k"
	fi
	[ $failures -eq $before ] && echo "ok: $name"
}

# size-past-extents: a regular file's size far past its last extent
# (2^50) is what truncate -s makes of a sparse file, and nothing in the
# inode tells a flipped size from one: fsck keeps it, as xfs_repair and
# e2fsck do (they bound a size only by the largest file offset).  With
# its crc right the image is clean; with it wrong -y rewrites the crc and
# keeps the size and the file's extents, and the file reads.
size_case() {
	local img=$T/img huge=$((1 << 50)) before=$failures rc
	cp --sparse=always "$T/base" "$img"
	"$DB" -x "$img" write inode "$F65537" size $huge >/dev/null 2>&1 ||
		{ fail "size-past-extents: damage"; return; }
	timeout 300 "$FSCK" -n -f "$img" >"$T/n1" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "size-past-extents: fsck -n exit $rc with the crc right: $(tail -3 "$T/n1")"
	cp --sparse=always "$T/base" "$img"
	"$DB" -x "$img" write -c inode "$F65537" size $huge >/dev/null 2>&1 ||
		{ fail "size-past-extents: damage"; return; }
	timeout 300 "$FSCK" -n -f "$img" >"$T/n1" 2>&1
	rc=$?
	[ $rc -eq 4 ] || fail "size-past-extents: fsck -n exit $rc with the crc wrong: $(tail -3 "$T/n1")"
	timeout 300 "$FSCK" -y -f "$img" >"$T/y" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "size-past-extents: fsck -y exit $rc: $(tail -3 "$T/y")"
	timeout 300 "$FSCK" -n -f "$img" >"$T/n2" 2>&1 ||
		fail "size-past-extents: second fsck -n exit $?: $(tail -3 "$T/n2")"
	"$DB" "$img" inode "$F65537" | grep -qx "size = $huge" ||
		fail "size-past-extents: the size was not kept"
	[ "$("$DB" "$img" bmap "$F65537")" = "$("$DB" "$T/base" bmap "$F65537")" ] ||
		fail "size-past-extents: the file's extents changed"
	timeout 120 "$POP" walk "$img" >"$T/walk" 2>&1 ||
		fail "size-past-extents: walk exit $?"
	grep -aq "^F /file65537 " "$T/walk" ||
		fail "size-past-extents: /file65537 does not read: $(grep -a file65537 "$T/walk")"
	[ $failures -eq $before ] && echo "ok: size-past-extents"
}

# lsn-future-replay: the harm lsn-future-* prevent.  Recovery skips a
# change to a block whose LSN is not older than the change's record
# (fs/io/buf_item.c rec_replay()), as XFS's does: an open file unlinked
# and a crash (populate orphan), then AG 0's AGI stamped with an LSN past
# the log's head: the replay dropped the AGI's changes (the new inode's
# counts, the orphan's unlinked-list head): fsck -y found more wrong than
# after the same crash on the base image ("inode counters of AG 0
# wrong", "inode 32281 has no links and is on no unlinked list").  The
# replay, fsck's as the mount's, takes an LSN past the log's newest
# checkpoint for none (fs/io/buf_item.c rec_block_lsn()) and stamps the
# AGI with its record's: fsck -y says nothing of it and finds what it
# finds after the same crash on the base image; /file1's inode, stamped
# too and which the replay does not change, is said by -n over the dirty
# log and reset by -y, against the head after the replay.  A crash after
# fsck -y on the damaged image leaves what it leaves on the base image.
# The damage comes after the crash: a clean mount refuses the AGI
# (tests/fuse/corrupt.sh lsn-future-agi).
replay_case() {
	local img=$T/img before=$failures rc
	local problems='/^Phase/ { next } /^ / { print }'
	cp --sparse=always "$T/base" "$img"
	"$POP" orphan "$img" 2>/dev/null || { fail "lsn-future-replay: orphan"; return; }
	timeout 300 "$FSCK" -y -f "$img" >"$T/y" 2>&1
	awk "$problems" "$T/y" >"$T/ref"
	[ -s "$T/ref" ] || fail "lsn-future-replay: the orphan alone is clean"
	cp --sparse=always "$T/base" "$img"
	"$DB" -x "$img" write agi 0 lsn $((100 << 32)) >/dev/null 2>&1 ||
		{ fail "lsn-future-replay: damage"; return; }
	cp --sparse=always "$T/base" "$T/harm"
	"$POP" orphan "$T/harm" 2>/dev/null || { fail "lsn-future-replay: orphan"; return; }
	"$DB" -x "$T/harm" write agi 0 lsn $((100 << 32)) >/dev/null 2>&1 &&
		"$DB" -x "$T/harm" write inode "$F1" lsn $((100 << 32 | 7)) >/dev/null 2>&1 ||
		{ fail "lsn-future-replay: damage"; return; }
	timeout 300 "$FSCK" -n -f "$T/harm" >"$T/n1" 2>&1
	grep -qF "inode $F1 (block" "$T/n1" && grep -qF "has LSN 100/7 ahead of the log" "$T/n1" ||
		fail "lsn-future-replay: the dirty log's fsck -n does not say /file1's LSN: $(grep -v '^Phase' "$T/n1" | head -3)"
	timeout 300 "$FSCK" -y -f "$T/harm" >"$T/y" 2>&1
	grep -qF "has LSN 100/7 ahead of the log" "$T/y" ||
		fail "lsn-future-replay: the dirty log's fsck -y does not say /file1's LSN"
	awk "$problems" "$T/y" | grep -vF "has LSN 100/7 ahead of the log" >"$T/got"
	cmp -s "$T/ref" "$T/got" ||
		fail "lsn-future-replay: the replay over the future LSN left: $(diff "$T/ref" "$T/got" | head -5)"
	timeout 300 "$FSCK" -n -f "$T/harm" >"$T/n1" 2>&1 ||
		fail "lsn-future-replay: fsck -n after the dirty log's fsck -y exit $?: $(grep -v '^Phase' "$T/n1" | head -3)"
	# the mount's replay (populate walk rw opens read-write) takes an LSN
	# past the log's newest checkpoint for none (fs/io/buf_item.c
	# rec_block_lsn(), fs/inode/inode_item.c rec_replay()), the AGI's and
	# the root inode's: before, it left the AGI's counts wrong, the
	# orphan on no list and both LSNs ahead
	cp --sparse=always "$T/base" "$T/harm-mount"
	"$POP" orphan "$T/harm-mount" 2>/dev/null || { fail "lsn-future-replay: orphan"; return; }
	"$DB" -x "$T/harm-mount" write agi 0 lsn $((100 << 32)) >/dev/null 2>&1 &&
		"$DB" -x "$T/harm-mount" write inode 128 lsn $((100 << 32)) >/dev/null 2>&1 ||
		{ fail "lsn-future-replay: damage"; return; }
	timeout 120 "$POP" walk "$T/harm-mount" rw >/dev/null 2>&1 ||
		fail "lsn-future-replay: the mount's replay: walk exit $?"
	timeout 300 "$FSCK" -n -f "$T/harm-mount" >"$T/n1" 2>&1 ||
		fail "lsn-future-replay: fsck -n after the mount's replay exit $?: $(grep -v '^Phase' "$T/n1" | head -3)"
	timeout 300 "$FSCK" -y -f "$img" >"$T/y" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "lsn-future-replay: fsck -y exit $rc: $(tail -3 "$T/y")"
	"$POP" orphan "$img" 2>/dev/null || { fail "lsn-future-replay: orphan"; return; }
	timeout 300 "$FSCK" -y -f "$img" >"$T/y" 2>&1
	awk "$problems" "$T/y" >"$T/got"
	cmp -s "$T/ref" "$T/got" ||
		fail "lsn-future-replay: after the repair the crash left: $(diff "$T/ref" "$T/got" | head -5)"
	timeout 300 "$FSCK" -n -f "$img" >"$T/n2" 2>&1 ||
		fail "lsn-future-replay: fsck -n after the replay exit $?: $(tail -3 "$T/n2")"
	[ $failures -eq $before ] && echo "ok: lsn-future-replay"
}

# mkfs-over-inodes: mkfs.kvfs -f over the populated image (same
# geometry; it zeroes nothing but what it writes), then AG 0's
# inode-chunk tree lost as in inobt-lost-root and its by-block
# free-space tree damaged (crc wrong), so that the scan reads every
# block: the old filesystem's inode chunks (magic, number and place
# right, another metadata UUID) were taken for live ones, their inodes
# "mended" (the UUID set): 4955 old files in lost+found.  A chunk is
# the filesystem's when most of its inodes carry its metadata UUID
# (fs/repair/inobt.c): after the repair the image holds what the new
# filesystem held, nothing of the old one.
stale_case() {
	local img=$T/img name=mkfs-over-inodes before=$failures rc
	cp --sparse=always "$T/base" "$img"
	"$MKFS" -q -f "$img" || { fail "$name: mkfs"; return; }
	rm -rf "$T/fresh"
	"$POP" dump-sums "$img" "$T/fresh" 2>/dev/null || { fail "$name: dump"; return; }
	damage "$img" "write btree 0 ino 0:0 numrecs 0; write agi 0 icount 0; write agi 0 ifree 0; write -c btree 0 bno 0:0 numrecs 0" ||
		{ fail "$name: damage"; return; }
	timeout 300 "$FSCK" -n -f "$img" >"$T/n1" 2>&1
	rc=$?
	[ $rc -eq 4 ] || fail "$name: fsck -n exit $rc, expected 4: $(tail -3 "$T/n1")"
	grep -qF "no chunk holds the root inode $ROOT" "$T/n1" ||
		fail "$name: fsck -n does not say the root is in no chunk: $(head -8 "$T/n1")"
	! grep -qF "metadata UUID does not match" "$T/n1" ||
		fail "$name: fsck -n takes the old inodes in: $(grep -cF "metadata UUID does not match" "$T/n1") lines \"$(grep -m1 -F "metadata UUID does not match" "$T/n1")\""
	timeout 300 "$FSCK" -y -f "$img" >"$T/y" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "$name: fsck -y exit $rc, expected 1: $(tail -3 "$T/y")"
	timeout 300 "$FSCK" -n -f "$img" >"$T/n2" 2>&1 ||
		fail "$name: second fsck -n exit $?: $(tail -3 "$T/n2")"
	rm -rf "$T/after"
	if ! "$POP" dump-sums "$img" "$T/after" 2>"$T/dump.err"; then
		fail "$name: repaired image does not open: $(tail -2 "$T/dump.err")"
		return
	fi
	cmp -s <(cut -d' ' -f1,2,5 "$T/fresh/manifest") \
		<(cut -d' ' -f1,2,5 "$T/after/manifest") ||
		fail "$name: the repaired image holds $(wc -l <"$T/after/manifest") files, the new filesystem $(wc -l <"$T/fresh/manifest"): $(diff <(cut -d' ' -f1,2,5 "$T/fresh/manifest") <(cut -d' ' -f1,2,5 "$T/after/manifest") | sed -n 2,3p)"
	[ $failures -eq $before ] && echo "ok: $name"
}

for c in "${cases[@]}" "size-past-extents" "lsn-future-replay" \
	"mkfs-over-inodes"; do
	IFS='|' read -r name allow cmds says keep dir walkerr <<<"$c"
	if [ $# -gt 0 ]; then
		want=0
		for w in "$@"; do [ "$w" = "$name" ] && want=1; done
		[ $want -eq 1 ] || continue
	fi
	if [ "$name" = size-past-extents ]; then
		size_case
	elif [ "$name" = lsn-future-replay ]; then
		replay_case
	elif [ "$name" = mkfs-over-inodes ]; then
		stale_case
	else
		run_case "$name" "$allow" "$cmds" "$says" "$keep" "$dir" "$walkerr"
	fi
done
[ $failures -eq 0 ] || die "$failures failures"
