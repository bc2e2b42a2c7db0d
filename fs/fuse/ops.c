// SPDX-License-Identifier: GPL-2.0
/*
 * The FUSE lowlevel operations of mount.kvfs (fs/fuse/ops.h).
 *
 * Not implemented on purpose (libfuse answers
 * ENOSYS, and the kernel stops asking): flush (the kernel writes dirty
 * pages back itself before it would send it; nothing else is to do at
 * close, so each close is spared a round trip), access (default_permissions:
 * the kernel checks the mode bits), locks (local to the kernel), opendir (see
 * kf_opendir()) and so releasedir.  SUID/SGID: HANDLE_KILLPRIV_V2 when
 * the kernel offers it (fs/fuse/kio.h: it spares every write(2) a
 * GETXATTR); the kernel, which knows whether the writer has CAP_FSETID,
 * flags the write or truncate that must kill them, and still sends the
 * mode change of a chown or of a write through the cache as a setattr.
 * Without V2 (HANDLE_KILLPRIV is not asked for) the kernel does it all.
 *
 * POSIX ACLs (FUSE_CAP_POSIX_ACL, when the kernel offers it): the kernel
 * enforces them, reading them as xattrs; the daemon keeps them and the
 * mode in step (fs/fuse/acl.h): a new access ACL sets the mode, a chmod
 * rewrites the ACL, and a new inode takes its directory's default ACL,
 * or the caller's umask without one (FUSE_CAP_DONT_MASK: the kernel
 * leaves the umask to us so that a default ACL can override it).  The
 * ACLs of a new inode are set after it is made: a failure removes it.
 */
#include "fs/fuse/ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse/acl.h"
#include "fs/fuse/fileattr.h"
#include "fs/fuse/kio.h"
#include "fs/fuse/nodes.h"
#include "fs/fuse/stats.h"
#include "fs/kvfs.h"
#include "journal/errortag.h"

#define CAPS_XATTR "security.capability"
#define ACL_XATTR_PREFIX "system.posix_acl_"
#define TRUSTED_PREFIX "trusted."
#define MAX_GROUPS 64

static struct kvfs_fuse *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Node id <-> inode number: the root and inode 1 swap places. */
static uint64_t ino_of(struct kvfs_fuse *fs, uint64_t id)
{
	if (id == FUSE_ROOT_ID)
		return fs->root;
	if (id == fs->root)
		return FUSE_ROOT_ID;
	return id;
}

static void cred_of(fuse_req_t req, struct kvfs_cred *cr)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	cr->uid = ctx->uid;
	cr->gid = ctx->gid;
	cr->groups = NULL;
	cr->ngroups = 0;
}

static void stat_of(const struct kvfs_stat *ks, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ks->ino;
	st->st_mode = ks->mode;
	st->st_nlink = ks->nlink;
	st->st_uid = ks->uid;
	st->st_gid = ks->gid;
	st->st_rdev = makedev(ks->rdev >> 32, ks->rdev & 0xffffffffu);
	st->st_size = ks->size;
	st->st_blocks = ks->blocks;
	st->st_blksize = ks->blksize;
	st->st_atim = ks->atime;
	st->st_mtim = ks->mtime;
	st->st_ctim = ks->ctime;
}

/*
 * Whether the filesystem is full for buffered write(): a write back took
 * the write-back reserve or found no room even there (kf_write_buf()), and
 * nothing is free beyond the reserve since.  The reserve holds what the
 * cache took before the kernel heard; a write() the cache took after
 * could need more than the reserve has left, and the write back of what
 * does not fit fails, its data lost with write() long returned.  Writers
 * that went on after their ENOSPC (each file heard it once) did just that:
 * 4 processes writing 40 files at random on 64 MiB lost 3.7 to 16 MiB in
 * 6 runs of 8 (now 0 to 124 KiB: what O_DIRECT and speculative blocks
 * took under pages already dirty, fs/fuse/dirty.h).  Freed space makes
 * the reserve whole first, and the writes resume.
 */
static bool wb_full(struct kvfs_fuse *fs)
{
	if (!atomic_load(&fs->wbfull))
		return false;
	if (!kvfs_free_bytes(fs->mp))
		return true;
	atomic_store(&fs->wbfull, false);
	return false;
}

/*
 * Make the filesystem full for buffered write(): the attributes of every
 * file open for writing invalid, so that the kernel asks (kf_getattr())
 * before each file's next write(); files opened later are invalidated at
 * their open (kf_open()), new ones have attributes that expire at once
 * (attr_timeout()).  Attributes only (offset -1): no page lock, safe from
 * a write back's request.  Out of memory for the list, the files open now
 * hear it when their attributes expire.
 */
static void wb_full_enter(struct kvfs_fuse *fs)
{
	uint64_t *inos;
	size_t n;

	if (atomic_exchange(&fs->wbfull, true) ||
	    kvfs_fuse_nodes_writing(fs->nodes, &inos, &n))
		return;
	for (size_t i = 0; i < n; i++)
		fuse_lowlevel_notify_inval_inode(fs->se, ino_of(fs, inos[i]),
						 -1, 0);
	free(inos);
}

/*
 * How long the kernel may keep ino's attributes: not at all while a failed
 * write back waits for a write() to hear of it (kf_write_buf()), or while
 * the filesystem is full for buffered write() (wb_full()), so that the
 * next write() asks whatever answer came in between.
 */
static double attr_timeout(struct kvfs_fuse *fs, uint64_t ino)
{
	if (fs->writeback &&
	    (wb_full(fs) || kvfs_fuse_node_werr(fs->nodes, ino, false)))
		return 0;
	return fs->timeout;
}

static void entry_of(struct kvfs_fuse *fs, const struct kvfs_stat *ks,
		     struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino_of(fs, ks->ino);
	e->generation = ks->generation;
	stat_of(ks, &e->attr);
	e->attr_timeout = attr_timeout(fs, ks->ino);
	e->entry_timeout = fs->timeout;
}

/*
 * Answer a request that made the kernel learn an inode: one more kernel
 * reference, the entry only if it was taken.
 */
static void reply_entry(fuse_req_t req, const struct kvfs_stat *ks)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct fuse_entry_param e;
	int ret;

	ret = kvfs_fuse_node_get(fs->nodes, ks->ino, ks->generation);
	if (ret) {
		fuse_reply_err(req, ret == -ESTALE ? ENOENT : -ret);
		return;
	}
	entry_of(fs, ks, &e);
	/* the kernel dropped the request (interrupted): it took nothing */
	if (fuse_reply_entry(req, &e))
		kvfs_fuse_node_forget(fs->nodes, ks->ino, 1);
}

/*
 * cr with the caller's supplementary groups, for the rules that need them
 * (SGID's): libfuse reads them from /proc, which costs, so only then.  In
 * buf (MAX_GROUPS) when they fit, else in *heap, which the caller frees: a
 * caller in more groups is in all of them, as Linux's in_group_p() counts
 * (NGROUPS_MAX is 65536).  Memory short, the first MAX_GROUPS; none when
 * they cannot be read.
 */
static void cred_groups(fuse_req_t req, struct kvfs_cred *cr, gid_t *buf,
			gid_t **heap)
{
	int n = fuse_req_getgroups(req, MAX_GROUPS, buf);

	*heap = NULL;
	if (n > MAX_GROUPS) {
		gid_t *all = malloc((size_t)n * sizeof(*all));
		int m = all ? fuse_req_getgroups(req, n, all) : -ENOMEM;

		if (m > 0) {
			/* not those the caller joined between the two reads */
			n = m < n ? m : n;
			buf = *heap = all;
		} else {
			free(all);
			n = MAX_GROUPS;
		}
	}
	if (n > 0) {
		cr->groups = buf;
		cr->ngroups = (unsigned)n;
	}
}

/* The caller is root, or in group gid: SGID survives its mode changes. */
static bool caller_in_group(fuse_req_t req, uint32_t gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[MAX_GROUPS], *heap;
	struct kvfs_cred cr;
	bool in = false;

	if (!ctx->uid || ctx->gid == gid)
		return true;
	cred_of(req, &cr);
	cred_groups(req, &cr, groups, &heap);
	for (unsigned i = 0; i < cr.ngroups && !in; i++)
		in = cr.groups[i] == gid;
	free(heap);
	return in;
}

/*
 * A create keeps S_ISGID with S_IXGRP in a SGID directory only for a
 * member of its group (the core's mode_strip_sgid()), which may be one
 * through a supplementary group: those groups are read then only.
 */
