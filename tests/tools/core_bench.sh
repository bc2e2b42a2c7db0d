#!/bin/bash
# Smoke test of tools/kvfs-core-bench (not a timed assertion): --csv prints
# exactly the header workload,threads,value,unit, then one well-formed row
# per measurement (each workload before its raw twin, for each --threads
# value), with a positive value in the workload's unit; a bad workload
# fails with a message.  truncate_1g with 2 threads also checks that
# frees into a full AG go through (they once shut the filesystem down).
# The namespace workloads run small (--dir-entries 2000) with 1 and 2
# threads: a directory of creates among new inodes once failed with
# EUCLEAN past ~15 000 entries (its fork became an extent B+tree), and the
# big directory is checked by the bench (readdir once each, short form
# again after its removal).
# Usage: core_bench.sh PATH-TO-kvfs-core-bench
set -u
bench=$1
. "$(dirname "$0")/../lib.sh"
fail_prefix=core_bench
tmpdir core-bench
tmp=$T
export TMPDIR="$tmp"

all="seq_write:MB/s raw_seq_write:MB/s seq_read:MB/s raw_seq_read:MB/s
rand_write:ops/s raw_rand_write:ops/s rand_read:ops/s raw_rand_read:ops/s"

# check_csv FILE "WORKLOAD:UNIT,THREADS ...": the header, then exactly
# these rows in order, each with a positive value
check_csv() {
	[ "$(head -n 1 "$1")" = "workload,threads,value,unit" ] ||
		fail "$1: bad header: $(head -n 1 "$1")"
	[ "$(wc -l <"$1")" -eq $(($(echo "$2" | wc -w) + 1)) ] ||
		fail "$1: expected one row per measurement: $(cat "$1")"
	i=2
	for row in $2; do
		wl=${row%%:*}
		rest=${row#*:}
		unit=${rest%,*}
		threads=${rest##*,}
		line=$(sed -n "${i}p" "$1")
		echo "$line" | awk -F, -v wl="$wl" -v t="$threads" -v u="$unit" '
			NF != 4 || $1 != wl || $2 != t || $4 != u { exit 1 }
			$3 !~ /^[0-9]+(\.[0-9]+)?$/ || !($3 > 0) { exit 1 }' ||
			fail "$1: bad row for $wl, $threads threads: $line"
		i=$((i + 1))
	done
}

"$bench" --help >"$tmp/help" || fail "--help failed"
for opt in --threads --seconds --workload --image --csv --size \
	--dir-entries --fill --rounds --stats --cold; do
	grep -q -- "$opt" "$tmp/help" || fail "--help does not describe $opt"
done

wls=seq_write,raw_seq_write,seq_read,raw_seq_read,rand_write,raw_rand_write
wls=$wls,rand_read,raw_rand_read
"$bench" --cold --seconds 0.25 --size 16M --rounds 2 --workload $wls --csv \
	>"$tmp/all.csv" 2>"$tmp/all.err" ||
	fail "default run failed: $(cat "$tmp/all.csv" "$tmp/all.err")"
rows=""
for w in $all; do
	rows="$rows $w,1"
done
check_csv "$tmp/all.csv" "$rows"
# --rounds: each of the eight measured twice, both rounds on stderr
[ "$(grep -c '^[a-z_]*, 1 threads, 2 rounds: [0-9.]* [0-9.]*$' \
	"$tmp/all.err")" -eq 8 ] || fail "--rounds 2: $(cat "$tmp/all.err")"
"$bench" --rounds 0 --workload seq_write >/dev/null 2>&1 &&
	fail "--rounds 0 accepted"

"$bench" --cold --seconds 0.25 --size 16M --threads 1,2 --rounds 1 \
	--workload rand_write,raw_rand_write --csv >"$tmp/two.csv" ||
	fail "--threads 1,2 run failed"
check_csv "$tmp/two.csv" "rand_write:ops/s,1 raw_rand_write:ops/s,1
rand_write:ops/s,2 raw_rand_write:ops/s,2"

# --fill random: a kvfs file of 256 extents (a B+tree map) read at random
"$bench" --cold --seconds 0.25 --size 16M --threads 1,2 --fill random --rounds 1 \
	--workload rand_read,raw_rand_read --csv >"$tmp/frand.csv" ||
	fail "--fill random run failed"
check_csv "$tmp/frand.csv" "rand_read:ops/s,1 raw_rand_read:ops/s,1
rand_read:ops/s,2 raw_rand_read:ops/s,2"
"$bench" --fill bogus --workload rand_read >/dev/null 2>&1 &&
	fail "--fill bogus accepted"

"$bench" --cold --seconds 0.25 --size 16M --threads 1,2 --workload truncate_1g \
	--csv >"$tmp/trunc.csv" 2>"$tmp/trunc.err" ||
	fail "truncate_1g run failed: $(cat "$tmp/trunc.err")"
check_csv "$tmp/trunc.csv" "truncate_1g:truncates/s,1 truncate_1g:truncates/s,2"

ns=create,stat,unlink,create_shared,stat_shared,unlink_shared,dir_lookup
ns=$ns,dir_lookup_reads,readdir,create_4k,unlink_4k
"$bench" --cold --seconds 0.25 --size 16M --threads 1,2 --dir-entries 2000 \
	--workload $ns --csv >"$tmp/ns.csv" 2>"$tmp/ns.err" ||
	fail "namespace run failed: $(cat "$tmp/ns.err")"
rows=""
for t in 1 2; do
	for w in create:ops/s stat:ops/s unlink:ops/s create_shared:ops/s \
		stat_shared:ops/s unlink_shared:ops/s create_4k:ops/s \
		unlink_4k:ops/s dir_lookup:ops/s readdir:entries/s \
		dir_lookup_reads:reads; do
		rows="$rows $w,$t"
	done
done
check_csv "$tmp/ns.csv" "$rows"
grep -q "each entry exactly once" "$tmp/ns.err" ||
	fail "big directory readdir not checked: $(cat "$tmp/ns.err")"
grep -q "short form again" "$tmp/ns.err" ||
	fail "big directory not back to short form: $(cat "$tmp/ns.err")"

# --stats: a create is one transaction, and its checkpoint bytes are
# counted before and after compression (a run too short for a checkpoint
# has 0 of both; the drain at the end is not in the measurement)
# Without --cold the arena is written whole first, its time on stderr.
"$bench" --ops 3000 --size 16M --threads 1 --commit 1 --workload create \
	--mem 128M --stats >/dev/null 2>"$tmp/stats.err" ||
	fail "--stats run failed: $(cat "$tmp/stats.err")"
grep -Eq '^kvfs-core-bench: arena of 128 MiB written in [0-9.]+ s$' \
	"$tmp/stats.err" || fail "no prefault line: $(cat "$tmp/stats.err")"
grep -Eq '^create, 1 threads, per op: 1\.000 commits, [0-9.]+ log bytes in, ' \
	"$tmp/stats.err" || fail "--stats: no per-op line: $(cat "$tmp/stats.err")"

"$bench" --seconds 1 --workload no_such >/dev/null 2>"$tmp/err" &&
	fail "an unknown workload was accepted"
grep -q no_such "$tmp/err" || fail "no message for an unknown workload"
for bad in 0 -1 1e3 0x10 inf; do
	"$bench" --seconds $bad --workload rand_read >/dev/null 2>"$tmp/err" &&
		fail "--seconds $bad was accepted"
	grep -q -- "bad --seconds value '$bad'" "$tmp/err" ||
		fail "no message for --seconds $bad: $(cat "$tmp/err")"
done
echo "core_bench: ok"
