/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mount's watchdog: a process of its own that aborts the FUSE
 * connection of a daemon that died without closing it.
 *
 * The kernel aborts a connection when its /dev/fuse descriptor closes,
 * which a killed daemon (SIGKILL, a crash) does only once every one of its
 * threads has left the kernel.  A thread that waits there for a request
 * only the daemon's dead request threads would have answered never does:
 * kf_lseek()'s thread laundering the file's dirty pages
 * (fs/fuse/ops.c) waits in folio_wait_writeback(), unkillable.  The
 * process then stays, its mount hanging every caller and the writer and
 * the seeker stuck with it, until someone writes to fusectl's abort file.
 *
 * The watchdog does that.  It is forked before the daemon starts a thread
 * and keeps nothing of the daemon's but a pipe's read end (no /dev/fuse,
 * no image lock, no memory in use).  Once mounted, the daemon sends it
 * the connection's device over the pipe (kvfs_fuse_watchdog_arm()); the
 * watchdog then looks at the daemon every KVFS_FUSE_WATCHDOG_MS: a
 * thread-group leader that is a zombie while the process lives on is a
 * daemon killed with a thread stuck in the kernel, and seen so twice in a
 * row the connection is aborted (mounting fusectl first if needed, as
 * root) and said so, on stderr in the foreground, else in syslog.  The
 * daemon's exit, however it ends, closes the pipe: the watchdog exits.
 */
#ifndef KV_FS_FUSE_WATCHDOG_H
#define KV_FS_FUSE_WATCHDOG_H

#include <stdbool.h>

#define KVFS_FUSE_WATCHDOG_MS 1000

/*
 * Fork the watchdog of the calling process (single-threaded: called
 * before any thread starts), which will serve mountpoint; *fdp: the
 * pipe's write end (close-on-exec), for kvfs_fuse_watchdog_arm().  With
 * to_syslog the watchdog's stdio is /dev/null and it reports to syslog.
 * 0 or a negative errno (no watchdog then; *fdp is -1).
 */
int kvfs_fuse_watchdog_start(const char *mountpoint, bool to_syslog, int *fdp);

/*
 * The mount of mountpoint is made (its INIT need not be answered yet):
 * send the watchdog its connection, the mount's device, found in
 * /proc/self/mountinfo (no call into the mount, which cannot answer yet).
 * 0 or a negative errno (-ENOENT: no such mount; the watchdog stays idle).
 */
int kvfs_fuse_watchdog_arm(int fd, const char *mountpoint);

#endif