static void create_cred(fuse_req_t req, uint32_t mode, struct kvfs_cred *cr,
			gid_t *buf, gid_t **heap)
{
	cred_of(req, cr);
	*heap = NULL;
	if (cr->uid && !S_ISDIR(mode) &&
	    (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		cred_groups(req, cr, buf, heap);
}

/* The ACLs a new inode takes from its directory (sizes 0: none). */
struct new_acl {
	char access[KVFS_ACL_MAX_SIZE];
	char dfl[KVFS_ACL_MAX_SIZE];
	size_t access_size;
	size_t dfl_size;
};

/*
 * Before a create in dir: the new inode's mode (*mode's permission bits
 * masked by dir's default ACL, or by the umask without one) and its ACLs.
 */
static int acl_inherit(fuse_req_t req, uint64_t dir, uint32_t *mode,
		       struct new_acl *na)
{
	struct kvfs_fuse *fs = fs_of(req);
	uint32_t perm = *mode & 0777;
	ssize_t n;

	na->access_size = 0;
	na->dfl_size = 0;
	if (!fs->acl)
		return 0;
	n = kvfs_getxattr(fs->mp, dir, KVFS_ACL_DEFAULT, na->dfl,
			  sizeof(na->dfl));
	if (n == -ENODATA) {
		*mode &= ~(uint32_t)fuse_req_ctx(req)->umask;
		return 0;
	}
	if (n < 0)
		return (int)n;
	if (kvfs_acl_check(na->dfl, (size_t)n))
		return -EIO;
	memcpy(na->access, na->dfl, (size_t)n);
	if (kvfs_acl_create_masq(na->access, (size_t)n, &perm))
		na->access_size = (size_t)n;
	/* only a directory passes the default ACL on */
	if (S_ISDIR(*mode))
		na->dfl_size = (size_t)n;
	*mode = (*mode & ~0777u) | perm;
	return 0;
}

/*
 * After the create of name in dir as ks: its ACLs, and ks again (their
 * ctime).  A failure removes the name again (an inode without the ACLs it
 * should have would grant more than asked).
 */
static int acl_set_new(struct kvfs_fuse *fs, const struct new_acl *na,
		       uint64_t dir, const char *name, struct kvfs_stat *ks)
{
	int ret = 0;

	if (!na->access_size && !na->dfl_size)
		return 0;
	if (na->access_size)
		ret = kvfs_setxattr(fs->mp, ks->ino, KVFS_ACL_ACCESS,
				    na->access, na->access_size, 0);
	if (!ret && na->dfl_size)
		ret = kvfs_setxattr(fs->mp, ks->ino, KVFS_ACL_DEFAULT, na->dfl,
				    na->dfl_size, 0);
	if (!ret)
		return kvfs_getattr(fs->mp, ks->ino, ks);
	if (S_ISDIR(ks->mode))
		kvfs_rmdir(fs->mp, dir, name);
	else
		kvfs_unlink(fs->mp, dir, name);
	return ret;
}

static void kf_init(void *userdata, struct fuse_conn_info *conn)
{
	struct kvfs_fuse *fs = userdata;
	unsigned want = FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS |
			FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
			FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_EXPORT_SUPPORT;

	if (fs->writeback)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	/* the umask is ours only if ACLs are: a default ACL overrides it */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	/*
	 * One daemon changes the image, so what the kernel cached stays true
	 * (no AUTO_INVAL_DATA); the kernel clears SUID/SGID (no
	 * HANDLE_KILLPRIV: see the top of this file) and truncates at
	 * O_TRUNC with a setattr (no ATOMIC_O_TRUNC: open has nothing to do).
	 * No SPLICE_READ: requests pass fs/fuse/kio.c's read hook (and a
	 * write's data is copied once either way: kf_write_buf()).
	 * No ASYNC_DIO: the kernel then sends an O_DIRECT write's requests
	 * one at a time and stops at a short one, whose count write()
	 * returns; sent at once, a short write (a full filesystem) turns into
	 * EIO, and a failed request into the error of the whole write, with
	 * the bytes the others wrote past the size the kernel keeps.
	 */
	conn->want &= ~(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_HANDLE_KILLPRIV |
			FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE |
			FUSE_CAP_ASYNC_DIO | FUSE_CAP_SPLICE_READ);
	conn->want |= want & conn->capable;
	conn->max_write = KVFS_FUSE_MAX_IO;
	conn->max_readahead = KVFS_FUSE_MAX_IO;
	conn->max_background = KVFS_FUSE_MAX_BACKGROUND;
	conn->congestion_threshold = KVFS_FUSE_CONGESTION_THRESHOLD;
	conn->time_gran = 1;
	fs->acl = conn->want & FUSE_CAP_POSIX_ACL;
	if (fs->live)
		fs->live(fs);
}

static void kf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct kvfs_stat ks;
	int ret;

	/*
	 * "." comes only from a file handle the kernel no longer has cached
	 * (export support): parent is any number then, checked as such; the
	 * kernel compares the generation.
	 */
	if (!strcmp(name, "."))
		ret = kvfs_getattr_handle(fs->mp, ino_of(fs, parent), &ks);
	else
		ret = kvfs_lookup(fs->mp, ino_of(fs, parent), name, &ks);
	if (ret == -ENOENT) {
		/* a negative entry: the kernel caches the miss too */
		struct fuse_entry_param e = { .entry_timeout = fs->timeout };

		fuse_reply_entry(req, &e);
		return;
	}
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	reply_entry(req, &ks);
}

static void kf_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct kvfs_fuse *fs = fs_of(req);

	kvfs_fuse_node_forget(fs->nodes, ino_of(fs, ino), nlookup);
	fuse_reply_none(req);
}

static void kf_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct kvfs_fuse *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		kvfs_fuse_node_forget(fs->nodes, ino_of(fs, forgets[i].ino),
				      forgets[i].nlookup);
	fuse_reply_none(req);
}

static void reply_attr(fuse_req_t req, int ret, const struct kvfs_stat *ks)
{
	struct stat st;

	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	stat_of(ks, &st);
	fuse_reply_attr(req, &st, attr_timeout(fs_of(req), ks->ino));
}

/*
 * A file handle says only whether the file is open for writing (the
 * kernel passes it back with the requests made through that file).
 */
#define FH_READER 0
#define FH_WRITER 1

static uint64_t fh_of(int flags)
{
	return (flags & O_ACCMODE) == O_RDONLY ? FH_READER : FH_WRITER;
}

static void kf_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct kvfs_stat ks;
	int err;

	/*
	 * With the handle of a file open for writing: the kernel's own
	 * question before a write() (or an lseek from the end, a read past
	 * its size), the only one that can tell a writer its data found no
	 * room (kf_write_buf()), or that there is none (wb_full(): every
	 * time until space is back).  Asked through a read-only handle (cat,
	 * tail -f: a read past the size), it is the writers' news, not the
	 * reader's.
	 */
	if (fi && fi->fh == FH_WRITER && fs->writeback) {
		err = kvfs_fuse_node_werr(fs->nodes, ino_of(fs, ino), true);
		if (!err && wb_full(fs))
			err = -ENOSPC;
		if (err) {
			fuse_reply_err(req, -err);
			return;
		}
	}
	reply_attr(req, kvfs_getattr(fs->mp, ino_of(fs, ino), &ks), &ks);
}

/* After a chmod: the access ACL, if any, takes the new mode's bits. */
static int acl_chmod(struct kvfs_fuse *fs, const struct kvfs_stat *ks)
{
	char acl[KVFS_ACL_MAX_SIZE];
	ssize_t n;

	if (S_ISLNK(ks->mode))
		return 0;
	n = kvfs_getxattr(fs->mp, ks->ino, KVFS_ACL_ACCESS, acl, sizeof(acl));
	if (n == -ENODATA)
		return 0;
	if (n < 0)
		return (int)n;
	if (kvfs_acl_check(acl, (size_t)n))
		return -EIO;
	kvfs_acl_chmod(acl, (size_t)n, ks->mode);
	return kvfs_setxattr(fs->mp, ks->ino, KVFS_ACL_ACCESS, acl, (size_t)n,
			     0);
}

/*
 * The times the kernel writes back as it drops an unlinked file (after
 * every unlink under the writeback cache, and synchronously: the unlink
 * waits for it): a regular file's mtime and ctime are then the kernel's
 * own as long as it holds the inode, and one without a name is never
 * looked up again once it let go, so nothing can read ours: the attributes
 * are answered without a transaction.  That write back always carries
 * mtime (fuse_flush_times()); ctime alone is a chown(f, -1, -1), whose
 * stripped kill kf_setattr() must judge (EPERM for a non-owner).  True if
 * req was answered.
 */
