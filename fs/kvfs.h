/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The public API of the filesystem core (libkvfs): what the FUSE daemon,
 * fsck.kvfs, the tools, the benchmarks and the tests call.  Everything is
 * addressed by inode number, as the FUSE lowlevel API and NFS address it.
 *
 * Contract of every function here:
 *  - returns 0 (or a byte count) or a negative errno with the exact value
 *    POSIX gives for the case (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY,
 *    ENAMETOOLONG, EMLINK, EXDEV never (one filesystem), EFBIG, ENOSPC,
 *    EROFS, EINVAL, ERANGE, ENODATA, E2BIG, EPERM, EIO after a shutdown,
 *    EUCLEAN for metadata found corrupt: reported through the mount's
 *    report path, never printed);
 *  - changes nothing when it fails, except where it says otherwise;
 *  - is safe to call from many threads at once: the core locks what it
 *    touches (fs/mount.h has the lock order);
 *  - permissions are the caller's business (the daemon mounts with
 *    default_permissions: the kernel checks mode bits); the rules a
 *    filesystem must apply itself (SUID/SGID clearing, SGID inheritance,
 *    the group of a new file, ctime on every change) are applied here from
 *    the struct kvfs_cred the caller passes.
 *
 * Lifetimes: an inode whose link count reaches zero stays allocated, on
 * its AG's on-disk unlinked list, while anybody holds it open
 * (kvfs_inode_open()), and is freed at its last kvfs_inode_close(); a
 * crash leaves it on the unlinked list, and the next kvfs_open() frees it.
 */
#ifndef KV_FS_KVFS_H
#define KV_FS_KVFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct kvfs_mount;

/* ---- the filesystem ---- */

/* kvfs_open_opts.atime */
#define KVFS_ATIME_RELATIME \
	0 /* atime moved when older than mtime/ctime or a day */
#define KVFS_ATIME_NOATIME 1
#define KVFS_ATIME_STRICT 2

/*
 * The default log push interval: what no fsync forced reaches the log
 * within it (sync(1) cannot force a FUSE daemon's log: the kernel sends
 * FUSE_SYNCFS to virtiofs only).  Each push that carries new file blocks
 * costs two device flushes, which on an image file write back every dirty
 * data page: 1 s rather than 50 ms makes streaming writes cheaper (seq_write
 * 0.41x -> 0.61x raw).  The memory the CIL pins meanwhile is bounded: it
 * pushes early past an eighth of the kvalloc budget, and an allocation
 * that finds the budget full of pinned buffers has the log push and waits
 * (journal/relief.c; tests/crash crash_memory, 2 MiB, at 1 s and 5 s).
 */
#define KVFS_COMMIT_MS 1000

struct kvfs_open_opts {
	bool rdonly;
	bool sync; /* every change durable before it returns */
	unsigned atime; /* KVFS_ATIME_* */
	size_t cache_bytes; /* buffer cache limit; 0: default */
	unsigned commit_ms; /* log push interval; 0: KVFS_COMMIT_MS */
	/*
	 * Blocks a write filled are converted (made readable after a crash)
	 * within this period at the latest, or at fsync; 0: KVFS_CONV_MS
	 * (fs/data/convert.h).
	 */
	unsigned settle_ms;
	/*
	 * Threads calling in at once (0: 1): what the smallest memory budget
	 * a mount accepts depends on (-EINVAL below it, the minimum named in
	 * kvfs_open_error()).
	 */
	unsigned threads;
	/*
	 * Large aligned file data writes bypass the host's page cache
	 * (O_DIRECT, KV_DEV_DIRECT in fs/io/dev.h): less CPU per byte and
	 * no write back of the image's pages at the log's flushes; a read
	 * soon after comes from the device rather than the host's cache.
	 */
	bool direct_io;
	/*
	 * Bytes kept for the write back of a page cache in front of the
	 * core (kvfs_write_cached(); at most kvfs_wbblks()): every
	 * other allocation sees them as used, statfs does not count them.
	 * 0: none (a caller whose writes reach the core before write(2)
	 * returns needs none).
	 */
	uint64_t wb_reserve_bytes;
};

/*
 * Open the filesystem on an image file or block device: recovers a dirty
 * log (info->recovered), frees the inodes left on the unlinked lists
 * (info->orphans); -ENODATA not kvfs, -EUCLEAN/-EBADMSG damaged (the why
 * is kvfs_open_error(): "run fsck.kvfs"), -EBUSY in use, -EROFS read-only
 * with a log that needs recovery.  Read-write, the log region of an image
 * file is allocated on the host (fallocate, best effort), so that a full
 * host filesystem fails data writes with ENOSPC, never the log's.
 */
