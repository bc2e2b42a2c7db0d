// SPDX-License-Identifier: GPL-2.0
/*
 * Deferred conversion of unwritten blocks (see fs/data/convert.h for the
 * contract and the locks).
 *
 * Lock: kvfs_conv_ctl.lock (rank kvfs_conv) serialises settles; cond_lock
 * (a leaf) protects stop and the thread's wait.  An inode's ranges are
 * under its i_lock held exclusively.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc/kvalloc.h"
#include "alloc/kvlock.h"
#include "fs/bug.h"
#include "fs/data/bmap.h"
#include "fs/data/convert.h"
#include "fs/data/file.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

/*
 * What an inode with ranges pins until a settle, reclaim passing it by:
 * the inode, its ranges and its extent map (about 1.4 KiB).
 */
#define CONV_INODE_BYTES 2048u

struct kvfs_conv_ctl {
	struct kv_mutex lock; /* serialises settles */
	_Atomic int64_t inodes; /* inodes with ranges */
	int64_t kick_at; /* inodes that start a settle before the period */
	unsigned period_ms;
	pthread_mutex_t cond_lock;
	pthread_cond_t cond;
	bool stop;
	bool kick;
	pthread_t thread;
};

static struct kvfs_conv *conv_of(const struct kvfs_inode *ip)
{
	return __atomic_load_n(&ip->i_conv, __ATOMIC_ACQUIRE);
}

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

void kvfs_conv_snap(const struct kvfs_inode *ip, struct kvfs_conv_snap *s)
{
	struct kvfs_conv *c = conv_of(ip);

	s->nr = 0;
	if (!c || !LD(c->nr))
		return;
	for (unsigned i = 0; i < KVFS_CONV_RANGES; i++) {
		uint64_t e = LD(c->end[i]);

		if (!e)
			continue;
		s->start[s->nr] = LD(c->start[i]);
		s->end[s->nr] = e;
		s->nr++;
	}
}

bool kvfs_conv_snap_pending(const struct kvfs_conv_snap *s, uint64_t b,
			    uint64_t limit, uint64_t *end)
{
	uint64_t e = limit;
	bool in = false;

	for (uint32_t i = 0; i < s->nr; i++) {
		if (s->start[i] <= b && b < s->end[i]) {
			/* the furthest covering range; ranges may touch */
			if (!in || s->end[i] > e)
				e = s->end[i];
			in = true;
		}
	}
	if (in) {
		/* ranges overlapping the run's end extend it */
		for (bool grew = true; grew;) {
			grew = false;
			for (uint32_t i = 0; i < s->nr; i++)
				if (s->start[i] <= e && e < s->end[i]) {
					e = s->end[i];
					grew = true;
				}
		}
	} else {
		for (uint32_t i = 0; i < s->nr; i++)
			if (s->start[i] > b && s->start[i] < e)
				e = s->start[i];
	}
	*end = e < limit ? e : limit;
	return in;
}

bool kvfs_conv_snap_overlaps(const struct kvfs_conv_snap *s, uint64_t fb,
			     uint64_t fe)
{
	for (uint32_t i = 0; i < s->nr; i++)
		if (s->start[i] < fe && fb < s->end[i])
			return true;
	return false;
}

static void slot_free(struct kvfs_conv *c, unsigned i)
{
	ST(c->end[i], 0);
	ST(c->start[i], 0);
	c->sealed &= ~(1u << i);
	c->nr--;
}

/*
 * The most a range's conversion takes for the map's tree, what a write's
 * transaction reserves for it (kvfs_bmap_convert_blocks() of one range in
 * a tree): one step takes no more than that less what the range's earlier
 * steps took.
 */
static uint64_t conv_share(const struct kvfs_inode *ip)
{
	return ip->i_mount->resv.write.blocks;
}

/*
 * The blocks kept for the conversion of nr ranges made up to what it may
 * take, from tp's reservation (NULL: none): false, nothing taken, when tp
 * has too few (it then converts at once, its blocks whole).
 */
static bool conv_hold(struct kvfs_inode *ip, struct kvfs_conv *c,
		      struct kvfs_trans *tp, uint32_t nr)
{
	uint64_t want = kvfs_bmap_convert_blocks(ip, nr);

