// SPDX-License-Identifier: GPL-2.0
/*
 * The namespace operations of fs/kvfs.h (fs/ns/namei.c):
 *  - every errno case of lookup, create/mknod, mkdir, unlink, rmdir, link,
 *    rename and readdir, each failure leaving the directory as it was;
 *    "." and ".." as POSIX says; link counts, ".." and timestamps;
 *  - rename: within a directory, across directories, over a file, a
 *    directory over an empty one (and not over a full one, a file or a
 *    directory in the wrong places), into its own subtree (EINVAL),
 *    NOREPLACE, EXCHANGE (a file with a directory across directories),
 *    WHITEOUT (a 0/0 character device left behind), two names of one
 *    inode;
 *  - unlink racing a rename over (or away from) the name it removes;
 *  - crash: random namespace operations on a tree, a power cut
 *    (kvfs_mount_shutdown) at a random point, recovery, then the checker
 *    clean and, walking the tree from the root, every link count equal to
 *    the names (files) or 2 + subdirectories (directories), every ".."
 *    naming the directory that holds it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fs/btree/btblock.h"
#include "fs/data/bmap.h"
#include "fs/io/blkhdr.h"
#include "fs/ns/dir.h"
#include "fs/space/alloc.h"
#include "fs/space/perag.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/iunlink.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"
#include "tests/dir/dirtest.h"

static const struct kvfs_cred cr = { .uid = 1000, .gid = 1000 };

static uint64_t ino_of(struct kvfs_mount *mp, uint64_t dir, const char *name)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_lookup(mp, dir, name, &st), 0);
	return st.ino;
}

static struct kvfs_stat stat_of(struct kvfs_mount *mp, uint64_t dir,
				const char *name)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_lookup(mp, dir, name, &st), 0);
	return st;
}

/*
 * A directory placed as a file would be, in its parent's AG first: the
 * rotor that spreads new directories over the AGs set to that AG.
 */
static uint64_t mkdir_near(struct kvfs_mount *mp, uint64_t dir,
			   const char *name)
{
	atomic_store(&mp->agrotor, kvfs_ino_to_agno(&mp->g, dir));
	return dir_mkdir(mp, dir, name, &cr);
}

static size_t count(struct kvfs_mount *mp, uint64_t dir)
{
	struct dlist l = { 0 };

	CHECK_EQ(kvfs_readdir(mp, dir, 0, dlist_fill, &l), 0);
	free(l.v);
	return l.n;
}

/* Set ino's link count in-core and on disk (to reach the limit). */
static void set_nlink(struct kvfs_mount *mp, uint64_t ino, uint32_t n)
{
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.ichange, 0, &tp), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	ip->i_nlink = n;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
}