struct kvfs_open_info {
	bool recovered; /* the log was replayed */
	uint64_t orphans; /* unlinked inodes freed */
	/*
	 * An earlier mount met corruption and no fsck.kvfs ran since: the
	 * superblock stays dirty (checked by fsck without -f) until one does.
	 */
	bool errors;
	/*
	 * AGs whose unlinked lists did not read (damage): the mount works
	 * but for what changes them (an unlink of one of their files' last
	 * link fails); the superblock is left in the error state.  The first
	 * one's damage in lists_why.
	 */
	uint32_t lists_unread;
	char lists_why[320];
};
int kvfs_open(const char *path, const struct kvfs_open_opts *o,
	      struct kvfs_mount **mpp, struct kvfs_open_info *info);
/* Why the last kvfs_open() of this thread failed. */
const char *kvfs_open_error(void);
/* Write everything back, superblock clean; frees mp whatever the result. */
int kvfs_close(struct kvfs_mount *mp);

/*
 * The lock every writer of an image holds while it works (mount.kvfs for
 * its whole mount, fsck.kvfs, kvfs-db -x): flock(LOCK_EX) on *fdp, which
 * the caller keeps open until it is done.  A daemon still writing back
 * after its unmount returned holds it a while: wait up to wait_ms for it.
 * 0, -EBUSY if still held, or the open's -errno.
 */
int kvfs_image_lock(const char *path, bool rdonly, unsigned wait_ms, int *fdp);
/* What the tools wait: an unmount's write-back of a few seconds. */
#define KVFS_IMAGE_LOCK_WAIT_MS 5000
/* Everything changed so far durable (data and the log). */
int kvfs_sync(struct kvfs_mount *mp);
/*
 * kvfs_sync(), then every logged change written back in place (the log's
 * AIL emptied but for intents waiting for their done), as an unmount
 * does, the mount staying live: so that the write-back one piece of work
 * left behind is not charged to the next (a benchmark's measurements).
 */
int kvfs_writeback(struct kvfs_mount *mp);
/*
 * Tests only: power cuts of a whole mount (tests/fuse/powercut.sh).  From
 * kvfs_test_volatile() on, the device's writes sit in a volatile cache
 * until a flush (fs/io/dev.h KV_FAULT_VOLATILE; with sectors, any subset
 * of their sectors persists, chosen by seed: KV_FAULT_SECTORS);
 * kvfs_test_power_fail() then leaves on the image what a power cut would
 * and the device dead: the caller exits without closing mp.
 */
int kvfs_test_volatile(struct kvfs_mount *mp, bool sectors, uint64_t seed);
void kvfs_test_power_fail(struct kvfs_mount *mp);

struct kvfs_statfs {
	uint32_t bsize; /* block size */
	uint64_t blocks; /* data blocks (device less the log and AG headers) */
	uint64_t bfree; /* free for anybody */
	uint64_t bavail; /* free for unprivileged users */
	uint64_t files; /* inodes that could exist */
	uint64_t ffree;
	uint32_t namemax; /* 255 */
	uint64_t fsid;
};
int kvfs_statfs(struct kvfs_mount *mp, struct kvfs_statfs *st);

/*
 * Bytes free for new data now: statfs's bfree without its wait for the
 * frees of closed unlinked inodes, one counter read (for a caller that
 * asks often).
 */
uint64_t kvfs_free_bytes(struct kvfs_mount *mp);

/*
 * The most bytes the page cache in front of the core (the one whose write
 * backs come through kvfs_write_cached()) may hold dirty now: kept free
 * for those write backs as the write-back reserve is, beside it (statfs
 * and kvfs_free_bytes() count them free, since those write backs may
 * take them; every other allocation may not).  0 at mount, and whenever
 * that cache can hold nothing dirty.
 */
void kvfs_set_wb_pending(struct kvfs_mount *mp, uint64_t bytes);

/* The write-back reserve's bytes (kvfs_open_opts.wb_reserve_bytes, cut). */
uint64_t kvfs_wb_reserve_bytes(struct kvfs_mount *mp);

/* The root directory's inode number. */
uint64_t kvfs_root_ino(struct kvfs_mount *mp);

