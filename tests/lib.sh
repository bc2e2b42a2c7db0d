# The preamble of the shell tests (sourced), one copy for all of them:
#   tmpdir NAME [BASE]  T=a new directory BASE/kvfs-NAME.XXXXXX (BASE:
#                       $TMPDIR, else /tmp), removed at exit
#   fast_tmp            /dev/shm when writable, else /tmp: a BASE for
#                       images that fit in memory
#   at_exit             shell code of the caller, run first at exit
#   unmount_at_exit DIR DIR is lazily unmounted at exit (after at_exit)
#   daemon_pid          a process killed at exit (after the unmounts)
#   fail MSG            "FAIL: MSG" on stderr (after fail_prefix, when set,
#                       instead of FAIL), exit 1; a test that counts its
#                       failures redefines fail and stops with die
#   die MSG             the same, always fatal
#   T CMD...            CMD bounded by 60 s
# The cleanup runs on every exit: a passing test, a failed assertion, a
# signal (the trap on EXIT runs for INT and TERM too, set below).
# shellcheck shell=bash
# (bash: the tests that source this run under #!/bin/bash)

at_exit=:
daemon_pid=
kvt_dirs=()
kvt_mounts=()
fast_tmp=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && fast_tmp=/dev/shm

kvt_cleanup() {
	local m
	eval "$at_exit"
	for m in "${kvt_mounts[@]}"; do
		timeout 10 fusermount3 -u -z "$m" 2>/dev/null
	done
	[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
	[ ${#kvt_dirs[@]} -gt 0 ] && rm -rf "${kvt_dirs[@]}"
	return 0
}
trap kvt_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

tmpdir() {
	T=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/kvfs-$1.XXXXXX") ||
		die "mktemp in ${2:-${TMPDIR:-/tmp}}"
	kvt_dirs+=("$T")
}

unmount_at_exit() {
	kvt_mounts+=("$@")
}

die() {
	echo "${fail_prefix:-FAIL}: $*" >&2
	exit 1
}
fail() { die "$@"; }

T() { timeout 60 "$@"; }
