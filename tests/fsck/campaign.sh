#!/bin/bash
# The corruption campaign: for each seed, kvfs-db -x blocktrash flips bits
# in metadata blocks of the chosen types of a populated image (a copy of
# one base image), then
#   1. populate walk (a read-only open walking every object past errors)
#      neither crashes nor hangs; the calls that fail, fail with EIO or
#      EUCLEAN only, and everything that reads reads as on the base image
#      (damage is never returned as data);
#   2. fsck.kvfs -n -f neither crashes nor hangs, and reports (exit 4):
#      always after blocktrash (a flip breaks a crc), else when the walk
#      met damage;
#   3. fsck.kvfs -y -f repairs (exit 0 or 1), then fsck.kvfs -n -f finds
#      the image clean (exit 0);
#   4. the repaired image opens read-write and walks with no error at all,
#      and fsck.kvfs -n -f is still clean after that mount.
# With CAMPAIGN_WRITE=1, also a copy of the damaged image opened
# read-write, walked, and changed (populate walk IMG write: files made,
# written, renamed, truncated and removed, populated files removed), the
# errors EIO, EUCLEAN or ENOSPC only; then fsck.kvfs -y -f and -n -f clean.
# A failure names its seed and the step, keeps nothing (CAMPAIGN_KEEP=DIR:
# DIR/SEED/ the damaged image and the outputs); it is reproduced by
#   kvfs-db -x IMG blocktrash -s SEED -n FLIPS -b BITS -t TYPES
# on `populate build` of a fresh `mkfs.kvfs -s 48M`.  Every step is under a
# timeout (a hang is a failure).  Images go to $TMPDIR (else /var/tmp).
#
# With CAMPAIGN_TRASH=PATH (tests/fuzz's trash helper) the damage is
# instead `trash flip IMG SEED FLIPS`: FLIPS random bytes of random
# metadata or log blocks, their crcs recomputed for odd seeds so that the
# parsers behind the checksums meet it (TYPES and BITS unused).  Such
# damage may look valid, so step 1 does not compare with the base image,
# and fsck runs with -L (a flip in the clean log cannot be replayed).
#
# Usage: campaign.sh MKFS DB FSCK POPULATE TYPES SEEDS [FLIPS [BITS]]
#   TYPES: kvfs-db blocktrash -t (comma-separated), "" for all but the log;
#   SEEDS: FIRST-LAST or a comma-separated list; FLIPS blocks (default 4)
#   of BITS bits (default 4).
set -u
MKFS=$1 DB=$2 FSCK=$3 POP=$4 TYPES=$5 SEEDS=$6
FLIPS=${7:-4} BITS=${8:-4}
if [[ $SEEDS == *-* ]]; then
	mapfile -t seeds < <(seq "${SEEDS%-*}" "${SEEDS#*-}")
else
	IFS=, read -ra seeds <<<"$SEEDS"
fi
. "$(dirname "$0")/../lib.sh"
tmpdir campaign "${TMPDIR:-/var/tmp}"
failures=0 damaged=0
fail() {
	echo "FAIL: types ${TYPES:-all} seed $seed: $*"
	failures=$((failures + 1))
	# the damaged image and every step's output, for the seeds whose
	# outcome depends on timing (background work of the core)
	if [ -n "${CAMPAIGN_KEEP:-}" ] && [ ! -d "$CAMPAIGN_KEEP/$seed" ]; then
		mkdir -p "$CAMPAIGN_KEEP/$seed" &&
			cp --sparse=always "$T"/damaged "$T"/flips "$T"/walk* \
				"$T"/n* "$T"/y* "$CAMPAIGN_KEEP/$seed/" 2>/dev/null
	fi
}

"$MKFS" -q -s 48M "$T/base" || { echo "FAIL: mkfs"; exit 1; }
"$POP" build "$T/base" || { echo "FAIL: populate"; exit 1; }
timeout 300 "$POP" walk "$T/base" >"$T/base.walk" ||
	{ echo "FAIL: walk of the base image"; exit 1; }
grep -aq '^E ' "$T/base.walk" && { echo "FAIL: errors on the base image"; exit 1; }
sort "$T/base.walk" >"$T/base.sorted"

