// SPDX-License-Identifier: GPL-2.0
/*
 * The namespace operations of fs/kvfs.h (XFS's xfs_create, xfs_link,
 * xfs_remove, xfs_rename): lookup, create/mknod, mkdir, unlink, rmdir,
 * link, rename (NOREPLACE, EXCHANGE, WHITEOUT) and readdir, each one
 * transaction (rolled only by the deferred frees, whose intents finish
 * after a crash), over the directory layer
 * (fs/ns/dir.h) and the link counts of fs/inode/iunlink.h.
 *
 * Locking: a transaction is allocated first, then the inodes involved are
 * locked exclusively in ascending inode number order and joined; a name
 * looked up before the locks is looked up again under them (a change in
 * between restarts the operation).  The new inode of a create is locked
 * under its AG's inode header (the exception of fs/inode/inode.h) after its
 * directory.  Renames that move a directory to another parent are
 * serialised by rename_lock (Linux's s_vfs_rename_mutex), taken before
 * the transaction, so that the check "not into its own subtree" (a walk of
 * ".." up to the root under shared inode locks, one at a time) stays true
 * until the rename commits.  kvfs_lookup() first tries without any lock
 * or reference (lookup_stat_rcu()), then the locked way.
 *
 * Link counts move first in every operation: kvfs_droplink() and
 * kvfs_bumplink() may fail with -EAGAIN having changed nothing, and the
 * operation then cancels its clean transaction and starts over.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/data/file.h"
#include "fs/io/blkhdr.h"
#include "fs/format/dinode.h"
#include "fs/ns/dir.h"
#include "fs/inode/icache.h"
#include "fs/inode/icreate.h"
#include "fs/inode/iflags.h"
#include "fs/inode/inactive.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/iunlink.h"
#include "fs/kvfs.h"
#include "fs/kvfs_fs.h"
#include "fs/mount.h"
#include "fs/ns/symlink.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

static pthread_mutex_t rename_lock = PTHREAD_MUTEX_INITIALIZER;

/* A name component: 1..255 bytes, no '/'. */
static int name_len(const char *name, size_t *len)
{
	*len = strnlen(name, KVFS_NAME_MAX + 1);
	if (*len > KVFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!*len)
		return -ENOENT;
	if (memchr(name, '/', *len))
		return -EINVAL;
	return 0;
}

static bool is_dot(const char *name, size_t len)
{
	return len == 1 && name[0] == '.';
}

static bool is_dotdot(const char *name, size_t len)
{
	return len == 2 && name[0] == '.' && name[1] == '.';
}

/* A directory's entries changed: mtime and ctime now, logged. */
static void dir_touch(struct kvfs_trans *tp, struct kvfs_inode *dp)
{
	kvfs_inode_now(&dp->i_mtime);
	dp->i_ctime = dp->i_mtime;
	kvfs_trans_log_inode(tp, dp, KVFS_ILOG_CORE);
}

static void ctime_touch(struct kvfs_trans *tp, struct kvfs_inode *ip)
{
	kvfs_inode_now(&ip->i_ctime);
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
}

static void stat_locked(struct kvfs_inode *ip, struct kvfs_stat *st)
{
	if (!st)
		return;
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	kvfs_inode_stat(ip, st);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
}

/* The directory dir, referenced: -ENOTDIR if it is not one. */
static int get_dir(struct kvfs_mount *mp, uint64_t dir, struct kvfs_inode **dpp)
{
	struct kvfs_inode *dp;
	int err = kvfs_iget(mp, dir, 0, &dp);

	if (err)
		return err == -EINVAL ? -ENOENT : err;
	if (!S_ISDIR(dp->i_mode)) {
		kvfs_iput(dp);
		return -ENOTDIR;
	}
	*dpp = dp;
	return 0;
}

/*
 * name in dp (locked): "." and ".." included.  -ENOENT in a directory
 * that was removed.
 */
static int lookup_locked(struct kvfs_inode *dp, const char *name, size_t len,
			 uint64_t *ino, uint8_t *ftype)
{
	if (!dp->i_nlink)
		return -ENOENT;
	if (is_dot(name, len)) {
		*ino = dp->i_ino;
		*ftype = KVFS_FT_DIR;
		return 0;
	}
	if (is_dotdot(name, len)) {
		*ftype = KVFS_FT_DIR;
		return kvfs_dir_parent(dp, ino);
	}
	return kvfs_dir_lookup(dp, name, len, ino, ftype);
}

/*
 * The inode name names in dp (looked up under a shared lock), referenced.
 * The lock is dropped before the inode is taken, so a concurrent unlink or
 * rename may free it in between: a free inode is corruption only if the
 * name still names it; otherwise the name is looked up again.
 */
/*
 * ip, named ino by name in dp, has no links: an unlink that raced (the
 * name gone or elsewhere now: -EAGAIN, look again), or a damaged link
 * count (-EUCLEAN, reported): then ip is marked sick, so that its last
 * put does not free it under the name.
 */
static int check_linked(struct kvfs_inode *dp, const char *name, size_t len,
			struct kvfs_inode *ip)
{
	uint64_t ino;
	uint8_t ftype;
	int err;

	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	err = lookup_locked(dp, name, len, &ino, &ftype);
	if (!err && ino != ip->i_ino)
		err = -EAGAIN;
	if (!err && !__atomic_load_n(&ip->i_nlink, __ATOMIC_RELAXED)) {
		atomic_fetch_or(&ip->i_flags, KVFS_ISICK);
		err = kvfs_corrupt_inode(
			-EUCLEAN, kvfs_ino_to_fsb(&ip->i_mount->g, ip->i_ino),
			ip->i_ino,
			"no links, but named by directory %" PRIu64 ": run "
			"fsck.kvfs",
			dp->i_ino);
	}
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	return err;
}