static bool setattr_unlinked_times(fuse_req_t req, uint64_t ino,
				   const struct stat *attr, int to_set)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct kvfs_stat ks;
	struct stat st;

	if (!fs->writeback || !(to_set & FUSE_SET_ATTR_MTIME) ||
	    to_set & ~(FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME) ||
	    kvfs_getattr(fs->mp, ino, &ks) || !S_ISREG(ks.mode) || ks.nlink)
		return false;
	stat_of(&ks, &st);
	if (to_set & FUSE_SET_ATTR_MTIME)
		st.st_mtim = attr->st_mtim;
	if (to_set & FUSE_SET_ATTR_CTIME)
		st.st_ctim = attr->st_ctim;
	fuse_reply_attr(req, &st, attr_timeout(fs, ino));
	return true;
}

/*
 * HANDLE_KILLPRIV_V2 (fs/fuse/kio.h): the kernel no longer sends the mode
 * change of file_remove_privs() or of a chown; it flags a write or
 * truncate by a caller without CAP_FSETID and every chown instead, and
 * where it would have sent nothing but the kill (a fallocate, a
 * copy_file_range, a chown(f, -1, -1): notify_change() with the kill bits
 * alone) it sends a setattr with nothing (or only ctime) to set.  The
 * daemon kills as Linux's should_remove_suid() would (SUID; SGID when
 * group-executable or the caller is outside the file's group: fs/kvfs.h
 * KVFS_SET_KILL_SUIDGID), for a flagged request security.capability too.
 */
static int kill_caps(struct kvfs_fuse *fs, uint64_t ino)
{
	int ret;

	if (kvfs_fuse_node_caps(fs->nodes, ino) == KVFS_CAPS_NONE)
		return 0;
	ret = kvfs_removexattr(fs->mp, ino, CAPS_XATTR);
	if (ret && ret != -ENODATA)
		return ret;
	kvfs_fuse_node_set_caps(fs->nodes, ino, KVFS_CAPS_NONE, false);
	return 0;
}

/*
 * The caller's credentials, with its groups if SGID's rule needs them
 * (cred_groups(): *heap for the caller to free).
 */
static void kill_cred(fuse_req_t req, const struct kvfs_stat *ks,
		      struct kvfs_cred *cr, gid_t *groups, gid_t **heap)
{
	cred_of(req, cr);
	*heap = NULL;
	if (!cr->uid || !(ks->mode & S_ISGID) || ks->mode & S_IXGRP ||
	    cr->gid == ks->gid)
		return;
	cred_groups(req, cr, groups, heap);
}

/*
 * The kill before a flagged write; the kernel learns the new mode from
 * its attributes, dropped here.
 */
static int kill_privs(fuse_req_t req, struct kvfs_fuse *fs, fuse_ino_t id)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_KILL_SUIDGID };
	uint64_t ino = ino_of(fs, id);
	gid_t groups[MAX_GROUPS], *heap;
	struct kvfs_stat ks;
	struct kvfs_cred cr;
	int ret;

	ret = kill_caps(fs, ino);
	if (!ret)
		ret = kvfs_getattr(fs->mp, ino, &ks);
	if (ret || !S_ISREG(ks.mode) || !(ks.mode & (S_ISUID | S_ISGID)))
		return ret;
	kill_cred(req, &ks, &cr, groups, &heap);
	if (fs->writeback)
		sa.valid |= KVFS_SET_KEEP_CMTIME;
	ret = kvfs_setattr(fs->mp, ino, &sa, &cr, NULL);
	free(heap);
	if (!ret)
		fuse_lowlevel_notify_inval_inode(fs->se, id, -1, 0);
	return ret;
}

/*
 * V2's bare kill (a setattr with nothing or only ctime to set, see
 * kill_caps()) is a chown(f, -1, -1) or the kill of a write, a fallocate
 * or a copy_file_range, and the kernel checked nothing for it.  On a local
 * filesystem a chown's kill is a mode change, which only the owner or
 * CAP_FOWNER may make (notify_change() adds the mode, setattr_prepare()
 * refuses it: EPERM), while a writer's kill is forced.  A caller that is
 * neither the owner nor root, whose kill would change the mode, is
 * refused (EPERM, or anyone could strip SUID off root's programs) when it
 * is a chowner: always for a file that is not regular; for a regular file
 * under the writeback cache when ctime comes with it (the kernel keeps
 * that ctime and sends it with a chown, not with a writer's kill);
 * without the cache, which sends both bare, when nobody has the file open
 * for writing (a writer's descriptor may be another user's): a chown
 * while someone writes the file still kills.
 */
static bool bare_kill_denied(fuse_req_t req, struct kvfs_fuse *fs,
			     const struct kvfs_stat *ks, int to_set)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	bool in_group, sgid_goes;

	if (!ctx->uid || ctx->uid == ks->uid || S_ISDIR(ks->mode) ||
	    !(ks->mode & (S_ISUID | S_ISGID)))
		return false;
	in_group = caller_in_group(req, ks->gid);
	sgid_goes = ks->mode & S_ISGID && (ks->mode & S_IXGRP || !in_group);
	if (!(ks->mode & S_ISUID) && !sgid_goes)
		return false;
	if (!S_ISREG(ks->mode))
		return true;
	if (fs->writeback)
		return to_set == FUSE_SET_ATTR_CTIME;
	return !kvfs_fuse_node_writers(fs->nodes, ks->ino, 0);
}

