// SPDX-License-Identifier: GPL-2.0
/*
 * The lock-free directory lookup (fs/ns/dir.h kvfs_dir_lookup_rcu(), used
 * by kvfs_lookup()) racing the changes of the directory it reads: creates
 * and unlinks that turn it from short form to blocks and back, add and
 * free data blocks and split index blocks, and renames over names of it
 * from it and from another directory.  Readers look names up both through
 * kvfs_lookup() and through kvfs_dir_lookup_rcu() directly, and check:
 *   - a name there for the whole test (stable) is always found, at its
 *     inode;
 *   - a name replaced by renames (always there, its inode changing) is
 *     always found;
 *   - a name never created, one of them with a stable name's hash, is
 *     never found;
 *   - the lock-free walk answered (not -EAGAIN) in both forms, so that
 *     the checks above are the lock-free path's and not only the locked
 *     fallback's.
 * Meanwhile buffers and inodes are reclaimed under them.  Quiet, every
 * name of a directory of three index levels.  Then the checker.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/format.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/io/buf.h"
#include "fs/ns/dir.h"
#include "fs/ns/dir_priv.h"
#include "tests/dir/dirtest.h"

static const struct kvfs_cred cr = { .uid = 1000, .gid = 1000 };

#define NSTABLE 4
#define NREPL 3
#define NNEVER 4

static struct kvfs_mount *mp;
static uint64_t dir, dir2;
static char stable[NSTABLE][64], never[NNEVER][64];
static uint64_t stable_ino[NSTABLE];
static atomic_int stop;
/* lock-free answers in each form, lookups done */
static atomic_ulong answered_sf, answered_blk, lookups;
/* the phase: churn batch size and name length */
static unsigned batch, namepad;

static void repl_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "repl-%u", i);
}

/*
 * Two names of one FNV-1a hash (found by a search offline; main() checks
 * that they collide): the first is made stable, the second is never
 * created, so that its lookup meets the stable name's index record and
 * must compare the names.
 */
static const char collide_a[] = "name-99d9d87c-6";
static const char collide_b[] = "name-6ac3072e-6";

struct rcu_arg {
	const char *name;
	uint64_t ino;
	uint8_t fmt;
	int err;
};

static void rcu_read(const struct kvfs_inode *dp, void *arg)
{
	struct rcu_arg *a = arg;
	uint8_t ftype;

	a->fmt = __atomic_load_n(&dp->i_dformat, __ATOMIC_RELAXED);
	a->err = kvfs_dir_lookup_rcu(dp, a->name, strlen(a->name), &a->ino,
				     &ftype, NULL);
}

/* 0/-ENOENT with *ino (lock-free answer or kvfs_lookup()'s). */
static int look(const char *name, bool direct, uint64_t *ino)
{
	struct kvfs_stat st = { 0 };
	struct rcu_arg a = { .name = name };
	int err;

	atomic_fetch_add(&lookups, 1);
	if (direct && !kvfs_icache_read(mp, dir, rcu_read, &a) &&
	    a.err != -EAGAIN) {
		atomic_fetch_add(a.fmt == KVFS_DFORK_INLINE ? &answered_sf :
							      &answered_blk,
				 1);
		*ino = a.ino;
		return a.err;
	}
	err = kvfs_lookup(mp, dir, name, &st);
	*ino = st.ino;
	return err;
}

static void *reader(void *arg)
{
	unsigned long n = 0;
	char name[64];
	uint64_t ino;

	(void)arg;
	while (!atomic_load(&stop)) {
		bool direct = n++ & 1;
		unsigned k = (unsigned)(n / 2);
		int err;

		err = look(stable[k % NSTABLE], direct, &ino);
		if (err || ino != stable_ino[k % NSTABLE])
			fprintf(stderr, "stable %s: %d ino %llu (%llu)\n",
				stable[k % NSTABLE], err,
				(unsigned long long)ino,
				(unsigned long long)stable_ino[k % NSTABLE]);
		CHECK_EQ(err, 0);
		CHECK_EQ(ino, stable_ino[k % NSTABLE]);
		repl_name(name, sizeof(name), k % NREPL);
		err = look(name, direct, &ino);
		CHECK_EQ(err, 0);
		CHECK(ino != 0);
		err = look(never[k % NNEVER], direct, &ino);
		CHECK_EQ(err, -ENOENT);
	}
	return NULL;
}