static void test_errnos(struct kvfs_mount *mp)
{
	uint64_t root = mp->g.rootino, d, f, sub;
	struct kvfs_stat st, st2;
	char longname[300];
	bool created;
	size_t n;

	memset(longname, 'x', 256);
	longname[256] = '\0';
	d = dir_mkdir(mp, root, "e", &cr);
	f = dir_creat(mp, d, "file", &cr);
	sub = dir_mkdir(mp, d, "sub", &cr);
	n = count(mp, d);
	CHECK_EQ(n, 4);

	/* lookup */
	CHECK_EQ(kvfs_lookup(mp, d, "nope", &st), -ENOENT);
	CHECK_EQ(kvfs_lookup(mp, d, longname, &st), -ENAMETOOLONG);
	longname[255] = '\0';
	CHECK_EQ(kvfs_lookup(mp, d, longname, &st), -ENOENT);
	longname[255] = 'x';
	CHECK_EQ(kvfs_lookup(mp, d, "a/b", &st), -EINVAL);
	CHECK_EQ(kvfs_lookup(mp, d, "", &st), -ENOENT);
	CHECK_EQ(kvfs_lookup(mp, f, "x", &st), -ENOTDIR);
	CHECK_EQ(ino_of(mp, d, "."), d);
	CHECK_EQ(ino_of(mp, d, ".."), root);
	CHECK_EQ(ino_of(mp, sub, ".."), d);
	CHECK_EQ(ino_of(mp, root, ".."), root);

	/* create / mknod */
	CHECK_EQ(kvfs_create(mp, d, "file", S_IFREG | 0644, 0, KVFS_CREATE_EXCL,
			     &cr, &st, &created),
		 -EEXIST);
	CHECK_EQ(kvfs_create(mp, d, "file", S_IFREG | 0644, 0, 0, &cr, &st,
			     &created),
		 0);
	CHECK(!created);
	CHECK_EQ(st.ino, f);
	CHECK_EQ(kvfs_create(mp, d, "sub", S_IFREG | 0644, 0, 0, &cr, &st,
			     &created),
		 -EISDIR);
	CHECK_EQ(kvfs_create(mp, d, longname, S_IFREG | 0644, 0, 0, &cr, &st,
			     &created),
		 -ENAMETOOLONG);
	CHECK_EQ(kvfs_create(mp, d, "a/b", S_IFREG | 0644, 0, 0, &cr, &st,
			     &created),
		 -EINVAL);
	CHECK_EQ(kvfs_create(mp, f, "x", S_IFREG | 0644, 0, 0, &cr, &st,
			     &created),
		 -ENOTDIR);
	CHECK_EQ(kvfs_create(mp, d, ".", S_IFREG | 0644, 0, KVFS_CREATE_EXCL,
			     &cr, &st, &created),
		 -EEXIST);
	CHECK_EQ(kvfs_create(mp, d, "lnk", S_IFLNK | 0777, 0, 0, &cr, &st,
			     &created),
		 -EINVAL);
	CHECK_EQ(count(mp, d), n);
	CHECK_EQ(kvfs_create(mp, d, "fifo", S_IFIFO | 0600, 0, KVFS_CREATE_EXCL,
			     &cr, &st, &created),
		 0);
	CHECK(S_ISFIFO(st.mode));
	CHECK_EQ(kvfs_create(mp, d, "chr", S_IFCHR | 0600, (5ull << 32) | 1,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	CHECK_EQ(st.rdev, (5ull << 32) | 1);
	CHECK_EQ(kvfs_create(mp, d, "sock", S_IFSOCK | 0600, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	n += 3;
	{
		struct dlist l = { 0 };
		int seen = 0;

		CHECK_EQ(kvfs_readdir(mp, d, 0, dlist_fill, &l), 0);
		CHECK(!strcmp(l.v[0].name, ".") && l.v[0].dtype == DT_DIR);
		CHECK(!strcmp(l.v[1].name, "..") && l.v[1].ino == root);
		for (size_t i = 2; i < l.n; i++) {
			if (!strcmp(l.v[i].name, "fifo"))
				seen += l.v[i].dtype == DT_FIFO;
			if (!strcmp(l.v[i].name, "chr"))
				seen += l.v[i].dtype == DT_CHR;
			if (!strcmp(l.v[i].name, "sock"))
				seen += l.v[i].dtype == DT_SOCK;
			if (!strcmp(l.v[i].name, "sub"))
				seen += l.v[i].dtype == DT_DIR;
			if (!strcmp(l.v[i].name, "file"))
				seen += l.v[i].dtype == DT_REG;
		}
		CHECK_EQ(seen, 5);
		free(l.v);
	}

	/* mkdir: parent's link count, timestamps, EMLINK */
	st = stat_of(mp, root, "e");
	CHECK_EQ(st.nlink, 3);
	CHECK_EQ(kvfs_mkdir(mp, d, "sub", 0755, &cr, &st2), -EEXIST);
	CHECK_EQ(kvfs_mkdir(mp, d, "..", 0755, &cr, &st2), -EEXIST);
	CHECK_EQ(kvfs_mkdir(mp, d, longname, 0755, &cr, &st2), -ENAMETOOLONG);
	set_nlink(mp, d, KVFS_MAX_LINK);
	CHECK_EQ(kvfs_mkdir(mp, d, "sub2", 0755, &cr, &st2), -EMLINK);
	CHECK_EQ(kvfs_lookup(mp, d, "sub2", &st2), -ENOENT);
	set_nlink(mp, d, 3);
	st = stat_of(mp, root, "e");
	dir_mkdir(mp, d, "sub2", &cr);
	st2 = stat_of(mp, root, "e");
	CHECK_EQ(st2.nlink, 4);
	CHECK(st2.mtime.tv_sec > st.mtime.tv_sec ||
	      (st2.mtime.tv_sec == st.mtime.tv_sec &&
	       st2.mtime.tv_nsec >= st.mtime.tv_nsec));
	n++;

	/* unlink */
	CHECK_EQ(kvfs_unlink(mp, d, "nope"), -ENOENT);
	CHECK_EQ(kvfs_unlink(mp, d, "sub"), -EISDIR);
	CHECK_EQ(kvfs_unlink(mp, d, "."), -EISDIR);
	CHECK_EQ(kvfs_unlink(mp, f, "x"), -ENOTDIR);
	CHECK_EQ(kvfs_unlink(mp, d, longname), -ENAMETOOLONG);
	CHECK_EQ(count(mp, d), n);

	/* link */
	CHECK_EQ(kvfs_link(mp, sub, d, "dirlink", &st), -EPERM);
	CHECK_EQ(kvfs_link(mp, f, d, "file", &st), -EEXIST);
	CHECK_EQ(kvfs_link(mp, f, d, ".", &st), -EEXIST);
	CHECK_EQ(kvfs_link(mp, f, f, "x", &st), -ENOTDIR);
	CHECK_EQ(kvfs_link(mp, f, d, longname, &st), -ENAMETOOLONG);
	set_nlink(mp, f, KVFS_MAX_LINK);
	CHECK_EQ(kvfs_link(mp, f, sub, "l", &st), -EMLINK);
	set_nlink(mp, f, 1);
	CHECK_EQ(kvfs_link(mp, f, sub, "l", &st), 0);
	CHECK_EQ(st.nlink, 2);
	CHECK_EQ(ino_of(mp, sub, "l"), f);
	CHECK_EQ(kvfs_unlink(mp, d, "file"), 0);
	CHECK_EQ(stat_of(mp, sub, "l").nlink, 1);
	CHECK_EQ(kvfs_lookup(mp, d, "file", &st), -ENOENT);
	n--;

	/* rmdir */
	CHECK_EQ(kvfs_rmdir(mp, d, "sub"), -ENOTEMPTY);
	CHECK_EQ(kvfs_rmdir(mp, d, "fifo"), -ENOTDIR);
	CHECK_EQ(kvfs_rmdir(mp, d, "."), -EINVAL);
	CHECK_EQ(kvfs_rmdir(mp, d, ".."), -ENOTEMPTY);
	CHECK_EQ(kvfs_rmdir(mp, root, ".."), -EBUSY);
	CHECK_EQ(kvfs_rmdir(mp, d, "nope"), -ENOENT);
	CHECK_EQ(count(mp, d), n);
	CHECK_EQ(kvfs_unlink(mp, sub, "l"), 0);
	/* held open (as a FUSE lookup holds it): removed, not yet freed */
	CHECK_EQ(kvfs_inode_open(mp, sub, 0), 0);
	CHECK_EQ(kvfs_rmdir(mp, d, "sub"), 0);
	CHECK_EQ(stat_of(mp, root, "e").nlink, 3);
	/* a removed directory takes no new names */
	CHECK_EQ(kvfs_create(mp, sub, "x", S_IFREG | 0644, 0, 0, &cr, &st,
			     &created),
		 -ENOENT);
	CHECK_EQ(kvfs_lookup(mp, sub, ".", &st), -ENOENT);
	CHECK_EQ(count(mp, sub), 0);
	/* freed at its last close */
	kvfs_inode_close(mp, sub);
	CHECK_EQ(kvfs_lookup(mp, sub, ".", &st), -ENOENT);
	CHECK_EQ(kvfs_readdir(mp, sub, 0, dlist_fill, &(struct dlist){ 0 }),
		 -ENOENT);
	/* f lost its last link with sub/l: freed; a FIFO is no directory */
	CHECK_EQ(kvfs_getattr(mp, f, &st), -ENOENT);
	CHECK_EQ(kvfs_readdir(mp, ino_of(mp, d, "fifo"), 0, dlist_fill,
			      &(struct dlist){ 0 }),
		 -ENOTDIR);
	printf("namei errnos: lookup create mknod mkdir unlink link rmdir "
	       "readdir\n");
}

static void test_rename(struct kvfs_mount *mp)
{
	uint64_t root = mp->g.rootino, a, b, x, y, f, g2, sub, deep;
	struct kvfs_stat st;

	a = dir_mkdir(mp, root, "ra", &cr);
	b = dir_mkdir(mp, root, "rb", &cr);
	f = dir_creat(mp, a, "f", &cr);
	/* same directory */
	CHECK_EQ(kvfs_rename(mp, a, "f", a, "g", 0, &cr), 0);
	CHECK_EQ(ino_of(mp, a, "g"), f);
	CHECK_EQ(kvfs_lookup(mp, a, "f", &st), -ENOENT);
	/* across, over an existing file: it loses its link */
	g2 = dir_creat(mp, b, "g", &cr);
	CHECK_EQ(kvfs_rename(mp, a, "g", b, "g", KVFS_RENAME_NOREPLACE, &cr),
		 -EEXIST);
	/* held open: it outlives its last link until its last close */
	CHECK_EQ(kvfs_inode_open(mp, g2, 0), 0);
	CHECK_EQ(kvfs_rename(mp, a, "g", b, "g", 0, &cr), 0);
	CHECK_EQ(ino_of(mp, b, "g"), f);
	CHECK_EQ(kvfs_lookup(mp, a, "g", &st), -ENOENT);
	CHECK_EQ(kvfs_getattr(mp, g2, &st), 0);
	CHECK_EQ(st.nlink, 0);
	kvfs_inode_close(mp, g2);
	CHECK_EQ(kvfs_getattr(mp, g2, &st), -ENOENT);
	/* two names of one inode: nothing happens */
	CHECK_EQ(kvfs_link(mp, f, a, "h", &st), 0);
	CHECK_EQ(kvfs_rename(mp, a, "h", b, "g", 0, &cr), 0);
	CHECK_EQ(ino_of(mp, a, "h"), f);
	CHECK_EQ(ino_of(mp, b, "g"), f);
	/* a directory across: "..", link counts */
	x = dir_mkdir(mp, a, "x", &cr);
	CHECK_EQ(stat_of(mp, root, "ra").nlink, 3);
	CHECK_EQ(kvfs_rename(mp, a, "x", b, "x", 0, &cr), 0);
	CHECK_EQ(ino_of(mp, x, ".."), b);
	CHECK_EQ(stat_of(mp, root, "ra").nlink, 2);
	CHECK_EQ(stat_of(mp, root, "rb").nlink, 3);
	/* over an empty directory; not over a full one, nor file/dir */
	y = dir_mkdir(mp, a, "y", &cr);
	CHECK_EQ(kvfs_rename(mp, b, "x", a, "y", 0, &cr), 0);
	CHECK_EQ(ino_of(mp, a, "y"), x);
	CHECK_EQ(ino_of(mp, x, ".."), a);
	CHECK_EQ(stat_of(mp, root, "ra").nlink, 3);
	CHECK_EQ(stat_of(mp, root, "rb").nlink, 2);
	(void)y;
	sub = dir_mkdir(mp, b, "full", &cr);
	dir_creat(mp, sub, "inside", &cr);
	CHECK_EQ(kvfs_rename(mp, a, "y", b, "full", 0, &cr), -ENOTEMPTY);
	CHECK_EQ(kvfs_rename(mp, a, "y", a, "h", 0, &cr), -ENOTDIR);
	CHECK_EQ(kvfs_rename(mp, a, "h", b, "full", 0, &cr), -EISDIR);
	/* into its own subtree */
	deep = dir_mkdir(mp, x, "deep", &cr);
	CHECK_EQ(kvfs_rename(mp, a, "y", deep, "z", 0, &cr), -EINVAL);
	CHECK_EQ(kvfs_rename(mp, a, "y", x, "z", 0, &cr), -EINVAL);
	CHECK_EQ(kvfs_rename(mp, root, "ra", deep, "z", 0, &cr), -EINVAL);
	CHECK_EQ(ino_of(mp, a, "y"), x);
	/* the errors of names and flags */
	CHECK_EQ(kvfs_rename(mp, a, "nope", b, "z", 0, &cr), -ENOENT);
	CHECK_EQ(kvfs_rename(mp, a, ".", b, "z", 0, &cr), -EBUSY);
	CHECK_EQ(kvfs_rename(mp, a, "h", b, "..", 0, &cr), -EBUSY);
	CHECK_EQ(kvfs_rename(mp, a, "h", b, "z", 0x80, &cr), -EINVAL);
	CHECK_EQ(kvfs_rename(mp, a, "h", b, "z",
			     KVFS_RENAME_EXCHANGE | KVFS_RENAME_NOREPLACE, &cr),
		 -EINVAL);
	CHECK_EQ(kvfs_rename(mp, a, "h", b, "z", KVFS_RENAME_EXCHANGE, &cr),
		 -ENOENT);
	CHECK_EQ(kvfs_rename(mp, a, "h", f, "z", 0, &cr), -ENOTDIR);
	/* EXCHANGE a file in a with a directory in b */
	CHECK_EQ(kvfs_rename(mp, a, "h", b, "full", KVFS_RENAME_EXCHANGE, &cr),
		 0);
	CHECK_EQ(ino_of(mp, a, "h"), sub);
	CHECK_EQ(ino_of(mp, b, "full"), f);
	CHECK_EQ(ino_of(mp, sub, ".."), a);
	CHECK_EQ(stat_of(mp, root, "ra").nlink, 4);
	CHECK_EQ(stat_of(mp, root, "rb").nlink, 2);
	/* NOREPLACE to a free name */
	CHECK_EQ(kvfs_rename(mp, b, "full", b, "file", KVFS_RENAME_NOREPLACE,
			     &cr),
		 0);
	/* WHITEOUT: a 0/0 character device where the name was */
	CHECK_EQ(kvfs_rename(mp, b, "file", a, "w", KVFS_RENAME_WHITEOUT, &cr),
		 0);
	st = stat_of(mp, b, "file");
	CHECK(S_ISCHR(st.mode));
	CHECK_EQ(st.rdev, 0);
	CHECK(st.ino != f);
	CHECK_EQ(ino_of(mp, a, "w"), f);
	printf("namei rename: same dir, across, over file, dir over empty "
	       "dir, subtree, noreplace, exchange, whiteout\n");
}

/* ---- crash ---- */

struct walk {
	struct kvfs_mount *mp;
	uint64_t *ino;
	uint32_t *links;
	size_t n, cap;
	unsigned dirs, files;
};

static size_t slot(struct walk *w, uint64_t ino)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->ino[i] == ino)
			return i;
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->ino = realloc(w->ino, w->cap * sizeof(*w->ino));
		w->links = realloc(w->links, w->cap * sizeof(*w->links));
		CHECK(w->ino && w->links);
	}
	w->ino[w->n] = ino;
	w->links[w->n] = 0;
	return w->n++;
}

/* Count the links the tree holds to every inode below dir. */
static void walk_dir(struct walk *w, uint64_t dir, unsigned depth)
{
	struct dlist l = { 0 };

	size_t me = slot(w, dir);
	int err;

	CHECK(depth < 64);
	err = kvfs_readdir(w->mp, dir, 0, dlist_fill, &l);
	if (err)
		fprintf(stderr, "directory %llu: %s\n", (unsigned long long)dir,
			kvfs_report_last()->msg);
	CHECK_EQ(err, 0);
	w->links[me] += 1; /* its "." */
	for (size_t i = 2; i < l.n; i++) {
		struct kvfs_stat st;

		err = kvfs_lookup(w->mp, dir, l.v[i].name, &st);
		if (err)
			fprintf(stderr,
				"%llu/%s: %s, block %llu, inode %llu: %s\n",
				(unsigned long long)dir, l.v[i].name,
				kvfs_report_last()->what,
				(unsigned long long)kvfs_report_last()->blkno,
				(unsigned long long)kvfs_report_last()->ino,
				kvfs_report_last()->msg);
		CHECK_EQ(err, 0);
		CHECK_EQ(st.ino, l.v[i].ino);
		size_t c = slot(w, st.ino);

		w->links[c]++;
		if (S_ISDIR(st.mode)) {
			CHECK_EQ(l.v[i].dtype, DT_DIR);
			CHECK_EQ(ino_of(w->mp, st.ino, ".."), dir);
			w->links[me]++; /* the child's ".." */
			w->dirs++;
			walk_dir(w, st.ino, depth + 1);
		} else {
			w->files++;
		}
	}
	free(l.v);
}

static void check_tree(struct kvfs_mount *mp)
{
	struct walk w = { .mp = mp };
	size_t r = slot(&w, mp->g.rootino);

	w.links[r] += 1; /* root's ".." */
	walk_dir(&w, mp->g.rootino, 0);
	for (size_t i = 0; i < w.n; i++) {
		struct kvfs_inode *ip;

		CHECK_EQ(kvfs_iget(mp, w.ino[i], 0, &ip), 0);
		if (ip->i_nlink != w.links[i])
			fprintf(stderr, "inode %llu: nlink %u, %u links\n",
				(unsigned long long)w.ino[i], ip->i_nlink,
				w.links[i]);
		CHECK_EQ(ip->i_nlink, w.links[i]);
		kvfs_iput(ip);
	}
	free(w.ino);
	free(w.links);
}

static unsigned seed = 777;

static unsigned rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

/* A random existing directory among those created (or the root). */
static uint64_t pick_dir(struct kvfs_mount *mp, const uint64_t *dirs,
			 unsigned ndirs)
{
	for (int tries = 0; tries < 8; tries++) {
		uint64_t d = dirs[rnd() % ndirs];
		struct kvfs_stat st;
		struct dlist l = { 0 };

		if (kvfs_readdir(mp, d, 0, dlist_fill, &l) == 0 && l.n) {
			free(l.v);
			(void)st;
			return d;
		}
		free(l.v);
	}
	return mp->g.rootino;
}

static void random_ops(struct kvfs_mount *mp, unsigned nops, uint64_t *dirs,
		       unsigned *ndirs)
{
	static const unsigned rflags[] = { 0, KVFS_RENAME_NOREPLACE,
					   KVFS_RENAME_EXCHANGE,
					   KVFS_RENAME_WHITEOUT };
	char a[16], b[16];

	for (unsigned i = 0; i < nops; i++) {
		uint64_t d1 = pick_dir(mp, dirs, *ndirs);
		uint64_t d2 = pick_dir(mp, dirs, *ndirs);
		struct kvfs_stat st;
		bool created;
		int err;

		snprintf(a, sizeof(a), "n%u", rnd() % 40);
		snprintf(b, sizeof(b), "n%u", rnd() % 40);
		switch (rnd() % 7) {
		case 0:
		case 1:
			err = kvfs_create(mp, d1, a, S_IFREG | 0644, 0,
					  KVFS_CREATE_EXCL, &cr, &st, &created);
			CHECK(err == 0 || err == -EEXIST || err == -ENOENT);
			break;
		case 2:
			err = kvfs_mkdir(mp, d1, a, 0755, &cr, &st);
			CHECK(err == 0 || err == -EEXIST || err == -ENOENT);
			if (!err && *ndirs < 256)
				dirs[(*ndirs)++] = st.ino;
			break;
		case 3:
			err = kvfs_unlink(mp, d1, a);
			CHECK(err == 0 || err == -ENOENT || err == -EISDIR);
			break;
		case 4:
			err = kvfs_rmdir(mp, d1, a);
			CHECK(err == 0 || err == -ENOENT || err == -ENOTDIR ||
			      err == -ENOTEMPTY);
			break;
		case 5:
			err = kvfs_lookup(mp, d1, a, &st);
			if (!err)
				err = kvfs_link(mp, st.ino, d2, b, &st);
			CHECK(err == 0 || err == -ENOENT || err == -EEXIST ||
			      err == -EPERM);
			break;
		default:
			err = kvfs_rename(mp, d1, a, d2, b, rflags[rnd() % 4],
					  &cr);
			CHECK(err == 0 || err == -ENOENT || err == -EEXIST ||
			      err == -ENOTEMPTY || err == -ENOTDIR ||
			      err == -EISDIR || err == -EINVAL);
			break;
		}
	}
}

/* kvfs_symlink: errnos, the target read back, blocks freed with it */
static void test_symlink(struct kvfs_mount *mp)
{
	static char target[KVFS_SYMLINK_MAX + 2], buf[KVFS_SYMLINK_MAX + 1];
	uint64_t root = mp->g.rootino, d;
	struct kvfs_statfs s0, s1;
	struct kvfs_stat st;

	d = dir_mkdir(mp, root, "links", &cr);
	CHECK_EQ(kvfs_statfs(mp, &s0), 0);
	memset(target, 't', KVFS_SYMLINK_MAX + 1);
	CHECK_EQ(kvfs_symlink(mp, d, "long", target, &cr, &st), -ENAMETOOLONG);
	CHECK_EQ(kvfs_symlink(mp, d, "empty", "", &cr, &st), -ENOENT);
	target[KVFS_SYMLINK_MAX] = '\0';
	CHECK_EQ(kvfs_symlink(mp, d, "max", target, &cr, &st), 0);
	CHECK(S_ISLNK(st.mode));
	CHECK_EQ(st.size, KVFS_SYMLINK_MAX);
	CHECK(st.blocks > 0);
	CHECK_EQ(kvfs_readlink(mp, st.ino, buf, sizeof(buf)), KVFS_SYMLINK_MAX);
	CHECK(!memcmp(buf, target, KVFS_SYMLINK_MAX));
	CHECK_EQ(kvfs_symlink(mp, d, "short", "../x", &cr, &st), 0);
	CHECK_EQ(kvfs_readlink(mp, st.ino, buf, sizeof(buf)), 4);
	CHECK(!strcmp(buf, "../x"));
	CHECK_EQ(kvfs_symlink(mp, d, "short", "y", &cr, &st), -EEXIST);
	CHECK_EQ(kvfs_symlink(mp, d, ".", "y", &cr, &st), -EEXIST);
	CHECK_EQ(kvfs_lookup(mp, d, "short", &st), 0);
	CHECK(S_ISLNK(st.mode));
	CHECK_EQ(kvfs_readlink(mp, d, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ(kvfs_unlink(mp, d, "short"), 0);
	CHECK_EQ(kvfs_unlink(mp, d, "max"), 0);
	CHECK_EQ(kvfs_rmdir(mp, root, "links"), 0);
	/* every block and inode back */
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	CHECK_EQ(s1.bfree, s0.bfree);
	CHECK_EQ(s1.ffree, s0.ffree + 1); /* and "links" itself */
	printf("namei symlink: 4095-byte and short targets, errnos, blocks "
	       "freed\n");
}

static void test_crash(void)
{
	uint64_t dirs[256];
	unsigned ndirs, rounds = 0;
	struct kvfs_mount *mp;

	for (int round = 0; round < 8; round++) {
		/*
		 * Over the last round's image: blocks and inodes left by the
		 * earlier filesystem must not make recovery skip a delta
		 * (their LSNs belong to another log).
		 */
		make_fs(128 << 20, round % 2 ? 16384 : 0);
		mp = mount_fs();
		ndirs = 0;
		dirs[ndirs++] = mp->g.rootino;
		random_ops(mp, 300, dirs, &ndirs);
		check_tree(mp);
		CHECK_EQ(kvj_log_force(mp->log, 0), 0);
		random_ops(mp, 50 + rnd() % 300, dirs, &ndirs);
		kvfs_mount_shutdown(mp, "power cut");
		kvfs_mount_close(mp);
		mp = mount_fs();
		/*
		 * Only looked at: the inodes a crash leaves on the unlinked
		 * lists are freed by kvfs_open() (branch life), not by this
		 * mount, and the lists' in-memory side starts empty.
		 */
		check_tree(mp);
		CHECK_EQ(kvfs_mount_close(mp), 0);
		scrub_image_clean(path);
		rounds++;
	}
	printf("namei crash: %u power cuts after random namespace operations: "
	       "recovered, checker clean, link counts and \"..\" exact\n",
	       rounds);
}

/*
 * A rename with RENAME_WHITEOUT over an existing name on a filesystem with
 * no room for the whiteout's inode fails with ENOSPC having changed
 * nothing, and the filesystem goes on (the whiteout was allocated after
 * the target's link was dropped: the cancel of that dirty transaction
 * shut the log down, and every later call failed with EIO).
 */
static void test_whiteout_full(void)
{
	static char buf[1 << 20];
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	uint64_t root, big, a, b;
	char name[32];
	ssize_t n;
	off_t off = 0;
	int i, err;
	bool created;

	make_fs(32 << 20, 0);
	mp = mount_fs();
	root = kvfs_root_ino(mp);
	a = dir_creat(mp, root, "a", &cr);
	b = dir_creat(mp, root, "b", &cr);
	big = dir_creat(mp, root, "big", &cr);
	do {
		n = kvfs_write(mp, big, buf, sizeof(buf), off, 0);
		off += n > 0 ? n : 0;
	} while (n > 0);
	CHECK_EQ(n, -ENOSPC);
	for (i = 0;; i++) {
		snprintf(name, sizeof(name), "fill%d", i);
		err = kvfs_create(mp, root, name, S_IFREG | 0644, 0,
				  KVFS_CREATE_EXCL, &cr, &st, &created);
		if (err)
			break;
	}
	CHECK_EQ(err, -ENOSPC);
	CHECK_EQ(kvfs_rename(mp, root, "a", root, "b", KVFS_RENAME_WHITEOUT,
			     &cr),
		 -ENOSPC);
	/* room for the transaction's blocks, none for an inode */
	CHECK_EQ(kvfs_setattr(
			 mp, big,
			 &(struct kvfs_setattr){ .valid = KVFS_SET_SIZE,
						 .size = (uint64_t)off / 2 },
			 &cr, NULL),
		 0);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_IALLOC_NOSPC, 0, 1, 0), 0);
	CHECK_EQ(kvfs_rename(mp, root, "a", root, "b", KVFS_RENAME_WHITEOUT,
			     &cr),
		 -ENOSPC);
	CHECK(kvj_errtag_hits(KVJ_ERRTAG_IALLOC_NOSPC) > 0);
	kvj_errtag_clear_all();
	CHECK_EQ(ino_of(mp, root, "a"), a);
	CHECK_EQ(stat_of(mp, root, "b").ino, b);
	CHECK_EQ(stat_of(mp, root, "b").nlink, 1);
	/* still up: a plain rename and an unlink work */
	CHECK_EQ(kvfs_rename(mp, root, "a", root, "b", 0, &cr), 0);
	CHECK_EQ(kvfs_unlink(mp, root, "b"), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
}

static int64_t ag_avail(struct kvfs_mount *mp, uint32_t agno)
{
	const struct kvfs_perag *pag = kvfs_perag_get(mp, agno);

	return kvfs_ag_avail(&mp->g, pag->freeblks, pag->flcount,
			     pag->btreeblks);
}

/*
 * Blocks the test takes from an AG itself (the allocator's own calls, in
 * no file), so that which AGs are full is staged, not left to the order
 * in which the allocator fills them (a file's extent takes the longest
 * free piece of any AG); given back before the image is checked.
 */
#define PINS_MAX 256

struct pins {
	uint64_t fsb[PINS_MAX];
	uint32_t len[PINS_MAX];
	unsigned n;
};

/* Take AG agno's space until keep blocks or fewer are left to reserve. */
static void pin_ag(struct kvfs_mount *mp, struct pins *p, uint32_t agno,
		   int64_t keep)
{
	for (;;) {
		int64_t want = ag_avail(mp, agno) - keep;
		int64_t room =
			atomic_load(&mp->fdblocks) - (int64_t)mp->resblks;
		struct kvfs_alloc_arg a = {
			.goal = kvfs_agb_to_fsb(&mp->g, agno,
						KVFS_AG_HDR_BLOCKS),
			.minlen = 1,
			.type = KVFS_ALLOC_THIS_AG,
		};
		int err;

		if (want > room)
			want = room;
		if (want <= 0)
			return;
		a.maxlen = (uint32_t)want;
		CHECK_EQ(kvfs_trans_alloc(mp, mp->resv.write.log_bytes, 0,
					  a.maxlen, &a.tp),
			 0);
		err = kvfs_alloc_vextent(&a);
		CHECK_EQ(kvfs_trans_commit(a.tp, NULL), 0);
		if (err == -ENOSPC)
			return;
		CHECK_EQ(err, 0);
		CHECK_EQ(kvfs_fsb_to_agno(&mp->g, a.fsb), agno);
		CHECK(p->n < PINS_MAX);
		p->fsb[p->n] = a.fsb;
		p->len[p->n++] = a.len;
	}
}

static void unpin(struct kvfs_mount *mp, struct pins *p)
{
	struct kvfs_trans *tp;

	while (p->n) {
		p->n--;
		CHECK_EQ(kvfs_trans_alloc(mp, mp->resv.write.log_bytes, 0, 0,
					  &tp),
			 0);
		CHECK_EQ(kvfs_free_extent(tp, p->fsb[p->n], p->len[p->n]), 0);
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	}
}

static struct kvfs_mount *ag0_mp;
static atomic_int ag0_held;

/* Hold AG 0's lock a while, as a concurrent allocation would. */
static void *hold_ag0(void *arg)
{
	(void)arg;
	kvfs_perag_lock(kvfs_perag_get(ag0_mp, 0));
	atomic_store(&ag0_held, 1);
	usleep(300 * 1000);
	kvfs_perag_unlock(kvfs_perag_get(ag0_mp, 0));
	return NULL;
}

/*
 * A whiteout rename from a directory of a higher AG over a name whose
 * inode lives in a lower one: the whiteout's allocation locks the higher
 * AG, and the target's last link then needs the lower AG's unlinked
 * list (-EAGAIN out of AG order: the dirty transaction was cancelled and
 * the log shut down).
 */
static void test_whiteout_ag_order(void)
{
	static struct pins pins;
	struct kvfs_mount *mp;
	uint64_t root, d, a, t;
	pthread_t th;

	make_fs(128 << 20, 0);
	mp = mount_fs();
	CHECK(mp->g.agcount >= 2);
	root = kvfs_root_ino(mp);
	t = dir_creat(mp, root, "t", &cr);
	/* AG 0 filled, then by directories: one goes past */
	pin_ag(mp, &pins, 0, 0);
	CHECK(ag_avail(mp, 0) <= 0);
	for (int i = 0;; i++) {
		char name[16];

		snprintf(name, sizeof(name), "d%d", i);
		d = dir_mkdir(mp, root, name, &cr);
		if (kvfs_ino_to_agno(&mp->g, d) > 0)
			break;
		CHECK(i < 8192);
	}
	a = dir_creat(mp, d, "a", &cr);
	CHECK(kvfs_ino_to_agno(&mp->g, d) > kvfs_ino_to_agno(&mp->g, t));
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, a), kvfs_ino_to_agno(&mp->g, d));
	/* AG 0 busy: only trylocked once the whiteout holds AG 1 */
	ag0_mp = mp;
	atomic_store(&ag0_held, 0);
	CHECK_EQ(pthread_create(&th, NULL, hold_ag0, NULL), 0);
	while (!atomic_load(&ag0_held))
		sched_yield();
	CHECK_EQ(kvfs_rename(mp, d, "a", root, "t", KVFS_RENAME_WHITEOUT, &cr),
		 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(ino_of(mp, root, "t"), a);
	CHECK(S_ISCHR(stat_of(mp, d, "a").mode));
	CHECK(kvfs_ino_to_agno(&mp->g, ino_of(mp, d, "a")) >
	      kvfs_ino_to_agno(&mp->g, t));
	CHECK_EQ(kvfs_unlink(mp, root, "t"), 0);
	unpin(mp, &pins);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
}

/* ---- a name that grows its directory after the first change ---- */

static uint64_t size_of(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	return st.size;
}

/* Names of one length (200 bytes): one that does not fit a full block. */
static const char *long_name(const char *tag, int i)
{
	static char name[256];
	int n = snprintf(name, sizeof(name), "%s-%05d-", tag, i);

	memset(name + n, 'x', (size_t)(200 - n));
	name[200] = '\0';
	return name;
}

/*
 * dir in block form with its last data block full for long_name()s:
 * links to f until one opens a new block, that one removed again (the
 * empty last block goes with it).
 */
static void fill_last_block(struct kvfs_mount *mp, uint64_t dir, uint64_t f)
{
	uint64_t prev = size_of(mp, dir), size;
	int i;

	for (i = 0;; i++) {
		CHECK(i < 4096);
		CHECK_EQ(kvfs_link(mp, f, dir, long_name("l", i), NULL), 0);
		size = size_of(mp, dir);
		if (prev >= mp->g.dirblksize && size > prev)
			break;
		prev = size;
	}
	CHECK_EQ(kvfs_unlink(mp, dir, long_name("l", i)), 0);
	CHECK_EQ(size_of(mp, dir), prev);
}

/* mkdir prefix0, prefix1, ... in dir until one lands in AG agno. */
static uint64_t dir_in_ag(struct kvfs_mount *mp, uint64_t dir,
			  const char *prefix, uint32_t agno)
{
	char name[32];
	uint64_t d;

	for (int i = 0;; i++) {
		CHECK(i < 8192);
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		d = mkdir_near(mp, dir, name);
		if (kvfs_ino_to_agno(&mp->g, d) == agno)
			return d;
	}
}

/*
 * Four AGs; three directories in AG 1, their last blocks full; AG 1's
 * inodes all used, free ones left in the chunks of AGs 2 and 3; AGs 1, 2
 * and 3 full, room only in AG 0, which another thread holds (the AGs
 * filled by the test's own allocations: a file filling the space used to
 * stage this, and with it the allocator's order of AGs).  A create took
 * its inode from AG 2 or 3 (its lock then held), and the directory's new
 * block could only come from AG 0, trylocked out of AG order: -ENOSPC in
 * the dirty transaction, the log shut down.  Now the room is locked first
 * (kvfs_dir_canenter(): AG 0, waited for): the create, a link and a
 * rename into the full directories each wait for AG 0 and grow their
 * directory; the checker finds nothing.
 */
static void test_canenter_ag_order(void)
{
	struct kvfs_mkfs_opts o = {
		.target = path, .size = 64 << 20, .agcount = 4, .force = true
	};
	static struct pins pins;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	uint64_t root, dirs[3], f, r, x, before[3], p;
	pthread_t th;
	char name[32];
	int i;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	mp = mount_fs();
	CHECK_EQ(mp->g.agcount, 4);
	root = kvfs_root_ino(mp);
	/*
	 * AG 0 filled: a directory past the root's chunk goes to AG 1 (P);
	 * AGs 1 and 2 filled too: the next ones use up P's chunk, then
	 * one goes to AG 3 (Q); the space given back.
	 */
	pin_ag(mp, &pins, 0, 0);
	p = dir_in_ag(mp, root, "p", 1);
	pin_ag(mp, &pins, 1, 0);
	pin_ag(mp, &pins, 2, 0);
	dir_in_ag(mp, root, "q", 3);
	CHECK_EQ(kvfs_perag_get(mp, 1)->ifree, 0);
	unpin(mp, &pins);
	CHECK_EQ(kvfs_sync(mp), 0);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		dirs[i] = mkdir_near(mp, p, name);
		CHECK_EQ(kvfs_ino_to_agno(&mp->g, dirs[i]), 1);
	}
	f = dir_creat(mp, dirs[0], "f", &cr);
	r = dir_creat(mp, root, "r", &cr);
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, f), 1);
	/* AG 1's new chunk used up: free inodes left in AG 3's alone */
	for (i = 0; kvfs_perag_get(mp, 1)->ifree; i++) {
		CHECK(i < 4096);
		snprintf(name, sizeof(name), "i%d", i);
		dir_creat(mp, dirs[0], name, &cr);
	}
	CHECK(kvfs_perag_get(mp, 3)->ifree > 0);
	for (i = 0; i < 3; i++) {
		fill_last_block(mp, dirs[i], f);
		before[i] = size_of(mp, dirs[i]);
	}
	/* AGs 1-3 full, AG 0 with the blocks kept for removals and 2 MiB */
	for (i = 1; i < 4; i++)
		pin_ag(mp, &pins, (uint32_t)i, 0);
	pin_ag(mp, &pins, 0,
	       (int64_t)mp->resblks + ((2 << 20) >> mp->g.blocklog));
	CHECK_EQ(kvfs_sync(mp), 0);
	for (i = 1; i < 4; i++)
		CHECK(ag_avail(mp, (uint32_t)i) <= 0);
	CHECK(ag_avail(mp, 0) >= (int64_t)(2 * mp->resv.rename.blocks));

	ag0_mp = mp;
	atomic_store(&ag0_held, 0);
	CHECK_EQ(pthread_create(&th, NULL, hold_ag0, NULL), 0);
	while (!atomic_load(&ag0_held))
		sched_yield();
	x = dir_creat(mp, dirs[0], long_name("x", 0), &cr);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK(kvfs_ino_to_agno(&mp->g, x) > 1);
	CHECK_EQ(size_of(mp, dirs[0]), before[0] + mp->g.dirblksize);

	atomic_store(&ag0_held, 0);
	CHECK_EQ(pthread_create(&th, NULL, hold_ag0, NULL), 0);
	while (!atomic_load(&ag0_held))
		sched_yield();
	CHECK_EQ(kvfs_link(mp, f, dirs[1], long_name("x", 1), NULL), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(size_of(mp, dirs[1]), before[1] + mp->g.dirblksize);

	atomic_store(&ag0_held, 0);
	CHECK_EQ(pthread_create(&th, NULL, hold_ag0, NULL), 0);
	while (!atomic_load(&ag0_held))
		sched_yield();
	CHECK_EQ(kvfs_rename(mp, root, "r", dirs[2], long_name("x", 2), 0, &cr),
		 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(size_of(mp, dirs[2]), before[2] + mp->g.dirblksize);
	CHECK_EQ(ino_of(mp, dirs[2], long_name("x", 2)), r);

	CHECK(!kvj_log_is_shutdown(mp->log));
	unpin(mp, &pins);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
}

/*
 * A directory of long names whose data space is more than 64 pieces (every
 * other block emptied: holes between the blocks): emptying its last block
 * cut ndata to the end of the first 64 mappings, so the names of the
 * blocks past it were lost to lookups (-EUCLEAN "hash index names an
 * address outside the data" under tests/stress ichurn -l 200).
 */
static void test_dir_many_pieces(void)
{
	enum { NBLK = 160 };
	static int start[NBLK + 1];
	struct kvfs_mount *mp;
	uint64_t root, d, f, prev, size;
	int i, b = 0;

	make_fs(128 << 20, 0);
	mp = mount_fs();
	root = kvfs_root_ino(mp);
	d = dir_mkdir(mp, root, "d", &cr);
	f = dir_creat(mp, root, "f", &cr);
	/* in order: data block b + 1 holds start[b] .. start[b + 1] - 1 */
	prev = size_of(mp, d);
	for (i = 0; b <= NBLK; i++) {
		CHECK(i < NBLK * 64);
		CHECK_EQ(kvfs_link(mp, f, d, long_name("m", i), NULL), 0);
		size = size_of(mp, d);
		if (size > prev && prev >= mp->g.dirblksize)
			start[b++] = i;
		prev = size;
	}
	/* data blocks 1, 3, 5, ... (start[0] opened block 1) emptied */
	for (b = 0; b < NBLK; b += 2)
		for (i = start[b]; i < start[b + 1]; i++)
			CHECK_EQ(kvfs_unlink(mp, d, long_name("m", i)), 0);
	/* the last block (its one name) emptied: one block less */
	size = size_of(mp, d);
	CHECK_EQ(kvfs_unlink(mp, d, long_name("m", start[NBLK])), 0);
	CHECK_EQ(size_of(mp, d), size - mp->g.dirblksize);
	for (b = 1; b < NBLK; b += 2)
		for (i = start[b]; i < start[b + 1]; i++)
			CHECK_EQ(ino_of(mp, d, long_name("m", i)), f);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
}

/* ---- unlink against a rename that replaces the name ---- */

#define RACE_ROUNDS 3000

static struct kvfs_mount *race_mp;
static uint64_t race_dir;
static atomic_int race_done;
static atomic_int race_looking;
static atomic_ulong race_found;

/*
 * "t" made again and again: a new file renamed over it, or "t" moved on.
 * It starts once the looker runs and goes on past RACE_ROUNDS (up to ten
 * times as many) until the looker has found "t" once: on a loaded
 * machine the looker may not have been scheduled in the first rounds, and
 * a race nobody looked at proves nothing.
 */
static void *race_renamer(void *arg)
{
	char keep[32];
	int err;

	(void)arg;
	while (!atomic_load(&race_looking))
		sched_yield();
	for (int i = 0; i < RACE_ROUNDS ||
			(!atomic_load(&race_found) && i < 10 * RACE_ROUNDS);
	     i++) {
		dir_creat(race_mp, race_dir, "src", &cr);
		CHECK_EQ(kvfs_rename(race_mp, race_dir, "src", race_dir, "t", 0,
				     &cr),
			 0);
		if (i % 3)
			continue;
		snprintf(keep, sizeof(keep), "keep-%d", i);
		err = kvfs_rename(race_mp, race_dir, "t", race_dir, keep, 0,
				  &cr);
		CHECK(err == 0 || err == -ENOENT);
	}
	atomic_store(&race_done, 1);
	return NULL;
}

/*
 * Lookups of "t" meanwhile, most of them served without a reference
 * (fs/ns/namei.c lookup_stat()): a name found names a regular file with
 * links, never the inode an unlink or a rename just took it from.
 */
static void *race_looker(void *arg)
{
	struct kvfs_stat st;
	int err;

	(void)arg;
	atomic_store(&race_looking, 1);
	while (!atomic_load(&race_done)) {
		err = kvfs_lookup(race_mp, race_dir, "t", &st);
		CHECK(err == 0 || err == -ENOENT);
		if (err)
			continue;
		CHECK(S_ISREG(st.mode));
		CHECK(st.nlink >= 1);
		err = kvfs_getattr(race_mp, st.ino, &st);
		CHECK(err == 0 || err == -ENOENT);
		atomic_fetch_add(&race_found, 1);
	}
	return NULL;
}

/*
 * kvfs_unlink() removes the name where its lookup found it when nobody
 * held the directory exclusively in between (fs/ns/namei.c
 * remove_once()): an unlink that lost the race to a rename over "t" or
 * away from it must look again, never drop the old inode's link or remove
 * the entry now at the old place.  The link counts and the checker say.
 */
static void test_unlink_race(void)
{
	struct kvfs_mount *mp;
	char name[64];
	pthread_t th, look;
	int err;

	make_fs(64 << 20, 0);
	mp = mount_fs();
	race_mp = mp;
	race_dir = dir_mkdir(mp, mp->g.rootino, "race", &cr);
	/* past the short form: entries at block addresses */
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "filler-%040d", i);
		dir_creat(mp, race_dir, name, &cr);
	}
	atomic_store(&race_done, 0);
	atomic_store(&race_looking, 0);
	atomic_store(&race_found, 0);
	CHECK_EQ(pthread_create(&th, NULL, race_renamer, NULL), 0);
	CHECK_EQ(pthread_create(&look, NULL, race_looker, NULL), 0);
	while (!atomic_load(&race_done)) {
		err = kvfs_unlink(mp, race_dir, "t");
		CHECK(err == 0 || err == -ENOENT);
	}
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(pthread_join(look, NULL), 0);
	CHECK(atomic_load(&race_found) > 0);
	check_tree(mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
}

