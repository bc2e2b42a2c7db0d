// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-null [-f] [-d] [-s] [-t THREADS] MOUNTPOINT: an in-memory
 * filesystem over FUSE that does no filesystem work, to measure what FUSE
 * itself costs (tools/fsbench --fs fusenull).  It is mounted, asked and
 * answered exactly as mount.kvfs is (fs/fuse/main.c, fs/fuse/ops.c): the
 * same mount options, INIT flags and limits, FUSE_HANDLE_KILLPRIV_V2
 * through the same custom I/O hooks (fs/fuse/kio.c), the same entry and
 * attribute timeouts (a day, negative entries too), the same workers (one
 * per CPU, at least two; clone_fd), and the same requests refused with
 * ENOSYS (OPENDIR, FLUSH, ACCESS): the kernel sends both daemons the same
 * requests, and only the work behind each reply differs.  Not copied:
 * the bdi and fusectl tuning of mount.kvfs (writeback and read-ahead
 * only), and rename, link and locks (ENOSYS).
 *
 * One mutex for everything: a request holds it for a hash lookup and a
 * few stores (well under a microsecond) against tens of microseconds of
 * FUSE round trip, so two workers rarely meet on it (-s prints how often
 * one waited).  Replies go after the unlock.
 *
 * Exit status: 0 after an unmount, 1 a bad command line, 32 the mount.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse/kio.h"
#include "fs/fuse/opts.h"
#include "fs/fuse/ops.h"

#define EXIT_USAGE 1
#define EXIT_MOUNT 32
#define TIMEOUT 86400.0 /* mount.kvfs's entry and attribute timeout */
#define MAX_THREADS KVFS_FUSE_MAX_THREADS
#define MAX_FILE (64u << 20) /* small files: data in one buffer */
#define NAME_MAX_LEN 255

static const char *prog = "fuse-null";

struct dent {
	struct dent *next; /* hash chain */
	uint64_t ino;
	uint32_t hash;
	uint32_t slot; /* in dir->slots: readdir's order */
	char name[];
};

/*
 * A directory: a hash of its names, and the same entries in slots in
 * creation order for readdir (offset = slot + 2, after "." and "..").  A
 * removed entry leaves its slot empty until the directory is empty, so
 * that an offset keeps naming the same place.
 */
struct dir {
	struct dent **buckets;
	uint32_t nbuckets;
	uint32_t live;
	struct dent **slots;
	uint32_t nslots, cap;
};

struct node {
	struct node *hnext;
	uint64_t ino;
	uint64_t nlookup; /* the kernel's references */
	uint64_t parent; /* directories */
	uint32_t mode, nlink, uid, gid;
	dev_t rdev;
	struct timespec atime, mtime, ctime;
	char *data; /* a regular file's bytes, a symlink's target */
	size_t size;
	struct dir dir;
};

static struct {
	pthread_mutex_t lock;
	struct node **buckets;
	uint64_t nbuckets, count;
	uint64_t next_ino;
	bool dont_mask; /* the umask is ours (FUSE_CAP_DONT_MASK) */
	unsigned long locks, waits; /* -s */
} fs = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_ino = FUSE_ROOT_ID };

static void lock(void)
{
	__atomic_add_fetch(&fs.locks, 1, __ATOMIC_RELAXED);
	if (pthread_mutex_trylock(&fs.lock)) {
		__atomic_add_fetch(&fs.waits, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&fs.lock);
	}
}

static void unlock(void)
{
	pthread_mutex_unlock(&fs.lock);
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static struct node *node_get(uint64_t ino)
{
	struct node *n = fs.buckets[ino & (fs.nbuckets - 1)];

	while (n && n->ino != ino)
		n = n->hnext;
	return n;
}

static int table_grow(void)
{
	uint64_t nb = fs.nbuckets ? fs.nbuckets * 2 : 1024;
	struct node **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (uint64_t i = 0; i < fs.nbuckets; i++) {
		struct node *n = fs.buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			n->hnext = b[n->ino & (nb - 1)];
			b[n->ino & (nb - 1)] = n;
		}
	}
	free(fs.buckets);
	fs.buckets = b;
	fs.nbuckets = nb;
	return 0;
}