/* kvfs_dir_lookup_slot_rcu()'s question and answer (-EAGAIN: none). */
struct rcu_slot {
	const char *name;
	size_t len;
	struct kvfs_dir_slot *slot;
	uint64_t seq; /* dp's i_lock_seq the read is validated against */
	struct kvfs_icache_next child; /* the name's inode and its hint */
	int err;
};

static void slot_rcu_read(const struct kvfs_inode *dp, void *arg)
{
	struct rcu_slot *l = arg;

	l->seq = atomic_load_explicit(&dp->i_lock_seq, memory_order_relaxed);
	/* a removed directory: the locked path says -ENOENT */
	if (!__atomic_load_n(&dp->i_nlink, __ATOMIC_RELAXED))
		l->err = -EAGAIN;
	else
		l->err = kvfs_dir_lookup_slot_rcu(dp, l->name, l->len, l->slot,
						  &l->child.hint);
	l->child.ino = l->err ? 0 : l->slot->ino;
}

/*
 * The slot of name in dp read without dp's lock (fs/ns/dir.h
 * kvfs_dir_lookup_slot_rcu()), and dp's i_lock_seq it holds at (*seq,
 * even); -EAGAIN (and whatever the read did not find): the locked way.
 * The shared lock and the cache's lookups of the blocks were a tenth of
 * an unlink's instructions.  *ipp: a reference to the slot's inode if
 * the entry's hint gave it (fs/inode/icache.h kvfs_icache_read_get()),
 * else NULL: the inode cache's index walk, a miss on its bucket and one
 * on each node of the chain, spared.
 */
static int lookup_slot_rcu(struct kvfs_inode *dp, const char *name, size_t len,
			   struct kvfs_dir_slot *slot, uint64_t *seq,
			   struct kvfs_inode **ipp)
{
	struct rcu_slot l = { .name = name, .len = len, .slot = slot };

	/* l.err set: no child, so no reference to give back */
	if (kvfs_icache_read_get(dp->i_mount, dp->i_ino, slot_rcu_read, &l,
				 &l.child, ipp) ||
	    l.err)
		return -EAGAIN;
	*seq = l.seq;
	return 0;
}

/*
 * With slot (name neither "." nor ".."): where the name was found too, and
 * dp's i_lock_seq then (*seq, even: read under the shared lock, or
 * validating the lock-free read).
 */
static int lookup_child_at(struct kvfs_inode *dp, const char *name, size_t len,
			   struct kvfs_inode **ipp, struct kvfs_dir_slot *slot,
			   uint64_t *seq)
{
	uint64_t ino, prev = KVFS_NULLINO;
	uint8_t ftype;
	int err;

	for (;;) {
		struct kvfs_inode *hinted = NULL;

		if (slot &&
		    !lookup_slot_rcu(dp, name, len, slot, seq, &hinted)) {
			ino = slot->ino;
			err = 0;
		} else {
			kvfs_ilock(dp, KVFS_ILOCK_SHARED);
			if (slot) {
				err = dp->i_nlink ?
					      kvfs_dir_lookup_slot(dp, name,
								   len, slot) :
					      -ENOENT;
				ino = slot->ino;
				*seq = kvfs_ilock_seq_begin(dp);
			} else {
				err = lookup_locked(dp, name, len, &ino,
						    &ftype);
			}
			kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
		}
		if (err)
			return err;
		*ipp = hinted;
		err = hinted ? 0 : kvfs_iget(dp->i_mount, ino, 0, ipp);
		if (!err &&
		    !__atomic_load_n(&(*ipp)->i_nlink, __ATOMIC_RELAXED)) {
			err = check_linked(dp, name, len, *ipp);
			if (err) {
				kvfs_iput(*ipp);
				*ipp = NULL;
			}
			if (err == -EAGAIN)
				continue;
		}
		if (err != -ENOENT && err != -EINVAL)
			return err;
		if (ino == prev)
			return -EUCLEAN;
		prev = ino;
	}
}

static int lookup_child(struct kvfs_inode *dp, const char *name, size_t len,
			struct kvfs_inode **ipp)
{
	return lookup_child_at(dp, name, len, ipp, NULL, NULL);
}

/*
 * The attributes of the inode name names in dp.  A cached inode is read
 * without a reference or its lock (fs/inode/icache.h): the name's inode
 * had links when the directory lock was dropped and still has them in
 * the snapshot read, which is all lookup_child() checks.  Otherwise (not
 * cached, being read or changed, free or without links now) the
 * referenced way, which looks the name up again.
 */
static int lookup_stat(struct kvfs_inode *dp, const char *name, size_t len,
		       struct kvfs_stat *st)
{
	struct kvfs_inode *ip;
	uint64_t ino;
	uint8_t ftype;
	int err;

	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	err = lookup_locked(dp, name, len, &ino, &ftype);
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	if (err)
		return err;
	if (!kvfs_icache_read(dp->i_mount, ino, kvfs_inode_stat_read, st) &&
	    st->mode && st->nlink)
		return 0;
	/*
	 * A rename over the name or an unlink may take the last link of the
	 * inode found between the lookup and the stat: look again, so that
	 * what a name gives had that name (links) at some instant.
	 */
	for (int tries = 0; tries < 64; tries++) {
		err = lookup_child(dp, name, len, &ip);
		if (err)
			return err;
		stat_locked(ip, st);
		kvfs_iput(ip);
		if (st->nlink)
			return 0;
	}
	return -ENOENT;
}

