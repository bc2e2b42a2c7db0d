// SPDX-License-Identifier: GPL-2.0
/*
 * The engine over the three AG trees (free space by block, by size, inode
 * chunks) on a real image with its log, against an in-memory model (a
 * presence map over a key space; record i of the model is made from key
 * i and a value):
 *   - grow: ascending inserts (every other key, so later inserts land in
 *     the middle of blocks) until the tree has at least 4 levels;
 *   - random: insert (and -EEXIST on a duplicate), delete, lookup EQ/LE/GE,
 *     update, runs of increment/decrement, 32 operations per transaction,
 *     the structure walk and a comparison with the model after each batch;
 *   - crash in the middle: force, a few more commits, crash (log shut
 *     down, cache dropped), recovery; the tree walks clean and equals the
 *     model after one of the commits since the force, never older;
 *   - delete everything: the tree shrinks back to an empty root leaf and
 *     every block goes back to the allocator.
 * Prints the heights reached and the ops/s of the grow inserts (not
 * asserted).
 *
 * Usage: test_btree_ag [bno|cnt|ino] [seed]
 */
#include <time.h>

#include "tests/btree/bt.h"

#define KEYS (1u << 20)
#define IMAGE_SIZE (20ULL << 30)
#define ALLOC_BLOCKS 65536
#define OPS_PER_TX 16
#define TX_PER_BATCH 16
#define RANDOM_BATCHES 24
#define GROW_WALK_EVERY 16384

struct ttype {
	const char *name;
	const struct kvfs_btree_tree_ops *ops;
	uint32_t keys; /* key space (records must fit in the AG) */
	void (*mk)(uint32_t k, uint32_t v, void *rec);
	void (*get)(const void *rec, uint32_t *k, uint32_t *v);
};

static void bno_mk(uint32_t k, uint32_t v, void *rec)
{
	struct kvfs_alloc_rec *r = rec;

	r->startblock = kv_cpu_to_le32(8 + 4 * k);
	r->blockcount = kv_cpu_to_le32(1 + (v & 3));
}

static void bno_get(const void *rec, uint32_t *k, uint32_t *v)
{
	const struct kvfs_alloc_rec *r = rec;
	uint32_t s = kv_le32_to_cpu(r->startblock);

	CHECK(s >= 8 && (s - 8) % 4 == 0);
	*k = (s - 8) / 4;
	*v = kv_le32_to_cpu(r->blockcount) - 1;
}

/* by size: count 1 + k / 65536, start from k % 65536, so sorted as k */
static void cnt_mk(uint32_t k, uint32_t v, void *rec)
{
	struct kvfs_alloc_rec *r = rec;

	(void)v;
	r->startblock = kv_cpu_to_le32(8 + 4 * (k & 0xffff));
	r->blockcount = kv_cpu_to_le32(1 + (k >> 16));
}

static void cnt_get(const void *rec, uint32_t *k, uint32_t *v)
{
	const struct kvfs_alloc_rec *r = rec;

	*k = (kv_le32_to_cpu(r->blockcount) - 1) << 16 |
	     (kv_le32_to_cpu(r->startblock) - 8) / 4;
	*v = 0;
}

static void ino_mk(uint32_t k, uint32_t v, void *rec)
{
	struct kvfs_inobt_rec *r = rec;
	uint64_t mask = (uint64_t)v << 32 | (uint32_t)~v;

	r->startino = kv_cpu_to_le32(64 * (k + 1));
	r->freemask = kv_cpu_to_le64(mask);
	r->holemask = kv_cpu_to_le16(0);
	r->count = 64;
	r->freecount = (uint8_t)__builtin_popcountll(mask);
}

static void ino_get(const void *rec, uint32_t *k, uint32_t *v)
{
	const struct kvfs_inobt_rec *r = rec;

	*k = kv_le32_to_cpu(r->startino) / 64 - 1;
	*v = (uint32_t)(kv_le64_to_cpu(r->freemask) >> 32);
}