/* Where dir's data block 0 is, in bytes on the device. */
static off_t head_pos(struct kvfs_mount *mp, uint64_t dir)
{
	struct kvfs_inode *ip;
	struct kvfs_bmap map;
	int n = 1;

	CHECK_EQ(kvfs_iget(mp, dir, 0, &ip), 0);
	CHECK(ip->i_dformat != KVFS_DFORK_INLINE);
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_bmapi_read(ip, 0, 1, &map, &n), 0);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	CHECK(n == 1 && map.startblock != KVFS_NULLBLOCK);
	return (off_t)kvfs_fsb_to_bytes(&mp->g, map.startblock);
}

/* A call that met the damage: refused, the log still up. */
static void check_refused(struct kvfs_mount *mp, int err)
{
	CHECK(err == -EUCLEAN || err == -EBADMSG);
	CHECK(!kvj_log_is_shutdown(mp->log));
}

/*
 * Mounted again over damage to directory d (names n<i>, in root with the
 * file other named "o"): a create, an unlink, a rename out and in and a
 * link refused with the log up, the root still usable.
 */
static void mount_refusing(uint64_t root, uint64_t d, uint64_t other)
{
	struct kvfs_mount *mp = mount_fs();
	struct kvfs_stat st;
	bool created;

	check_refused(mp, kvfs_create(mp, d, "new", S_IFREG | 0644, 0,
				      KVFS_CREATE_EXCL, &cr, &st, &created));
	check_refused(mp, kvfs_unlink(mp, d, long_name("n", 3)));
	check_refused(mp,
		      kvfs_rename(mp, d, long_name("n", 4), root, "m", 0, &cr));
	check_refused(mp, kvfs_rename(mp, root, "o", d, "in", 0, &cr));
	check_refused(mp, kvfs_link(mp, other, d, "l", NULL));
	dir_creat(mp, root, "still", &cr);
	CHECK_EQ(kvfs_unlink(mp, root, "still"), 0);
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * A directory's free-space index block damaged (its crc broken, as
 * trash-campaign's blocktrash left one): a create, an unlink and a rename
 * out of it read that index after their first change (the inode's
 * allocation, a link count), the dirty transaction was cancelled and the
 * log shut down, every later call failing with EIO.  Now its blocks are
 * read before the first change: each call is refused with the log up,
 * and another directory takes names and loses them as before.
 */
static void test_damaged_free_index(void)
{
	uint64_t root, d, other, fsb;
	struct kvfs_dir_head hd;
	struct kvfs_mount *mp;
	unsigned blocklog;
	off_t pos;
	char junk = 0x5a;
	int i, fd;

	make_fs(64 << 20, 0);
	mp = mount_fs();
	root = kvfs_root_ino(mp);
	d = dir_mkdir(mp, root, "d", &cr);
	for (i = 0; i < 40; i++)
		dir_creat(mp, d, long_name("n", i), &cr);
	other = dir_creat(mp, root, "o", &cr);
	pos = head_pos(mp, d);
	blocklog = mp->g.blocklog;
	CHECK_EQ(kvfs_mount_close(mp), 0);
	/* the head (written back at the unmount) names the index's root */
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &hd, sizeof(hd), pos + KVFS_DIR_DATA_HDR_SIZE),
		 (ssize_t)sizeof(hd));
	fsb = kv_le64_to_cpu(hd.free_root);
	CHECK(fsb != 0);
	CHECK_EQ(pwrite(fd, &junk, 1, (off_t)(fsb << blocklog) + 100), 1);
	close(fd);

	mount_refusing(root, d, other);
}