/* The lock-free lookup's question and answer (-EAGAIN: not answered). */
struct rcu_look {
	const char *name;
	size_t len;
	struct kvfs_icache_next next; /* the inode found, and its hint */
	int err;
};

static void lookup_rcu_read(const struct kvfs_inode *dp, void *arg)
{
	struct rcu_look *l = arg;
	uint8_t ftype;

	/* an earlier try's number, not validated, is no answer */
	l->next.ino = 0;
	l->next.hint = NULL;
	/* not a directory, or a removed one: the locked path says which */
	if (!S_ISDIR(__atomic_load_n(&dp->i_mode, __ATOMIC_RELAXED)) ||
	    !__atomic_load_n(&dp->i_nlink, __ATOMIC_RELAXED))
		l->err = -EAGAIN;
	else
		l->err = kvfs_dir_lookup_rcu(dp, l->name, l->len, &l->next.ino,
					     &ftype, &l->next.hint);
}

/*
 * lookup_stat() without a reference on dp or its lock, the directory
 * read under RCU as a seqcount reader of its i_lock_seq
 * (fs/ns/dir.h kvfs_dir_lookup_rcu()), the inode found read as
 * lookup_stat() reads it: so that lookups in one directory write no
 * shared line (but the first store of the child's hint, fs/ns/dir.h).
 * -EAGAIN: not done so (dp or a block not cached, dp being
 * changed, "." or ".."): the locked way.
 */
static int lookup_stat_rcu(struct kvfs_mount *mp, uint64_t dir,
			   const char *name, size_t len, struct kvfs_stat *st)
{
	struct rcu_look l = { .name = name, .len = len };
	bool statted;

	if (is_dot(name, len) || is_dotdot(name, len) ||
	    kvfs_icache_read_then(mp, dir, lookup_rcu_read, &l, &l.next,
				  kvfs_inode_stat_read, st, &statted))
		return -EAGAIN;
	if (l.err)
		return l.err;
	if (statted && st->mode && st->nlink)
		return 0;
	return -EAGAIN;
}

int kvfs_lookup(struct kvfs_mount *mp, uint64_t dir, const char *name,
		struct kvfs_stat *st)
{
	struct kvfs_inode *dp;
	struct kvfs_stat local;
	size_t len;
	int err = name_len(name, &len);

	if (err)
		return err;
	err = lookup_stat_rcu(mp, dir, name, len, st ? st : &local);
	if (err != -EAGAIN)
		return err;
	err = get_dir(mp, dir, &dp);
	if (err)
		return err;
	err = lookup_stat(dp, name, len, st ? st : &local);
	kvfs_iput(dp);
	return err;
}

/* ---- locking several inodes ---- */

#define MAX_LOCKED 4

struct ilocks {
	struct kvfs_inode *ip[MAX_LOCKED];
	unsigned n;
};

static void ilocks_add(struct ilocks *l, struct kvfs_inode *ip)
{
	if (!ip)
		return;
	for (unsigned i = 0; i < l->n; i++)
		if (l->ip[i] == ip)
			return;
	l->ip[l->n++] = ip;
}

/* Lock in ascending inode number order and join them all to tp. */
static int ilocks_take(struct ilocks *l, struct kvfs_trans *tp)
{
	unsigned i, j;
	int err = 0;

	for (i = 1; i < l->n; i++)
		for (j = i; j > 0 && l->ip[j - 1]->i_ino > l->ip[j]->i_ino;
		     j--) {
			struct kvfs_inode *t = l->ip[j];

			l->ip[j] = l->ip[j - 1];
			l->ip[j - 1] = t;
		}
	for (i = 0; i < l->n; i++)
		kvfs_ilock(l->ip[i], KVFS_ILOCK_EXCL);
	for (i = 0; i < l->n && !err; i++)
		err = kvfs_trans_ijoin(tp, l->ip[i]);
	if (err) {
		/* those joined are unlocked by the cancel */
		for (j = i - 1; j < l->n; j++)
			kvfs_iunlock(l->ip[j], KVFS_ILOCK_EXCL);
	}
	return err;
}

/* ---- create, mknod, mkdir ---- */

static int mode_ftype_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFDIR:
		return 0;
	default:
		return -EINVAL;
	}
}

/*
 * A new inode of mode named name in dir.  excl false: an existing regular
 * file is handed back (*created false).  A symbolic link (mode S_IFLNK)
 * comes with its target (tlen bytes), stored in the same transaction.
 */
