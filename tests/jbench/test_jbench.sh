#!/bin/bash
# Smoke test of tools/kvfs-journal-bench (not a timed assertion): --csv
# prints exactly its header and one line per run with positive rates, the
# default report names every figure, a small --log-size makes the AIL
# write back, --image works on an image made by
# mkfs.kvfs (twice: the first run leaves a clean log), and bad input fails
# with a message.
# Usage: test_jbench.sh PATH-TO-kvfs-journal-bench PATH-TO-mkfs.kvfs
set -u
bench=$1
mkfs=$2
. "$(dirname "$0")/../lib.sh"
fail_prefix=test_jbench
tmpdir jbench
tmp=$T
export TMPDIR="$tmp"

header="mode,threads,tx_per_sec,deltas_per_sec,log_bytes_per_delta,zstd_ratio"
small="--seconds 0.25 --buffers 64 --size 256M"

# check_csv FILE "MODE,THREADS ...": exactly the header and these runs, in
# order, each with positive rates, bytes per delta and zstd ratio
check_csv() {
	[ "$(head -n 1 "$1")" = "$header" ] || fail "$1: bad header"
	[ "$(wc -l <"$1")" -eq $(($(echo "$2" | wc -w) + 1)) ] ||
		fail "$1: expected one line per run: $(cat "$1")"
	i=2
	for run in $2; do
		line=$(sed -n "${i}p" "$1")
		echo "$line" | awk -F, -v run="$run" '
			NF != 6 || $1 "," $2 != run { exit 1 }
			!($3 > 0 && $4 >= $3 && $5 > 0 && $6 > 0) { exit 1 }' ||
			fail "$1: bad line for $run: $line"
		i=$((i + 1))
	done
}

"$bench" --help >"$tmp/help" || fail "--help failed"
for opt in --threads --seconds --buffers --force-every --fsync \
	--single-cil --compare --private --image --csv; do
	grep -q -- "$opt" "$tmp/help" || fail "--help does not describe $opt"
done

"$bench" $small --threads 1,2 --compare --csv >"$tmp/cmp.csv" ||
	fail "--compare run failed"
check_csv "$tmp/cmp.csv" "percpu,1 single,1 percpu,2 single,2"

"$bench" $small --threads 2 --fsync --csv >"$tmp/fsync.csv" ||
	fail "--fsync run failed"
check_csv "$tmp/fsync.csv" "fsync-percpu,2"

"$bench" $small --threads 2 --single-cil --items 2 --ranges 3 \
	--force-every 0 --csv >"$tmp/single.csv" || fail "--single-cil failed"
check_csv "$tmp/single.csv" "single,2"

# --private: two threads share no buffer; too few buffers is refused
"$bench" $small --threads 2 --private --csv >"$tmp/private.csv" ||
	fail "--private run failed"
check_csv "$tmp/private.csv" "percpu,2"
"$bench" $small --threads 2 --private --buffers 4 --items 4 \
	>/dev/null 2>"$tmp/err" && fail "--private with 2 buffers each accepted"
grep -q "fewer than --items 4 buffers each" "$tmp/err" ||
	fail "--private error: $(cat "$tmp/err")"

"$bench" $small --threads 2 >"$tmp/report" || fail "default report failed"
for what in "committed transactions/s" "item deltas/s" "checkpoints/s" \
	"log bytes per delta" "zstd ratio" "CIL lock contended"; do
	grep -q "$what" "$tmp/report" || fail "report lacks '$what'"
done

# a log too small for the dirty buffers: the AIL writes back, committers
# wait for log space, and the report gives both.  How much a run commits
# depends on the machine's load: a run that did not fill the log is tried
# again, longer (what is asserted is that a full log is written back)
for secs in 1 3 8; do
	"$bench" --seconds $secs --size 256M --log-size 4M --buffers 4096 \
		--threads 2 >"$tmp/wb" || fail "--log-size run failed"
	awk '/AIL write-backs\/s/ { found = 1; if ($3 > 0) ok = 1 }
		END { exit !(found && ok) }' "$tmp/wb" && break
	[ $secs = 8 ] &&
		fail "no AIL write-backs with a 4M log: $(cat "$tmp/wb")"
done
grep -Eq "grant waits [0-9]+," "$tmp/wb" &&
	grep -Eq "grant waits/s [0-9]+" "$tmp/wb" ||
	fail "grant waits not reported: $(cat "$tmp/wb")"

"$mkfs" -q -s 128M "$tmp/img" || fail "mkfs.kvfs failed"
for pass in 1 2; do
	"$bench" --seconds 0.25 --buffers 32 --image "$tmp/img" --csv \
		>"$tmp/img$pass.csv" || fail "--image run $pass failed"
	check_csv "$tmp/img$pass.csv" "percpu,2"
done

# expect_fail WHAT ARGS...: non-zero exit and a one-line message
expect_fail() {
	what=$1
	shift
	if "$bench" "$@" >/dev/null 2>"$tmp/err"; then
		fail "$what: succeeded"
	fi
	grep -q "kvfs-journal-bench: " "$tmp/err" || fail "$what: no message"
}
expect_fail "bad option" --bogus
expect_fail "zero threads" --threads 0
expect_fail "bad thread list" --threads 1,x
expect_fail "too many items" --buffers 2 --items 3
truncate -s 64M "$tmp/zero"
expect_fail "not a kvfs image" --seconds 1 --image "$tmp/zero"
expect_fail "missing image" --seconds 1 --image "$tmp/none"
expect_fail "--log-size with --image" --seconds 1 --log-size 4M \
	--image "$tmp/img"
exit 0
