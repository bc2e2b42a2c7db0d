#!/bin/bash
# Smoke test of tools/kvalloc-bench (not a timed assertion): --csv prints
# exactly its header and one line with a positive rate per requested
# (test, threads, allocator), the table and --contention print kv's lock
# counters, and bad options fail with a message.
# Usage: test_kvalloc_bench.sh PATH-TO-kvalloc-bench
set -u
bench=$1
. "$(dirname "$0")/../lib.sh"
fail_prefix=test_kvalloc_bench
tmpdir kvalloc-bench
tmp=$T

tests="fix_size_alloc full_fit_alloc long_busy_list_alloc random_size_alloc
random_size_align_alloc align_shift_alloc small_obj kvmalloc_mixed"
allocs="kv kv-vmalloc glibc jemalloc mimalloc"

"$bench" --help >"$tmp/help" || fail "--help failed"
grep -q -- "--csv" "$tmp/help" || fail "--help does not describe --csv"
"$bench" --list >"$tmp/list" || fail "--list failed"
for t in $tests $allocs; do
	grep -q "^  $t " "$tmp/list" || fail "--list lacks $t"
done

# check_csv FILE TESTS ALLOCS: exactly the header and one positive line per
# (threads 1 and 2, test, allocator), and a kv contention line on stderr
check_csv() {
	[ "$(head -n 1 "$1")" = "test,threads,allocator,ops_per_sec" ] ||
		fail "bad csv header: $(head -n 1 "$1")"
	n=0
	for thr in 1 2; do
		for t in $2; do
			for a in $3; do
				c=$(grep -c "^$t,$thr,$a,[1-9][0-9]*\$" "$1")
				[ "$c" = 1 ] ||
					fail "expected one positive line $t,$thr,$a, found $c"
				n=$((n + 1))
			done
			grep -q "^contention: test=$t threads=$thr allocator=kv contended=[0-9]* acquired=[1-9]" "$tmp/err" ||
				fail "no kv contention line for $t, $thr threads"
		done
	done
	[ "$(wc -l <"$1")" -eq $((n + 1)) ] ||
		fail "csv has $(wc -l <"$1") lines, expected $((n + 1))"
}

# run_csv TESTS ALLOCS
run_csv() {
	args=""
	for t in $1; do
		args="$args --test $t"
	done
	# shellcheck disable=SC2086
	"$bench" --csv --contention --alloc "$(echo $2 | tr ' ' ,)" \
		--threads 1,2 --seconds 0.02 --budget 512M $args \
		>"$tmp/csv" 2>"$tmp/err" ||
		fail "csv run failed: $(cat "$tmp/err")"
	check_csv "$tmp/csv" "$1" "$2"
}

# full_fit_alloc pins 2 * fls(ncpus) * 8192 pages a thread at its peak (256
# MiB at 2 threads on 2 CPUs: hence the 512 MiB budget), and on the vmap
# path as many one-page areas, each a kernel mapping: more than
# vm.max_map_count allows the process, so it never runs with kv-vmalloc.
# It, long_busy_list_alloc and kvmalloc_mixed set up for seconds whatever
# --seconds says (fixed sizes, the kernel's test_vmalloc's): every
# allocator runs the quick tests, and kv alone the slow ones (a smoke
# test of the tool, not a benchmark).
slow="full_fit_alloc long_busy_list_alloc kvmalloc_mixed"
quick=$tests
for t in $slow; do
	quick=$(echo $quick | sed "s/$t//")
done
run_csv "$quick" "$allocs"
run_csv "$slow" kv
"$bench" --csv --alloc all --test small_obj --seconds 0.02 --budget 64M \
	>"$tmp/csv" 2>"$tmp/err" || fail "--alloc all failed: $(cat "$tmp/err")"
nall=$(grep -c "^small_obj,1,[a-z-]*,[1-9][0-9]*\$" "$tmp/csv")
[ "$nall" = 5 ] || fail "--alloc all gave $nall allocators"

"$bench" --alloc kv,glibc --test small_obj --seconds 0.02 --budget 64M \
	>"$tmp/table" || fail "table run failed"
grep -q "^small_obj  *1 kv  *[1-9][0-9]*  *1.00\$" "$tmp/table" ||
	fail "table lacks kv's row"
grep -q "^small_obj  *1 glibc  *[1-9][0-9]*  *[0-9.]*\$" "$tmp/table" ||
	fail "table lacks glibc's row"
grep -q "^    kv locks: contended=" "$tmp/table" ||
	fail "table lacks kv's lock counters"
grep -q "^kv statistics:" "$tmp/table" || fail "table lacks kv statistics"

for bad in "--test nosuch" "--alloc nosuch" "--seconds 0" "--threads 0" \
	"--budget 1x" "extra"; do
	# shellcheck disable=SC2086
	if "$bench" $bad >"$tmp/out" 2>"$tmp/err"; then
		fail "'$bad' succeeded"
	fi
	grep -q "kvalloc-bench: " "$tmp/err" || fail "'$bad' gave no message"
done
exit 0