static void churn_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "churn-%04u-%0*u", i, (int)namepad, i);
}

/* Batches of names made and removed: forms and data blocks come and go. */
static void *writer(void *arg)
{
	char name[300];

	(void)arg;
	while (!atomic_load(&stop)) {
		for (unsigned i = 0; i < batch; i++) {
			churn_name(name, sizeof(name), i);
			dir_creat(mp, dir, name, &cr);
		}
		for (unsigned i = 0; i < batch; i++) {
			churn_name(name, sizeof(name), i);
			CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
		}
		/* a quiet moment: lock-free reads that can validate */
		nanosleep(&(struct timespec){ 0, 200000 }, NULL);
	}
	return NULL;
}

/* Renames over the repl names, from this directory and from another. */
static void *renamer(void *arg)
{
	char name[64];
	unsigned long n = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		bool other = n & 1;

		repl_name(name, sizeof(name), (unsigned)(n++ % NREPL));
		dir_creat(mp, other ? dir2 : dir, "tmp", &cr);
		CHECK_EQ(kvfs_rename(mp, other ? dir2 : dir, "tmp", dir, name,
				     0, &cr),
			 0);
	}
	return NULL;
}

/*
 * Buffers and inodes freed under the lock-free readers (ASan sees a read
 * of freed memory), and blocks they then find not cached.
 */
static void *shrinker(void *arg)
{
	unsigned long freed = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		freed += kv_bcache_shrink(mp->bc, 32);
		freed += kvfs_icache_shrink(mp->ic, 8);
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	return (void *)freed;
}

/*
 * Quiet, every prefilled name (and each with a suffix, never created)
 * looked up lock-free: found at the inode the locked lookup gives (and
 * the others not found), the lock-free walk answering each (one locked
 * lookup first brings back what reclaim took).  The leaf search starts
 * where the parents' keys place a hash (fs/ns/dir_rcu.c): this meets
 * every leaf, at its ends too.
 */
static void check_all(unsigned pad, unsigned prefill)
{
	char name[300];

	for (unsigned i = 0; i < prefill; i++) {
		for (unsigned absent = 0; absent < 2; absent++) {
			struct rcu_arg a = { .name = name };
			struct kvfs_stat st = { 0 };
			int err;

			snprintf(name, sizeof(name), "fill-%06u-%0*u%s", i,
				 (int)pad, i, absent ? "x" : "");
			err = kvfs_lookup(mp, dir, name, &st);
			CHECK_EQ(err, absent ? -ENOENT : 0);
			CHECK_EQ(kvfs_icache_read(mp, dir, rcu_read, &a), 0);
			CHECK_EQ(a.err, err);
			if (!err)
				CHECK_EQ(a.ino, st.ino);
		}
	}
}

static void run_phase(unsigned b, unsigned pad, unsigned prefill,
		      double seconds)
{
	struct timespec run = { (time_t)seconds,
				(long)((seconds - (time_t)seconds) * 1e9) };
	pthread_t th[5];
	void *freed;
	char name[300];

	batch = b;
	namepad = pad;
	/* names that stay for the phase: a big directory's blocks and levels */
	for (unsigned i = 0; i < prefill; i++) {
		snprintf(name, sizeof(name), "fill-%06u-%0*u", i, (int)pad, i);
		dir_creat(mp, dir, name, &cr);
	}
	atomic_store(&stop, 0);
	CHECK_EQ(pthread_create(&th[0], NULL, writer, NULL), 0);
	CHECK_EQ(pthread_create(&th[1], NULL, renamer, NULL), 0);
	CHECK_EQ(pthread_create(&th[2], NULL, reader, NULL), 0);
	CHECK_EQ(pthread_create(&th[3], NULL, reader, NULL), 0);
	CHECK_EQ(pthread_create(&th[4], NULL, shrinker, NULL), 0);
	nanosleep(&run, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	CHECK_EQ(pthread_join(th[4], &freed), 0);
	CHECK(freed != NULL);
	check_all(pad, prefill);
	for (unsigned i = 0; i < prefill; i++) {
		snprintf(name, sizeof(name), "fill-%06u-%0*u", i, (int)pad, i);
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
	}
}

/*
 * A lock-free lookup in dir d that must answer (the directory quiet, its
 * blocks cached), after a locked one if it did not (which makes the map
 * of data blocks a change of them forgot): 0 at ino, or -ENOENT.
 */
static int look_quiet(uint64_t d, const char *name, uint64_t *ino)
{
	struct rcu_arg a = { .name = name };
	struct kvfs_stat st;

	CHECK_EQ(kvfs_icache_read(mp, d, rcu_read, &a), 0);
	if (a.err == -EAGAIN) {
		a.err = kvfs_lookup(mp, d, name, &st);
		CHECK(a.err == 0 || a.err == -ENOENT);
		CHECK_EQ(kvfs_icache_read(mp, d, rcu_read, &a), 0);
	}
	CHECK(a.err != -EAGAIN);
	*ino = a.ino;
	return a.err;
}

static void grow_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "grow-%05u-%040u", i, i);
}