/*
 * Block 0's idxlag wrong with its crc right (fsck fuzz, dirhead idxlag):
 * the free-space record the block's header names is not in the index.
 * A create into the block and the removal of a name of it looked the
 * record up only after the block's change (free_reindex()): "free record
 * missing", the log shut down.  Now refused before, the log up.
 */
static void test_damaged_idxlag(void)
{
	struct kvfs_dir_data_hdr *h;
	uint64_t root, d, other;
	struct kvfs_mount *mp;
	uint32_t bs;
	off_t pos;
	void *blk;
	int i, fd;

	make_fs(64 << 20, 0);
	mp = mount_fs();
	root = kvfs_root_ino(mp);
	d = dir_mkdir(mp, root, "d", &cr);
	for (i = 0; i < 12; i++)
		dir_creat(mp, d, long_name("n", i), &cr);
	other = dir_creat(mp, root, "o", &cr);
	pos = head_pos(mp, d);
	bs = mp->g.dirblksize;
	CHECK_EQ(kvfs_mount_close(mp), 0);
	blk = malloc(bs);
	CHECK(blk != NULL);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, blk, bs, pos), (ssize_t)bs);
	h = blk;
	CHECK_EQ(kv_le32_to_cpu(h->idxlag), 0);
	CHECK(kv_le32_to_cpu(h->bestfree) > 1);
	h->idxlag = kv_cpu_to_le32(1);
	kvfs_blkhdr_set_crc(blk, bs);
	CHECK_EQ(pwrite(fd, blk, bs, pos), (ssize_t)bs);
	close(fd);
	free(blk);

	mount_refusing(root, d, other);
}