/*
 * Live figures of a mounted filesystem (what kvfs-stat shows through the
 * daemon): counters since the mount and gauges of now, read without
 * stopping anybody (each figure is consistent, not the set).  The
 * journal's figures are 0 on a read-only mount (no log is open).
 */
struct kvfs_ag_stats {
	uint64_t free_blocks; /* in the free-space trees */
	uint64_t longest; /* longest free extent, blocks */
	uint64_t free_extents;
	uint64_t inodes, inodes_free; /* allocated inode chunks' inodes */
	uint64_t lock_acquired, lock_contended; /* the AG lock */
	/*
	 * KVFS_AG_SICK_*: damage met in the AG's metadata that allocations
	 * pass by until fsck.kvfs repaired it
	 */
	uint64_t sick;
};

#define KVFS_AG_SICK_SPACE 1u /* free-space headers or trees */
#define KVFS_AG_SICK_INODES 2u /* inode header, chunk tree or a free inode */

struct kvfs_stats {
	/* journal */
	uint64_t log_commits; /* transactions committed */
	uint64_t log_checkpoints; /* checkpoints written */
	uint64_t log_forces; /* waits for durability (fsync, sync) */
	uint64_t log_force_writes; /* checkpoints written for a force */
	uint64_t log_bytes; /* the log's size */
	uint64_t log_bytes_used; /* from its tail to its head now */
	uint64_t log_bytes_written;
	uint64_t log_grant_waits; /* waits for log space */
	uint64_t ail_items; /* logged items not yet written in place */
	uint64_t ail_pushed; /* items the AIL wrote back */
	uint64_t zstd_in, zstd_out; /* checkpoint bytes, raw and stored */
	/* buffer cache (metadata blocks) */
	uint64_t buf_hits, buf_misses, buf_reads, buf_writes, buf_reclaimed;
	uint64_t buf_cached, buf_bytes; /* now */
	/* inode cache */
	uint64_t inode_hits, inode_misses, inode_reclaimed;
	uint64_t inode_cached; /* now */
	/* unlinked inodes whose freeing failed, left for the next mount */
	uint64_t inode_inactive_failed;
	/* free space */
	uint64_t block_size;
	uint64_t free_blocks; /* free for reservations (statfs's bfree) */
	/* of those, kept for a page cache's dirty data (kvfs_set_wb_pending) */
	uint64_t wb_pending_blocks;
	uint32_t agcount;
};

/*
 * Fill st, and ag[0..min(nag, st->agcount)) with the allocation groups'
 * figures (ag may be NULL with nag 0: st->agcount says how many there
 * are).  0; never fails today, an errno is kept for what may.
 */
int kvfs_stats(struct kvfs_mount *mp, struct kvfs_stats *st,
	       struct kvfs_ag_stats *ag, uint32_t nag);

/* ---- credentials of the caller (for the rules applied by the core) ---- */

/*
 * (uid_t)-1 and (gid_t)-1: no id.  chown(2)'s "leave unchanged", which
 * Linux takes for INVALID_UID (the kernel refuses changes to a file it
 * owns): never stored.
 */
#define KVFS_ID_NONE 0xffffffffu

struct kvfs_cred {
	uint32_t uid, gid;
	const uint32_t *groups; /* supplementary groups */
	unsigned ngroups;
};

/* ---- attributes ---- */

struct kvfs_stat {
	uint64_t ino;
	uint32_t generation; /* changes when the inode number is reused */
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t rdev; /* major << 32 | minor */
	uint64_t size;
	uint64_t blocks; /* 512-byte units, exact */
	uint32_t blksize; /* preferred I/O size */
	struct timespec atime, mtime, ctime, crtime;
};

int kvfs_getattr(struct kvfs_mount *mp, uint64_t ino, struct kvfs_stat *st);
/*
 * kvfs_getattr() of a number from a file handle (outside: any number, the
 * inode maybe freed or reused): -ESTALE when it names no inode in use, one
 * with links or held open (the caller compares the generation).
 */
int kvfs_getattr_handle(struct kvfs_mount *mp, uint64_t ino,
			struct kvfs_stat *st);

/* kvfs_setattr() valid bits */
#define KVFS_SET_MODE (1u << 0)
#define KVFS_SET_UID (1u << 1)
#define KVFS_SET_GID (1u << 2)
#define KVFS_SET_SIZE (1u << 3)
#define KVFS_SET_ATIME (1u << 4)
#define KVFS_SET_MTIME (1u << 5)
#define KVFS_SET_ATIME_NOW (1u << 6) /* with KVFS_SET_ATIME */
#define KVFS_SET_MTIME_NOW (1u << 7) /* with KVFS_SET_MTIME */
#define KVFS_SET_CTIME (1u << 8) /* an explicit ctime (FUSE passes it) */
/*
 * Clear SUID/SGID as a write by the caller would: SUID, and SGID when the
 * file is group-executable or the caller is neither root nor in its group
 * (no effect on a directory)
 */