static void now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* A new inode in the table; NULL when out of memory. */
static struct node *node_new(uint32_t mode, const struct fuse_ctx *ctx,
			     const struct node *parent)
{
	struct node *n;

	if (fs.count >= fs.nbuckets && table_grow())
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->ino = fs.next_ino++;
	n->mode = mode;
	n->nlink = S_ISDIR(mode) ? 2 : 1;
	n->uid = ctx ? ctx->uid : getuid();
	n->gid = ctx ? ctx->gid : getgid();
	/* a SGID directory hands its group down, and the bit to directories */
	if (parent && (parent->mode & S_ISGID)) {
		n->gid = parent->gid;
		if (S_ISDIR(mode))
			n->mode |= S_ISGID;
	}
	n->parent = parent ? parent->ino : n->ino;
	now(&n->atime);
	n->mtime = n->ctime = n->atime;
	n->hnext = fs.buckets[n->ino & (fs.nbuckets - 1)];
	fs.buckets[n->ino & (fs.nbuckets - 1)] = n;
	fs.count++;
	return n;
}

static void dir_free(struct dir *d)
{
	for (uint32_t i = 0; i < d->nslots; i++)
		free(d->slots[i]);
	free(d->slots);
	free(d->buckets);
}

static void node_free(struct node *n)
{
	dir_free(&n->dir);
	free(n->data);
	free(n);
}

/* Out of the table and freed, once neither a name nor the kernel has it. */
static void node_put(struct node *n)
{
	struct node **p;

	if (n->nlink || n->nlookup)
		return;
	p = &fs.buckets[n->ino & (fs.nbuckets - 1)];
	while (*p != n)
		p = &(*p)->hnext;
	*p = n->hnext;
	fs.count--;
	node_free(n);
}

static struct dent *dir_find(const struct dir *d, const char *name)
{
	uint32_t h = name_hash(name);
	struct dent *e;

	if (!d->nbuckets)
		return NULL;
	for (e = d->buckets[h & (d->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && !strcmp(e->name, name))
			return e;
	return NULL;
}

static int dir_rehash(struct dir *d, uint32_t nb)
{
	struct dent **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->nslots; i++) {
		struct dent *e = d->slots[i];

		if (e) {
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(d->buckets);
	d->buckets = b;
	d->nbuckets = nb;
	return 0;
}

static int dir_add(struct dir *d, const char *name, uint64_t ino)
{
	size_t len = strlen(name);
	struct dent *e;

	if (d->nslots == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 16;
		struct dent **s = realloc(d->slots, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		d->slots = s;
		d->cap = cap;
	}
	if (d->live >= d->nbuckets &&
	    dir_rehash(d, d->nbuckets ? d->nbuckets * 2 : 16))
		return -ENOMEM;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->name, name, len + 1);
	e->ino = ino;
	e->hash = name_hash(name);
	e->slot = d->nslots;
	d->slots[d->nslots++] = e;
	e->next = d->buckets[e->hash & (d->nbuckets - 1)];
	d->buckets[e->hash & (d->nbuckets - 1)] = e;
	d->live++;
	return 0;
}

static void dir_remove(struct dir *d, struct dent *e)
{
	struct dent **p = &d->buckets[e->hash & (d->nbuckets - 1)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	d->slots[e->slot] = NULL;
	free(e);
	/* empty: the offsets start over */
	if (!--d->live)
		d->nslots = 0;
}

static void stat_of(const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = n->nlink;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_rdev = n->rdev;
	st->st_size = n->size;
	st->st_blocks = (n->size + 511) / 512;
	st->st_blksize = 4096;
	st->st_atim = n->atime;
	st->st_mtim = n->mtime;
	st->st_ctim = n->ctime;
}

/* The entry of n, one more kernel reference taken. */
static void entry_of(struct node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	e->generation = 1;
	stat_of(n, &e->attr);
	e->attr_timeout = TIMEOUT;
	e->entry_timeout = TIMEOUT;
	n->nlookup++;
}

/* The kernel dropped a reply (interrupted): it took no reference. */
static void unref(uint64_t ino, uint64_t count)
{
	struct node *n;

	lock();
	n = node_get(ino);
	if (n) {
		n->nlookup -= count < n->nlookup ? count : n->nlookup;
		node_put(n);
	}
	unlock();
}

static struct node *dir_node(fuse_ino_t ino, int *err)
{
	struct node *d = node_get(ino);

	*err = !d ? ENOENT : !S_ISDIR(d->mode) ? ENOTDIR : 0;
	return *err ? NULL : d;
}

static void nf_init(void *userdata, struct fuse_conn_info *conn)
{
	unsigned want = FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS |
			FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO |
			FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_EXPORT_SUPPORT |
			FUSE_CAP_WRITEBACK_CACHE;

	(void)userdata;
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	conn->want &= ~(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_HANDLE_KILLPRIV |
			FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_WRITEBACK_CACHE |
			FUSE_CAP_ASYNC_DIO | FUSE_CAP_SPLICE_READ);
	conn->want |= want & conn->capable;
	conn->max_write = KVFS_FUSE_MAX_IO;
	conn->max_readahead = KVFS_FUSE_MAX_IO;
	conn->max_background = KVFS_FUSE_MAX_BACKGROUND;
	conn->congestion_threshold = KVFS_FUSE_CONGESTION_THRESHOLD;
	conn->time_gran = 1;
	fs.dont_mask = conn->want & FUSE_CAP_DONT_MASK;
}

static void nf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .entry_timeout = TIMEOUT };
	struct node *d, *n = NULL;
	struct dent *de;
	int err;

	lock();
	d = dir_node(parent, &err);
	if (d && !strcmp(name, "."))
		n = d;
	else if (d && !strcmp(name, ".."))
		n = node_get(d->parent);
	else if (d && (de = dir_find(&d->dir, name)))
		n = node_get(de->ino);
	if (n)
		entry_of(n, &e);
	unlock();
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	/* no n: a negative entry, cached as mount.kvfs's are */
	if (fuse_reply_entry(req, &e) && n)
		unref(e.ino, 1);
}

static void nf_forget_one(fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = node_get(ino);

	if (!n)
		return;
	n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
	node_put(n);
}

static void nf_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	lock();
	nf_forget_one(ino, nlookup);
	unlock();
	fuse_reply_none(req);
}

static void nf_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *f)
{
	lock();
	for (size_t i = 0; i < count; i++)
		nf_forget_one(f[i].ino, f[i].nlookup);
	unlock();
	fuse_reply_none(req);
}