/*
 * The head block's fields the lock-free lookup keeps in the directory's
 * map (fs/ns/dir_rcu.c) follow every change: an earlier name looked up
 * (which keeps them), then a name made or removed, which may add or free
 * a data block, split or join index blocks, add or drop a level; the
 * new name (or the removed one) looked up lock-free, then the earlier
 * ones again.  Kept fields used past a change fail this: an entry in a
 * data block past the kept count is not answered, nor is a directory
 * whose size is not the kept count's; a stale root misses a level.
 */
static void check_head_kept(void)
{
	uint64_t d, ino, first = 0;
	unsigned n = 900;
	char name[128];

	d = dir_mkdir(mp, mp->g.rootino, "d3", &cr);
	for (unsigned i = 0; i < n; i++) {
		uint64_t made;

		grow_name(name, sizeof(name), 0);
		if (i)
			CHECK_EQ(look_quiet(d, name, &ino), 0);
		grow_name(name, sizeof(name), i);
		made = dir_creat(mp, d, name, &cr);
		if (!i)
			first = made;
		CHECK_EQ(look_quiet(d, name, &ino), 0);
		CHECK_EQ(ino, made);
		grow_name(name, sizeof(name), 0);
		CHECK_EQ(look_quiet(d, name, &ino), 0);
		CHECK_EQ(ino, first);
		grow_name(name, sizeof(name), i / 2);
		CHECK_EQ(look_quiet(d, name, &ino), 0);
	}
	for (unsigned i = n; i-- > 1;) {
		grow_name(name, sizeof(name), 0);
		CHECK_EQ(look_quiet(d, name, &ino), 0);
		grow_name(name, sizeof(name), i);
		CHECK_EQ(kvfs_unlink(mp, d, name), 0);
		CHECK_EQ(look_quiet(d, name, &ino), -ENOENT);
		grow_name(name, sizeof(name), i / 2);
		CHECK_EQ(look_quiet(d, name, &ino), 0);
	}
	grow_name(name, sizeof(name), 0);
	CHECK_EQ(kvfs_unlink(mp, d, name), 0);
	CHECK_EQ(kvfs_rmdir(mp, mp->g.rootino, "d3"), 0);
}

struct hint_arg {
	const char *name;
	int err;
	uint64_t ino;
	struct kvfs_ihint *hint;
};

static void hint_read(const struct kvfs_inode *dp, void *arg)
{
	struct hint_arg *a = arg;
	uint8_t ftype;

	a->err = kvfs_dir_lookup_rcu(dp, a->name, strlen(a->name), &a->ino,
				     &ftype, &a->hint);
}

/* Where name's entry in d (quiet, cached) keeps its inode's hint. */
static struct kvfs_ihint *hint_of(uint64_t d, const char *name)
{
	struct hint_arg a = { .name = name };

	CHECK_EQ(kvfs_icache_read(mp, d, hint_read, &a), 0);
	CHECK_EQ(a.err, 0);
	CHECK(a.hint != NULL);
	return a.hint;
}