/*
 * The same with a leaf of the name-hash index damaged: removing a name
 * from a leaf beside it left that leaf under-full, and the deletion read
 * the damaged sibling to borrow from or join it after the removal's
 * first change (the log shut down).  Every name is removed in turn now:
 * each removal succeeds or is refused, and the log stays up.
 */
/*
 * A directory dname in the root holding n names "h<i>", whose name-hash
 * index is a root over leaves: the filesystem unmounted, the image open
 * at *fdp (read-write), the index's root block read into the returned
 * buffer of *bsp bytes (the caller frees it).
 */
static void *hash_dir_root(const char *dname, int n, uint64_t *dp, int *fdp,
			   uint32_t *bsp)
{
	struct kvfs_dir_head hd;
	struct kvfs_mount *mp;
	char name[32];
	uint64_t root;
	uint32_t bs;
	void *blk;
	off_t pos;
	int i, fd;

	make_fs(64 << 20, 0);
	mp = mount_fs();
	root = kvfs_root_ino(mp);
	*dp = dir_mkdir(mp, root, dname, &cr);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		dir_creat(mp, *dp, name, &cr);
	}
	pos = head_pos(mp, *dp);
	bs = mp->g.blocksize;
	CHECK_EQ(kvfs_mount_close(mp), 0);
	blk = malloc(bs);
	CHECK(blk != NULL);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &hd, sizeof(hd), pos + KVFS_DIR_DATA_HDR_SIZE),
		 (ssize_t)sizeof(hd));
	CHECK_EQ(hd.hash_level, 1);
	CHECK_EQ(pread(fd, blk, bs, (off_t)kv_le64_to_cpu(hd.hash_root) * bs),
		 (ssize_t)bs);
	*fdp = fd;
	*bsp = bs;
	return blk;
}