for seed in "${seeds[@]}"; do
	before=$failures
	cp --sparse=always "$T/base" "$T/img"
	if [ -n "${CAMPAIGN_TRASH:-}" ]; then
		"$CAMPAIGN_TRASH" flip "$T/img" "$seed" "$FLIPS" >"$T/flips" 2>&1 ||
			{ fail "trash flip: $(cat "$T/flips")"; continue; }
	else
		# shellcheck disable=SC2086
		"$DB" -x "$T/img" blocktrash -s "$seed" -n "$FLIPS" -b "$BITS" \
			${TYPES:+-t $TYPES} >"$T/flips" 2>&1 ||
			{ fail "blocktrash: $(cat "$T/flips")"; continue; }
	fi
	rm -f "$T"/walk* "$T"/n* "$T"/y*
	[ -n "${CAMPAIGN_KEEP:-}" ] && cp --sparse=always "$T/img" "$T/damaged"

	timeout 120 "$POP" walk "$T/img" >"$T/walk" 2>"$T/walk.err"
	rc=$?
	[ $rc -eq 0 ] || fail "walk exit $rc: $(tail -3 "$T/walk.err")"
	bad=$(grep -av '^E ' "$T/walk" | sort | comm -23 - "$T/base.sorted")
	[ -z "$bad" ] || [ -n "${CAMPAIGN_TRASH:-}" ] || fail "walk read what the base has not: $(head -3 <<<"$bad")"
	met=$(grep -ac '^E ' "$T/walk")
	[ "$met" -gt 0 ] && damaged=$((damaged + 1))

	if [ "${CAMPAIGN_WRITE:-0}" = 1 ]; then
		cp --sparse=always "$T/img" "$T/imgw"
		timeout 120 "$POP" walk "$T/imgw" write >"$T/walkw" 2>"$T/walkw.err"
		rc=$?
		[ $rc -eq 0 ] || fail "changes on the damaged image exit $rc: $(tail -3 "$T/walkw.err")"
		timeout 300 "$FSCK" -y -f ${CAMPAIGN_TRASH:+-L} "$T/imgw" >"$T/yw" 2>&1
		rc=$?
		if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
			fail "fsck -y after changes exit $rc: $(tail -3 "$T/yw")"
		else
			timeout 300 "$FSCK" -n -f "$T/imgw" >"$T/nw" 2>&1 ||
				fail "fsck -n after changes and -y exit $?: $(grep -av '^Phase' "$T/nw" | head -3)"
		fi
	fi

	timeout 300 "$FSCK" -n -f "$T/img" >"$T/n0" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 4 ]; then
		fail "fsck -n exit $rc: $(tail -3 "$T/n0")"
	elif [ $rc -eq 0 ] && { [ -z "${CAMPAIGN_TRASH:-}" ] || [ "$met" -gt 0 ]; }; then
		fail "fsck -n found nothing (the walk met $met errors)"
	fi

	timeout 300 "$FSCK" -y -f ${CAMPAIGN_TRASH:+-L} "$T/img" >"$T/y" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
		fail "fsck -y exit $rc: $(tail -3 "$T/y")"
		continue
	fi
	timeout 300 "$FSCK" -n -f "$T/img" >"$T/n" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "fsck -n after -y exit $rc: $(grep -av '^Phase' "$T/n" | head -3)"
		continue
	fi

	timeout 120 "$POP" walk "$T/img" rw >"$T/walk2" 2>"$T/walk2.err"
	rc=$?
	[ $rc -eq 0 ] || fail "walk of the repaired image exit $rc: $(tail -3 "$T/walk2.err")"
	grep -aq '^E ' "$T/walk2" &&
		fail "errors on the repaired image: $(grep -a '^E ' "$T/walk2" | head -3)"
	timeout 300 "$FSCK" -n -f "$T/img" >"$T/n2" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "fsck -n after mounting the repaired image exit $rc: $(grep -av '^Phase' "$T/n2" | head -3)"
	[ $failures -eq $before ] && echo "seed $seed: ok ($met errors met by the walk)"
done
echo "campaign ${TYPES:-all}: ${#seeds[@]} seeds ($SEEDS), $damaged met by the walk, $failures failures"
[ $failures -eq 0 ]