static bool any(struct kvfs_inode *ip)
{
	(void)ip;
	return true;
}

/*
 * kvfs_lookup() of name in d answers what the locked path reads of ino:
 * the stat a hint gave is the inode's own.
 */
static void lookup_is(uint64_t d, const char *name, uint64_t ino)
{
	struct kvfs_inode *ip;
	struct kvfs_stat st, want;

	CHECK_EQ(kvfs_lookup(mp, d, name, &st), 0);
	CHECK_EQ(st.ino, ino);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	want.generation = ip->i_generation;
	want.mode = ip->i_mode;
	want.nlink = ip->i_nlink;
	want.uid = ip->i_uid;
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	CHECK_EQ(st.generation, want.generation);
	CHECK_EQ(st.mode, want.mode);
	CHECK_EQ(st.nlink, want.nlink);
	CHECK_EQ(st.uid, want.uid);
}

/* The hint names ino's cached inode (refreshed by the lookup before). */
static void hint_is(const struct kvfs_ihint *h, uint64_t ino)
{
	struct kvfs_inode *ip = kvfs_icache_peek(mp, ino, any);

	CHECK(ip != NULL);
	CHECK(atomic_load(&h->ip) == ip);
}

static void hint_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "hint-%04u", i);
}

/*
 * A create (and a link) leaves its new entry's hint naming the inode: the
 * first stat of each name finds the inode without searching the inode
 * cache's index (each would search it, but for the thread's 64 last
 * finds, were the hints made by the first lookup only).
 */
static void check_create_hints(void)
{
	const unsigned n = 600;
	struct kvfs_icache_stats s0, s1;
	struct kvfs_stat st;
	struct kvfs_inode *dp;
	char name[64];
	uint64_t d, f;

	d = dir_mkdir(mp, mp->g.rootino, "made", &cr);
	/* held: its map, where the hints are, stays */
	CHECK_EQ(kvfs_iget(mp, d, 0, &dp), 0);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "made-%04u", i);
		f = dir_creat(mp, d, name, &cr);
		snprintf(name, sizeof(name), "link-%04u", i);
		CHECK_EQ(kvfs_link(mp, f, d, name, NULL), 0);
	}
	/*
	 * Nothing left for the log's push and the AIL, whose write-back of
	 * the directory takes its lock: a lookup that overlaps it takes the
	 * locked way and searches (96 to 329 searches in 4 of 24 runs on a
	 * loaded machine without this)
	 */
	CHECK_EQ(kvfs_writeback(mp), 0);
	kvfs_icache_get_stats(mp->ic, &s0);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "made-%04u", i);
		CHECK_EQ(kvfs_lookup(mp, d, name, &st), 0);
		snprintf(name, sizeof(name), "link-%04u", i);
		CHECK_EQ(kvfs_lookup(mp, d, name, &st), 0);
	}
	kvfs_icache_get_stats(mp->ic, &s1);
	printf("index searches of %u first stats: %lu\n", 2 * n,
	       (unsigned long)(s1.searches - s0.searches));
	CHECK(s1.searches - s0.searches < n / 10);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "made-%04u", i);
		CHECK_EQ(kvfs_unlink(mp, d, name), 0);
		snprintf(name, sizeof(name), "link-%04u", i);
		CHECK_EQ(kvfs_unlink(mp, d, name), 0);
	}
	kvfs_iput(dp);
	CHECK_EQ(kvfs_rmdir(mp, mp->g.rootino, "made"), 0);
}

/*
 * The hints a directory's entries keep of their inodes (fs/ns/dir_rcu.c,
 * fs/inode/icache.h struct kvfs_ihint) are never used stale: a hint
 * naming another inode, one whose inode was reclaimed (ASan sees any
 * read of it), one of a number freed and reused (another generation),
 * one of a name removed and made again: each lookup answers what the
 * locked path reads, and leaves the hint naming the right inode.
 */