static int create_common(struct kvfs_mount *mp, uint64_t dir, const char *name,
			 uint32_t mode, uint64_t rdev, bool excl,
			 const char *target, size_t tlen,
			 const struct kvfs_cred *cr, struct kvfs_stat *st,
			 bool *created)
{
	bool isdir = S_ISDIR(mode);
	struct kvfs_inode *dp, *ip = NULL;
	struct kvfs_dir_place pl;
	struct kvfs_trans *tp;
	struct ilocks l = { 0 };
	uint8_t ftype;
	uint64_t ino;
	size_t len;
	int err = name_len(name, &len);

	if (created)
		*created = false;
	if (err)
		return err;
	err = S_ISLNK(mode) && target ? 0 : mode_ftype_ok(mode);
	if (err)
		return err;
	err = get_dir(mp, dir, &dp);
	if (err)
		return err;
	if (is_dot(name, len) || is_dotdot(name, len)) {
		err = excl || isdir ? -EEXIST : -EISDIR;
		goto out_put;
	}
	err = target ? kvfs_trans_alloc_res(mp, &mp->resv.symlink_name,
					    kvfs_symlink_blocks(&mp->g, tlen),
					    &tp) :
		       kvfs_trans_alloc_res(mp, &mp->resv.create_name, 0, &tp);
	if (err)
		goto out_put;
	ilocks_add(&l, dp);
	err = ilocks_take(&l, tp);
	if (err) {
		kvfs_trans_cancel(tp);
		goto out_put;
	}
	/* a removed directory takes no new names */
	kvfs_dir_place_init(&pl);
	err = dp->i_nlink ?
		      kvfs_dir_lookup_at(tp, dp, name, len, &ino, &ftype, &pl) :
		      -ENOTDIR;
	if (err == -ENOTDIR) {
		err = -ENOENT;
		kvfs_trans_cancel(tp);
		goto out_put;
	}
	if (!err) {
		err = -EEXIST;
		if (!excl && !isdir) {
			if (ftype == KVFS_FT_DIR)
				err = -EISDIR;
			else if (ftype == KVFS_FT_REG)
				err = 0;
		}
		kvfs_trans_cancel(tp);
		if (!err) {
			err = kvfs_iget(mp, ino, 0, &ip);
			if (!err) {
				stat_locked(ip, st);
				kvfs_iput(ip);
			}
		}
		goto out_put;
	}
	/* an immutable directory takes no name (Linux's may_create()) */
	if (err == -ENOENT)
		err = kvfs_iflags_may_add(dp) ?: -ENOENT;
	if (err != -ENOENT || (isdir && dp->i_nlink >= KVFS_MAX_LINK)) {
		if (err == -ENOENT)
			err = -EMLINK;
		kvfs_trans_cancel(tp);
		goto out_put;
	}
	/*
	 * Room for the name and a link's target proved first: the inode's
	 * allocation then makes the first change, and is the last that
	 * may fail for room.
	 */
	err = kvfs_dir_canenter_at(
		tp, dp, name, len,
		target && tlen + KVFS_SYMLINK_INLINE_SLACK >
					mp->g.inodesize -
						KVFS_DINODE_CORE_SIZE ?
			kvfs_symlink_blocks(&mp->g, tlen) :
			0,
		&pl);
	if (!err)
		err = kvfs_icreate(tp, dp, mode, rdev, isdir ? 2 : 1, cr, &ip);
	if (err == -ENOSPC) {
		/* its first change: only the allocator's refills are logged */
		err = kvfs_trans_end_nospc(tp, err);
		goto out_put;
	}
	if (err)
		goto out_cancel;
	if (isdir)
		kvfs_dir_init(tp, ip, dp->i_ino);
	if (target) {
		err = kvfs_symlink_write(tp, ip, target, tlen);
		if (err)
			goto out_cancel;
	}
	/* found absent above, dp locked since, its directory unchanged */
	pl.ip = ip;
	err = kvfs_dir_createname_at(tp, dp, name, len, ip->i_ino,
				     kvfs_mode_to_ftype(ip->i_mode), &pl);
	if (!err && isdir)
		err = kvfs_bumplink(tp, dp);
	if (err)
		goto out_cancel;
	dir_touch(tp, dp);
	if (st)
		kvfs_inode_stat(ip, st);
	err = kvfs_trans_commit(tp, NULL);
	if (!err && created)
		*created = true;
	kvfs_iput(ip);
	goto out_put;
out_cancel:
	kvfs_trans_cancel(tp);
	if (ip)
		kvfs_iput(ip);
out_put:
	kvfs_iput(dp);
	return err;
}

int kvfs_create(struct kvfs_mount *mp, uint64_t dir, const char *name,
		uint32_t mode, uint64_t rdev, unsigned flags,
		const struct kvfs_cred *cr, struct kvfs_stat *st, bool *created)
{
	if (!(mode & S_IFMT))
		mode |= S_IFREG;
	if (S_ISDIR(mode) || (flags & ~KVFS_CREATE_EXCL))
		return -EINVAL;
	return create_common(mp, dir, name, mode, rdev,
			     flags & KVFS_CREATE_EXCL, NULL, 0, cr, st,
			     created);
}

int kvfs_mkdir(struct kvfs_mount *mp, uint64_t dir, const char *name,
	       uint32_t mode, const struct kvfs_cred *cr, struct kvfs_stat *st)
{
	return create_common(mp, dir, name, S_IFDIR | (mode & 07777), 0, true,
			     NULL, 0, cr, st, NULL);
}

int kvfs_symlink(struct kvfs_mount *mp, uint64_t dir, const char *name,
		 const char *target, const struct kvfs_cred *cr,
		 struct kvfs_stat *st)
{
	size_t tlen = strnlen(target, KVFS_SYMLINK_MAX + 1);

	/* checked before anything is reserved, as kvfs_symlink_write would */
	if (!tlen)
		return -ENOENT;
	if (tlen > KVFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return create_common(mp, dir, name, S_IFLNK | 0777, 0, true, target,
			     tlen, cr, st, NULL);
}

/* ---- unlink, rmdir ---- */

/* Under the locks: name still names ip? (-EAGAIN: start over) */
static int still_names(struct kvfs_inode *dp, const char *name, size_t len,
		       struct kvfs_inode *ip)
{
	uint8_t ftype;
	uint64_t ino;
	int err = lookup_locked(dp, name, len, &ino, &ftype);