static void test_damaged_hash_sibling(void)
{
	enum { N = 3000 };
	const struct kvfs_btree_ops *ops = &kvfs_dir_hash_ops;
	struct kvfs_mount *mp;
	uint64_t d, leaf;
	uint32_t bs;
	char name[32], junk = 0x5a;
	int i, fd, refused = 0;
	void *blk;

	/* the root node's second child: a leaf with a sibling each side */
	blk = hash_dir_root("h", N, &d, &fd, &bs);
	CHECK(kv_le16_to_cpu(((struct kvfs_btree_block *)blk)->numrecs) > 2);
	leaf = kv_le64_to_cpu(*kvfs_btree_ptr(blk, ops, bs, 1));
	CHECK_EQ(pwrite(fd, &junk, 1, (off_t)leaf * bs + 100), 1);
	close(fd);
	free(blk);

	mp = mount_fs();
	for (i = 0; i < N; i++) {
		int err;

		snprintf(name, sizeof(name), "h%d", i);
		err = kvfs_unlink(mp, d, name);
		if (err) {
			check_refused(mp, err);
			refused++;
		}
	}
	CHECK(refused > 0 && refused < N);
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* name's hash (the name-hash index's key). */
static uint32_t hash_of(const char *name)
{
	return kvfs_dir_hashname((const uint8_t *)name, (unsigned)strlen(name));
}

