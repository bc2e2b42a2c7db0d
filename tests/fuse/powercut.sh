#!/usr/bin/env bash
# A power cut under a mount: mount.kvfs with KVFS_DEV_FAULT (the image's
# writes held in a volatile cache until a flush: 'volatile' drops every
# unflushed write at the cut, 'sectors:SEED' keeps any subset of their
# sectors, in any order), a 4-thread workload that fsyncs (test_fuse_kill
# work), then SIGUSR2: the daemon leaves on the image what a power cut
# would and dies at once.  A SIGKILL (kill.sh) keeps the host's page cache
# of the image; this does not, so it checks that each fsync through the
# mount flushed what it had to.  After each cut: the next mount recovers,
# every file fsync'd before the cut is there with its bytes
# (test_fuse_kill verify), a clean unmount, the core's checker finds
# nothing.  Always unmounts (lib.sh's trap); every step under a timeout.
# usage: powercut.sh MOUNT_KVFS MKFS_KVFS TEST_FUSE_KILL SCRUB_IMAGE [ROUNDS
#        [MOUNT_OPTIONS [FSCK_KVFS]]]   (MOUNT_OPTIONS: mount.kvfs -o during
#        the workload; FSCK_KVFS: fsck.kvfs -f -n after each cut and
#        recovery, as kill.sh's)
set -u
mount_kvfs=$1 mkfs=$2 prog=$3 scrub=$4 rounds=${5:-10} opts=${6:-} fsck=${7:-}
. "$(dirname "$0")/lib.sh"

T "$mkfs" -q -s 256M "$img" || fail "mkfs.kvfs"
# a malformed value: one line, nothing mounted
out=$(env KVFS_DEV_FAULT=sectors:x timeout 60 "$mount_kvfs" -f "$img" "$mnt" 2>&1) &&
	fail "KVFS_DEV_FAULT=sectors:x accepted"
grep -q "KVFS_DEV_FAULT: 'volatile' or 'sectors:SEED' expected" <<<"$out" ||
	fail "KVFS_DEV_FAULT=sectors:x: '$out'"
mounted "$mnt" && fail "mounted with a bad KVFS_DEV_FAULT"
how=powercut
. "$(dirname "$0")/cut_rounds.sh"
echo "fuse powercut: ok ($rounds rounds)"
