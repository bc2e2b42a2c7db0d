#!/usr/bin/env bash
# squeeze.sh LIMIT RUNS SEED -- COMMAND...: COMMAND RUNS times, with
# --seed SEED, SEED+1, ... appended, each inside a memory cgroup of LIMIT
# bytes (no swap) with two busy loops beside it: the squeeze under which
# no run may fail with a corruption error (EUCLEAN, EBADMSG, EIO) that
# memory pressure or load made.  Not a meson test (root, a cgroup, minutes
# of CPU); for example, from build-debug:
#   tests/crash/squeeze.sh 400000000 30 100 -- \
#       tests/crash/test_crash_ns --points 100 --budget 2M
# A failed run's output is kept as squeeze-out.SEED in the current
# directory, with the images it left (TMPDIR, else /dev/shm: the ones
# named with its pid, as the tests name them) moved beside it.  The cgroup is a child of this shell's own (cgroup v2, or the v1
# memory hierarchy), removed at the end, whatever ends the script.
set -u
if [ $# -lt 5 ] || [ "$4" != "--" ]; then
	echo "usage: $0 LIMIT RUNS SEED -- COMMAND..." >&2
	exit 2
fi
lim=$1 runs=$2 seed0=$3
shift 4
imgdir=${TMPDIR:-/dev/shm}

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	base=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
	maxf=memory.max
else
	base=/sys/fs/cgroup/memory$(grep ':memory:' /proc/self/cgroup |
		cut -d: -f3)
	maxf=memory.limit_in_bytes
fi
cg=$base/kvfs-squeeze-$$
mkdir "$cg" || exit 1
busy=() child=
cleanup() {
	[ -n "$child" ] && kill -KILL "$child" 2>/dev/null
	for p in "${busy[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rmdir "$cg"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! echo "$lim" >"$cg/$maxf"; then
	echo "cannot limit $cg" >&2
	exit 1
fi
[ -f "$cg/memory.swap.max" ] && echo 0 >"$cg/memory.swap.max"
for _ in 1 2; do
	(while :; do :; done) &
	busy+=($!)
done

fails=0
for ((i = 0; i < runs; i++)); do
	s=$((seed0 + i))
	(echo "$BASHPID" >"$cg/cgroup.procs" && exec "$@" --seed "$s") \
		>"squeeze-out.$s" 2>&1 &
	child=$!
	wait "$child"
	rc=$?
	pid=$child child=
	if [ "$rc" -eq 0 ]; then
		rm -f "squeeze-out.$s"
		continue
	fi
	fails=$((fails + 1))
	echo "seed $s: exit $rc: $(tail -n 3 "squeeze-out.$s")"
	# only the run's own: the tests name their images with their pid
	for f in "$imgdir"/kvfs-*-"$pid".*; do
		[ -e "$f" ] && mv "$f" .
	done
done
echo "squeeze: $runs runs, $fails failed, memory limit hit $(cat "$cg/memory.failcnt" 2>/dev/null || grep -s '^max ' "$cg/memory.events" | cut -d' ' -f2) times"
[ "$fails" -eq 0 ]