static const struct ttype types[] = {
	{ "bno", &kvfs_bnobt_tree_ops, KEYS, bno_mk, bno_get },
	{ "cnt", &kvfs_cntbt_tree_ops, KEYS, cnt_mk, cnt_get },
	{ "ino", &kvfs_inobt_tree_ops, KEYS / 2, ino_mk, ino_get },
};

struct model {
	uint8_t present[KEYS];
	uint32_t val[KEYS];
	uint32_t nr;
};

struct run {
	struct bt t;
	const struct ttype *ty;
	struct model m;
	uint64_t seed;
	unsigned ops_in_tx;
	unsigned max_height;
	uint64_t splits, joins, shifts, newroots, killroots;
};

static void key_of(const struct ttype *ty, uint32_t k, void *key)
{
	uint8_t rec[64];

	ty->mk(k, 0, rec);
	ty->ops->fmt->rec_key(rec, key);
}

static void count_cur(struct run *r, struct kvfs_btree_cur *cur)
{
	r->splits += cur->nsplits;
	r->joins += cur->njoins;
	r->shifts += cur->nshifts;
	r->newroots += cur->nnewroots;
	r->killroots += cur->nkillroots;
	cur->nsplits = cur->njoins = cur->nshifts = 0;
	cur->nnewroots = cur->nkillroots = 0;
}

/* One operation done: roll the transaction every OPS_PER_TX. */
static void op_done(struct run *r)
{
	if (++r->ops_in_tx < OPS_PER_TX)
		return;
	bt_commit(&r->t);
	bt_begin(&r->t);
	r->ops_in_tx = 0;
}

static void do_insert(struct run *r, uint32_t k, uint32_t v)
{
	struct kvfs_btree_cur cur;
	uint8_t rec[64], got[64];
	uint32_t gk, gv;
	int stat;

	r->ty->mk(k, v, rec);
	bt_cur(&r->t, &cur, r->ty->ops);
	if (r->m.present[k]) {
		CHECK_EQ(kvfs_btree_insert(&cur, rec), -EEXIST);
		return;
	}
	CHECK_EQ(kvfs_btree_insert(&cur, rec), 0);
	CHECK_EQ(kvfs_btree_get_rec(&cur, got, &stat), 0);
	CHECK_EQ(stat, 1);
	r->ty->get(got, &gk, &gv);
	CHECK_EQ(gk, k);
	count_cur(r, &cur);
	r->m.present[k] = 1;
	r->m.val[k] = gv;
	r->m.nr++;
}

static int64_t model_ge(const struct model *m, int64_t k)
{
	for (; k < KEYS; k++)
		if (m->present[k])
			return k;
	return -1;
}

static int64_t model_le(const struct model *m, int64_t k)
{
	for (; k >= 0; k--)
		if (m->present[k])
			return k;
	return -1;
}

/* The cursor's record is model key want (or there is none: want < 0). */
static void check_at(struct run *r, struct kvfs_btree_cur *cur, int stat,
		     int64_t want)
{
	uint8_t rec[64];
	uint32_t k, v;
	int st;

	CHECK_EQ(stat, want >= 0);
	if (want < 0)
		return;
	CHECK_EQ(kvfs_btree_get_rec(cur, rec, &st), 0);
	CHECK_EQ(st, 1);
	r->ty->get(rec, &k, &v);
	CHECK_EQ(k, want);
	CHECK_EQ(v, r->m.val[want]);
}

static void do_delete(struct run *r, uint32_t k)
{
	struct kvfs_btree_cur cur;
	uint8_t key[KVFS_BTREE_KEY_MAX];
	int stat;

	key_of(r->ty, k, key);
	bt_cur(&r->t, &cur, r->ty->ops);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, key, &stat), 0);
	CHECK_EQ(stat, r->m.present[k]);
	if (!stat)
		return;
	CHECK_EQ(kvfs_btree_delete(&cur, &stat), 0);
	r->m.present[k] = 0;
	r->m.nr--;
	count_cur(r, &cur);
	check_at(r, &cur, stat, model_ge(&r->m, k));
}

