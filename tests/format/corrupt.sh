#!/bin/bash
# Flipping any byte of any metadata block mkfs writes is detected by
# kvfs-db: exit status non-zero and the block number named.  Several bytes
# per block type, in the header and in the payload, for two block sizes.
# A third argument BS runs one block size only (meson runs the two as
# two tests: each runs kvfs-db about 260 times, slow under ASan).
set -u
MKFS=$1 DB=$2 ONLY=${3:-}
. "$(dirname "$0")/lib.sh"
case "$ONLY" in "" | 4096 | 1024) ;; *) fail "block size $ONLY: 4096 or 1024" ;; esac
tmpdir corrupt /tmp

# expect_detect IMG BLOCK DESC CMD...: each kvfs-db command CMD (a
# string) fails naming BLOCK.  One kvfs-db run for them all (-k: each
# runs, each failure followed by "kvfs-db: CMD: exit S" on stderr, which
# cuts stderr into the commands' parts): a process start under ASan is
# what this test spends.  No command run (stdout empty, no status line)
# is the open failing, as a run of each alone would (none of them falls
# back to raw blocks): then the open's error names BLOCK.
expect_detect() {
	local img=$1 blk=$2 desc=$3
	shift 3
	local -a args=(-k)
	local c err rest mark
	for c in "$@"; do args+=(-c "$c"); done
	"$DB" "${args[@]}" "$img" >"$T/out" 2>"$T/err" &&
		fail "$desc: kvfs-db $* succeeded on a corrupt image"
	# read by the shell itself: no grep process per check
	IFS= read -r -d '' err <"$T/err"
	if [ ! -s "$T/out" ] && [[ $err != *"kvfs-db: $1: exit "* ]]; then
		[[ $err == *"in block $blk ("* ]] ||
			fail "$desc: open: block $blk not named: $err"
		return
	fi
	rest=$err
	for c in "$@"; do
		mark="kvfs-db: $c: exit "
		[[ $rest == *"$mark"* ]] ||
			fail "$desc: kvfs-db $c succeeded on a corrupt image: $err"
		[[ ${rest%%"$mark"*} == *"in block $blk ("* ]] ||
			fail "$desc: kvfs-db $c: block $blk not named: $err"
		rest=${rest#*"$mark"}
		rest=${rest#*$'\n'}
	done
}

run() {
	local bs=$1 img=$T/c$1.img
	shift
	"$MKFS" -q -b "$bs" "$@" "$img" || fail "mkfs -b $bs"
	"$DB" "$img" check-crc >/dev/null || fail "pristine image fails"
	local agb root rootblk ibs ilast
	"$DB" "$img" sb >"$T/sb" || fail "sb"
	local -A SB
	load SB "$T/sb"
	agb=${SB[agblocks]} root=${SB[rootino]}
	# the root inode's block; the last block of the first chunk
	# (another block when the chunk spans several) and the first inode
	# in it
	"$DB" -c "inode $root" -c "inode $((root + 63))" "$img" >"$T/ino" ||
		fail "inode $root, $((root + 63))"
	rootblk=$(awk -F' = ' '$1 == "blkno" { print $2; exit }' "$T/ino")
	ibs=$(awk -F' = ' '$1 == "blkno" { n++ } n == 2 { print $2; exit }' "$T/ino")
	ilast=$((root + 64 - bs / 512))
	# name block: (desc, block, extra command checking it directly)
	local -a types=(
		"primary superblock:0:sb"
		"superblock copy AG 1:$agb:sb 1"
		"superblock copy AG 3:$((3 * agb)):sb 3"
		"free-space header AG 0:1:ag 0"
		"free-space header AG 2:$((2 * agb + 1)):ag 2"
		"inode header AG 0:2:agi 0"
		"inode header AG 3:$((3 * agb + 2)):ag 3"
		"reserve list AG 0:3:agfl 0"
		"reserve list AG 1:$((agb + 3)):agfl 1"
		"by-block root AG 0:4:freesp 0"
		"by-block root AG 1:$((agb + 4)):freesp 1"
		"by-size root AG 0:5:"
		"by-size root AG 2:$((2 * agb + 5)):"
		"inode-chunk root AG 0:6:"
		"inode-chunk root AG 3:$((3 * agb + 6)):"
		"root inode block:$rootblk:inode $root"
		"last inode block of the chunk:$ibs:inode $ilast"
	)
	# header bytes (magic, crc, blkno, lsn, owner, uuid), the payload,
	# the inode after the root, and the block's last byte
	local -a offs=(0 3 5 9 17 25 33 47 48 60 100 $((512 + 7)) $((512 + 300)) $((bs - 1)))
	local t desc blk cmd off byte prev
	for t in "${types[@]}"; do
		desc=${t%%:*}
		blk=${t#*:}
		cmd=${blk#*:}
		blk=${blk%%:*}
		prev=
		for off in "${offs[@]}"; do
			byte=$((blk * bs + off))
			# the previous byte restored, this one flipped: one
			# byte flipped in each check, as before
			flip "$img" $prev $byte
			prev=$byte
			if [ "${cmd%% *}" = inode ]; then
				# the inode holding the flipped byte
				expect_detect "$img" "$blk" "$desc +$off" check-crc \
					"inode $((${cmd#inode } + off / 512))"
			elif [ -n "$cmd" ]; then
				expect_detect "$img" "$blk" "$desc +$off" check-crc \
					"$cmd"
			else
				expect_detect "$img" "$blk" "$desc +$off" check-crc
			fi
		done
		flip "$img" $prev
		"$DB" "$img" check-crc >/dev/null ||
			fail "$desc: image not restored"
	done
	# block N decodes the header and flags the bad crc
	flip "$img" $((agb * bs + 100))
	"$DB" "$img" block "$agb" >"$T/blk" 2>"$T/err" &&
		fail "block: bad crc not reported"
	grep -q '^crc = 0x[0-9a-f]* (bad)' "$T/blk" || fail "block: crc line"
	grep -q '^magic = 0x4253564b ("KVSB")' "$T/blk" || fail "block: magic"
	grep -q "in block $agb (" "$T/err" || fail "block: message"
	flip "$img" $((agb * bs + 100))
	"$DB" "$img" block "$agb" >"$T/blk" || fail "block: clean"
	grep -q '^crc = 0x[0-9a-f]* (correct)' "$T/blk" || fail "block: ok crc"
	grep -q '^000000: 4b 56 53 42' "$T/blk" || fail "block: hex dump"
	echo "ok bs=$bs"
}

[ -z "$ONLY" ] || [ "$ONLY" = 4096 ] && run 4096 -s 64M -a 4
[ -z "$ONLY" ] || [ "$ONLY" = 1024 ] && run 1024 -s 64M -a 4 -l 4M
echo "corrupt: ok"