	if (c->held >= want)
		return true;
	if (!tp || kvfs_trans_keep_blocks(tp, want - c->held))
		return false;
	ST(c->held, want);
	return true;
}

/* Ranges went (merged, converted, trimmed): what they kept goes back. */
static void conv_release(struct kvfs_inode *ip, struct kvfs_conv *c)
{
	uint64_t keep = kvfs_bmap_convert_blocks(ip, c->nr);

	if (c->held > keep) {
		kvfs_trans_unkeep(ip->i_mount, c->held - keep);
		ST(c->held, keep);
	}
}

/* The last range went: the inode is an ordinary one again. */
static void conv_emptied(struct kvfs_inode *ip)
{
	struct kvfs_conv_ctl *ctl = ip->i_mount->conv;

	/* none after the unmount's last settle: nothing counts any more */
	if (ctl)
		atomic_fetch_sub(&ctl->inodes, 1);
}

/*
 * Inodes with ranges passed an eighth of the memory budget: settle now,
 * not at the period, while the settle still finds memory (fsstress -p 16
 * on a mem=3M mount left ~1100 such inodes holding half the budget, and
 * every thread, the settle's too, waiting for memory for good).
 */
static void conv_kick(struct kvfs_conv_ctl *ctl)
{
	pthread_mutex_lock(&ctl->cond_lock);
	ctl->kick = true;
	pthread_cond_signal(&ctl->cond);
	pthread_mutex_unlock(&ctl->cond_lock);
}

bool kvfs_conv_defer(struct kvfs_inode *ip, struct kvfs_trans *tp, uint64_t fb,
		     uint64_t fe)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct kvfs_conv *c = ip->i_conv;
	unsigned i, slot;
	bool grow;

	/*
	 * A small file converts at once: one transaction rather than two,
	 * and no ranges to keep for each of many small files.
	 */
	if (!mp->conv || !S_ISREG(ip->i_mode) ||
	    (ip->i_size < KVFS_PREALLOC_FROM &&
	     fe << mp->g.blocklog < KVFS_PREALLOC_FROM) ||
	    kvj_errtag(KVJ_ERRTAG_CONV_NODEFER))
		return false;
	if (!c) {
		/* inside a transaction: NOFS, and failing is fine */
		c = kvzalloc(sizeof(*c), KV_NOWARN);
		if (!c)
			return false;
		__atomic_store_n(&ip->i_conv, c, __ATOMIC_RELEASE);
	}
	/* an unsealed range this one touches grows, else a free slot */
	for (slot = 0; slot < KVFS_CONV_RANGES; slot++)
		if (c->end[slot] && !(c->sealed & (1u << slot)) &&
		    fb <= c->end[slot] && fe >= c->start[slot])
			break;
	grow = slot < KVFS_CONV_RANGES;
	if (!grow)
		for (slot = 0; slot < KVFS_CONV_RANGES && c->end[slot]; slot++)
			;
	/* a new range only with the blocks its conversion may take */
	if (slot == KVFS_CONV_RANGES || !conv_hold(ip, c, tp, c->nr + !grow))
		return false;
	if (grow) {
		if (fb < c->start[slot])
			ST(c->start[slot], fb);
		if (fe > c->end[slot])
			ST(c->end[slot], fe);
		/* it may now touch another unsealed one: absorb that */
		for (i = 0; i < KVFS_CONV_RANGES; i++) {
			if (i == slot || !c->end[i] || c->sealed & (1u << i) ||
			    c->start[i] > c->end[slot] ||
			    c->end[i] < c->start[slot])
				continue;
			if (c->start[i] < c->start[slot])
				ST(c->start[slot], c->start[i]);
			if (c->end[i] > c->end[slot])
				ST(c->end[slot], c->end[i]);
			slot_free(c, i);
		}
		conv_release(ip, c);
		return true;
	}
	if (!c->nr) {
		c->size = ip->i_size;
		if (atomic_fetch_add(&mp->conv->inodes, 1) + 1 ==
		    mp->conv->kick_at)
			conv_kick(mp->conv);
	}
	ST(c->start[slot], fb);
	ST(c->end[slot], fe);
	c->nr++;
	return true;
}