static void nf_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct node *n;
	struct stat st;

	(void)fi;
	lock();
	n = node_get(ino);
	if (n)
		stat_of(n, &st);
	unlock();
	if (n)
		fuse_reply_attr(req, &st, TIMEOUT);
	else
		fuse_reply_err(req, ENOENT);
}

static int set_size(struct node *n, size_t size)
{
	char *d;

	if (!S_ISREG(n->mode))
		return EINVAL;
	if (size > MAX_FILE)
		return EFBIG;
	if (size > n->size) {
		d = realloc(n->data, size);
		if (!d)
			return ENOMEM;
		memset(d + n->size, 0, size - n->size);
		n->data = d;
	}
	n->size = size;
	return 0;
}

static void set_time(struct timespec *t, const struct timespec *v, bool now_)
{
	if (now_)
		now(t);
	else
		*t = *v;
}

/* SUID, and SGID when group-executable: what V2 leaves to the daemon. */
static void kill_suidgid(struct node *n)
{
	n->mode &= ~S_ISUID;
	if (n->mode & S_IXGRP)
		n->mode &= ~S_ISGID;
}

static void nf_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct node *n;
	struct stat st;
	int err = 0;

	(void)fi;
	lock();
	n = node_get(ino);
	if (!n)
		err = ENOENT;
	if (!err && (to_set & FUSE_SET_ATTR_SIZE))
		err = set_size(n, attr->st_size);
	if (!err) {
		if (to_set & FUSE_SET_ATTR_MODE)
			n->mode = (n->mode & S_IFMT) | (attr->st_mode & 07777);
		if (to_set & FUSE_SET_ATTR_UID)
			n->uid = attr->st_uid;
		if (to_set & FUSE_SET_ATTR_GID)
			n->gid = attr->st_gid;
		if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW))
			set_time(&n->atime, &attr->st_atim,
				 to_set & FUSE_SET_ATTR_ATIME_NOW);
		if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
			set_time(&n->mtime, &attr->st_mtim,
				 to_set & FUSE_SET_ATTR_MTIME_NOW);
		set_time(&n->ctime, &attr->st_ctim,
			 !(to_set & FUSE_SET_ATTR_CTIME));
		if (kvfs_fuse_kio_kill_suidgid())
			kill_suidgid(n);
		stat_of(n, &st);
	}
	unlock();
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

