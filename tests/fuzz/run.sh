#!/usr/bin/env bash
# Short libFuzzer run of every target of tests/fuzz, for CI (tools/check's
# build-fuzz): builds the targets in BUILD (configured with CC=clang
# -Dfuzz=true, ASan+UBSan), generates the seed corpora from a real image
# (gen_seeds), then for each target (one per CPU at a time) replays its
# regression inputs (tests/fuzz/regress/TARGET/) and fuzzes for SECONDS
# (default 6) from the seeds.  A crash, a sanitizer report, a leak, a
# timeout (10 s per input) or an out-of-memory (2 GiB) fails the target;
# the input is kept in the work directory, whose path is printed.  Ends
# with "N passed, N failed"; exit 0 only if all passed.  With --build,
# only builds the targets (tools/check does it ahead of the run).
#   tests/fuzz/run.sh BUILD [SECONDS] [TARGET...]
#   tests/fuzz/run.sh --build BUILD
set -u
here=$(cd "$(dirname "$0")" && pwd)
build_only=0
[ "${1:-}" = --build ] && { build_only=1; shift; }
build=${1:?usage: run.sh [--build] BUILD [SECONDS] [TARGET...]}
secs=${2:-6}
shift $(($# >= 2 ? 2 : 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sb agf agi agfl btree dinode dir_data
	attr symlink log ckpt image mount)

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

bins=(tests/fuzz/gen_seeds)
for t in "${targets[@]}"; do bins+=("tests/fuzz/fuzz_$t"); done
if ! ninja -C "$build" "${bins[@]}" >/dev/null; then
	ninja -C "$build" "${bins[@]}" | tail -n 30
	echo "fuzz: build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
[ $build_only -eq 0 ] || exit 0

# tmpfs when there is one (the image targets rewrite their image)
tmp=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
work=$(mktemp -d "$tmp/kvfs-fuzz.XXXXXX")
export TMPDIR=$work
if ! "$build/tests/fuzz/gen_seeds" "$work/seeds"; then
	echo "fuzz: gen_seeds failed"
	echo "0 passed, 1 failed"
	exit 1
fi

# the image targets' image (each takes a private copy)
export KVFS_FUZZ_IMAGE=$work/seeds/fs.img
# fuzz_one TARGET: its regression inputs, then SECONDS of fuzzing; the
# verdict line goes to $work/TARGET.result ("ok ..." or the failure's lines)
fuzz_one() {
	local t=$1 bin=$build/tests/fuzz/fuzz_$1 ok=1 execs rate cov
	local -a regress=() maxlen=()
	mkdir -p "$work/corpus/$t" "$work/crash/$t"
	if [ -d "$here/regress/$t" ]; then
		mapfile -t regress < <(find "$here/regress/$t" -type f | sort)
	fi
	{
		# each regression input once (libFuzzer runs file arguments)
		if [ ${#regress[@]} -gt 0 ] &&
			! "$bin" -timeout=10 -rss_limit_mb=2048 "${regress[@]}" \
				>"$work/$t.regress.log" 2>&1; then
			echo "fuzz: $t: a regression input fails:"
			grep -E 'Running:|ERROR|SUMMARY|runtime error' \
				"$work/$t.regress.log" | tail -n 6
			ok=0
		fi
		# the image targets take up to 4 blocks (FUZZ_IMAGE_MAX_BLOCKS)
		case $t in image | mount) maxlen=(-max_len=16384) ;; esac
		if ! "$bin" -max_total_time="$secs" -timeout=10 \
			-rss_limit_mb=2048 "${maxlen[@]}" -print_final_stats=1 \
			-artifact_prefix="$work/crash/$t/" \
			"$work/corpus/$t" "$work/seeds/$t" >"$work/$t.log" 2>&1; then
			echo "fuzz: $t: FAILED (log $work/$t.log):"
			grep -E 'ERROR|SUMMARY|runtime error|Test unit written' \
				"$work/$t.log" | head -n 8
			ok=0
		fi
		if [ $ok -eq 1 ]; then
			execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
			rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
			cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
			echo "fuzz: $t: ok (${#regress[@]} regression inputs, ${execs:-?} runs, ${rate:-?}/s, ${cov:-cov: ?})"
		fi
	} >"$work/$t.result"
	[ $ok -eq 1 ]
}

# one target per CPU at a time: each fuzzes for SECONDS of wall time
jobs=$(nproc 2>/dev/null || echo 1)
running=0
for t in "${targets[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	fuzz_one "$t" &
	running=$((running + 1))
done
wait
passed=0
failed=0
for t in "${targets[@]}"; do
	cat "$work/$t.result" 2>/dev/null ||
		echo "fuzz: $t: no verdict"
	if grep -q "^fuzz: $t: ok " "$work/$t.result" 2>/dev/null; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
if [ $failed -eq 0 ]; then
	rm -rf "$work"
else
	echo "fuzz: inputs and logs kept in $work"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