static void kf_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	static const struct {
		int fuse;
		unsigned kvfs;
	} bits[] = {
		{ FUSE_SET_ATTR_MODE, KVFS_SET_MODE },
		{ FUSE_SET_ATTR_UID, KVFS_SET_UID },
		{ FUSE_SET_ATTR_GID, KVFS_SET_GID },
		{ FUSE_SET_ATTR_SIZE, KVFS_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, KVFS_SET_ATIME },
		{ FUSE_SET_ATTR_MTIME, KVFS_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW,
		  KVFS_SET_ATIME | KVFS_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW,
		  KVFS_SET_MTIME | KVFS_SET_MTIME_NOW },
		{ FUSE_SET_ATTR_CTIME, KVFS_SET_CTIME },
	};
	struct kvfs_fuse *fs = fs_of(req);
	struct kvfs_setattr sa = { 0 };
	gid_t groups[MAX_GROUPS], *heap = NULL;
	bool have_ks = false; /* ks holds the inode's stat, taken once */
	struct kvfs_stat ks;
	struct kvfs_cred cr;
	int ret;

	if (to_set &&
	    setattr_unlinked_times(req, ino_of(fs, ino), attr, to_set))
		return;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (to_set & bits[i].fuse)
			sa.valid |= bits[i].kvfs;
	/*
	 * Nothing to set (chown(f, -1, -1) where the kernel does not keep
	 * ctime, so does not send it): ctime still moves, as notify_change()
	 * moves it on a local filesystem.  Not so a regular file's under the
	 * writeback cache: nothing to set is then V2's stripped kill (see
	 * kill_caps()), and the kernel stamps ctime after it, perhaps
	 * already sent: a stamp here (coarse) could take it back in time.
	 */
	if (!sa.valid && fs->writeback && kvfs_fuse_kio_killpriv_v2())
		have_ks = !kvfs_getattr(fs->mp, ino_of(fs, ino), &ks);
	if (!sa.valid && !(have_ks && S_ISREG(ks.mode))) {
		sa.valid = KVFS_SET_CTIME;
		/* the core's clock (fs/inode/inode.h: kvfs_inode_now()) */
		clock_gettime(CLOCK_REALTIME_COARSE, &attr->st_ctim);
	}
	/*
	 * Under the writeback cache the kernel keeps a regular file's mtime
	 * and ctime and sends them when they move: a stamp of ours (the SUID
	 * kill before a write, a truncate to the same size) would show only
	 * once the kernel forgot the inode, as times that moved by themselves
	 */
	if (fs->writeback)
		sa.valid |= KVFS_SET_KEEP_CMTIME;
	/*
	 * mtime and ctime alone with a file handle: the kernel writing back
	 * the stamps of writes its cache took (fuse_write_inode()); a
	 * utimensat() never names a handle.  Refused, they would come back
	 * as EIO from the file's next fallocate or copy_file_range.
	 */
	if (fs->writeback && fi && (to_set & FUSE_SET_ATTR_MTIME) &&
	    !(to_set & ~(FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME)))
		sa.valid |= KVFS_SET_WRITTEN_CMTIME;
	/*
	 * A flagged truncate or chown, or (V2) one with nothing but ctime to
	 * set: a kill the kernel judged due and stripped (see kill_caps());
	 * utimensat() with two UTIME_OMITs sends nothing.
	 */
	if (kvfs_fuse_kio_kill_suidgid() ||
	    (kvfs_fuse_kio_killpriv_v2() && !(to_set & ~FUSE_SET_ATTR_CTIME))) {
		ret = kvfs_fuse_kio_kill_suidgid() ? kill_caps(fs, ino_of(fs, ino))
						   : 0;
		if (ret) {
			fuse_reply_err(req, -ret);
			return;
		}
		sa.valid |= KVFS_SET_KILL_SUIDGID;
	}
	if ((sa.valid & KVFS_SET_KILL_SUIDGID) &&
	    !(to_set & ~FUSE_SET_ATTR_CTIME) &&
	    (have_ks || !kvfs_getattr(fs->mp, ino_of(fs, ino), &ks))) {
		have_ks = true;
		if (bare_kill_denied(req, fs, &ks, to_set)) {
			fuse_reply_err(req, EPERM);
			return;
		}
	}
	sa.mode = attr->st_mode & 07777;
	sa.uid = attr->st_uid;
	sa.gid = attr->st_gid;
	sa.size = attr->st_size;
	sa.atime = attr->st_atim;
	sa.mtime = attr->st_mtim;
	sa.ctime = attr->st_ctim;
	cred_of(req, &cr);
	/*
	 * The SGID rule of chmod needs the caller's groups, which libfuse
	 * reads from /proc (an open, a read and a parse: ~20 times the
	 * rest of a chmod): only when the rule can apply.
	 */
	if ((sa.valid & KVFS_SET_KILL_SUIDGID) && cr.uid &&
	    (have_ks || !kvfs_getattr(fs->mp, ino_of(fs, ino), &ks)))
		kill_cred(req, &ks, &cr, groups, &heap);
	if ((sa.valid & KVFS_SET_MODE) && (sa.mode & S_ISGID) && cr.uid &&
	    !cr.groups)
		cred_groups(req, &cr, groups, &heap);
	ret = kvfs_setattr(fs->mp, ino_of(fs, ino), &sa, &cr, &ks);
	free(heap);
	/* a new size starts the data over: no failed write back is news */
	if (!ret && (sa.valid & KVFS_SET_SIZE))
		kvfs_fuse_node_werr(fs->nodes, ino_of(fs, ino), true);
	if (!ret && (sa.valid & KVFS_SET_MODE) && fs->acl)
		ret = acl_chmod(fs, &ks);
	reply_attr(req, ret, &ks);
}

static void kf_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct kvfs_fuse *fs = fs_of(req);
	char buf[KVFS_SYMLINK_MAX + 1];
	int ret;

	ret = kvfs_readlink(fs->mp, ino_of(fs, ino), buf, sizeof(buf));
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	fuse_reply_readlink(req, buf);
	/*
	 * The read may have moved the link's atime (kvfs_readlink()), which
	 * the kernel would go on showing as it cached it (for a day): its
	 * attributes are invalidated, after the answer
	 */
	fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

static void kf_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct kvfs_fuse *fs = fs_of(req);
	uint64_t dir = ino_of(fs, parent);
	uint32_t m = mode;
	gid_t groups[MAX_GROUPS], *heap;
	struct new_acl na;
	struct kvfs_stat ks;
	struct kvfs_cred cr;
	bool created;
	int ret;

	create_cred(req, m, &cr, groups, &heap);
	ret = acl_inherit(req, dir, &m, &na);
	if (!ret)
		ret = kvfs_create(fs->mp, dir, name, m,
				  (uint64_t)major(rdev) << 32 | minor(rdev),
				  KVFS_CREATE_EXCL, &cr, &ks, &created);
	free(heap);
	if (!ret)
		ret = acl_set_new(fs, &na, dir, name, &ks);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		reply_entry(req, &ks);
}

static void kf_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct kvfs_fuse *fs = fs_of(req);
	uint64_t dir = ino_of(fs, parent);
	uint32_t m = S_IFDIR | (mode & 07777);
	struct new_acl na;
	struct kvfs_stat ks;
	struct kvfs_cred cr;
	int ret;

	cred_of(req, &cr);
	ret = acl_inherit(req, dir, &m, &na);
	if (!ret)
		ret = kvfs_mkdir(fs->mp, dir, name, m, &cr, &ks);
	if (!ret)
		ret = acl_set_new(fs, &na, dir, name, &ks);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		reply_entry(req, &ks);
}

static void kf_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct kvfs_stat ks;
	struct kvfs_cred cr;
	int ret;

	cred_of(req, &cr);
	ret = kvfs_symlink(fs->mp, ino_of(fs, parent), name, link, &cr, &ks);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		reply_entry(req, &ks);
}

static void kf_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct kvfs_fuse *fs = fs_of(req);

	fuse_reply_err(req, -kvfs_unlink(fs->mp, ino_of(fs, parent), name));
}

static void kf_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct kvfs_fuse *fs = fs_of(req);

	fuse_reply_err(req, -kvfs_rmdir(fs->mp, ino_of(fs, parent), name));
}

static void kf_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct kvfs_cred cr;

	cred_of(req, &cr);
	fuse_reply_err(req, -kvfs_rename(fs->mp, ino_of(fs, parent), name,
					 ino_of(fs, newparent), newname, flags,
					 &cr));
}

static void kf_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct kvfs_stat ks;
	int ret;

	ret = kvfs_link(fs->mp, ino_of(fs, ino), ino_of(fs, newparent), newname,
			&ks);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		reply_entry(req, &ks);
}

/*
 * An open for writing or truncating, by the inode's flags (Linux's
 * may_open(), which the kernel cannot apply to flags it does not know):
 * an immutable file never, an append-only one only with O_APPEND and
 * without O_TRUNC.
 */
static int open_flags_ok(struct kvfs_fuse *fs, uint64_t ino, int flags)
{
	uint32_t fl;
	int ret;

	if ((flags & O_ACCMODE) == O_RDONLY && !(flags & O_TRUNC))
		return 0;
	ret = kvfs_getflags(fs->mp, ino, &fl);
	if (ret)
		return ret;
	if (fl & KVFS_FL_IMMUTABLE ||
	    (fl & KVFS_FL_APPEND && (!(flags & O_APPEND) || flags & O_TRUNC)))
		return -EPERM;
	return 0;
}

/*
 * A handle that may write opened (delta 1) or released (-1): counted for
 * kf_getattr(), and under the writeback cache for what the cache may hold
 * dirty (fs/fuse/dirty.h).
 */
static void writer(struct kvfs_fuse *fs, uint64_t ino, int delta)
{
	kvfs_fuse_node_writers(fs->nodes, ino, delta);
	if (fs->writeback)
		kvfs_fuse_dirty_writers(&fs->dirty, fs->mp, delta);
}

/* Only this daemon changes the file: what the kernel cached stays true. */
static void kf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct kvfs_fuse *fs = fs_of(req);
	int ret = open_flags_ok(fs, ino_of(fs, ino), fi->flags);

	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->keep_cache = 1;
	fi->fh = fh_of(fi->flags);
	if (fi->fh == FH_WRITER)
		writer(fs, ino_of(fs, ino), 1);
	/*
	 * Counted as a writer before the look: wb_full_enter() finds it, or
	 * this finds the filesystem full (its cached attributes could let
	 * write() go on without asking).
	 */
	if (fi->fh == FH_WRITER && fs->writeback && wb_full(fs))
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	/* the kernel dropped the request (interrupted): no release follows */
	if (fuse_reply_open(req, fi) && fi->fh == FH_WRITER)
		writer(fs, ino_of(fs, ino), -1);
}