/* A new name in directory parent: its node, or NULL with *err. */
static struct node *make(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, int *err)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct node *d, *n;

	if (strlen(name) > NAME_MAX_LEN) {
		*err = ENAMETOOLONG;
		return NULL;
	}
	d = dir_node(parent, err);
	if (!d)
		return NULL;
	if (dir_find(&d->dir, name)) {
		*err = EEXIST;
		return NULL;
	}
	if (fs.dont_mask)
		mode &= ~(ctx->umask & 0777);
	n = node_new(mode, ctx, d);
	if (!n) {
		*err = ENOMEM;
		return NULL;
	}
	if (dir_add(&d->dir, name, n->ino)) {
		n->nlink = 0;
		node_put(n);
		*err = ENOMEM;
		return NULL;
	}
	if (S_ISDIR(mode))
		d->nlink++;
	now(&d->mtime);
	d->ctime = d->mtime;
	*err = 0;
	return n;
}

static void reply_made(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev, const char *target)
{
	struct fuse_entry_param e;
	struct node *n;
	char *t = target ? strdup(target) : NULL;
	int err = target && !t ? ENOMEM : 0;

	lock();
	n = err ? NULL : make(req, parent, name, mode, &err);
	if (n) {
		n->rdev = rdev;
		if (t) {
			n->data = t;
			n->size = strlen(t);
			t = NULL;
		}
		entry_of(n, &e);
	}
	unlock();
	free(t);
	if (err)
		fuse_reply_err(req, err);
	else if (fuse_reply_entry(req, &e))
		unref(e.ino, 1);
}

static void nf_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	reply_made(req, parent, name, mode, rdev, NULL);
}

static void nf_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	reply_made(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL);
}

static void nf_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	reply_made(req, parent, name, S_IFLNK | 0777, 0, link);
}

static void nf_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX];
	struct node *n;
	int err = 0;

	lock();
	n = node_get(ino);
	if (!n)
		err = ENOENT;
	else if (!S_ISLNK(n->mode))
		err = EINVAL;
	else
		memcpy(buf, n->data, n->size + 1);
	unlock();
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_readlink(req, buf);
}

static void nf_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct node *d, *n = NULL;
	struct dent *de;
	int err;

	lock();
	d = dir_node(parent, &err);
	/* as kvfs_create(): an existing name is opened unless O_EXCL */
	de = d ? dir_find(&d->dir, name) : NULL;
	if (de && (fi->flags & O_EXCL))
		err = EEXIST;
	else if (de)
		n = node_get(de->ino);
	else
		n = d ? make(req, parent, name, mode, &err) : NULL;
	if (!err && S_ISDIR(n->mode))
		err = EISDIR;
	if (!err)
		entry_of(n, &e);
	unlock();
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fi->keep_cache = 1;
	if (fuse_reply_create(req, &e, fi))
		unref(e.ino, 1);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name,
			bool isdir)
{
	struct node *d, *n = NULL;
	struct dent *de = NULL;
	int err;

	lock();
	d = dir_node(parent, &err);
	if (d) {
		de = dir_find(&d->dir, name);
		n = de ? node_get(de->ino) : NULL;
	}
	if (d && !n)
		err = ENOENT;
	else if (n && isdir && !S_ISDIR(n->mode))
		err = ENOTDIR;
	else if (n && !isdir && S_ISDIR(n->mode))
		err = EISDIR;
	else if (n && isdir && n->dir.live)
		err = ENOTEMPTY;
	if (!err) {
		dir_remove(&d->dir, de);
		now(&d->mtime);
		d->ctime = d->mtime;
		n->ctime = d->mtime;
		if (isdir) {
			d->nlink--;
			n->nlink = 0;
		} else {
			n->nlink--;
		}
		node_put(n);
	}
	unlock();
	fuse_reply_err(req, err);
}

static void nf_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, false);
}

static void nf_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, true);
}

static void nf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void nf_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void nf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct node *n;
	char *buf = NULL;
	size_t len = 0;
	int err = 0;

	(void)fi;
	lock();
	n = node_get(ino);
	if (!n)
		err = ENOENT;
	else if (off < 0)
		err = EINVAL;
	else if ((size_t)off < n->size) {
		len = n->size - off < size ? n->size - off : size;
		buf = malloc(len);
		if (buf)
			memcpy(buf, n->data + off, len);
		else
			err = ENOMEM;
	}
	unlock();
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

static void nf_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *bufv, off_t off,
			 struct fuse_file_info *fi)
{
	size_t len = fuse_buf_size(bufv);
	const void *data = NULL;
	struct node *n;
	int err = 0;

