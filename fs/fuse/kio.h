/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's own reads and writes of /dev/fuse (libfuse's custom I/O),
 * for the one thing of protocol 7.33 that libfuse 3.14 (7.31) cannot ask
 * for: FUSE_HANDLE_KILLPRIV_V2.  With it the kernel sets SB_NOSEC on the
 * mount, so an inode with no SUID/SGID bit and no security.capability is
 * marked S_NOSEC after its first write and later writes skip
 * file_remove_privs(): without it every write(2) costs a GETXATTR round
 * trip (security.capability) before the data moves.  In exchange the
 * daemon kills SUID/SGID (SGID only when group-executable) and the
 * capability itself where the kernel says so: a WRITE with
 * FUSE_WRITE_KILL_SUIDGID, a SETATTR with FATTR_KILL_SUIDGID (a truncate by
 * a caller without CAP_FSETID, a chown).  libfuse passes neither flag on,
 * so the read hook notes them for the request the thread is about to
 * handle (libfuse's workers read a request and handle it on one thread);
 * the write hook adds the flag to the INIT reply when the kernel offered
 * it.  The read hook also puts a WRITE's data on pages of its own
 * (kvfs_fuse_kio_write_data()).  Splice reads are off (fs/fuse/ops.c): a
 * spliced request would pass the hook by.
 *
 * No locks: what the hooks share is the INIT's unique id and offer,
 * written before the INIT is handled and read when its reply goes.
 */
#ifndef KV_FS_FUSE_KIO_H
#define KV_FS_FUSE_KIO_H

#include <stdbool.h>
#include <stddef.h>

#include "fs/fuse/ops.h"

/*
 * Read and write the session's /dev/fuse through the hooks (after
 * fuse_session_mount()).  0, or -1 with libfuse's message printed.
 */
int kvfs_fuse_kio_attach(struct fuse_session *se);

/* The request this thread handles asks for SUID/SGID/capability killing. */
bool kvfs_fuse_kio_kill_suidgid(void);

/*
 * Where the data of the WRITE this thread handles is: the read hook put it
 * in a page-aligned buffer of the thread's (kio.c), not where libfuse
 * points (mem, len bytes: the request's data as libfuse sees it).  mem
 * itself for a request read otherwise; NULL if mem and len are not the
 * WRITE's (a libfuse that places it elsewhere: nothing is there).
 */
const void *kvfs_fuse_kio_write_data(const void *mem, size_t len);

/* The kernel took FUSE_HANDLE_KILLPRIV_V2 (known once INIT is answered). */
bool kvfs_fuse_kio_killpriv_v2(void);

#endif