#define KVFS_SET_KILL_SUIDGID (1u << 9)
/*
 * A regular file's mtime and ctime change only as given (the FUSE
 * writeback cache: the kernel keeps them and sends them when they move)
 */
#define KVFS_SET_KEEP_CMTIME (1u << 10)
/*
 * The mtime and ctime given are the stamps of writes the kernel's cache
 * already took (FUSE's write back of an inode's times): an immutable flag
 * set since refuses them no more than those writes' pages
 * (fs/inode/iflags.h).
 */
#define KVFS_SET_WRITTEN_CMTIME (1u << 11)

struct kvfs_setattr {
	unsigned valid;
	uint32_t mode; /* permission bits (and S_ISUID|S_ISGID|S_ISVTX) */
	uint32_t uid, gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
};

/*
 * Change the named attributes (one transaction; ctime set to now on any
 * change unless given).  A size change truncates or extends (zeros past
 * the old size; blocks past the new one freed) and sets mtime; -EFBIG
 * past the format's maximum file size; -EISDIR for a directory.  Changing
 * the owner or group clears SUID (and SGID when group-executable) unless
 * the caller is root (uid 0); a chmod by a caller not in the file's group
 * clears SGID.  A uid or gid of KVFS_ID_NONE leaves that id as it is
 * (chown(2)'s -1).  st (optional) receives the attributes after the change.
 */
int kvfs_setattr(struct kvfs_mount *mp, uint64_t ino,
		 const struct kvfs_setattr *sa, const struct kvfs_cred *cr,
		 struct kvfs_stat *st);

/*
 * Inode flags as chattr(1) and lsattr(1) see them: FS_IOC_GETFLAGS's
 * FS_*_FL values of <linux/fs.h>.  Immutable: no change of contents,
 * attributes, xattrs or names, no name added in or removed from a
 * directory; append-only: writes only at the end (the opener's
 * O_APPEND), no truncate, no name removed from a directory; both refuse
 * with -EPERM (fs/inode/iflags.h says which operation is which).
 */
#define KVFS_FL_IMMUTABLE 0x00000010u /* FS_IMMUTABLE_FL */
#define KVFS_FL_APPEND 0x00000020u /* FS_APPEND_FL */
#define KVFS_FL_NODUMP 0x00000040u /* FS_NODUMP_FL */
#define KVFS_FL_NOATIME 0x00000080u /* FS_NOATIME_FL */
#define KVFS_FL_ALL \
	(KVFS_FL_IMMUTABLE | KVFS_FL_APPEND | KVFS_FL_NODUMP | KVFS_FL_NOATIME)

int kvfs_getflags(struct kvfs_mount *mp, uint64_t ino, uint32_t *flags);
/*
 * Set ino's flags to flags (ctime moves when they change): -EOPNOTSUPP
 * for a flag outside KVFS_FL_ALL; -EPERM when cr is neither root (uid 0)
 * nor the owner, or changes immutable or append-only without being root
 * (Linux's CAP_LINUX_IMMUTABLE); -EROFS read-only.
 */
int kvfs_setflags(struct kvfs_mount *mp, uint64_t ino, uint32_t flags,
		  const struct kvfs_cred *cr);

/* ---- open inodes (keep an unlinked inode alive) ---- */

/*
 * Take and drop an open reference: an inode with no links is freed at the
 * last close.  -ENOENT (or -ESTALE when gen is given, non-zero, and does
 * not match) for a free inode.
 */
int kvfs_inode_open(struct kvfs_mount *mp, uint64_t ino, uint32_t gen);
void kvfs_inode_close(struct kvfs_mount *mp, uint64_t ino);

/*
 * A new regular file with no name (O_TMPFILE): link count 0, on the
 * unlinked list, returned open (kvfs_inode_close() frees it unless a link
 * was made, kvfs_link() in the namespace API).  Placed near dir; its group
 * from the caller or dir's SGID.
 */
int kvfs_tmpfile(struct kvfs_mount *mp, uint64_t dir, uint32_t mode,
		 const struct kvfs_cred *cr, struct kvfs_stat *st);

