/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvfs_bug(): an invariant of the code itself is broken (a caller misused
 * an API: a buffer logged outside its transaction, a cache torn down with
 * references held).  Never for anything an image can contain: corrupt
 * metadata is reported with kvfs_corrupt() (fs/io/blkhdr.h) and returned
 * as an errno.  Like the kernel's BUG(): one line naming the broken rule,
 * handed to the program's bug hook (journal/bug.h: the daemon and tools
 * print it, debug builds always do), then abort() for a core dump, since
 * going on could write garbage to the image.
 */
#ifndef KV_FS_BUG_H
#define KV_FS_BUG_H

__attribute__((noreturn, format(printf, 1, 2))) void kvfs_bug(const char *fmt,
							      ...);

#endif