static void do_lookup(struct run *r, uint32_t k, int dir)
{
	static const enum kvfs_btree_lookup dirs[] = { KVFS_LOOKUP_EQ,
						       KVFS_LOOKUP_LE,
						       KVFS_LOOKUP_GE };
	struct kvfs_btree_cur cur;
	uint8_t key[KVFS_BTREE_KEY_MAX];
	int64_t want;
	int stat;

	key_of(r->ty, k, key);
	bt_cur(&r->t, &cur, r->ty->ops);
	CHECK_EQ(kvfs_btree_lookup(&cur, dirs[dir], key, &stat), 0);
	want = dir == 0 ? (r->m.present[k] ? (int64_t)k : -1) :
	       dir == 1 ? model_le(&r->m, k) :
			  model_ge(&r->m, k);
	check_at(r, &cur, stat, want);
}

static void do_update(struct run *r, uint32_t k, uint32_t v)
{
	struct kvfs_btree_cur cur;
	uint8_t key[KVFS_BTREE_KEY_MAX], rec[64];
	int stat;

	key_of(r->ty, k, key);
	bt_cur(&r->t, &cur, r->ty->ops);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, key, &stat), 0);
	if (!stat)
		return;
	r->ty->mk(k, v, rec);
	CHECK_EQ(kvfs_btree_update(&cur, rec), 0);
	r->ty->get(rec, &k, &r->m.val[k]);
	check_at(r, &cur, 1, k);
}

/* A run of increments, then of decrements, from the first key >= k. */
static void do_iterate(struct run *r, uint32_t k)
{
	struct kvfs_btree_cur cur;
	uint8_t key[KVFS_BTREE_KEY_MAX];
	int64_t want = model_ge(&r->m, k);
	int stat;

	key_of(r->ty, k, key);
	bt_cur(&r->t, &cur, r->ty->ops);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_GE, key, &stat), 0);
	check_at(r, &cur, stat, want);
	if (want < 0)
		return;
	for (int i = 0; i < 40 && want >= 0; i++) {
		CHECK_EQ(kvfs_btree_increment(&cur, &stat), 0);
		want = model_ge(&r->m, want + 1);
		check_at(r, &cur, stat, want);
	}
	if (want < 0) {
		/* at the end: decrementing comes back to the last record */
		CHECK_EQ(kvfs_btree_decrement(&cur, &stat), 0);
		want = model_le(&r->m, KEYS - 1);
		check_at(r, &cur, stat, want);
	}
	for (int i = 0; i < 80 && want >= 0; i++) {
		CHECK_EQ(kvfs_btree_decrement(&cur, &stat), 0);
		want = model_le(&r->m, want - 1);
		check_at(r, &cur, stat, want);
	}
}

struct cmp_state {
	struct run *r;
	int64_t next;
};

static int cmp_rec(const void *rec, void *priv)
{
	struct cmp_state *cs = priv;
	uint32_t k, v;

	cs->r->ty->get(rec, &k, &v);
	cs->next = model_ge(&cs->r->m, cs->next);
	CHECK_EQ(k, cs->next);
	CHECK_EQ(v, cs->r->m.val[k]);
	cs->next++;
	return 0;
}

/* Commit, walk clean, compare with the model, go on. */
static void checkpoint(struct run *r)
{
	struct kvfs_btree_walk w = { .rec_fn = cmp_rec };
	struct cmp_state cs = { .r = r };
	int err;

	bt_commit(&r->t);
	r->ops_in_tx = 0;
	w.priv = &cs;
	err = bt_walk_ag(&r->t, r->ty->ops, &w);
	if (err) {
		bt_print_findings(&w);
		CHECK_EQ(err, 0);
	}
	CHECK_EQ(w.nrecs, r->m.nr);
	CHECK_EQ(model_ge(&r->m, cs.next), -1);
	if (w.height > r->max_height)
		r->max_height = w.height;
	bt_begin(&r->t);
}