static void kf_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct kvfs_fuse *fs = fs_of(req);
	uint64_t dir = ino_of(fs, parent);
	struct fuse_entry_param e;
	uint32_t m = mode;
	gid_t groups[MAX_GROUPS], *heap;
	struct new_acl na;
	struct kvfs_stat ks;
	struct kvfs_cred cr;
	bool created;
	int ret;

	create_cred(req, m, &cr, groups, &heap);
	ret = acl_inherit(req, dir, &m, &na);
	if (!ret)
		ret = kvfs_create(fs->mp, dir, name, m, 0,
				  fi->flags & O_EXCL ? KVFS_CREATE_EXCL : 0,
				  &cr, &ks, &created);
	free(heap);
	if (!ret && created)
		ret = acl_set_new(fs, &na, dir, name, &ks);
	/* a file made meanwhile by another: opened as kf_open() opens it */
	else if (!ret)
		ret = open_flags_ok(fs, ks.ino, fi->flags);
	if (!ret)
		ret = kvfs_fuse_node_get(fs->nodes, ks.ino, ks.generation);
	if (ret) {
		fuse_reply_err(req, ret == -ESTALE ? ENOENT : -ret);
		return;
	}
	entry_of(fs, &ks, &e);
	fi->keep_cache = 1;
	fi->fh = fh_of(fi->flags);
	if (fi->fh == FH_WRITER)
		writer(fs, ks.ino, 1);
	if (fuse_reply_create(req, &e, fi)) {
		if (fi->fh == FH_WRITER)
			writer(fs, ks.ino, -1);
		kvfs_fuse_node_forget(fs->nodes, ks.ino, 1);
	}
}

/* A per-thread buffer for reads: the largest read is KVFS_FUSE_MAX_IO. */
static __thread char *read_buf;
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;

static void read_buf_key_make(void)
{
	pthread_key_create(&read_buf_key, free);
}

static char *thread_read_buf(void)
{
	if (!read_buf) {
		pthread_once(&read_buf_once, read_buf_key_make);
		read_buf = malloc(KVFS_FUSE_MAX_IO);
		if (read_buf)
			pthread_setspecific(read_buf_key, read_buf);
	}
	return read_buf;
}

static void kf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct kvfs_fuse *fs = fs_of(req);
	char *buf = thread_read_buf();
	unsigned flags = 0;
	ssize_t n;

	/*
	 * fi->flags: the reading descriptor's.  O_NOATIME asks for no atime;
	 * a write-only one cannot read(), so its reads are the kernel's own,
	 * filling a page that a write covers in part (writeback cache): as
	 * on ext4, a write moves no atime.
	 */
	if (fi->flags & O_NOATIME || (fi->flags & O_ACCMODE) == O_WRONLY)
		flags = KVFS_READ_NOATIME;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (size > KVFS_FUSE_MAX_IO)
		size = KVFS_FUSE_MAX_IO;
	n = kvfs_read_flags(fs->mp, ino_of(fs, ino), buf, size, off, flags);
	if (n < 0)
		fuse_reply_err(req, -n);
	else
		fuse_reply_buf(req, buf, n);
}

static void kf_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *bufv, off_t off,
			 struct fuse_file_info *fi)
{
	struct kvfs_fuse *fs = fs_of(req);
	size_t len = fuse_buf_size(bufv);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(len);
	bool reserve = false;
	unsigned flags;
	const void *data;
	void *copy = NULL;
	ssize_t n;

	if (kvj_errtag(KVJ_ERRTAG_FUSE_WRITE_DELAY))
		usleep((useconds_t)kvj_errtag_value(
			KVJ_ERRTAG_FUSE_WRITE_DELAY));
	/* without splice the request's data is one buffer in memory */
	if (bufv->count == 1 && !(bufv->buf[0].flags & FUSE_BUF_IS_FD)) {
		data = kvfs_fuse_kio_write_data(
			(char *)bufv->buf[0].mem + bufv->off, len);
		if (!data) {
			fuse_reply_err(req, EIO);
			return;
		}
	} else {
		copy = malloc(len);
		if (!copy) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		mem.buf[0].mem = copy;
		n = fuse_buf_copy(&mem, bufv, 0);
		if (n < 0) {
			free(copy);
			fuse_reply_err(req, -n);
			return;
		}
		len = n;
		data = copy;
	}
	/* under the writeback cache the kernel keeps mtime and ctime */
	flags = fs->writeback ? KVFS_WRITE_NOCMTIME : 0;
	n = kvfs_fuse_kio_kill_suidgid() ? kill_privs(req, fs, ino) : 0;
	if (!n && fi->writepage)
		n = kvfs_write_cached(fs->mp, ino_of(fs, ino), data, len, off,
				      flags, &reserve);
	else if (!n)
		n = kvfs_write(fs->mp, ino_of(fs, ino), data, len, off, flags);
	free(copy);
	/*
	 * The kernel reads the error of a write back, never its count: one
	 * stored in part (the filesystem filled up in its middle) is an
	 * error, or the bytes past the count are lost with fsync and close
	 * saying all is well.
	 */
	if (fi->writepage && n >= 0 && (size_t)n < len)
		n = -ENOSPC;
	/*
	 * A write back from the page cache: the write() it came from
	 * returned long ago, and the kernel keeps the error for fsync and
	 * close only, so that on a full filesystem write() would go on
	 * filling the cache without end (dd, or a loop until ENOSPC, never
	 * stopped).  Its attributes invalid, the kernel asks for them with
	 * the file's handle before the next write(), which fails with the
	 * answer: ENOSPC once, as a local filesystem's write() would.
	 */
	if (n < 0 && fi->writepage) {
		kvfs_fuse_node_set_werr(fs->nodes, ino_of(fs, ino), (int)n);
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	}
	/*
	 * Stored, but in the blocks kept for write backs (or not stored for
	 * want of room): the filesystem is full for every buffered write(),
	 * each refused before the cache takes more than the reserve holds
	 * (fs/fuse/dirty.h), until space is free again.
	 */
	if (fi->writepage && ((n >= 0 && reserve) || n == -ENOSPC))
		wb_full_enter(fs);
	/* its pages are clean now, whatever came of them */
	if (fi->writepage)
		kvfs_fuse_dirty_written(&fs->dirty, fs->mp, len);
	kvfs_fuse_dirty_update(&fs->dirty, fs->mp);
	if (n < 0)
		fuse_reply_err(req, -n);
	else
		fuse_reply_write(req, n);
}

/* The last close of an open file: its speculative blocks are trimmed. */
static void kf_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct kvfs_fuse *fs = fs_of(req);

	if (fi->fh == FH_WRITER)
		writer(fs, ino_of(fs, ino), -1);
	/* the kernel ignores release's answer: a failure only keeps blocks */
	kvfs_release(fs->mp, ino_of(fs, ino));
	fuse_reply_err(req, 0);
}

static void kf_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct kvfs_fuse *fs = fs_of(req);

	int ret;

	(void)fi;
	ret = kvfs_fsync(fs->mp, ino_of(fs, ino), datasync);
	/*
	 * The kernel wrote its dirty pages back first, and the blocks they
	 * took are known now: it keeps st_blocks from before the writes
	 * until its attributes expire (a day) unless told.  Attributes only
	 * (offset -1): no page lock, safe while it waits for this reply.
	 */
	if (!ret && fs->writeback) {
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
		/*
		 * The kernel sends FSYNC only once it found no write-back
		 * error this file had not heard of: one still kept for a
		 * write() (kf_write_buf()) is old news by now.
		 */
		kvfs_fuse_node_werr(fs->nodes, ino_of(fs, ino), true);
	}
	fuse_reply_err(req, -ret);
}

/*
 * No directory handles: the first OPENDIR is answered ENOSYS, and the
 * kernel then opens every directory without asking (no OPENDIR, no
 * RELEASEDIR: two round trips less per opendir(3)) with the flags it
 * takes in that case, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR: what this daemon
 * answered before (listings stay cached until the kernel changes them,
 * as only this daemon changes the image), and a handle of 0, which
 * readdir and fsyncdir do not use.  Answered here: libfuse answers a
 * missing .opendir with a handle, and the kernel would go on asking.
 */
static void kf_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

/*
 * readdir collects the entries that fit first and answers after the
 * core's walk returned: readdirplus reads each entry's attributes, which
 * must not happen under the directory walk's locks.
 */
struct dent {
	uint64_t ino;
	uint64_t next;
	unsigned dtype;
	unsigned name; /* offset in names */
	bool took; /* readdirplus: a kernel reference was taken */
};

struct dents {
	fuse_req_t req;
	bool plus;
	size_t size; /* the kernel's buffer */
	size_t used; /* bytes of replies the collected entries take */
	struct dent *d;
	unsigned n;
	unsigned max;
	char *names;
	size_t names_used;
};