static void check_hints(void)
{
	const unsigned n = 300;
	const struct kvfs_cred other = { .uid = 2000, .gid = 2000 };
	struct kvfs_ihint *h, *h2;
	struct kvfs_inode *dp, *ip;
	struct kvfs_stat st;
	uint64_t d, a, b, fresh;
	char name[64], name2[64];
	bool created;
	int tries;

	d = dir_mkdir(mp, mp->g.rootino, "hints", &cr);
	/* held: its map, where the hints are, stays */
	CHECK_EQ(kvfs_iget(mp, d, 0, &dp), 0);
	for (unsigned i = 0; i < n; i++) {
		hint_name(name, sizeof(name), i);
		dir_creat(mp, d, name, &cr);
	}
	hint_name(name, sizeof(name), 100);
	hint_name(name2, sizeof(name2), 101);
	/* twice: the first may be the locked one, which keeps nothing */
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(kvfs_lookup(mp, d, name, &st), 0);
		a = st.ino;
		CHECK_EQ(kvfs_lookup(mp, d, name2, &st), 0);
		b = st.ino;
	}
	/* the lock-free lookups made the block's hints and set them */
	h = hint_of(d, name);
	h2 = hint_of(d, name2);
	CHECK(h != h2);
	hint_is(h, a);
	hint_is(h2, b);
	lookup_is(d, name, a);

	/* another inode, at the current epoch: its number differs */
	atomic_store(&h->ip, atomic_load(&h2->ip));
	atomic_store(&h->epoch, atomic_load(&h2->epoch));
	lookup_is(d, name, a);
	hint_is(h, a);

	/* a's inode reclaimed: the hint holds freed memory, never read */
	ip = atomic_load(&h->ip);
	CHECK_EQ(kvfs_sync(mp), 0);
	/* clean once the AIL, which reclaim pushes, has written it back */
	for (tries = 0; tries < 2000 && kvfs_icache_peek(mp, a, any) == ip;
	     tries++) {
		kvfs_icache_shrink(mp->ic, 1u << 20);
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	CHECK(kvfs_icache_peek(mp, a, any) != ip);
	CHECK(atomic_load(&h->ip) == ip);
	lookup_is(d, name, a);
	lookup_is(d, name, a);
	hint_is(h, a);

	/*
	 * a freed and its number reused (another generation): the hint's
	 * inode is the number's in-core inode, read as the new file
	 */
	CHECK_EQ(kvfs_lookup(mp, d, name, &st), 0);
	CHECK_EQ(kvfs_unlink(mp, d, name), 0);
	CHECK_EQ(kvfs_lookup(mp, d, name, &st), -ENOENT);
	fresh = 0;
	for (tries = 0; tries < 64 && fresh != a; tries++) {
		snprintf(name2, sizeof(name2), "hint-new%u", tries);
		CHECK_EQ(kvfs_create(mp, d, name2, S_IFREG | 0600, 0,
				     KVFS_CREATE_EXCL, &other, &st, &created),
			 0);
		fresh = st.ino;
	}
	CHECK_EQ(fresh, a);
	lookup_is(d, name2, a);
	CHECK_EQ(st.uid, other.uid);
	lookup_is(d, name2, a);
	CHECK_EQ(kvfs_lookup(mp, d, name, &st), -ENOENT);

	/* a name removed and made again: its entry names another inode */
	hint_name(name, sizeof(name), 200);
	/* twice: the directory changed, the first may be the locked one */
	CHECK_EQ(kvfs_lookup(mp, d, name, &st), 0);
	CHECK_EQ(kvfs_lookup(mp, d, name, &st), 0);
	b = st.ino;
	h = hint_of(d, name);
	hint_is(h, b);
	CHECK_EQ(kvfs_unlink(mp, d, name), 0);
	CHECK_EQ(kvfs_mkdir(mp, d, name, 0700, &other, &st), 0);
	CHECK(st.ino != b);
	fresh = st.ino;
	lookup_is(d, name, fresh);
	lookup_is(d, name, fresh);
	CHECK(S_ISDIR(st.mode));
	hint_is(hint_of(d, name), fresh);
	CHECK_EQ(kvfs_rmdir(mp, d, name), 0);

	kvfs_iput(dp);
	for (unsigned i = 0; i < n; i++) {
		hint_name(name, sizeof(name), i);
		if (i != 100 && i != 200)
			CHECK_EQ(kvfs_unlink(mp, d, name), 0);
	}
	for (int i = 0; i < tries; i++) {
		snprintf(name2, sizeof(name2), "hint-new%d", i);
		CHECK_EQ(kvfs_unlink(mp, d, name2), 0);
	}
	CHECK_EQ(kvfs_rmdir(mp, mp->g.rootino, "hints"), 0);
}