static void random_op(struct run *r)
{
	uint32_t k = (uint32_t)(bt_rand(&r->seed) % r->ty->keys);
	unsigned p = (unsigned)(bt_rand(&r->seed) % 100);

	if (p < 35)
		do_insert(r, k, (uint32_t)bt_rand(&r->seed));
	else if (p < 65)
		do_delete(r, k);
	else if (p < 85)
		do_lookup(r, k, (int)(bt_rand(&r->seed) % 3));
	else if (p < 95)
		do_update(r, k, (uint32_t)bt_rand(&r->seed));
	else
		do_iterate(r, k);
	op_done(r);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int mark_used(uint64_t fsb, unsigned level, void *priv)
{
	struct bt *t = priv;

	(void)level;
	if (fsb >= t->lo && fsb < t->hi) {
		CHECK(!t->used[fsb - t->lo]);
		t->used[fsb - t->lo] = 1;
		t->nused++;
	}
	return 0;
}

/* After recovery: the allocator's blocks are those the trees hold. */
static void rebuild_used(struct bt *t)
{
	memset(t->used, 0, t->hi - t->lo);
	t->nused = 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct kvfs_btree_walk w = { .blk_fn = mark_used, .priv = t };

		CHECK_EQ(bt_walk_ag(t, types[i].ops, &w), 0);
	}
}

#define NSNAP 4

static int snap_rec(const void *rec, void *priv)
{
	struct cmp_state *cs = priv;
	uint32_t k, v;

	cs->r->ty->get(rec, &k, &v);
	cs->next = model_ge(&cs->r->m, cs->next);
	if (k != cs->next || v != cs->r->m.val[k])
		return -ESTALE;
	cs->next++;
	return 0;
}

/* The tree holds exactly the model's records (telling, not aborting). */
static bool tree_equals(struct run *r)
{
	struct kvfs_btree_walk w = { .rec_fn = snap_rec };
	struct cmp_state cs = { .r = r };

	w.priv = &cs;
	return !bt_walk_ag(&r->t, r->ty->ops, &w) &&
	       model_ge(&r->m, cs.next) < 0;
}

/*
 * Force, a few more commits (the model saved after each), crash, recover:
 * the tree walks clean and equals the model after one of those commits.
 */
static void crash_and_recover(struct run *r)
{
	static struct model snap[NSNAP];
	struct kvfs_btree_walk w = { .rec_fn = NULL };
	int match = -1;

	bt_commit(&r->t);
	CHECK_EQ(kvj_log_force(r->t.log, 0), 0);
	snap[0] = r->m;
	for (int s = 1; s < NSNAP; s++) {
		bt_begin(&r->t);
		for (int i = 0; i < 8; i++) {
			r->ops_in_tx = 0;
			random_op(r);
		}
		bt_commit(&r->t);
		snap[s] = r->m;
	}
	r->ops_in_tx = 0;
	bt_crash(&r->t);
	bt_open(&r->t);
	CHECK(!r->t.ri.was_clean);
	if (bt_walk_ag(&r->t, r->ty->ops, &w)) {
		bt_print_findings(&w);
		CHECK(0);
	}
	for (int s = NSNAP - 1; s >= 0 && match < 0; s--) {
		r->m = snap[s];
		if (w.nrecs == r->m.nr && tree_equals(r))
			match = s;
	}
	CHECK(match >= 0);
	printf("%s: crash after a force and %d more commits: recovered the "
	       "state after commit %d of them (%u checkpoints replayed)\n",
	       r->ty->name, NSNAP - 1, match, r->t.ri.checkpoints_replayed);
	rebuild_used(&r->t);
	bt_begin(&r->t);
}