	if (err)
		return err;
	return ino == ip->i_ino ? 0 : -EAGAIN;
}

/*
 * still_names() for a removal ("." and ".." are no names here): *slot is
 * where the entry is, so that the removal does not search the name index
 * again.
 */
static int still_names_slot(struct kvfs_inode *dp, const char *name, size_t len,
			    struct kvfs_inode *ip, struct kvfs_dir_slot *slot)
{
	int err;

	if (!dp->i_nlink)
		return -ENOENT;
	err = kvfs_dir_lookup_slot(dp, name, len, slot);
	if (err)
		return err;
	return slot->ino == ip->i_ino ? 0 : -EAGAIN;
}

/*
 * A removal's transaction: from the blocks kept for removals if need be,
 * and when even those are gone with none at all, as XFS's xfs_remove()
 * retries with resblks 0.  The directory then changes nothing that could
 * need a block (fs/ns/dir.c: a free-space index record stays where it
 * was, an emptied data block stays when its extent cannot be split).
 */
static int alloc_removal(struct kvfs_mount *mp,
			 const struct kvfs_trans_res *res,
			 struct kvfs_trans **tpp)
{
	int err = kvj_errtag(KVJ_ERRTAG_REMOVE_NORESV) ?
			  -ENOSPC :
			  kvfs_trans_alloc_remove(mp, res, tpp);

	if (err == -ENOSPC)
		err = kvfs_trans_alloc(mp, res->log_bytes, res->log_count, 0,
				       tpp);
	return err;
}

/*
 * A new name's transaction (a link, a rename to a name not there): with
 * no block at all when none are left, as XFS's xfs_link() and
 * xfs_rename() retry with resblks 0.  The directory then takes the name
 * only where it needs no block (kvfs_dir_canenter()), -ENOSPC otherwise;
 * the blocks kept for removals stay theirs.
 */
static int alloc_dirop(struct kvfs_mount *mp, const struct kvfs_trans_res *res,
		       struct kvfs_trans **tpp)
{
	int err = kvfs_trans_alloc_res(mp, res, 0, tpp);

	if (err == -ENOSPC)
		err = kvfs_trans_alloc(mp, res->log_bytes, res->log_count, 0,
				       tpp);
	return err;
}

static int remove_once(struct kvfs_mount *mp, struct kvfs_inode *dp,
		       const char *name, size_t len, bool rmdir)
{
	struct kvfs_dir_slot slot;
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	struct ilocks l = { 0 };
	uint64_t seq;
	int err = lookup_child_at(dp, name, len, &ip, &slot, &seq);

	if (err)
		return err;
	/* the flags before the type and the emptiness */
	err = kvfs_iflags_may_delete(dp, ip);
	if (err)
		goto out_put;
	if (rmdir && !S_ISDIR(ip->i_mode))
		err = -ENOTDIR;
	else if (!rmdir && S_ISDIR(ip->i_mode))
		err = -EISDIR;
	else if (rmdir && ip->i_ino == mp->g.rootino)
		err = -EBUSY;
	if (err)
		goto out_put;
	err = alloc_removal(mp, &mp->resv.remove, &tp);
	if (err)
		goto out_put;
	ilocks_add(&l, dp);
	ilocks_add(&l, ip);
	err = ilocks_take(&l, tp);
	if (err)
		goto out_cancel;
	/*
	 * Our exclusive hold the only one of dp since the lookup (a
	 * seqcount step of one): nothing changed its entries, the slot
	 * holds; else the name is looked up again.
	 */
	if (kvfs_ilock_seq_begin(dp) == seq + 1 && slot.ino == ip->i_ino)
		err = 0;
	else
		err = still_names_slot(dp, name, len, ip, &slot);
	if (!err && rmdir && !kvfs_dir_isempty(ip))
		err = -ENOTEMPTY;
	if (!err)
		err = kvfs_dir_canremove(tp, dp, name, len, &slot, NULL, 0);
	if (err)
		goto out_cancel;
	/*
	 * Link counts first: -EAGAIN there changes nothing.  The last link
	 * of an inode nobody else holds frees it here, in this transaction
	 * (fs/inode/inactive.h), instead of on its unlinked list and in a
	 * second one at the put; its AG's lock is taken where the list's
	 * would have been.
	 */
	err = rmdir ? kvfs_droplink(tp, ip) : 0;
	if (!err)
		err = kvfs_inode_free_at_unlink(ip) ? kvfs_difree(tp, ip) :
						      kvfs_droplink(tp, ip);
	if (!err && rmdir)
		err = kvfs_droplink(tp, dp);
	if (!err)
		err = kvfs_dir_removename_slot(tp, dp, name, len, &slot);
	if (err)
		goto out_cancel;
	dir_touch(tp, dp);
	err = kvfs_trans_commit(tp, NULL);
	goto out_put;
out_cancel:
	kvfs_trans_cancel(tp);
out_put:
	kvfs_iput(ip);
	return err;
}

static int remove_common(struct kvfs_mount *mp, uint64_t dir, const char *name,
			 bool rmdir)
{
	struct kvfs_inode *dp;
	size_t len;
	int err = name_len(name, &len);

	if (err)
		return err;
	err = get_dir(mp, dir, &dp);
	if (err)
		return err;
	if (is_dot(name, len))
		err = rmdir ? -EINVAL : -EISDIR;
	else if (is_dotdot(name, len))
		err = !rmdir		   ? -EISDIR :
		      dir == mp->g.rootino ? -EBUSY :
					     -ENOTEMPTY;
	else
		do
			err = remove_once(mp, dp, name, len, rmdir);
		while (err == -EAGAIN);
	kvfs_iput(dp);
	return err;
}

int kvfs_unlink(struct kvfs_mount *mp, uint64_t dir, const char *name)
{
	return remove_common(mp, dir, name, false);
}

int kvfs_rmdir(struct kvfs_mount *mp, uint64_t dir, const char *name)
{
	return remove_common(mp, dir, name, true);
}

/* ---- link ---- */

static int link_once(struct kvfs_mount *mp, struct kvfs_inode *ip,
		     struct kvfs_inode *dp, const char *name, size_t len,
		     struct kvfs_stat *st)
{
	struct kvfs_dir_place pl;
	struct kvfs_trans *tp;
	struct ilocks l = { 0 };
	uint8_t ftype;
	uint64_t ino;
	bool newly;
	int err = alloc_dirop(mp, &mp->resv.dirop, &tp);