bool kvfs_conv_unkept(const struct kvfs_inode *ip, bool any)
{
	const struct kvfs_conv *c = ip->i_conv;

	/* two records more: as much as one range more takes */
	return c && c->nr && c->held < c->nr * conv_share(ip) &&
	       (any || c->held < kvfs_bmap_convert_blocks(ip, c->nr + 1));
}

void kvfs_conv_trim(struct kvfs_inode *ip, uint64_t fb)
{
	struct kvfs_conv *c = ip->i_conv;

	if (!c || !c->nr)
		return;
	for (unsigned i = 0; i < KVFS_CONV_RANGES; i++) {
		if (!c->end[i])
			continue;
		if (c->start[i] >= fb)
			slot_free(c, i);
		else if (c->end[i] > fb)
			ST(c->end[i], fb);
	}
	conv_release(ip, c);
	if (!c->nr)
		conv_emptied(ip);
}

void kvfs_conv_size_set(struct kvfs_inode *ip)
{
	struct kvfs_conv *c = ip->i_conv;

	if (c && c->nr)
		c->size = ip->i_size;
}

uint64_t kvfs_conv_log_size(const struct kvfs_inode *ip)
{
	const struct kvfs_conv *c = ip->i_conv;

	return c && c->nr && c->size < ip->i_size ? c->size : ip->i_size;
}

bool kvfs_conv_busy(const struct kvfs_inode *ip)
{
	const struct kvfs_conv *c = conv_of(ip);

	return c && LD(c->nr);
}

/*
 * Ranges converted: the log may record the size up to the first block
 * still pending (what lies below it is written or was never pending).
 */
static void raise_size(struct kvfs_inode *ip, struct kvfs_conv *c)
{
	uint64_t first = UINT64_MAX, sz;

	if (!c->nr)
		return;
	for (unsigned i = 0; i < KVFS_CONV_RANGES; i++)
		if (c->end[i] && c->start[i] < first)
			first = c->start[i];
	sz = first << ip->i_mount->g.blocklog;
	if (sz > ip->i_size)
		sz = ip->i_size;
	if (sz > c->size)
		c->size = sz;
}

/* The lowest sealed slot, KVFS_CONV_RANGES if none. */
static unsigned first_sealed(const struct kvfs_conv *c)
{
	return c->sealed ? (unsigned)__builtin_ctz(c->sealed) :
			   KVFS_CONV_RANGES;
}

/*
 * A transaction for a step of the conversion, ip locked and joined, its
 * blocks those the ranges kept (*kept set, at most a share: one step
 * takes no more).  With none kept (a list with room for what the
 * conversions add needs none; a range whose conversion took them all
 * needs none more), as a write converting at once: free blocks, else the
 * reserve pool (as XFS converts at I/O completion), else none.
 */
static int conv_trans(struct kvfs_inode *ip, struct kvfs_conv *c,
		      struct kvfs_trans **tpp, bool *kept)
{
	const struct kvfs_trans_res *res = &ip->i_mount->resv.write;
	uint64_t take;
	int err;

	*kept = false;
	/* a look without the lock: kept blocks only change under it */
	if (LD(c->held)) {
		err = kvfs_file_trans(ip, res->log_bytes, res->log_count, 0,
				      tpp);
		if (err)
			return err;
		take = c->held < conv_share(ip) ? c->held : conv_share(ip);
		if (take) {
			ST(c->held, c->held - take);
			kvfs_trans_add_kept(*tpp, take);
			*kept = true;
			return 0;
		}
		kvfs_trans_cancel(*tpp);
	}
	err = kvfs_file_trans(ip, res->log_bytes, res->log_count, res->blocks,
			      tpp);
	if (err == -ENOSPC)
		err = kvfs_file_trans_reserved(ip, res, tpp);
	if (err == -ENOSPC)
		err = kvfs_file_trans(ip, res->log_bytes, res->log_count, 0,
				      tpp);
	return err;
}

/* What a step left of the blocks kept (kept: tp had them) stays kept. */
static void conv_keep_left(struct kvfs_trans *tp, struct kvfs_conv *c,
			   bool kept)
{
	uint64_t left = kvfs_trans_blocks_left(tp);

	if (kept && !kvfs_trans_keep_blocks(tp, left))
		ST(c->held, c->held + left);
}