/* ino is cached, linked once, and name in d names it. */
static void linked_at(uint64_t d, const char *name, uint64_t ino)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.nlink, 1);
	CHECK_EQ(kvfs_lookup(mp, d, name, &st), 0);
	CHECK_EQ(st.ino, ino);
}

/*
 * An unlink takes its child through the entry's hint
 * (kvfs_icache_read_get()) only as kvfs_iget() would give it: a hint
 * naming another inode (its neighbour's) removes the name's own inode and
 * leaves the other linked; one whose inode was reclaimed (ASan sees any
 * read of it) removes the name's inode read again; a good one removes it.
 */
static void check_unlink_hints(void)
{
	const unsigned n = 300;
	struct kvfs_ihint *h, *h2;
	struct kvfs_inode *dp, *ip;
	struct kvfs_stat st;
	uint64_t d, ino[4];
	char name[4][64];
	int tries;

	d = dir_mkdir(mp, mp->g.rootino, "uhints", &cr);
	/* held: its map, where the hints are, stays */
	CHECK_EQ(kvfs_iget(mp, d, 0, &dp), 0);
	for (unsigned i = 0; i < n; i++) {
		hint_name(name[0], sizeof(name[0]), i);
		dir_creat(mp, d, name[0], &cr);
	}
	for (unsigned k = 0; k < 4; k++) {
		hint_name(name[k], sizeof(name[k]), 100 + k);
		/* twice: the first may be the locked one, which keeps nothing */
		CHECK_EQ(kvfs_lookup(mp, d, name[k], &st), 0);
		CHECK_EQ(kvfs_lookup(mp, d, name[k], &st), 0);
		ino[k] = st.ino;
	}
	for (unsigned k = 0; k < 4; k++)
		hint_is(hint_of(d, name[k]), ino[k]);

	/* another inode, at the current epoch: its number differs */
	h = hint_of(d, name[0]);
	h2 = hint_of(d, name[1]);
	atomic_store(&h->ip, atomic_load(&h2->ip));
	atomic_store(&h->epoch, atomic_load(&h2->epoch));
	CHECK_EQ(kvfs_unlink(mp, d, name[0]), 0);
	CHECK_EQ(kvfs_lookup(mp, d, name[0], &st), -ENOENT);
	CHECK_EQ(kvfs_getattr(mp, ino[0], &st), -ENOENT);
	linked_at(d, name[1], ino[1]);

	/* name[2]'s inode reclaimed: the hint holds freed memory */
	h = hint_of(d, name[2]);
	ip = atomic_load(&h->ip);
	CHECK_EQ(kvfs_sync(mp), 0);
	for (tries = 0; tries < 2000 && kvfs_icache_peek(mp, ino[2], any) == ip;
	     tries++) {
		kvfs_icache_shrink(mp->ic, 1u << 20);
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	CHECK(kvfs_icache_peek(mp, ino[2], any) != ip);
	CHECK(atomic_load(&h->ip) == ip);
	CHECK_EQ(kvfs_unlink(mp, d, name[2]), 0);
	CHECK_EQ(kvfs_lookup(mp, d, name[2], &st), -ENOENT);
	CHECK_EQ(kvfs_getattr(mp, ino[2], &st), -ENOENT);

	/* a good hint (made again after the reclaim's epoch) */
	CHECK_EQ(kvfs_lookup(mp, d, name[3], &st), 0);
	CHECK_EQ(kvfs_lookup(mp, d, name[3], &st), 0);
	hint_is(hint_of(d, name[3]), ino[3]);
	CHECK_EQ(kvfs_unlink(mp, d, name[3]), 0);
	CHECK_EQ(kvfs_lookup(mp, d, name[3], &st), -ENOENT);
	CHECK_EQ(kvfs_getattr(mp, ino[3], &st), -ENOENT);
	linked_at(d, name[1], ino[1]);

	kvfs_iput(dp);
	for (unsigned i = 0; i < n; i++) {
		hint_name(name[0], sizeof(name[0]), i);
		if (i != 100 && i != 102 && i != 103)
			CHECK_EQ(kvfs_unlink(mp, d, name[0]), 0);
	}
	CHECK_EQ(kvfs_rmdir(mp, mp->g.rootino, "uhints"), 0);
}

static void kept_level(const struct kvfs_inode *dp, void *arg)
{
	const struct kvfs_dir_map *m =
		atomic_load_explicit(&dp->i_dirmap, memory_order_acquire);

	*(unsigned *)arg = m ? atomic_load(&m->head.level) : 0;
}

/*
 * A directory of three hash index levels (the root, a level of nodes,
 * the leaves): every name looked up lock-free is found at the inode the
 * locked lookup gives, and its twin with a suffix (never created) is not
 * found.  Both node levels are searched from where the hash falls in the
 * node's range (fs/ns/dir_rcu.c seek()): this meets every child of every
 * node, its first and last too; a child chosen one off misses names.
 */
static void check_deep(void)
{
	const unsigned n = 200000;
	struct kvfs_stat st;
	unsigned level = 0;
	uint64_t d, ino;
	char name[64];

	d = dir_mkdir(mp, mp->g.rootino, "deep", &cr);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "deep-%06u", i);
		dir_creat(mp, d, name, &cr);
	}
	for (unsigned i = 0; i < n; i++) {
		for (unsigned absent = 0; absent < 2; absent++) {
			int err;

			snprintf(name, sizeof(name), "deep-%06u%s", i,
				 absent ? "x" : "");
			err = kvfs_lookup(mp, d, name, &st);
			CHECK_EQ(err, absent ? -ENOENT : 0);
			CHECK_EQ(look_quiet(d, name, &ino), err);
			if (!err)
				CHECK_EQ(ino, st.ino);
		}
	}
	/* the root's level, as the lookups kept it: above two levels */
	CHECK_EQ(kvfs_icache_read(mp, d, kept_level, &level), 0);
	CHECK(level >= 2);
	printf("deep: %u names, the index root at level %u\n", n, level);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "deep-%06u", i);
		CHECK_EQ(kvfs_unlink(mp, d, name), 0);
	}
	CHECK_EQ(kvfs_rmdir(mp, mp->g.rootino, "deep"), 0);
}