/* A name "tag<i>" whose hash h has lo < h < hi; *i the next to try. */
static const char *name_in(const char *tag, int *i, uint32_t lo, uint32_t hi)
{
	static char name[32];

	for (;; (*i)++) {
		uint32_t h;

		snprintf(name, sizeof(name), "%s%d", tag, *i);
		h = hash_of(name);
		if (h > lo && h < hi) {
			(*i)++;
			return name;
		}
	}
}

/* The hash of a name-hash index record or key. */
static uint32_t key_hash(const void *key)
{
	return kv_le32_to_cpu(((const struct kvfs_dir_hash_rec *)key)->hash);
}

/* Block fsb of the image, read into blk (bs bytes). */
static void read_blk(int fd, uint64_t fsb, void *blk, uint32_t bs)
{
	CHECK_EQ(pread(fd, blk, bs, (off_t)fsb * bs), (ssize_t)bs);
}

/*
 * A full leaf L of the name-hash index, its right sibling R damaged: a
 * name added to L (a create, a rename into it) passes entries to R or
 * splits, relinking R, after the call's first change; removing L's last
 * record leaves the cursor on the record that follows, R's first.  Each
 * read R with the transaction dirty and shut the log down.  Now each is
 * refused with the log up, and another directory still works.
 */
static void test_damaged_hash_full_leaf(void)
{
	enum { N = 3000 };
	const struct kvfs_btree_ops *ops = &kvfs_dir_hash_ops;
	uint32_t bs, lo, hi, first, top = 0, max;
	struct kvfs_btree_block *bb;
	char name[32], last[32] = "", junk = 0x5a;
	uint64_t root, d, leaf, right;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	int i, j = 0, fd, fill;
	bool created;
	void *blk;

	/* L: the root's second child, R the third; their key range */
	blk = hash_dir_root("full", N, &d, &fd, &bs);
	bb = blk;
	CHECK(kv_le16_to_cpu(bb->numrecs) > 4);
	first = key_hash(kvfs_btree_key(blk, ops, 0));
	lo = key_hash(kvfs_btree_key(blk, ops, 1));
	hi = key_hash(kvfs_btree_key(blk, ops, 2));
	leaf = kv_le64_to_cpu(*kvfs_btree_ptr(blk, ops, bs, 1));
	right = kv_le64_to_cpu(*kvfs_btree_ptr(blk, ops, bs, 2));
	read_blk(fd, leaf, blk, bs);
	max = kvfs_btree_maxrecs(ops, bs, 0);
	fill = (int)(max - kv_le16_to_cpu(bb->numrecs));
	CHECK(fill > 0);
	close(fd);

	/* L filled to the last record: no insertion there shifted or split */
	mp = mount_fs();
	for (i = 0; i < fill; i++)
		dir_creat(mp, d, name_in("f", &j, lo, hi), &cr);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	for (i = 0; i < N + fill; i++) {
		uint32_t h;

		if (i < N)
			snprintf(name, sizeof(name), "h%d", i);
		else
			snprintf(name, sizeof(name), "f%d", i - N);
		h = hash_of(name);
		if (i >= N && (h <= lo || h >= hi))
			continue;
		if (h >= lo && h < hi && h >= top) {
			CHECK(h > top || !last[0]);
			top = h;
			strcpy(last, name);
		}
	}
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	read_blk(fd, leaf, blk, bs);
	CHECK_EQ(kv_le16_to_cpu(bb->numrecs), max);
	CHECK_EQ(kv_le64_to_cpu(bb->rightsib), right);
	CHECK_EQ(key_hash(kvfs_btree_rec(blk, ops, max - 1)), top);
	CHECK_EQ(pwrite(fd, &junk, 1, (off_t)right * bs + 100), 1);
	close(fd);
	free(blk);

	mp = mount_fs();
	/* into L, before its last record: a shift to R, or a split */
	check_refused(mp, kvfs_create(mp, d, name_in("n", &j, lo, top),
				      S_IFREG | 0644, 0, KVFS_CREATE_EXCL, &cr,
				      &st, &created));
	/* a name of leaf 0 renamed into L */
	snprintf(name, sizeof(name), "%s", name_in("n", &j, first, lo));
	CHECK_EQ(kvfs_create(mp, d, name, S_IFREG | 0644, 0, KVFS_CREATE_EXCL,
			     &cr, &st, &created),
		 0);
	check_refused(mp, kvfs_rename(mp, d, name, d, name_in("n", &j, lo, top),
				      0, &cr));
	/* L's last record removed: the cursor goes on to R's first */
	check_refused(mp, kvfs_unlink(mp, d, last));
	check_refused(mp, kvfs_rename(mp, d, last, d,
				      name_in("n", &j, first, lo), 0, &cr));
	CHECK_EQ(kvfs_unlink(mp, d, name), 0);
	root = kvfs_root_ino(mp);
	dir_creat(mp, root, "still", &cr);
	CHECK_EQ(kvfs_unlink(mp, root, "still"), 0);
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

int main(void)
{
	struct kvfs_mount *mp;

	CHECK_EQ(kv_init(NULL), 0);
	set_path("namei");
	make_fs(128 << 20, 0);
	mp = mount_fs();
	test_errnos(mp);
	test_rename(mp);
	test_symlink(mp);
	check_tree(mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	test_crash();
	test_whiteout_full();
	test_whiteout_ag_order();
	test_canenter_ag_order();
	test_dir_many_pieces();
	test_unlink_race();
	test_damaged_free_index();
	test_damaged_idxlag();
	test_damaged_hash_sibling();
	test_damaged_hash_full_leaf();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("namei: ok\n");
	return 0;
}