/* ---- file data ---- */

/*
 * Read up to len bytes at off: the byte count (short only at end of
 * file), 0 past it.  Holes and unwritten extents read as zeros.  -EISDIR
 * for a directory, -EINVAL for a negative off.  Updates atime per the
 * mount's atime rule (not logged unless relatime/strictatime asks).
 */
ssize_t kvfs_read(struct kvfs_mount *mp, uint64_t ino, void *buf, size_t len,
		  off_t off);
/* kvfs_read_flags() flags */
#define KVFS_READ_NOATIME (1u << 0) /* atime unmoved: O_NOATIME */
/* kvfs_read() with flags (KVFS_READ_*) */
ssize_t kvfs_read_flags(struct kvfs_mount *mp, uint64_t ino, void *buf,
			size_t len, off_t off, unsigned flags);

/* kvfs_write() flags */
#define KVFS_WRITE_APPEND (1u << 0) /* at the end of file, whatever off */
#define KVFS_WRITE_SYNC (1u << 1) /* O_SYNC: durable before returning */
#define KVFS_WRITE_DSYNC (1u << 2) /* O_DSYNC */
#define KVFS_WRITE_KILLPRIV (1u << 3) /* clear SUID/SGID (non-root writer) */
/*
 * mtime and ctime are the caller's: the FUSE writeback cache, whose kernel
 * stamps them at write(2) and sends them with a setattr (the data comes
 * later, and a stamp then would move them past what stat showed)
 */
#define KVFS_WRITE_NOCMTIME (1u << 4)

/*
 * Write len bytes at off: the byte count (short only on ENOSPC after some
 * bytes, which then are written and reachable), extending the file and
 * setting mtime/ctime.  Newly allocated blocks are written before the
 * transaction that makes them reachable commits: after a crash the file
 * shows its own data or zeros, never stale blocks.  -EFBIG past the
 * maximum file size (nothing written), -ENOSPC with nothing written.
 */
ssize_t kvfs_write(struct kvfs_mount *mp, uint64_t ino, const void *buf,
		   size_t len, off_t off, unsigned flags);
/*
 * kvfs_write() of data a page cache in front of the core accepted long
 * ago (the FUSE write back): its blocks may come from the write-back
 * reserve (kvfs_open_opts.wb_reserve_bytes) when nothing else is free,
 * and *reserve then says so: the filesystem is full for every other
 * writer, and the caller should have this file's writer hear ENOSPC at
 * its next write(2), while what it wrote so far is stored.  No
 * speculative blocks come from the reserve.
 */
ssize_t kvfs_write_cached(struct kvfs_mount *mp, uint64_t ino, const void *buf,
			  size_t len, off_t off, unsigned flags, bool *reserve);

/*
 * fallocate(2) modes: 0 and FALLOC_FL_KEEP_SIZE (unwritten extents over
 * the holes), FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE,
 * FALLOC_FL_ZERO_RANGE (with or without KEEP_SIZE); others -EOPNOTSUPP.
 * -ENOSPC with nothing allocated when the space is not there.
 */
int kvfs_fallocate(struct kvfs_mount *mp, uint64_t ino, int mode, off_t off,
		   off_t len);

/*
 * A file handle of ino was closed (XFS's xfs_release): the speculative
 * preallocation past its end of file is trimmed, so that many small files
 * written and closed do not keep blocks they will never use (the blocks
 * come back at the next extending write if it wants them).
 */
int kvfs_release(struct kvfs_mount *mp, uint64_t ino);

/*
 * copy_file_range(2) within the filesystem: up to len bytes of in from
 * off_in to out at off_out; the byte count (short only at in's end of
 * file or on ENOSPC after some bytes), 0 at or past in's end.  The format
 * has no shared extents, so the data is copied in the caller's process,
 * 1 MiB at a time, through the core's data path (the daemon never sends
 * it back through the kernel); holes of in stay holes in out.  -EINVAL for
 * flags, a negative offset, or in == out with overlapping ranges;
 * -EISDIR for a directory, -EINVAL for another non-regular file; -EFBIG
 * when off_out is past the maximum file size (len is cut to it
 * otherwise); -EOVERFLOW when an offset plus len wraps.  Never -EXDEV.
 */
ssize_t kvfs_copy_file_range(struct kvfs_mount *mp, uint64_t in, off_t off_in,
			     uint64_t out, off_t off_out, size_t len,
			     unsigned flags);