struct slot_arg {
	const char *name;
	struct kvfs_dir_slot slot;
	struct kvfs_ihint *hint;
	int err;
};

static void slot_read(const struct kvfs_inode *dp, void *arg)
{
	struct slot_arg *a = arg;

	a->err = kvfs_dir_lookup_slot_rcu(dp, a->name, strlen(a->name),
					  &a->slot, &a->hint);
}

/*
 * kvfs_dir_lookup_slot_rcu() (kvfs_unlink()'s lookup): the slot the
 * locked kvfs_dir_lookup_slot() gives, entry address included, in the
 * short form and in blocks; absent names -ENOENT; then every name
 * unlinked (the removal at that address) and the directory removed.
 */
static void check_slots(void)
{
	const unsigned n = 3000;
	struct kvfs_dir_slot want;
	struct kvfs_inode *dp;
	struct kvfs_stat st;
	unsigned answered = 0;
	uint64_t d;
	char name[64];

	d = dir_mkdir(mp, mp->g.rootino, "slots", &cr);
	CHECK_EQ(kvfs_iget(mp, d, 0, &dp), 0);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "slot-%u", i);
		dir_creat(mp, d, name, &cr);
		if (i != 2 && i != n - 1)
			continue;
		/* a few names in the short form, then all in blocks */
		for (unsigned j = 0; j <= i; j++) {
			struct slot_arg a = { .name = name };

			snprintf(name, sizeof(name), "slot-%u%s", j,
				 j == i ? "x" : "");
			CHECK_EQ(kvfs_lookup(mp, d, name, &st),
				 j == i ? -ENOENT : 0);
			kvfs_ilock(dp, KVFS_ILOCK_SHARED);
			CHECK_EQ(kvfs_dir_lookup_slot(dp, name, strlen(name),
						      &want),
				 j == i ? -ENOENT : 0);
			kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
			CHECK_EQ(kvfs_icache_read(mp, d, slot_read, &a), 0);
			if (a.err == -EAGAIN)
				continue;
			answered++;
			CHECK_EQ(a.err, j == i ? -ENOENT : 0);
			if (a.err)
				continue;
			CHECK_EQ(a.slot.ino, want.ino);
			CHECK_EQ(a.slot.ftype, want.ftype);
			CHECK_EQ(a.slot.addr, want.addr);
			CHECK(i == 2 ? !a.slot.addr : a.slot.addr != 0);
		}
	}
	CHECK(answered > n / 2);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "slot-%u", i);
		CHECK_EQ(kvfs_unlink(mp, d, name), 0);
		CHECK_EQ(kvfs_lookup(mp, d, name, &st), -ENOENT);
	}
	printf("slots: %u of %u lock-free slots as the locked lookup's\n",
	       answered, n + 3);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_rmdir(mp, mp->g.rootino, "slots"), 0);
}