static void run_type(const struct ttype *ty, uint64_t seed)
{
	static struct run r;
	struct kvfs_btree_cur cur;
	uint8_t zero[KVFS_BTREE_KEY_MAX] = { 0 };
	struct kvfs_btree_walk w = { .rec_fn = NULL };
	uint32_t k;
	unsigned grow_height;
	double t0, dt;
	uint64_t n0;
	int stat;

	memset(&r, 0, sizeof(r));
	r.ty = ty;
	r.seed = seed;
	bt_create(&r.t, ty->name, IMAGE_SIZE, ALLOC_BLOCKS);

	/* mkfs's records go first: the tree starts empty */
	bt_begin(&r.t);
	bt_cur(&r.t, &cur, ty->ops);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_GE, zero, &stat), 0);
	while (stat)
		CHECK_EQ(kvfs_btree_delete(&cur, &stat), 0);
	checkpoint(&r);
	CHECK_EQ(r.max_height, 1);

	/* grow to 4 levels by ascending inserts of the even keys */
	dt = 0;
	n0 = 0;
	for (k = 0; k < ty->keys; k += 2) {
		t0 = now();
		do_insert(&r, k, k * 2654435761u);
		op_done(&r);
		dt += now() - t0;
		n0++;
		if (n0 % GROW_WALK_EVERY == 0) {
			checkpoint(&r);
			if (r.max_height >= 4)
				break;
		}
	}
	checkpoint(&r);
	grow_height = r.max_height;
	printf("%s: grew to height %u with %u records: %.0f inserts/s "
	       "(transactions included, walks not; %" PRIu64 " splits, %" PRIu64
	       " new roots)\n",
	       ty->name, grow_height, r.m.nr, n0 / dt, r.splits, r.newroots);
	CHECK(grow_height >= 4);

	/* random operations, walked and compared after every batch */
	for (int b = 0; b < RANDOM_BATCHES; b++) {
		for (int i = 0; i < OPS_PER_TX * TX_PER_BATCH; i++)
			random_op(&r);
		checkpoint(&r);
		if (b == RANDOM_BATCHES / 2)
			crash_and_recover(&r);
	}

	/* delete everything, from the front */
	bt_cur(&r.t, &cur, ty->ops);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_GE, zero, &stat), 0);
	while (stat) {
		uint8_t rec[64];
		uint32_t gk, gv;

		CHECK_EQ(kvfs_btree_get_rec(&cur, rec, &stat), 0);
		ty->get(rec, &gk, &gv);
		CHECK(r.m.present[gk]);
		CHECK_EQ(kvfs_btree_delete(&cur, &stat), 0);
		count_cur(&r, &cur);
		r.m.present[gk] = 0;
		r.m.nr--;
		if (++r.ops_in_tx % (OPS_PER_TX * 4) == 0) {
			if (r.ops_in_tx % GROW_WALK_EVERY) {
				bt_commit(&r.t);
				bt_begin(&r.t);
			} else {
				checkpoint(&r);
			}
			bt_cur(&r.t, &cur, ty->ops);
			CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_GE, zero,
						   &stat),
				 0);
		}
	}
	checkpoint(&r);
	CHECK_EQ(r.m.nr, 0);
	bt_commit(&r.t);
	CHECK_EQ(bt_walk_ag(&r.t, ty->ops, &w), 0);
	CHECK_EQ(w.height, 1);
	CHECK_EQ(w.nrecs, 0);
	CHECK_EQ(w.nblocks[0], 1);
	CHECK(r.killroots >= grow_height - 1);
	CHECK(r.splits && r.joins && r.shifts);
	/* only the root leaf can still hold an allocator block */
	CHECK(r.t.nused <= 1);
	printf("%s: max height %u; %" PRIu64 " splits, %" PRIu64
	       " joins, %" PRIu64 " shifts, %" PRIu64 " new roots, %" PRIu64
	       " killed roots; emptied back to one root leaf\n",
	       ty->name, r.max_height, r.splits, r.joins, r.shifts, r.newroots,
	       r.killroots);
	bt_close(&r.t);
}

int main(int argc, char **argv)
{
	struct kv_config cfg = { 0 };
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eed;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK_EQ(kv_init(&cfg), 0);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (argc < 2 || !strcmp(argv[1], types[i].name))
			run_type(&types[i], seed + i);
	kv_fini();
	return 0;
}