/*
 * Convert the sealed ranges, a transaction per step (one extent-tree
 * change each, as write_done() in fs/data/file.c), each logging the
 * inode with the size it may now record.
 */
static int convert_sealed(struct kvfs_inode *ip, struct kvfs_conv *c)
{
	for (;;) {
		struct kvfs_trans *tp;
		uint64_t from, cur, end;
		unsigned i;
		bool kept;
		int err;

		err = conv_trans(ip, c, &tp, &kept);
		if (err)
			return err;
		i = first_sealed(c);
		if (i == KVFS_CONV_RANGES) {
			/* trimmed away meanwhile: the other ranges' stay */
			conv_keep_left(tp, c, kept);
			kvfs_trans_cancel(tp);
			return 0;
		}
		from = cur = c->start[i];
		end = c->end[i];
		while (cur < end) {
			struct kvfs_bmap m[8];
			int nmap = 8;

			err = kvfs_bmapi_write(tp, ip, cur, end - cur,
					       KVFS_BMAPI_CONVERT, m, &nmap);
			if (err)
				break;
			cur = m[nmap - 1].startoff + m[nmap - 1].blockcount;
		}
		conv_keep_left(tp, c, kept);
		if (err && err != -ENOSPC) {
			kvfs_trans_cancel(tp);
			return err;
		}
		if (cur >= end)
			slot_free(c, i);
		else
			ST(c->start[i], cur);
		conv_release(ip, c);
		if (!c->nr)
			conv_emptied(ip);
		else
			raise_size(ip, c);
		kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
		/* no progress: out of blocks for a split of a B+tree fork */
		if (err && cur == from) {
			kvfs_file_commit(tp, ip, true);
			return err;
		}
		err = kvfs_file_commit(tp, ip, true);
		if (err)
			return err;
	}
}

/*
 * A conversion's transaction short of space trims the speculative blocks
 * (kvfs_trans_alloc()), whose kvfs_sync() settles every file: under
 * mp->conv->lock, held here, that took it again and the daemon hung
 * (fsstress -p 8 on a filling image: copy_file_range -> punch -> settle).
 */
static __thread bool conv_settling;

bool kvfs_conv_settling(void)
{
	return conv_settling;
}

int kvfs_conv_settle(struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct kvfs_conv *c = conv_of(ip);
	uint32_t sealed = 0;
	int err;

	if (!c || !LD(c->nr) || !mp->conv)
		return 0;
	kv_mutex_lock(&mp->conv->lock);
	conv_settling = true;
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	for (unsigned i = 0; i < KVFS_CONV_RANGES; i++)
		if (c->end[i])
			sealed |= 1u << i;
	c->sealed = sealed;
	kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
	/* what was written into them came before the seal: durable now */
	err = sealed ? kvfs_log_io_flush_data(&mp->lio) : 0;
	if (!err && sealed)
		err = convert_sealed(ip, c);
	if (err) {
		/* still pending: the next settle seals them again */
		kvfs_ilock(ip, KVFS_ILOCK_EXCL);
		c->sealed = 0;
		kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
	}
	conv_settling = false;
	kv_mutex_unlock(&mp->conv->lock);
	return err;
}

int kvfs_conv_settle_unkept(struct kvfs_inode *ip)
{
	bool unkept;
	int err;

	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	unkept = kvfs_conv_unkept(ip, true);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	if (!unkept)
		return 0;
	err = kvfs_conv_settle(ip);
	/*
	 * Short of a block: their map had outgrown the list's room already
	 * (a write's allocation, a write converted at once), which no
	 * settle before the change gets back; the change goes on as it
	 * would have (a punch must work on a full filesystem), the ranges
	 * left to the settles after it.
	 */
	return err == -ENOSPC ? 0 : err;
}

int kvfs_conv_settle_range(struct kvfs_inode *ip, uint64_t fb, uint64_t fe)
{
	struct kvfs_conv_snap s;

	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	kvfs_conv_snap(ip, &s);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	return kvfs_conv_snap_overlaps(&s, fb, fe) ? kvfs_conv_settle(ip) : 0;
}