	(void)fi;
	/* splice is off: the data is one buffer, where the read hook put it */
	if (bufv->count == 1 && !(bufv->buf[0].flags & FUSE_BUF_IS_FD))
		data = kvfs_fuse_kio_write_data(
			(char *)bufv->buf[0].mem + bufv->off, len);
	if (!data || off < 0 || (size_t)off > MAX_FILE - len) {
		fuse_reply_err(req, !data ? EIO : EFBIG);
		return;
	}
	lock();
	n = node_get(ino);
	if (!n)
		err = ENOENT;
	else if (off + len > n->size)
		err = set_size(n, off + len);
	if (!err) {
		memcpy(n->data + off, data, len);
		if (kvfs_fuse_kio_kill_suidgid())
			kill_suidgid(n);
	}
	unlock();
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, len);
}

/* As mount.kvfs: no directory handles (fs/fuse/ops.c, kf_opendir()). */
static void nf_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

/*
 * The entries of directory ino from offset off that fit in size bytes;
 * readdirplus takes a kernel reference on each but "." and ".." (which
 * the kernel does not take: their node id is left 0).
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       bool plus)
{
	char *buf = malloc(size);
	struct node *d, *n;
	size_t pos = 0, len;
	uint64_t taken[512];
	unsigned ntaken = 0;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	lock();
	d = dir_node(ino, &err);
	for (uint64_t p = off; d && p < d->dir.nslots + 2ull; p++) {
		struct fuse_entry_param e = { 0 };
		const struct dent *de = p < 2 ? NULL : d->dir.slots[p - 2];
		const char *name = p == 0 ? "." : p == 1 ? ".." : NULL;

		if (p >= 2 && !de)
			continue;
		n = node_get(p == 0 ? d->ino : p == 1 ? d->parent : de->ino);
		if (!n || (plus && !name && ntaken == 512))
			break;
		if (plus) {
			stat_of(n, &e.attr);
			e.attr_timeout = e.entry_timeout = TIMEOUT;
			e.ino = name ? 0 : n->ino;
			e.generation = 1;
			len = fuse_add_direntry_plus(req, buf + pos, size - pos,
						     name ?: de->name, &e,
						     p + 1);
		} else {
			stat_of(n, &e.attr);
			len = fuse_add_direntry(req, buf + pos, size - pos,
						name ?: de->name, &e.attr,
						p + 1);
		}
		if (len > size - pos)
			break;
		pos += len;
		if (plus && !name) {
			n->nlookup++;
			taken[ntaken++] = n->ino;
		}
	}
	unlock();
	if (err)
		fuse_reply_err(req, err);
	else if (fuse_reply_buf(req, buf, pos))
		for (unsigned i = 0; i < ntaken; i++)
			unref(taken[i], 1);
	free(buf);
}

static void nf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void nf_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

static void nf_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void nf_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st = { .f_bsize = 4096,
			      .f_frsize = 4096,
			      .f_blocks = 1ull << 30,
			      .f_bfree = 1ull << 30,
			      .f_bavail = 1ull << 30,
			      .f_files = 1ull << 32,
			      .f_namemax = NAME_MAX_LEN };

	(void)ino;
	lock();
	st.f_ffree = st.f_favail = st.f_files - fs.count;
	unlock();
	fuse_reply_statfs(req, &st);
}

/* No extended attributes (the kernel asks for ACLs and capabilities). */
static void nf_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENODATA);
}

static void nf_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_xattr(req, 0);
}

static void nf_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, ENOTSUP);
}

static void nf_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	fuse_reply_err(req, ENODATA);
}

static const struct fuse_lowlevel_ops null_ops = {
	.init = nf_init,
	.lookup = nf_lookup,
	.forget = nf_forget,
	.forget_multi = nf_forget_multi,
	.getattr = nf_getattr,
	.setattr = nf_setattr,
	.readlink = nf_readlink,
	.mknod = nf_mknod,
	.mkdir = nf_mkdir,
	.symlink = nf_symlink,
	.unlink = nf_unlink,
	.rmdir = nf_rmdir,
	.open = nf_open,
	.create = nf_create,
	.read = nf_read,
	.write_buf = nf_write_buf,
	.release = nf_release,
	.fsync = nf_fsync,
	.opendir = nf_opendir,
	.readdir = nf_readdir,
	.readdirplus = nf_readdirplus,
	.fsyncdir = nf_fsync,
	.statfs = nf_statfs,
	.setxattr = nf_setxattr,
	.getxattr = nf_getxattr,
	.listxattr = nf_listxattr,
	.removexattr = nf_removexattr,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-f] [-d] [-s] [-t THREADS] MOUNTPOINT\n"
		"  an in-memory filesystem doing no work, configured as\n"
		"  mount.kvfs is (the FUSE ceiling of tools/fsbench)\n"
		"  -f  foreground      -d  debug (libfuse's request trace; -f)\n"
		"  -s  at exit, print how often the lock was taken and how\n"
		"      often a worker waited for it (stderr; with -f)\n"
		"  -t  worker threads (1..%u; default: one per CPU, at least 2)\n"
		"  -h  this help\n"
		"unmount with: fusermount3 -u MOUNTPOINT (or umount)\n",
		prog, MAX_THREADS);
}