int main(void)
{
	struct kvfs_dir_stats ds0, ds1;
	char name[64];
	uint64_t ino;

	CHECK_EQ(kv_init(NULL), 0);
	set_path("lookup-rcu");
	make_fs(128 << 20, 0);
	mp = mount_fs();
	dir = dir_mkdir(mp, mp->g.rootino, "d", &cr);
	dir2 = dir_mkdir(mp, mp->g.rootino, "d2", &cr);
	snprintf(stable[0], sizeof(stable[0]), "%s", collide_a);
	snprintf(never[0], sizeof(never[0]), "%s", collide_b);
	for (unsigned i = 1; i < NSTABLE; i++)
		snprintf(stable[i], sizeof(stable[i]), "stable-%u", i);
	for (unsigned i = 1; i < NNEVER; i++)
		snprintf(never[i], sizeof(never[i]), "never-%u", i);
	for (unsigned i = 0; i < NSTABLE; i++)
		stable_ino[i] = dir_creat(mp, dir, stable[i], &cr);
	for (unsigned i = 0; i < NREPL; i++) {
		repl_name(name, sizeof(name), i);
		dir_creat(mp, dir, name, &cr);
	}
	/* the colliding names do collide, and the short form holds them */
	CHECK_EQ(
		kvfs_dir_hashname((const uint8_t *)stable[0],
				  strlen(stable[0])),
		kvfs_dir_hashname((const uint8_t *)never[0], strlen(never[0])));
	CHECK_EQ(look(never[0], false, &ino), -ENOENT);

	check_hints();
	check_create_hints();
	check_unlink_hints();
	check_slots();
	check_head_kept();
	check_deep();

	kvfs_dir_get_stats(&ds0);
	/* short form <-> blocks: a few long names each way */
	run_phase(6, 120, 0, 1.5);
	kvfs_dir_get_stats(&ds1);
	CHECK(ds1.to_block > ds0.to_block);
	CHECK(ds1.to_sf > ds0.to_sf);
	CHECK(atomic_load(&answered_sf) > 0);
	CHECK(atomic_load(&answered_blk) > 0);

	/*
	 * A big directory (index levels, tens of data blocks) whose churn
	 * adds and frees data blocks.
	 */
	ds0 = ds1;
	atomic_store(&answered_blk, 0);
	run_phase(150, 40, 2500, 2.0);
	kvfs_dir_get_stats(&ds1);
	CHECK(ds1.blocks_freed > ds0.blocks_freed);
	CHECK(atomic_load(&answered_blk) > 0);
	printf("lookups %lu, lock-free answers: short form %lu, blocks %lu\n",
	       atomic_load(&lookups), atomic_load(&answered_sf),
	       atomic_load(&answered_blk));

	for (unsigned i = 0; i < NSTABLE; i++)
		CHECK_EQ(kvfs_unlink(mp, dir, stable[i]), 0);
	for (unsigned i = 0; i < NREPL; i++) {
		repl_name(name, sizeof(name), i);
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("lookup_rcu: ok\n");
	return 0;
}
