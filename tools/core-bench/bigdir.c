// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-core-bench's directory of --dir-entries files (bench.h): built and
 * checked once, untimed; dir_lookup, readdir and dir_lookup_reads in it;
 * emptied at the end, back to short form.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/mount.h"
#include "fs/ns/dir.h"
#include "bench.h"

#define READDIR_PAGE 128

static uint64_t big_dir;
static bool big_built, big_warm;

static void big_name(char *buf, size_t len, uint64_t k)
{
	snprintf(buf, len, "entry-%08" PRIu64, k);
}

struct rd_count {
	uint64_t n, next;
	unsigned page;
};

static int rd_count_fill(void *priv, const char *name, size_t namelen,
			 uint64_t ino, unsigned dtype, uint64_t next)
{
	struct rd_count *c = priv;

	(void)name;
	(void)namelen;
	(void)ino;
	(void)dtype;
	if (c->page == READDIR_PAGE)
		return 1;
	c->page++;
	c->n++;
	c->next = next;
	return 0;
}

/* One whole readdir of dir in pages: the entries, or a negative errno. */
static int64_t readdir_pass(uint64_t dir)
{
	struct rd_count c = { 0 };

	for (;;) {
		int err;

		c.page = 0;
		err = kvfs_readdir(mp, dir, c.next, rd_count_fill, &c);
		if (err)
			return err;
		if (c.page < READDIR_PAGE)
			return (int64_t)c.n;
	}
}

void big_loop(struct worker *w)
{
	uint64_t rs = 0x9e3779b97f4a7c15ull * (w->idx + 1);
	struct kvfs_stat st;
	char name[64];
	double t0 = now();
	unsigned calls = 0;

	while (!bench_stopped(&calls, w->wl == DIR_LOOKUP ? 63 : 0)) {
		int64_t n;
		int err = 0;

		if (w->wl == DIR_LOOKUP) {
			big_name(name, sizeof(name),
				 xorshift(&rs) % opt_dir_entries);
			err = kvfs_lookup(mp, big_dir, name, &st);
			w->ops++;
		} else {
			n = readdir_pass(big_dir);
			if (n < 0)
				err = (int)n;
			else
				w->ops += (uint64_t)n;
		}
		if (err) {
			w->err = err;
			break;
		}
	}
	w->busy = now() - t0;
}

struct rd_seen {
	uint8_t *seen;
	uint64_t n, next, bad;
};

static int rd_seen_fill(void *priv, const char *name, size_t namelen,
			uint64_t ino, unsigned dtype, uint64_t next)
{
	struct rd_seen *c = priv;
	unsigned long long k;

	(void)ino;
	(void)dtype;
	c->next = next;
	c->n++;
	if (c->n <= 2)
		return 0; /* "." and ".." */
	if (namelen != 14 || strncmp(name, "entry-", 6) ||
	    sscanf(name + 6, "%8llu", &k) != 1 || k >= opt_dir_entries ||
	    c->seen[k]++)
		c->bad++;
	return c->n % READDIR_PAGE == 0; /* pages, as FUSE */
}

/*
 * The directory of --dir-entries files (untimed; reported on stderr),
 * then one readdir of it: every entry exactly once.
 */
int big_build(void)
{
	struct rd_seen c = { 0 };
	char name[64];
	uint64_t k;
	double t0;
	int err;

	if (big_built)
		return 0;
	err = ns_mkdir("big", &big_dir);
	t0 = now();
	for (k = 0; k < opt_dir_entries && !err; k++) {
		big_name(name, sizeof(name), k);
		err = ns_create_one(big_dir, name, false);
	}
	if (err)
		return err;
	fprintf(stderr, PROG ": big directory: %u creates in %.1f s (%.0f/s)\n",
		opt_dir_entries, now() - t0, opt_dir_entries / (now() - t0));
	c.seen = calloc(opt_dir_entries, 1);
	if (!c.seen)
		return -ENOMEM;
	t0 = now();
	do {
		uint64_t before = c.n;

		err = kvfs_readdir(mp, big_dir, c.next, rd_seen_fill, &c);
		if (!err && c.n == before)
			break;
	} while (!err);
	for (k = 0; k < opt_dir_entries && !err; k++)
		if (c.seen[k] != 1)
			c.bad++;
	free(c.seen);
	if (err)
		return err;
	fprintf(stderr,
		PROG ": big directory: readdir of %" PRIu64 " entries in "
		     "%.2f s, %s\n",
		c.n, now() - t0,
		c.bad ? "WRONG (entries missing or twice)" :
			"each entry exactly once");
	if (c.bad || c.n != opt_dir_entries + 2ull)
		return -EUCLEAN;
	big_built = big_warm = true;
	return 0;
}

/* Every entry and its inode in the caches again after a remount. */
int big_warm_up(void)
{
	struct kvfs_stat st;
	char name[64];
	int err = 0;

	for (uint64_t k = 0; k < opt_dir_entries && !err && !big_warm; k++) {
		big_name(name, sizeof(name), k);
		err = kvfs_lookup(mp, big_dir, name, &st);
	}
	big_warm = !err;
	return err;
}

/* Remove every entry (once built): short form again, with no blocks. */
int big_teardown(void)
{
	struct kvfs_inode *dp;
	char name[64];
	double t0 = now();
	bool sf;
	int err = 0;

	if (!big_built)
		return 0;
	for (uint64_t k = 0; k < opt_dir_entries && !err; k++) {
		big_name(name, sizeof(name), k);
		err = kvfs_unlink(mp, big_dir, name);
	}
	if (err)
		return err;
	err = kvfs_iget(mp, big_dir, 0, &dp);
	if (err)
		return err;
	sf = dp->i_dformat == KVFS_DFORK_INLINE && dp->i_nblocks == 0;
	kvfs_iput(dp);
	fprintf(stderr,
		PROG ": big directory: %u unlinks in %.1f s (%.0f/s), %s\n",
		opt_dir_entries, now() - t0, opt_dir_entries / (now() - t0),
		sf ? "short form again, no blocks" : "NOT back to short form");
	return sf ? 0 : -EUCLEAN;
}

/*
 * Buffer reads of one cold directory lookup (the directory's inode read
 * before, not counted), averaged over a run of at least 3.
 */
int lookup_reads(double *value)
{
	struct kv_bcache_stats st;
	struct kvfs_inode *dp;
	uint64_t rs = 0x2545f4914f6cdd1dull, total = 0, n = 0, ino, r0;
	double t_end = now() + opt_seconds;
	char name[64];
	uint8_t ft;
	int err = 0;

	while (!err && (now() < t_end || n < 3)) {
		err = remount();
		/* the caches emptied: dir_lookup warms them again */
		big_warm = false;
		if (!err)
			err = kvfs_iget(mp, big_dir, 0, &dp);
		if (err)
			break;
		big_name(name, sizeof(name), xorshift(&rs) % opt_dir_entries);
		kv_bcache_get_stats(mp->bc, &st);
		r0 = st.reads;
		kvfs_ilock(dp, KVFS_ILOCK_SHARED);
		err = kvfs_dir_lookup(dp, name, strlen(name), &ino, &ft);
		kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
		kvfs_iput(dp);
		kv_bcache_get_stats(mp->bc, &st);
		total += st.reads - r0;
		n++;
	}
	*value = n ? (double)total / n : 0;
	return err;
}