static int collect(void *priv, const char *name, size_t namelen, uint64_t ino,
		   unsigned dtype, uint64_t next)
{
	struct dents *ds = priv;
	char *nm = ds->names + ds->names_used;
	size_t need;

	if (ds->n == ds->max || namelen > KVFS_NAME_MAX)
		return 1;
	memcpy(nm, name, namelen);
	nm[namelen] = '\0';
	need = ds->plus ?
		       fuse_add_direntry_plus(ds->req, NULL, 0, nm, NULL, 0) :
		       fuse_add_direntry(ds->req, NULL, 0, nm, NULL, 0);
	if (ds->used + need > ds->size)
		return 1;
	ds->used += need;
	ds->d[ds->n++] = (struct dent){
		.ino = ino, .next = next, .dtype = dtype, .name = ds->names_used
	};
	ds->names_used += namelen + 1;
	return 0;
}

static bool is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* One readdirplus entry; *took: a kernel reference was taken for it. */
static size_t add_plus(struct kvfs_fuse *fs, const struct dents *ds,
		       const struct dent *d, char *buf, size_t size, bool *took)
{
	const char *name = ds->names + d->name;
	struct fuse_entry_param e;
	struct kvfs_stat ks;

	*took = false;
	memset(&e, 0, sizeof(e));
	e.attr.st_ino = d->ino;
	e.attr.st_mode = DTTOIF(d->dtype);
	/* node id 0: a name only (the kernel makes no dentry of it) */
	if (!is_dot(name) && !kvfs_getattr(fs->mp, d->ino, &ks) &&
	    !kvfs_fuse_node_get(fs->nodes, ks.ino, ks.generation)) {
		entry_of(fs, &ks, &e);
		*took = true;
	}
	return fuse_add_direntry_plus(ds->req, buf, size, name, &e, d->next);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       bool plus)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct dents ds = { .req = req, .plus = plus, .size = size };
	size_t pos = 0;
	char *buf;
	int ret;

	/* the smallest entry is 24 bytes, its name at least one byte */
	ds.max = size / 24 + 1;
	ds.d = malloc(ds.max * sizeof(*ds.d));
	ds.names = malloc(size + KVFS_NAME_MAX + 1);
	buf = malloc(size);
	if (!ds.d || !ds.names || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	ret = kvfs_readdir(fs->mp, ino_of(fs, ino), off, collect, &ds);
	if (ret)
		goto out;
	for (unsigned i = 0; i < ds.n; i++) {
		const struct dent *d = &ds.d[i];
		struct stat st = { .st_ino = d->ino,
				   .st_mode = DTTOIF(d->dtype) };

		if (plus)
			pos += add_plus(fs, &ds, d, buf + pos, size - pos,
					&ds.d[i].took);
		else
			pos += fuse_add_direntry(req, buf + pos, size - pos,
						 ds.names + d->name, &st,
						 d->next);
	}
	/* the kernel dropped the request: it took none of the references */
	if (fuse_reply_buf(req, buf, pos) && plus) {
		for (unsigned i = 0; i < ds.n; i++)
			if (ds.d[i].took)
				kvfs_fuse_node_forget(fs->nodes, ds.d[i].ino,
						      1);
	}
out:
	if (ret)
		fuse_reply_err(req, -ret);
	free(buf);
	free(ds.names);
	free(ds.d);
}

static void kf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void kf_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

static void kf_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	kf_fsync(req, ino, datasync, fi);
}

static void kf_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct kvfs_statfs ks;
	struct statvfs st;
	int ret;

	(void)ino;
	ret = kvfs_statfs(fs->mp, &ks);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	memset(&st, 0, sizeof(st));
	st.f_bsize = ks.bsize;
	st.f_frsize = ks.bsize;
	st.f_blocks = ks.blocks;
	st.f_bfree = ks.bfree;
	st.f_bavail = ks.bavail;
	st.f_files = ks.files;
	st.f_ffree = ks.ffree;
	st.f_favail = ks.ffree;
	st.f_fsid = ks.fsid;
	st.f_namemax = ks.namemax;
	fuse_reply_statfs(req, &st);
}

/*
 * A POSIX ACL set through the kernel (which checked the caller owns the
 * file).  Without FUSE_CAP_POSIX_ACL the kernel would hand ACLs over as
 * plain xattrs and leave the mode alone: stored, they would never apply
 * (cp -a, which sets the permissions as an ACL, left every file 0600), so
 * they are refused as on a filesystem without ACLs.  With it, an access
 * ACL sets the mode, and is stored only if the mode cannot say it all.
 */
static int acl_set(fuse_req_t req, uint64_t ino, const char *name,
		   const char *value, size_t size)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct kvfs_setattr sa = { .valid = KVFS_SET_MODE };
	struct kvfs_stat ks;
	uint32_t perm;
	int ret;

	if (!fs->acl)
		return -EOPNOTSUPP;
	ret = kvfs_acl_check(value, size);
	if (ret)
		return ret;
	if (!strcmp(name, KVFS_ACL_DEFAULT))
		return kvfs_setxattr(fs->mp, ino, name, value, size, 0);
	if (strcmp(name, KVFS_ACL_ACCESS))
		return -EOPNOTSUPP;
	ret = kvfs_getattr(fs->mp, ino, &ks);
	if (ret)
		return ret;
	if (kvfs_acl_equiv_mode(value, size, &perm)) {
		ret = kvfs_setxattr(fs->mp, ino, name, value, size, 0);
	} else {
		ret = kvfs_removexattr(fs->mp, ino, name);
		if (ret == -ENODATA)
			ret = 0;
	}
	if (ret)
		return ret;
	sa.mode = (ks.mode & 07000) | perm;
	/* posix_acl_update_mode(): SGID goes unless in the group or root */
	if (!caller_in_group(req, ks.gid))
		sa.mode &= ~(uint32_t)S_ISGID;
	return kvfs_setattr(fs->mp, ino, &sa, NULL, NULL);
}

static void kf_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct kvfs_fuse *fs = fs_of(req);
	uint64_t i = ino_of(fs, ino);
	int ret;

	if (!strncmp(name, ACL_XATTR_PREFIX, strlen(ACL_XATTR_PREFIX))) {
		fuse_reply_err(req, -acl_set(req, i, name, value, size));
		return;
	}
	ret = kvfs_setxattr(fs->mp, i, name, value, size, flags);
	if (!ret && !strcmp(name, CAPS_XATTR))
		kvfs_fuse_node_set_caps(fs->nodes, i, KVFS_CAPS_SET, false);
	fuse_reply_err(req, -ret);
}

/* The reply of a getxattr or listxattr: the size, or the bytes. */
static void reply_xattr(fuse_req_t req, ssize_t n, const char *buf, size_t size)
{
	if (n < 0)
		fuse_reply_err(req, -n);
	else if (!size)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
}

/* kvfs-stat's question (fs/fuse/stats.h), on any inode */
static void reply_stats(fuse_req_t req, size_t size)
{
	char *buf = malloc(KVFS_FUSE_STATS_MAX);
	int n;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = kvfs_fuse_stats_format(fs_of(req)->mp, buf, KVFS_FUSE_STATS_MAX);
	if (n >= 0 && size && (size_t)n > size)
		n = -ERANGE;
	reply_xattr(req, n, buf, size);
	free(buf);
}

static void kf_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct kvfs_fuse *fs = fs_of(req);
	uint64_t i = ino_of(fs, ino);
	bool caps = !strcmp(name, CAPS_XATTR);
	char *buf = NULL;
	ssize_t n;

	if (!strcmp(name, KVFS_FUSE_STATS_XATTR)) {
		reply_stats(req, size);
		return;
	}

	/* the kernel asks before every write: answer a known "none" here */
	if (caps && kvfs_fuse_node_caps(fs->nodes, i) == KVFS_CAPS_NONE) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = kvfs_getxattr(fs->mp, i, name, buf, size);
	if (caps && (n >= 0 || n == -ERANGE || n == -ENODATA))
		kvfs_fuse_node_set_caps(
			fs->nodes, i,
			n == -ENODATA ? KVFS_CAPS_NONE : KVFS_CAPS_SET, true);
	reply_xattr(req, n, buf, size);
	free(buf);
}

/* Remove the trusted.* names from a list of n bytes: its new length. */
static ssize_t drop_trusted(char *list, size_t n)
{
	size_t in = 0, out = 0;

	while (in < n) {
		size_t len = strnlen(list + in, n - in) + 1;

		if (strncmp(list + in, TRUSTED_PREFIX,
			    strlen(TRUSTED_PREFIX))) {
			memmove(list + out, list + in, len);
			out += len;
		}
		in += len;
	}
	return (ssize_t)out;
}

