#!/usr/bin/env bash
# SIGKILL of mount.kvfs in the middle of a 4-thread workload that fsyncs
# (test_fuse_kill work), once 1 to 40 files are durable, ROUNDS times on
# one image.  After each kill:
# the next mount says it recovered, every file fsync'd before the kill is
# there with its bytes (test_fuse_kill verify), a clean unmount, and the
# core's checker finds nothing (no block leaked or owned twice, counters
# exact).  With FSCK_KVFS, fsck.kvfs -f -n finds nothing on the killed
# image (its log replayed in memory) and again after the clean unmount.
# Always unmounts (lib.sh's trap); every step under a timeout.
# usage: kill.sh MOUNT_KVFS MKFS_KVFS TEST_FUSE_KILL SCRUB_IMAGE [ROUNDS
#        [FSCK_KVFS]]
set -u
mount_kvfs=$1 mkfs=$2 prog=$3 scrub=$4 rounds=${5:-20} fsck=${6:-}
. "$(dirname "$0")/lib.sh"

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
how=kill opts=
. "$(dirname "$0")/cut_rounds.sh"
echo "fuse kill: ok ($rounds rounds)"
