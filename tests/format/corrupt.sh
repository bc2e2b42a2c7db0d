#!/bin/bash
# Flipping any byte of any metadata block mkfs writes is detected by
# kvfs-db: exit status non-zero and the block number named.  Several bytes
# per block type, in the header and in the payload, for two block sizes.
# A third argument BS runs one block size only (meson runs the two as
# two tests: each forks kvfs-db about 500 times, slow under ASan).
set -u
MKFS=$1 DB=$2 ONLY=${3:-}
. "$(dirname "$0")/lib.sh"
case "$ONLY" in "" | 4096 | 1024) ;; *) fail "block size $ONLY: 4096 or 1024" ;; esac
T=$(mktemp -d /tmp/kvfs-corrupt.XXXXXX)
trap 'rm -rf "$T"' EXIT

# expect_detect IMG BLOCK DESC CMD...: kvfs-db CMD fails naming BLOCK
expect_detect() {
	local img=$1 blk=$2 desc=$3
	shift 3
	local err
	"$DB" "$img" "$@" >/dev/null 2>"$T/err" &&
		fail "$desc: kvfs-db $* succeeded on a corrupt image"
	# read by the shell itself: no grep process per check
	IFS= read -r -d '' err <"$T/err"
	[[ $err == *"in block $blk ("* ]] ||
		fail "$desc: block $blk not named: $err"
}

run() {
	local bs=$1 img=$T/c$1.img
	shift
	"$MKFS" -q -b "$bs" "$@" "$img" || fail "mkfs -b $bs"
	"$DB" "$img" check-crc >/dev/null || fail "pristine image fails"
	local agb root rootblk ibs ilast
	agb=$(field "$img" sb agblocks)
	root=$(field "$img" sb rootino)
	rootblk=$(field "$img" inode "$root" blkno)
	# the last block of the first chunk (another block when the chunk
	# spans several) and the first inode in it
	ibs=$(field "$img" inode $((root + 63)) blkno)
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
	local t desc blk cmd off byte
	for t in "${types[@]}"; do
		desc=${t%%:*}
		blk=${t#*:}
		cmd=${blk#*:}
		blk=${blk%%:*}
		for off in "${offs[@]}"; do
			byte=$((blk * bs + off))
			flip "$img" $byte
			expect_detect "$img" "$blk" "$desc +$off" check-crc
			if [ "${cmd%% *}" = inode ]; then
				# the inode holding the flipped byte
				expect_detect "$img" "$blk" "$desc +$off" \
					inode $((${cmd#inode } + off / 512))
			elif [ -n "$cmd" ]; then
				# shellcheck disable=SC2086
				expect_detect "$img" "$blk" "$desc +$off" $cmd
			fi
			flip "$img" $byte
		done
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