static bool want_busy(struct kvfs_inode *ip)
{
	return kvfs_conv_busy(ip);
}

static int settle_one(struct kvfs_inode *ip, void *arg)
{
	int *first = arg, err = kvfs_conv_settle(ip);

	if (err && !*first)
		*first = err;
	return 0;
}

int kvfs_conv_settle_all(struct kvfs_mount *mp)
{
	int err = 0;

	if (!mp->conv)
		return 0;
	/*
	 * An inode reclaim has claimed for a moment (and gives back: it has
	 * ranges) is passed over by the walk: look again while any is left.
	 */
	for (unsigned pass = 0; pass < 100 && !err; pass++) {
		if (!atomic_load(&mp->conv->inodes))
			break;
		if (pass)
			sched_yield();
		kvfs_icache_walk(mp, want_busy, settle_one, &err);
	}
	return err;
}

static void *conv_worker(void *arg)
{
	struct kvfs_mount *mp = arg;
	struct kvfs_conv_ctl *ctl = mp->conv;

	pthread_mutex_lock(&ctl->cond_lock);
	while (!ctl->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += ctl->period_ms / 1000;
		ts.tv_nsec += (long)(ctl->period_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		/* a kick while the last settle ran is not lost */
		if (!ctl->kick)
			pthread_cond_timedwait(&ctl->cond, &ctl->cond_lock,
					       &ts);
		ctl->kick = false;
		if (ctl->stop)
			break;
		pthread_mutex_unlock(&ctl->cond_lock);
		/* errors stay pending: fsync reports them to whoever asks */
		kvfs_conv_settle_all(mp);
		pthread_mutex_lock(&ctl->cond_lock);
	}
	pthread_mutex_unlock(&ctl->cond_lock);
	return NULL;
}

int kvfs_conv_start(struct kvfs_mount *mp, unsigned period_ms)
{
	struct kvfs_conv_ctl *ctl = kvzalloc(sizeof(*ctl), 0);
	pthread_condattr_t ca;
	struct kv_stats ks;
	int err;

	if (!ctl)
		return -ENOMEM;
	kv_stats(&ks);
	ctl->kick_at =
		(int64_t)(ks.pages_total * KV_PAGE_SIZE / 8 / CONV_INODE_BYTES);
	kv_mutex_init(&ctl->lock, kv_lock_class_register("kvfs_conv"));
	ctl->period_ms = period_ms ? period_ms : KVFS_CONV_MS;
	pthread_mutex_init(&ctl->cond_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctl->cond, &ca);
	pthread_condattr_destroy(&ca);
	mp->conv = ctl;
	err = pthread_create(&ctl->thread, NULL, conv_worker, mp);
	if (err) {
		mp->conv = NULL;
		pthread_cond_destroy(&ctl->cond);
		pthread_mutex_destroy(&ctl->cond_lock);
		kv_mutex_destroy(&ctl->lock);
		kvfree(ctl);
		return -err;
	}
	pthread_setname_np(ctl->thread, "kvfs-settle");
	return 0;
}

int kvfs_conv_stop(struct kvfs_mount *mp)
{
	struct kvfs_conv_ctl *ctl = mp->conv;
	int err;

	if (!ctl)
		return 0;
	pthread_mutex_lock(&ctl->cond_lock);
	ctl->stop = true;
	pthread_cond_signal(&ctl->cond);
	pthread_mutex_unlock(&ctl->cond_lock);
	pthread_join(ctl->thread, NULL);
	err = kvfs_conv_settle_all(mp);
	if (!err && atomic_load(&ctl->inodes))
		err = -EBUSY;
	mp->conv = NULL;
	pthread_cond_destroy(&ctl->cond);
	pthread_mutex_destroy(&ctl->cond_lock);
	kv_mutex_destroy(&ctl->lock);
	kvfree(ctl);
	return err;
}

void kvfs_conv_free(struct kvfs_inode *ip)
{
	if (ip->i_conv && ip->i_conv->held)
		kvfs_trans_unkeep(ip->i_mount, ip->i_conv->held);
	kvfree(ip->i_conv);
	ip->i_conv = NULL;
}