/* SEEK_DATA / SEEK_HOLE (others -EINVAL): *res; -ENXIO past the end. */
int kvfs_lseek(struct kvfs_mount *mp, uint64_t ino, off_t off, int whence,
	       off_t *res);

/*
 * The file's data durable, then the log forced up to the inode's last
 * change (not further); datasync: the log only when the size or the
 * block map changed since the last force.
 */
int kvfs_fsync(struct kvfs_mount *mp, uint64_t ino, bool datasync);

/* ---- the namespace (directories, links, rename, symlinks) ---- */

#define KVFS_NAME_MAX 255
#define KVFS_SYMLINK_MAX 4095

int kvfs_lookup(struct kvfs_mount *mp, uint64_t dir, const char *name,
		struct kvfs_stat *st);

/* kvfs_create() flags */
#define KVFS_CREATE_EXCL (1u << 0) /* -EEXIST if the name exists */

/*
 * Create name in dir as a regular file, FIFO, socket or device (mode's
 * type; rdev for devices): mknod(2) and open(O_CREAT).  Without
 * KVFS_CREATE_EXCL an existing regular file is returned as it is (st
 * filled, *created false).
 */
int kvfs_create(struct kvfs_mount *mp, uint64_t dir, const char *name,
		uint32_t mode, uint64_t rdev, unsigned flags,
		const struct kvfs_cred *cr, struct kvfs_stat *st,
		bool *created);
int kvfs_mkdir(struct kvfs_mount *mp, uint64_t dir, const char *name,
	       uint32_t mode, const struct kvfs_cred *cr, struct kvfs_stat *st);
int kvfs_unlink(struct kvfs_mount *mp, uint64_t dir, const char *name);
int kvfs_rmdir(struct kvfs_mount *mp, uint64_t dir, const char *name);
/* A new name newname in newdir for ino (-EPERM for a directory). */
int kvfs_link(struct kvfs_mount *mp, uint64_t ino, uint64_t newdir,
	      const char *newname, struct kvfs_stat *st);
int kvfs_symlink(struct kvfs_mount *mp, uint64_t dir, const char *name,
		 const char *target, const struct kvfs_cred *cr,
		 struct kvfs_stat *st);
/*
 * The target, NUL-terminated, into buf (size >= KVFS_SYMLINK_MAX + 1);
 * atime moves per the mount's atime rule.
 */
int kvfs_readlink(struct kvfs_mount *mp, uint64_t ino, char *buf, size_t size);

/* kvfs_rename() flags: the values of renameat2(2) */
#define KVFS_RENAME_NOREPLACE (1u << 0)
#define KVFS_RENAME_EXCHANGE (1u << 1)
#define KVFS_RENAME_WHITEOUT (1u << 2)
int kvfs_rename(struct kvfs_mount *mp, uint64_t olddir, const char *oldname,
		uint64_t newdir, const char *newname, unsigned flags,
		const struct kvfs_cred *cr);

/*
 * readdir: entries from cookie on (0: the start; "." and ".." first), one
 * call of fill per entry with the cookie of the entry after it; fill
 * returns non-zero to stop (the buffer is full: that entry is not
 * consumed, the next readdir starts at its cookie).  Cookies are below
 * 2^63 and stay valid across inserts and removes.  fill runs with the
 * directory locked: it must not call back into the API (gather, then
 * look up after the call, as the FUSE daemon's readdirplus does).
 */
typedef int (*kvfs_filldir_t)(void *priv, const char *name, size_t namelen,
			      uint64_t ino, unsigned dtype, uint64_t next);
int kvfs_readdir(struct kvfs_mount *mp, uint64_t dir, uint64_t cookie,
		 kvfs_filldir_t fill, void *priv);

/* ---- extended attributes ---- */

/* kvfs_setxattr() flags: the values of setxattr(2) */
#define KVFS_XATTR_CREATE 0x1
#define KVFS_XATTR_REPLACE 0x2

int kvfs_setxattr(struct kvfs_mount *mp, uint64_t ino, const char *name,
		  const void *value, size_t size, int flags);
/* The value's size; with size 0 only the size; -ERANGE if it does not fit. */
ssize_t kvfs_getxattr(struct kvfs_mount *mp, uint64_t ino, const char *name,
		      void *value, size_t size);
/* NUL-separated names, as listxattr(2). */
ssize_t kvfs_listxattr(struct kvfs_mount *mp, uint64_t ino, char *list,
		       size_t size);
int kvfs_removexattr(struct kvfs_mount *mp, uint64_t ino, const char *name);

#endif