static void free_all(void)
{
	for (uint64_t i = 0; i < fs.nbuckets; i++) {
		struct node *n = fs.buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			node_free(n);
		}
	}
	free(fs.buckets);
}

/* Mount, serve until unmounted; the exit status. */
static int serve(const char *mnt, unsigned threads, bool foreground, bool debug)
{
	char *argv[4] = {
		(char *)prog, "-o",
		/* mount.kvfs's, as root (fs/fuse/opts.c) */
		getuid() == 0 ? "fsname=fuse-null,subtype=fusenull,"
				"allow_other,default_permissions,rw,suid,dev" :
				"fsname=fuse-null,subtype=fusenull,rw",
		"-d"
	};
	struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, argv);
	struct fuse_loop_config *lc;
	struct fuse_session *se;
	int status = EXIT_MOUNT, ret;

	se = fuse_session_new(&args, &null_ops, sizeof(null_ops), NULL);
	fuse_opt_free_args(&args);
	if (!se)
		return EXIT_MOUNT; /* libfuse said why */
	if (fuse_session_mount(se, mnt))
		goto out_session;
	if (kvfs_fuse_kio_attach(se) || fuse_set_signal_handlers(se))
		goto out_unmount; /* libfuse said why */
	lc = fuse_loop_cfg_create();
	if (!lc) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out_signals;
	}
	fuse_loop_cfg_set_clone_fd(lc, 1);
	fuse_loop_cfg_set_max_threads(lc, threads);
	fuse_loop_cfg_set_idle_threads(lc, threads);
	/* the mount is live: a background daemon's parent returns now */
	if (fuse_daemonize(foreground))
		goto out_cfg;
	ret = fuse_session_loop_mt(se, lc);
	status = ret ? EXIT_MOUNT : 0;
	if (ret)
		fprintf(stderr, "%s: %s: the FUSE session failed: %s\n", prog,
			mnt, strerror(ret < 0 ? -ret : ret));
out_cfg:
	fuse_loop_cfg_destroy(lc);
out_signals:
	fuse_remove_signal_handlers(se);
out_unmount:
	fuse_session_unmount(se);
out_session:
	fuse_session_destroy(se);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool foreground = false, debug = false, stats = false;
	unsigned threads = kvfs_fuse_default_threads();
	char mnt[PATH_MAX];
	struct stat st;
	char *end;
	long v;
	int c, status;

	while ((c = getopt_long(argc, argv, "fdst:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case 'd':
			debug = foreground = true;
			break;
		case 's':
			stats = true;
			break;
		case 't':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 ||
			    v > MAX_THREADS) {
				fprintf(stderr, "%s: -t %s: 1..%u expected\n",
					prog, optarg, MAX_THREADS);
				return EXIT_USAGE;
			}
			threads = v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!realpath(argv[optind], mnt) || stat(mnt, &st)) {
		fprintf(stderr, "%s: %s: %s\n", prog, argv[optind],
			strerror(errno));
		return EXIT_MOUNT;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: %s: %s\n", prog, mnt, strerror(ENOTDIR));
		return EXIT_MOUNT;
	}
	if (table_grow() || !node_new(S_IFDIR | 0755, NULL, NULL)) {
		fprintf(stderr, "%s: out of memory\n", prog);
		free_all();
		return EXIT_MOUNT;
	}
	/* the kernel holds the root from the start, and never forgets it */
	node_get(FUSE_ROOT_ID)->nlookup = 1;
	status = serve(mnt, threads, foreground, debug);
	if (stats && foreground)
		fprintf(stderr,
			"%s: the lock taken %lu times, %lu of them after a wait\n",
			prog, fs.locks, fs.waits);
	free_all();
	return status;
}