/*
 * The names root does not see trusted.* among, in *list (malloc'd): the
 * whole list is read, whatever the caller's size, for its size and its
 * ERANGE are those of what is left (ext4's size query counts only the
 * names the caller may see).  Returns its length or a negative errno.
 */
static ssize_t list_untrusted(struct kvfs_fuse *fs, uint64_t ino, char **list)
{
	ssize_t n = -ERANGE;

	*list = NULL;
	/* the list may grow between the size and the read: ask again */
	for (int tries = 0; n == -ERANGE && tries < 4; tries++) {
		n = kvfs_listxattr(fs->mp, ino, NULL, 0);
		if (n <= 0)
			return n;
		free(*list);
		*list = malloc((size_t)n);
		if (!*list)
			return -ENOMEM;
		n = kvfs_listxattr(fs->mp, ino, *list, (size_t)n);
	}
	return n < 0 ? n : drop_trusted(*list, (size_t)n);
}

static void kf_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct kvfs_fuse *fs = fs_of(req);
	char *buf = NULL;
	ssize_t n;

	/* as ext4 and tmpfs: trusted.* names only for root (CAP_SYS_ADMIN) */
	if (fuse_req_ctx(req)->uid) {
		n = list_untrusted(fs, ino_of(fs, ino), &buf);
		if (n > 0 && size && (size_t)n > size)
			n = -ERANGE;
		reply_xattr(req, n, buf, size);
		free(buf);
		return;
	}
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = kvfs_listxattr(fs->mp, ino_of(fs, ino), buf, size);
	reply_xattr(req, n, buf, size);
	free(buf);
}

static void kf_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct kvfs_fuse *fs = fs_of(req);
	uint64_t i = ino_of(fs, ino);
	int ret;

	ret = kvfs_removexattr(fs->mp, i, name);
	if ((!ret || ret == -ENODATA) && !strcmp(name, CAPS_XATTR))
		kvfs_fuse_node_set_caps(fs->nodes, i, KVFS_CAPS_NONE, false);
	/*
	 * The kernel sends the removal of an ACL as set_acl(NULL) does; ext4,
	 * XFS and tmpfs answer 0 when there was none (XFS: "didn't exist to
	 * start with, that's fine").
	 */
	if (ret == -ENODATA && fs->acl &&
	    (!strcmp(name, KVFS_ACL_ACCESS) || !strcmp(name, KVFS_ACL_DEFAULT)))
		ret = 0;
	fuse_reply_err(req, -ret);
}

/*
 * Under the writeback cache the kernel keeps a file's mtime and ctime: it
 * stamps them itself around fallocate and copy_file_range (not at all for
 * a KEEP_SIZE fallocate) and sends them with a setattr only when its own
 * value changed, so a stamp of the core here would show only once the
 * kernel forgot the inode, as times that moved by themselves.  They are
 * put back as they were (the kernel's own, if it moved them, comes after).
 */
static void cmtime_save(struct kvfs_fuse *fs, uint64_t ino,
			struct kvfs_setattr *sa)
{
	struct kvfs_stat ks;

	sa->valid = 0;
	if (!fs->writeback || kvfs_getattr(fs->mp, ino, &ks))
		return;
	sa->valid = KVFS_SET_MTIME | KVFS_SET_CTIME;
	sa->mtime = ks.mtime;
	sa->ctime = ks.ctime;
}

/* best effort: a failure leaves the core's stamp, a time a little later */
static void cmtime_restore(struct kvfs_fuse *fs, uint64_t ino,
			   const struct kvfs_setattr *sa)
{
	if (sa->valid)
		kvfs_setattr(fs->mp, ino, sa, NULL, NULL);
}

static void kf_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
			 off_t length, struct fuse_file_info *fi)
{
	struct kvfs_fuse *fs = fs_of(req);
	uint64_t i = ino_of(fs, ino);
	struct kvfs_setattr sa;
	int ret;

	(void)fi;
	cmtime_save(fs, i, &sa);
	ret = kvfs_fallocate(fs->mp, i, mode, offset, length);
	if (!ret)
		cmtime_restore(fs, i, &sa);
	/*
	 * A punch or zeroing that failed part way (ENOSPC from an unmap)
	 * changed bytes the kernel drops from its cache only on success.
	 */
	if (ret && mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		fuse_lowlevel_notify_inval_inode(fs->se, ino, offset, length);
	kvfs_fuse_dirty_update(&fs->dirty, fs->mp);
	fuse_reply_err(req, -ret);
}

static void lseek_reply(fuse_req_t req, struct kvfs_fuse *fs, fuse_ino_t ino,
			off_t off, int whence)
{
	off_t res;
	int ret = kvfs_lseek(fs->mp, ino_of(fs, ino), off, whence, &res);

	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_lseek(req, res);
}

struct lseek_flight {
	fuse_req_t req;
	struct kvfs_fuse *fs;
	fuse_ino_t ino;
	off_t off;
	int whence;
};

/*
 * The kernel's dirty pages of the file written back (the invalidation
 * launders each through a WRITE, served by the request threads while
 * this one waits: hence a thread of its own), then the core's answer.
 */
static void *lseek_after_writeback(void *arg)
{
	struct lseek_flight *f = arg;
	struct kvfs_fuse *fs = f->fs;

	fuse_lowlevel_notify_inval_inode(fs->se, f->ino, 0, 0);
	lseek_reply(f->req, fs, f->ino, f->off, f->whence);
	free(f);
	atomic_fetch_sub_explicit(&fs->flights, 1, memory_order_release);
	return NULL;
}

/*
 * The kernel may hold written pages the core has not seen, and it sends
 * LSEEK without writing them back: under the writeback cache any write's,
 * and without it a shared mapping's (written back up to 30 s later; a
 * page written so was a hole to SEEK_DATA, and cp --sparse copied zeros).
 * With no file open for writing it holds none (each close wrote them
 * back, and a shared mapping keeps its file open): the core's answer is
 * the file's.  Else they are written back first, on a thread of its own.
 * ENOSYS would turn the kernel to its own answer (data up to its size)
 * for every file of the mount, for good.
 */
static void kf_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct kvfs_fuse *fs = fs_of(req);
	struct lseek_flight *f;
	pthread_attr_t attr;
	pthread_t t;
	int ret;

	(void)fi;
	if (!kvfs_fuse_node_writers(fs->nodes, ino_of(fs, ino), 0)) {
		lseek_reply(req, fs, ino, off, whence);
		return;
	}
	/*
	 * Counted before closing is read, as the terminator sets closing
	 * before it reads the count (both seq_cst): either it waits for this
	 * flight while the request threads still serve its write backs, or
	 * this sees closing.  A flight left after them waited on the kernel
	 * for good, the daemon stuck in an unkillable thread (SIGTERM while
	 * a file being written was asked SEEK_DATA).
	 */
	atomic_fetch_add(&fs->flights, 1);
	if (atomic_load(&fs->closing)) {
		atomic_fetch_sub(&fs->flights, 1);
		fuse_reply_err(req, EIO);
		return;
	}
	f = malloc(sizeof(*f));
	if (!f) {
		atomic_fetch_sub(&fs->flights, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	*f = (struct lseek_flight){ req, fs, ino, off, whence };
	ret = pthread_attr_init(&attr);
	if (!ret) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ret = pthread_create(&t, &attr, lseek_after_writeback, f);
		pthread_attr_destroy(&attr);
	}
	if (ret) {
		atomic_fetch_sub_explicit(&fs->flights, 1,
					  memory_order_relaxed);
		free(f);
		fuse_reply_err(req, EAGAIN);
	}
}

/*
 * copy_file_range(2) inside the mount, with -o copy_file_range: the core
 * copies (fs/kvfs.h); the kernel wrote back both ranges' dirty pages
 * before asking and drops the destination's cached pages after, whole,
 * with no lock against faults: a store through a shared mapping into
 * those pages in between is lost (README).  Without the option the first
 * request is answered ENOSYS, after which the kernel sends none on this
 * connection and copies through its page cache (splice), which mappings
 * share; libfuse would answer the same for an unset op, uncounted.
 */
static void kf_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			       off_t off_out, struct fuse_file_info *fi_out,
			       size_t len, int flags)
{
	struct kvfs_fuse *fs = fs_of(req);
	uint64_t out = ino_of(fs, ino_out);
	struct kvfs_setattr sa;
	ssize_t n;

	(void)fi_in;
	(void)fi_out;
	if (!fs->copy_range) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	cmtime_save(fs, out, &sa);
	n = kvfs_copy_file_range(fs->mp, ino_of(fs, ino_in), off_in, out,
				 off_out, len, flags);
	if (n > 0)
		cmtime_restore(fs, out, &sa);
	/*
	 * The source's atime moved (a read), which the kernel learns of
	 * after its own reads only: attributes only, as in kf_fsync().
	 */
	if (n > 0)
		fuse_lowlevel_notify_inval_inode(fs->se, ino_in, -1, 0);
	/*
	 * Failed or short, the copy may have changed more of the destination
	 * than the count the kernel drops from its cache (a hole punched
	 * part way, its edges zeroed): all of the range goes.
	 */
	if (n < 0 || (size_t)n < len)
		fuse_lowlevel_notify_inval_inode(fs->se, ino_out, off_out,
						 (off_t)len);
	if (n < 0)
		fuse_reply_err(req, -n);
	else
		fuse_reply_write(req, n);
}