	if (err)
		return err;
	ilocks_add(&l, dp);
	ilocks_add(&l, ip);
	err = ilocks_take(&l, tp);
	if (err)
		goto out_cancel;
	err = lookup_locked(dp, name, len, &ino, &ftype);
	if (!err)
		err = -EEXIST;
	else if (err == -ENOENT && dp->i_nlink) {
		/* the flags first, as Linux's vfs_link() */
		err = kvfs_iflags_may_add(dp);
		if (!err)
			err = kvfs_iflags_may_change(ip);
		if (!err && ip->i_nlink >= KVFS_MAX_LINK)
			err = -EMLINK;
	}
	/*
	 * Room for the name before the link count's change; a file of no
	 * name (O_TMPFILE) leaves its AG's unlinked list: that AG first, so
	 * that the room's AG does not make its lock a trylock (AG order).
	 */
	if (!err && !ip->i_nlink)
		err = kvfs_trans_lock_ag(
			tp, kvfs_ino_to_agno(&mp->g, ip->i_ino), false, &newly);
	kvfs_dir_place_init(&pl);
	if (!err)
		err = kvfs_dir_canenter_at(tp, dp, name, len, 0, &pl);
	if (!err)
		err = kvfs_bumplink(tp, ip);
	pl.ip = ip;
	if (!err)
		err = kvfs_dir_createname_at(tp, dp, name, len, ip->i_ino,
					     kvfs_mode_to_ftype(ip->i_mode),
					     &pl);
	if (err)
		goto out_cancel;
	dir_touch(tp, dp);
	if (st)
		kvfs_inode_stat(ip, st);
	return kvfs_trans_commit(tp, NULL);
out_cancel:
	kvfs_trans_cancel(tp);
	return err;
}

int kvfs_link(struct kvfs_mount *mp, uint64_t ino, uint64_t newdir,
	      const char *newname, struct kvfs_stat *st)
{
	struct kvfs_inode *ip, *dp;
	size_t len;
	int err = name_len(newname, &len);

	if (err)
		return err;
	err = kvfs_iget(mp, ino, 0, &ip);
	if (err)
		return err == -EINVAL ? -ENOENT : err;
	if (S_ISDIR(ip->i_mode)) {
		kvfs_iput(ip);
		return -EPERM;
	}
	err = get_dir(mp, newdir, &dp);
	if (err) {
		kvfs_iput(ip);
		return err;
	}
	if (is_dot(newname, len) || is_dotdot(newname, len))
		err = -EEXIST;
	else
		do
			err = link_once(mp, ip, dp, newname, len, st);
		while (err == -EAGAIN);
	kvfs_iput(dp);
	kvfs_iput(ip);
	return err;
}

/* ---- rename ---- */

/*
 * Is anc an ancestor of (or the same as) dir?  Walks ".." from dir to the
 * root, one shared inode lock at a time (rename_lock keeps the tree's
 * directories where they are).
 */
static int is_ancestor(struct kvfs_mount *mp, uint64_t anc, uint64_t dir,
		       bool *res)
{
	uint64_t cur = dir;
	unsigned steps = 0;

	*res = false;
	for (;;) {
		struct kvfs_inode *ip;
		uint64_t parent;
		int err;

		if (cur == anc) {
			*res = true;
			return 0;
		}
		if (cur == mp->g.rootino)
			return 0;
		if (++steps > 1u << 20)
			return -EUCLEAN;
		err = get_dir(mp, cur, &ip);
		if (err)
			return err == -ENOTDIR || err == -ENOENT ? -EUCLEAN :
								   err;
		kvfs_ilock(ip, KVFS_ILOCK_SHARED);
		/*
		 * Only the target directory itself can have been removed
		 * (every ancestor of a live directory is non-empty); its
		 * ".." may name a directory freed since: it takes no names.
		 */
		err = ip->i_nlink ? kvfs_dir_parent(ip, &parent) : -ENOENT;
		kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
		kvfs_iput(ip);
		if (err)
			return err;
		cur = parent;
	}
}

struct rn {
	struct kvfs_mount *mp;
	struct kvfs_inode *sdp, *tdp; /* source and target directories */
	const char *sname, *tname;
	size_t slen, tlen;
	unsigned flags;
	const struct kvfs_cred *cr;
};

static int rename_once(struct rn *r)
{
	struct kvfs_mount *mp = r->mp;
	struct kvfs_inode *sip = NULL, *tip = NULL, *wip = NULL;
	struct kvfs_trans *tp = NULL;
	struct ilocks l = { 0 };
	bool exchange = r->flags & KVFS_RENAME_EXCHANGE;
	bool sdir, tdir, locked = false, cross = r->sdp != r->tdp, anc;
	int err;

	err = lookup_child(r->sdp, r->sname, r->slen, &sip);
	if (err)
		return err;
	err = lookup_child(r->tdp, r->tname, r->tlen, &tip);
	if (err == -ENOENT) {
		tip = NULL;
		err = exchange ? -ENOENT : 0;
	} else if (!err && (r->flags & KVFS_RENAME_NOREPLACE)) {
		err = -EEXIST;
	}
	if (err)
		goto out;
	if (tip == sip) {
		/* two names of one inode: nothing to do (POSIX) */
		err = 0;
		goto out;
	}
	/*
	 * The flags of both names and both directories (Linux's
	 * vfs_rename(): may_delete() of the source, may_create() of a new
	 * name or may_delete() of the name replaced), before the types
	 */
	err = kvfs_iflags_may_delete(r->sdp, sip);
	if (!err)
		err = tip ? kvfs_iflags_may_delete(r->tdp, tip) :
			    kvfs_iflags_may_add(r->tdp);
	if (err)
		goto out;
	sdir = S_ISDIR(sip->i_mode);
	tdir = tip && S_ISDIR(tip->i_mode);
	if (!exchange && tip && sdir != tdir) {
		err = sdir ? -ENOTDIR : -EISDIR;
		goto out;
	}
	if ((sdir && sip->i_ino == mp->g.rootino) ||
	    (tdir && tip->i_ino == mp->g.rootino)) {
		err = -EBUSY;
		goto out;
	}
	/* moving a directory elsewhere: never below itself */
	if (cross && (sdir || (exchange && tdir))) {
		kv_lockdep_lock(&rename_lock, KV_RANK_RENAME, 0);
		pthread_mutex_lock(&rename_lock);
		locked = true;
		if (sdir) {
			err = is_ancestor(mp, sip->i_ino, r->tdp->i_ino, &anc);
			if (!err && anc)
				err = -EINVAL;
		}
		if (!err && exchange && tdir) {
			err = is_ancestor(mp, tip->i_ino, r->sdp->i_ino, &anc);
			if (!err && anc)
				err = -EINVAL;
		}
		if (err)
			goto out;
	}
	/*
	 * Over an existing name (or an exchange) no directory grows: as
	 * XFS's xfs_rename() with no space reserved, it works on a full
	 * filesystem, taking from the blocks kept for removals what the
	 * name removed and the link dropped may need, or none when those
	 * are gone (alloc_removal()).  To a new name, with none: where the
	 * name needs no block (alloc_dirop()).  Not with a whiteout, a new
	 * inode.
	 */
	if (!tip && !(r->flags & KVFS_RENAME_WHITEOUT))
		err = alloc_dirop(mp, &mp->resv.rename, &tp);
	else
		err = kvfs_trans_alloc_res(mp, &mp->resv.rename, 0, &tp);
	if (err == -ENOSPC && tip && !(r->flags & KVFS_RENAME_WHITEOUT))
		err = alloc_removal(mp, &mp->resv.rename, &tp);
	if (err)
		goto out;
	ilocks_add(&l, r->sdp);
	ilocks_add(&l, r->tdp);
	ilocks_add(&l, sip);
	ilocks_add(&l, tip);
	err = ilocks_take(&l, tp);
	if (err)
		goto out;
	err = still_names(r->sdp, r->sname, r->slen, sip);
	if (!err && !r->tdp->i_nlink)
		err = -ENOENT;
	if (!err) {
		err = tip ? still_names(r->tdp, r->tname, r->tlen, tip) :
			    lookup_locked(r->tdp, r->tname, r->tlen,
					  &(uint64_t){ 0 }, &(uint8_t){ 0 });
		if (!tip)
			err = err == -ENOENT ? 0 : err ? err : -EAGAIN;
		/* the target went meanwhile (an unlink): a rename to a free name */
		else if (err == -ENOENT)
			err = -EAGAIN;
	}
	if (err)
		goto out;
	if (!exchange && tdir && !kvfs_dir_isempty(tip)) {
		err = -ENOTEMPTY;
		goto out;
	}
	/* link limits, before anything changes */
	if (cross &&
	    ((!exchange && sdir && !tdir) || (exchange && sdir && !tdir)) &&
	    r->tdp->i_nlink >= KVFS_MAX_LINK)
		err = -EMLINK;
	if (cross && exchange && tdir && !sdir &&
	    r->sdp->i_nlink >= KVFS_MAX_LINK)
		err = -EMLINK;
	/* a new name in the target: its room before any change */
	if (!err && !tip)
		err = kvfs_dir_canenter(tp, r->tdp, r->tname, r->tlen, 0);
	/*
	 * the source's name goes (a whiteout or an exchange replaces it),
	 * after the new name's entry, in the same indexes when not cross
	 */
	if (!err && !exchange && !(r->flags & KVFS_RENAME_WHITEOUT))
		err = kvfs_dir_canremove(tp, r->sdp, r->sname, r->slen, NULL,
					 tip || cross ? NULL : r->tname,
					 r->tlen);
	if (err)
		goto out;
	/*
	 * The whiteout first: with no room for its inode the rename fails
	 * having changed nothing (but the allocator's refills), where after
	 * the link changes the cancel shut the log down (XFS allocates it
	 * before the rename's transaction).
	 */
	if (r->flags & KVFS_RENAME_WHITEOUT) {
		/*
		 * The target's AG before the whiteout's: its last link
		 * dropped puts it on that AG's unlinked list, whose lock is
		 * refused (-EAGAIN, out of AG order) once the allocation
		 * holds a higher AG.
		 */
		if (tip) {
			bool newly;

			err = kvfs_trans_lock_ag(
				tp, kvfs_ino_to_agno(&mp->g, tip->i_ino), false,
				&newly);
			/* a list that cannot take it: before anything is dirty */
			if (!err && (tip->i_nlink == 1 || tdir))
				err = kvfs_iunlink_usable(mp, tip->i_ino);
			if (err)
				goto out;
		}
		err = kvfs_icreate(tp, r->sdp, S_IFCHR, 0, 1, r->cr, &wip);
		if (err == -ENOSPC) {
			err = kvfs_trans_end_nospc(tp, err);
			tp = NULL;
		}
		if (err)
			goto out;
	}

	/* link counts first: the one that may reach zero leads */
	if (exchange) {
		if (cross && sdir != tdir) {
			struct kvfs_inode *down = sdir ? r->sdp : r->tdp;
			struct kvfs_inode *up = sdir ? r->tdp : r->sdp;

			err = kvfs_droplink(tp, down);
			if (!err)
				err = kvfs_bumplink(tp, up);
		}
		if (!err)
			err = kvfs_dir_replace(tp, r->sdp, r->sname, r->slen,
					       tip->i_ino,
					       kvfs_mode_to_ftype(tip->i_mode));
		if (!err)
			err = kvfs_dir_replace(tp, r->tdp, r->tname, r->tlen,
					       sip->i_ino,
					       kvfs_mode_to_ftype(sip->i_mode));
		if (!err && cross && sdir)
			err = kvfs_dir_set_parent(tp, sip, r->tdp->i_ino);
		if (!err && cross && tdir)
			err = kvfs_dir_set_parent(tp, tip, r->sdp->i_ino);
		if (err)
			goto out;
		ctime_touch(tp, tip);
	} else {
		if (tip) {
			err = kvfs_droplink(tp, tip);
			if (!err && tdir)
				err = kvfs_droplink(tp, tip);
			if (!err && tdir)
				err = kvfs_droplink(tp, r->tdp);
		}
		if (!err && sdir && cross) {
			err = kvfs_droplink(tp, r->sdp);
			if (!err)
				err = kvfs_bumplink(tp, r->tdp);
		}
		if (!err)
			err = tip ? kvfs_dir_replace(
					    tp, r->tdp, r->tname, r->tlen,
					    sip->i_ino,
					    kvfs_mode_to_ftype(sip->i_mode)) :
				    kvfs_dir_createname(
					    tp, r->tdp, r->tname, r->tlen,
					    sip->i_ino,
					    kvfs_mode_to_ftype(sip->i_mode));
		if (!err)
			err = wip ? kvfs_dir_replace(tp, r->sdp, r->sname,
						     r->slen, wip->i_ino,
						     KVFS_FT_CHR) :
				    kvfs_dir_removename(tp, r->sdp, r->sname,
							r->slen, sip->i_ino);
		if (!err && sdir && cross)
			err = kvfs_dir_set_parent(tp, sip, r->tdp->i_ino);
		if (err)
			goto out;
	}
	ctime_touch(tp, sip);
	dir_touch(tp, r->sdp);
	if (cross)
		dir_touch(tp, r->tdp);
	err = kvfs_trans_commit(tp, NULL);
	tp = NULL;
out:
	if (tp)
		kvfs_trans_cancel(tp);
	if (locked) {
		pthread_mutex_unlock(&rename_lock);
		kv_lockdep_unlock(&rename_lock);
	}
	if (wip)
		kvfs_iput(wip);
	if (tip)
		kvfs_iput(tip);
	kvfs_iput(sip);
	return err;
}

int kvfs_rename(struct kvfs_mount *mp, uint64_t olddir, const char *oldname,
		uint64_t newdir, const char *newname, unsigned flags,
		const struct kvfs_cred *cr)
{
	struct rn r = { .mp = mp,
			.sname = oldname,
			.tname = newname,
			.flags = flags,
			.cr = cr };
	int err;

	if (flags & ~(KVFS_RENAME_NOREPLACE | KVFS_RENAME_EXCHANGE |
		      KVFS_RENAME_WHITEOUT))
		return -EINVAL;
	if ((flags & KVFS_RENAME_EXCHANGE) &&
	    (flags & (KVFS_RENAME_NOREPLACE | KVFS_RENAME_WHITEOUT)))
		return -EINVAL;
	err = name_len(oldname, &r.slen);
	if (!err)
		err = name_len(newname, &r.tlen);
	if (err)
		return err;
	err = get_dir(mp, olddir, &r.sdp);
	if (err)
		return err;
	err = get_dir(mp, newdir, &r.tdp);
	if (err) {
		kvfs_iput(r.sdp);
		return err;
	}
	if (is_dot(oldname, r.slen) || is_dotdot(oldname, r.slen) ||
	    is_dot(newname, r.tlen) || is_dotdot(newname, r.tlen))
		err = -EBUSY;
	else
		do
			err = rename_once(&r);
		while (err == -EAGAIN);
	kvfs_iput(r.tdp);
	kvfs_iput(r.sdp);
	return err;
}

/* ---- readdir ---- */

int kvfs_readdir(struct kvfs_mount *mp, uint64_t dir, uint64_t cookie,
		 kvfs_filldir_t fill, void *priv)
{
	struct kvfs_inode *dp;
	int err = get_dir(mp, dir, &dp);

	if (err)
		return err;
	if (cookie >= 1ull << 63) {
		kvfs_iput(dp);
		return -EINVAL;
	}
	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	err = dp->i_nlink ? kvfs_dir_readdir(dp, cookie, fill, priv) : 0;
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	/* POSIX: a listing reads the directory (once, at its start) */
	if (!err && !cookie)
		kvfs_file_touch_atime(dp);
	kvfs_iput(dp);
	return err;
}
