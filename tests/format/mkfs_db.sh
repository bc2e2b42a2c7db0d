#!/bin/bash
# mkfs.kvfs -> kvfs-db round trip over several geometries: every field of
# the superblock (primary and copies), every AG header, the free-space and
# inode trees and the root directory read back as mkfs was asked; -n and
# -q behave.
set -u
MKFS=$1 DB=$2
. "$(dirname "$0")/lib.sh"
tmpdir mkfs-db /tmp
UUID=0badc0de-1234-4abc-8def-0123456789ab
MIB=$((1 << 20))

# roundtrip NAME SIZE_BYTES BS AGCOUNT AGBLOCKS LOGBLOCKS LABEL -- mkfs args
# (AGCOUNT/AGBLOCKS/DBLOCKS as expected; LOGBLOCKS "" = do not check)
roundtrip() {
	local name=$1 dblocks=$2 bs=$3 agcount=$4 agblocks=$5 logblocks=$6
	local label=$7 img=$T/$1.img
	shift 8
	"$MKFS" -q -L "$label" -U "$UUID" "$@" "$img" >"$T/out" 2>&1 ||
		fail "$name: mkfs failed: $(cat "$T/out")"
	[ -s "$T/out" ] && fail "$name: -q printed: $(cat "$T/out")"
	"$DB" "$img" sb >"$T/sb0" || fail "$name: sb"
	local -A SB AG SBN
	load SB "$T/sb0"
	expect_eq "${SB[magic]}" '0x4253564b ("KVSB")' "$name magic"
	expect_eq "${SB[crc]##*(}" "correct)" "$name crc"
	expect_eq "${SB[version]}" 1 "$name version"
	expect_eq "${SB[blocksize]}" "$bs" "$name blocksize"
	expect_eq "${SB[dblocks]}" "$dblocks" "$name dblocks"
	expect_eq "${SB[agcount]}" "$agcount" "$name agcount"
	expect_eq "${SB[agblocks]}" "$agblocks" "$name agblocks"
	[ -n "$logblocks" ] &&
		expect_eq "${SB[logblocks]}" "$logblocks" "$name logblocks"
	expect_eq "${SB[label]}" "\"$label\"" "$name label"
	expect_eq "${SB[fsuuid]}" "$UUID" "$name fsuuid"
	expect_eq "${SB[uuid]}" "$UUID" "$name hdr uuid"
	expect_eq "${SB[state]}" clean "$name state"
	expect_eq "${SB[inodesize]}" 512 "$name inodesize"
	expect_eq "${SB[features_incompat]}" 0x0 "$name incompat"
	expect_eq "${SB[meta_uuid]}" "$UUID" "$name meta_uuid"
	expect_eq "${SB[features_log_incompat]}" 0x0 "$name log_incompat"
	local root lpf icount ifree fdb logstart logb agfl_min over
	root=${SB[rootino]} lpf=${SB[lpfino]} icount=${SB[icount]}
	ifree=${SB[ifree]} fdb=${SB[fdblocks]} logstart=${SB[logstart]}
	logb=${SB[logblocks]} agfl_min=${SB[agfl_min]}
	# sb, AGF, AGI, AGFL, three roots, then the reserve list's blocks
	over=$((7 + agfl_min))
	[ "$agfl_min" -ge 4 ] || fail "$name: reserve list of $agfl_min"
	expect_eq "$lpf" $((root + 1)) "$name lpfino"
	expect_eq "$ifree" $((icount - 2)) "$name ifree"
	[ $((logb * bs)) -ge $((4 * MIB)) ] || fail "$name: log < 4 MiB"

	# every read below in one kvfs-db run (a process start under ASan
	# is what this test spends), each output after an "@@@ NAME" line
	# and split into $T/NAME; the batch stops at the first failing
	# command, the last mark naming it
	local -a batch=()
	local ag sum_len=0 sum_free=0 sum_icount=0 sum_ifree=0 len
	for ((ag = 0; ag < agcount; ag++)); do
		batch+=(-c "echo @@@ sbn.$ag" -c "sb $ag" -c "echo @@@ ag.$ag"
			-c "ag $ag" -c "echo @@@ agi.$ag" -c "agi $ag"
			-c "echo @@@ agfl.$ag" -c "agfl $ag"
			-c "echo @@@ fs.$ag" -c "freesp $ag -v")
	done
	batch+=(-c "echo @@@ root" -c "inode $root" -c "echo @@@ lpf"
		-c "inode $lpf" -c "echo @@@ lpf1" -c "inode $((lpf + 1))"
		-c "echo @@@ chk" -c check-crc)
	rm -f "$T"/*.out
	"$DB" "${batch[@]}" "$img" >"$T/batch" ||
		fail "$name: $(awk '/^@@@ /{ m = $2 } END { print m }' "$T/batch")"
	awk -v d="$T" '/^@@@ / { f = d "/" $2 ".out"; printf "" > f; next }
		{ print > f }' \
		"$T/batch"

	# every AG: superblock copy equal to the primary but for its own
	# location; header length and counters; trees against the header
	for ((ag = 0; ag < agcount; ag++)); do
		cp "$T/sbn.$ag.out" "$T/sbn"
		diff <(grep -Ev '^(crc|blkno|owner) = ' "$T/sb0") \
			<(grep -Ev '^(crc|blkno|owner) = ' "$T/sbn") >/dev/null ||
			fail "$name: sb $ag differs from sb 0"
		load SBN "$T/sbn"
		expect_eq "${SBN[blkno]}" $((ag * agblocks)) "$name sb $ag blkno"
		expect_eq "${SBN[owner]}" $ag "$name sb $ag owner"
		load AG "$T/ag.$ag.out"
		expect_eq "${AG[agno]}" $ag "$name ag $ag agno"
		expect_eq "${AG[blkno]}" $((ag * agblocks + 1)) "$name ag blkno"
		len=${AG[length]}
		if ((ag < agcount - 1)); then
			expect_eq "$len" "$agblocks" "$name ag $ag length"
		fi
		expect_eq "${AG[bno_root]}" 4 "$name bno_root"
		expect_eq "${AG[cnt_root]}" 5 "$name cnt_root"
		expect_eq "${AG[ino_root]}" 6 "$name ino_root"
		expect_eq "${AG[btreeblks]}" 2 "$name btreeblks"
		expect_eq "${AG[flcount]}" "$agfl_min" "$name flcount"
		grep -qx "blkno = $((ag * agblocks + 2))" "$T/agi.$ag.out" ||
			fail "$name: agi $ag blkno"
		grep -q '^unlinked' "$T/agi.$ag.out" && fail "$name: agi $ag unlinked"
		expect_eq "$(grep -c '^bno\[' "$T/agfl.$ag.out")" "$agfl_min" \
			"$name agfl $ag entries"
		expect_eq "$(awk -F' = ' '/^bno\[0\]/{print $2}' "$T/agfl.$ag.out")" 7 \
			"$name agfl $ag first entry"
		sum_len=$((sum_len + len))
		sum_free=$((sum_free + ${AG[freeblks]}))
		sum_icount=$((sum_icount + ${AG[icount]}))
		sum_ifree=$((sum_ifree + ${AG[ifree]}))
		cp "$T/fs.$ag.out" "$T/fs"
		expect_eq "$(awk '/^total free blocks/{print $4}' "$T/fs")" \
			"${AG[freeblks]}" "$name freesp $ag blocks"
		expect_eq "$(awk '/^total free extents/{print $4}' "$T/fs")" \
			"${AG[free_extents]}" "$name freesp $ag extents"
		if ((ag > 0)); then
			# one free extent: everything after the headers
			expect_eq "$(grep '^extent' "$T/fs")" \
				"extent $over $((len - over))" "$name ag $ag extent"
		else
			# the log is not free space
			awk -v s=$logstart -v e=$((logstart + logb)) \
				'/^extent/ { if ($2 < e && $2 + $3 > s) bad = 1 }
				 END { exit bad }' "$T/fs" ||
				fail "$name: log overlaps free space"
			expect_eq "$(awk '/^extent/{e = $2 + $3} END {print e}' \
				"$T/fs")" "$len" "$name ag 0 free tail"
		fi
	done
	expect_eq "$sum_len" "$dblocks" "$name sum of AG lengths"
	expect_eq "$sum_free" "$fdb" "$name sum of free blocks"
	expect_eq "$sum_icount" "$icount" "$name sum of inodes"
	expect_eq "$sum_ifree" "$ifree" "$name sum of free inodes"
	# used = AG headers, roots and reserve lists + first inode chunk + log
	local chunk_blocks=$(((icount * 512 + bs - 1) / bs))
	expect_eq $((dblocks - fdb)) \
		$((agcount * over + chunk_blocks + logb)) "$name used blocks"

	# root directory and lost+found
	mv "$T/root.out" "$T/root"
	grep -qx 'mode = 040755' "$T/root" || fail "$name: root mode"
	grep -qx 'nlink = 3' "$T/root" || fail "$name: root nlink"
	# "." and ".." are not stored: the parent is in the header; the
	# first entry's cookie is the first address of data block 0 (104 / 8)
	grep -qx "parent = $root" "$T/root" || fail "$name: root .."
	grep -qx "entry\[0\] = cookie 13 ino $lpf ftype 2 name \"lost+found\"" \
		"$T/root" || fail "$name: root lost+found"
	mv "$T/lpf.out" "$T/lpf"
	grep -qx 'mode = 040700' "$T/lpf" || fail "$name: lpf mode"
	grep -qx 'nlink = 2' "$T/lpf" || fail "$name: lpf nlink"
	grep -qx "parent = $root" "$T/lpf" || fail "$name: lpf .."
	[ "$(grep -c '^entry' "$T/lpf")" = 0 ] || fail "$name: lpf entries"
	grep -qx 'mode = 00' "$T/lpf1.out" ||
		fail "$name: inode after lost+found is not free"

	# the log region reads as zeros
	cmp -s -n $((logb * bs)) <(tail -c +$((logstart * bs + 1)) "$img") \
		/dev/zero || fail "$name: log region not zero"

	mv "$T/chk.out" "$T/chk"
	grep -q "^checked $agcount superblocks, $((3 * agcount)) AG headers, $((3 * agcount)) tree blocks" \
		"$T/chk" || fail "$name: check-crc counts: $(cat "$T/chk")"
	echo "ok $name"
}

roundtrip 1k $((64 * MIB / 1024)) 1024 4 16384 4096 small -- \
	-b 1K -s 64M -a 4 -l 4M
# 100 MiB in 32 MiB AGs: the 4 MiB tail is too small for an AG
roundtrip 2k $((96 * MIB / 2048)) 2048 3 16384 "" "A label of 32 bytes, exactly!!!" -- \
	-b 2K -s 100M -A 32M
# from 1 GiB up the default log is at least 64 MiB
roundtrip 4k $((1024 * MIB / 4096)) 4096 4 65536 16384 four -- \
	-s 1G
roundtrip 8k $((300 * MIB / 8192)) 8192 5 7680 768 eight -- \
	-b 8K -s 300M -a 5 -l 6M
roundtrip 64k $((256 * MIB / 65536)) 65536 2 2048 256 "" -- \
	-b 64K -s 256M -a 2 -l 16M
roundtrip 64g $((64 * 1024 * MIB / 4096)) 4096 16 1048576 32768 big -- \
	-s 64G

# an existing file without -s: its size is the filesystem size
truncate -s 48M "$T/exist.img"
"$MKFS" -q "$T/exist.img" || fail "mkfs on an existing file"
expect_eq "$(field "$T/exist.img" sb dblocks)" $((48 * MIB / 4096)) \
	"existing file size"
expect_eq "$(stat -c %s "$T/exist.img")" $((48 * MIB)) "file not resized"

# -n: prints the geometry, writes nothing, creates nothing
h=$(hash "$T/exist.img")
"$MKFS" -n -f -b 2K -a 2 "$T/exist.img" >"$T/n" || fail "-n failed"
grep -q '^meta-data=.*agcount=2' "$T/n" || fail "-n output: $(cat "$T/n")"
grep -q '^data .*bsize=2048' "$T/n" || fail "-n output: $(cat "$T/n")"
grep -q '^log .*internal log' "$T/n" || fail "-n output: $(cat "$T/n")"
expect_eq "$(hash "$T/exist.img")" "$h" "-n changed the target"
"$MKFS" -n -s 1G "$T/new.img" >/dev/null || fail "-n new failed"
[ -e "$T/new.img" ] && fail "-n created the target"
"$MKFS" -n -f -s 1G "$T/exist.img" >/dev/null || fail "-n extend failed"
expect_eq "$(hash "$T/exist.img")" "$h" "-n extended the target"

# without -q the geometry is printed, like mkfs.xfs
"$MKFS" -s 32M "$T/loud.img" >"$T/loud" || fail "mkfs (loud)"
for k in meta-data= data inodes log; do
	grep -q "^$k" "$T/loud" || fail "geometry lacks $k: $(cat "$T/loud")"
done
"$MKFS" -V | grep -q '^mkfs.kvfs .*format v1' || fail "-V"
"$MKFS" -h | grep -q '^Usage: mkfs.kvfs' || fail "-h"
"$DB" -h | grep -q '^Usage: kvfs-db' || fail "kvfs-db -h"
echo "mkfs_db: ok"