/*
 * chattr's and lsattr's ioctls (fs/fuse/fileattr.h); no other ioctl is
 * kvfs's.  The kernel sends those on a file it opened itself, flags 0.
 */
static void kf_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
		     void *arg, struct fuse_file_info *fi, unsigned flags,
		     const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct kvfs_fuse *fs = fs_of(req);
	char out[64];
	size_t out_size = out_bufsz < sizeof(out) ? out_bufsz : sizeof(out);
	struct kvfs_cred cr;
	int ret;

	(void)arg;
	(void)fi;
	if (flags & FUSE_IOCTL_COMPAT) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	cred_of(req, &cr);
	ret = kvfs_fuse_fileattr(fs->mp, ino_of(fs, ino), cmd, &cr, in_buf,
				 in_bufsz, out, &out_size);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_ioctl(req, 0, out_size ? out : NULL, out_size);
	/* ctime moved: the kernel's copy of the attributes is stale */
	if (!ret && in_bufsz)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

/*
 * Every request counted with its time in the daemon (fs/fuse/stats.h):
 * one wrapper per operation, around the handler that replies.
 */
#define TIMED(op, name, params, args)             \
	static void t_##name params               \
	{                                         \
		uint64_t start = kvfs_fuse_now(); \
                                                  \
		kf_##name args;                   \
		kvfs_fuse_count(op, start);       \
	}

TIMED(KF_LOOKUP, lookup, (fuse_req_t req, fuse_ino_t p, const char *n),
      (req, p, n))
TIMED(KF_FORGET, forget, (fuse_req_t req, fuse_ino_t i, uint64_t nl),
      (req, i, nl))
TIMED(KF_BATCH_FORGET, forget_multi,
      (fuse_req_t req, size_t c, struct fuse_forget_data *f), (req, c, f))
TIMED(KF_GETATTR, getattr,
      (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
TIMED(KF_SETATTR, setattr,
      (fuse_req_t req, fuse_ino_t i, struct stat *a, int s,
       struct fuse_file_info *fi),
      (req, i, a, s, fi))
TIMED(KF_READLINK, readlink, (fuse_req_t req, fuse_ino_t i), (req, i))
TIMED(KF_MKNOD, mknod,
      (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m, dev_t r),
      (req, p, n, m, r))
TIMED(KF_MKDIR, mkdir, (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m),
      (req, p, n, m))
TIMED(KF_SYMLINK, symlink,
      (fuse_req_t req, const char *l, fuse_ino_t p, const char *n),
      (req, l, p, n))
TIMED(KF_UNLINK, unlink, (fuse_req_t req, fuse_ino_t p, const char *n),
      (req, p, n))
TIMED(KF_RMDIR, rmdir, (fuse_req_t req, fuse_ino_t p, const char *n),
      (req, p, n))
TIMED(KF_RENAME, rename,
      (fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np,
       const char *nn, unsigned int f),
      (req, p, n, np, nn, f))
TIMED(KF_LINK, link,
      (fuse_req_t req, fuse_ino_t i, fuse_ino_t np, const char *nn),
      (req, i, np, nn))
TIMED(KF_OPEN, open, (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi),
      (req, i, fi))
TIMED(KF_CREATE, create,
      (fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
       struct fuse_file_info *fi),
      (req, p, n, m, fi))
TIMED(KF_READ, read,
      (fuse_req_t req, fuse_ino_t i, size_t s, off_t o,
       struct fuse_file_info *fi),
      (req, i, s, o, fi))
TIMED(KF_WRITE, write_buf,
      (fuse_req_t req, fuse_ino_t i, struct fuse_bufvec *b, off_t o,
       struct fuse_file_info *fi),
      (req, i, b, o, fi))
TIMED(KF_RELEASE, release,
      (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
TIMED(KF_FSYNC, fsync,
      (fuse_req_t req, fuse_ino_t i, int d, struct fuse_file_info *fi),
      (req, i, d, fi))
TIMED(KF_OPENDIR, opendir,
      (fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi), (req, i, fi))
TIMED(KF_READDIR, readdir,
      (fuse_req_t req, fuse_ino_t i, size_t s, off_t o,
       struct fuse_file_info *fi),
      (req, i, s, o, fi))
TIMED(KF_READDIRPLUS, readdirplus,
      (fuse_req_t req, fuse_ino_t i, size_t s, off_t o,
       struct fuse_file_info *fi),
      (req, i, s, o, fi))
TIMED(KF_FSYNCDIR, fsyncdir,
      (fuse_req_t req, fuse_ino_t i, int d, struct fuse_file_info *fi),
      (req, i, d, fi))
TIMED(KF_STATFS, statfs, (fuse_req_t req, fuse_ino_t i), (req, i))
TIMED(KF_SETXATTR, setxattr,
      (fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s,
       int f),
      (req, i, n, v, s, f))
TIMED(KF_GETXATTR, getxattr,
      (fuse_req_t req, fuse_ino_t i, const char *n, size_t s), (req, i, n, s))
TIMED(KF_LISTXATTR, listxattr, (fuse_req_t req, fuse_ino_t i, size_t s),
      (req, i, s))
TIMED(KF_REMOVEXATTR, removexattr,
      (fuse_req_t req, fuse_ino_t i, const char *n), (req, i, n))
TIMED(KF_FALLOCATE, fallocate,
      (fuse_req_t req, fuse_ino_t i, int m, off_t o, off_t l,
       struct fuse_file_info *fi),
      (req, i, m, o, l, fi))
TIMED(KF_LSEEK, lseek,
      (fuse_req_t req, fuse_ino_t i, off_t o, int w, struct fuse_file_info *fi),
      (req, i, o, w, fi))
TIMED(KF_COPY_FILE_RANGE, copy_file_range,
      (fuse_req_t req, fuse_ino_t ii, off_t oi, struct fuse_file_info *fii,
       fuse_ino_t io, off_t oo, struct fuse_file_info *fio, size_t l, int f),
      (req, ii, oi, fii, io, oo, fio, l, f))
TIMED(KF_IOCTL, ioctl,
      (fuse_req_t req, fuse_ino_t i, unsigned int c, void *a,
       struct fuse_file_info *fi, unsigned f, const void *in, size_t is,
       size_t os),
      (req, i, c, a, fi, f, in, is, os))

const struct fuse_lowlevel_ops kvfs_fuse_ops = {
	.init = kf_init,
	.lookup = t_lookup,
	.forget = t_forget,
	.forget_multi = t_forget_multi,
	.getattr = t_getattr,
	.setattr = t_setattr,
	.readlink = t_readlink,
	.mknod = t_mknod,
	.mkdir = t_mkdir,
	.symlink = t_symlink,
	.unlink = t_unlink,
	.rmdir = t_rmdir,
	.rename = t_rename,
	.link = t_link,
	.open = t_open,
	.create = t_create,
	.read = t_read,
	.write_buf = t_write_buf,
	.release = t_release,
	.fsync = t_fsync,
	.opendir = t_opendir,
	.readdir = t_readdir,
	.readdirplus = t_readdirplus,
	.fsyncdir = t_fsyncdir,
	.statfs = t_statfs,
	.setxattr = t_setxattr,
	.getxattr = t_getxattr,
	.listxattr = t_listxattr,
	.removexattr = t_removexattr,
	.fallocate = t_fallocate,
	.lseek = t_lseek,
	.copy_file_range = t_copy_file_range,
	.ioctl = t_ioctl,
};
