// SPDX-License-Identifier: GPL-2.0
/*
 * The engine over a test tree type with a small fanout (128-byte records,
 * 32-byte keys: 7 records per 1 KiB leaf, 23 entries per node), rooted in
 * memory and owned by an inode-like owner (not an AG tree), so that height
 * comes cheaply:
 *   - random inserts and deletes against a model to 5 levels, walked after
 *     every batch (1024 or 256 operations);
 *   - splits and joins at every position: entries inserted at the first,
 *     middle and last position of the first, a middle and the last leaf
 *     (so of their parents too), then deleted at those positions, walked
 *     after every operation; an update of a leaf's first record carries
 *     the key up; a moved key is rewritten in place only where the
 *     order is known to hold (kvfs_btree_update_moved());
 *   - the walk on damage made on purpose, each reported precisely (block,
 *     level, what): a right sibling that skips a leaf, a parent key that
 *     differs from its child's first key, record counts under the minimum
 *     and over the maximum, keys out of order across two leaves; a lookup
 *     through a block of the wrong level fails with -EUCLEAN;
 *   - deleting everything leaves one empty root leaf and frees every
 *     other block;
 *   - a shift and a borrow even the two blocks out;
 *   - insertions at a lookup's position (kvfs_btree_insert_at()), where
 *     the key belongs there and where it does not.
 */
#include "tests/btree/bt.h"

#define SM_MAGIC KVFS_MAGIC('T', 'B', 'T', 'S')
#define SM_OWNER 77
#define SM_ALLOC 24576
#define MODEL_MAX 70000

struct sm_rec {
	kv_le64 key;
	kv_le64 check; /* key ^ SM_CHECK: the record check of the type */
	kv_le32 value;
	uint8_t pad[108];
};

struct sm_key {
	kv_le64 key;
	uint8_t pad[24];
};

#define SM_CHECK 0x5a5a5a5a5a5a5a5aULL

/* cmp_key compares a record in place of its key (fs/btree/btblock.h) */
_Static_assert(offsetof(struct sm_rec, key) == offsetof(struct sm_key, key),
	       "a test record begins with its key");

static void sm_rec_key(const void *rec, void *key)
{
	struct sm_key *k = key;

	memset(k, 0, sizeof(*k));
	k->key = ((const struct sm_rec *)rec)->key;
}

static int sm_cmp_key(const void *a, const void *b)
{
	uint64_t x = kv_le64_to_cpu(((const struct sm_key *)a)->key);
	uint64_t y = kv_le64_to_cpu(((const struct sm_key *)b)->key);

	return x < y ? -1 : x > y;
}

static const char *sm_check_rec(const struct kvfs_geom *g, uint64_t owner,
				const void *rec)
{
	const struct sm_rec *r = rec;

	(void)g;
	(void)owner;
	if ((kv_le64_to_cpu(r->key) ^ SM_CHECK) != kv_le64_to_cpu(r->check))
		return "check word does not match the key";
	return NULL;
}

static const struct kvfs_btree_ops sm_fmt = {
	.name = "test tree",
	.magic = SM_MAGIC,
	.recsize = sizeof(struct sm_rec),
	.keysize = sizeof(struct sm_key),
	.ag_tree = false,
	.rec_key = sm_rec_key,
	.cmp_key = sm_cmp_key,
	.check_rec = sm_check_rec,
};

static int sm_verify_read(struct kv_buf *bp)
{
	return kvfs_btree_verify_block(bp->b_addr,
				       kv_bcache_private(bp->b_cache), &sm_fmt,
				       bp->b_blkno, SM_OWNER, -1);
}

static int sm_verify_write(struct kv_buf *bp)
{
	kvfs_blkhdr_stamp(bp->b_addr, bp->b_len, bp->b_lsn);
	return 0;
}

static const struct kv_buf_ops sm_buf_ops = {
	.name = "test tree",
	.verify_read = sm_verify_read,
	.verify_write = sm_verify_write,
};

/* The root lives in memory; blocks come from the harness's allocator. */
struct sm_tree {
	struct bt *t;
	uint64_t root;
	unsigned level;
};

static void sm_get_root(struct kvfs_btree_cur *cur, uint64_t *root,
			unsigned *level)
{
	struct sm_tree *st = cur->priv;

	*root = st->root;
	*level = st->level;
}

static void sm_set_root(struct kvfs_btree_cur *cur, uint64_t root,
			unsigned level)
{
	struct sm_tree *st = cur->priv;

	st->root = root;
	st->level = level;
}

static int sm_alloc_block(struct kvfs_btree_cur *cur, uint64_t near,
			  uint64_t *fsb)
{
	struct sm_tree *st = cur->priv;

	return bt_alloc(st->t, cur->tp, 0, near, fsb);
}

static int sm_free_block(struct kvfs_btree_cur *cur, uint64_t fsb)
{
	struct sm_tree *st = cur->priv;

	return bt_free(st->t, cur->tp, fsb);
}

static const struct kvfs_btree_tree_ops sm_ops = {
	.fmt = &sm_fmt,
	.buf_ops = &sm_buf_ops,
	.get_root = sm_get_root,
	.set_root = sm_set_root,
	.alloc_block = sm_alloc_block,
	.free_block = sm_free_block,
};

/* ---- the model: a sorted array of keys (values follow the key) ---- */
static uint64_t model[MODEL_MAX];
static unsigned nmodel;

static unsigned model_pos(uint64_t k)
{
	unsigned lo = 0, hi = nmodel;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (model[mid] < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool model_has(uint64_t k)
{
	unsigned i = model_pos(k);

	return i < nmodel && model[i] == k;
}

static void model_add(uint64_t k)
{
	unsigned i = model_pos(k);

	CHECK(nmodel < sizeof(model) / sizeof(model[0]));
	memmove(&model[i + 1], &model[i], (nmodel - i) * sizeof(model[0]));
	model[i] = k;
	nmodel++;
}

static void model_del(uint64_t k)
{
	unsigned i = model_pos(k);

	CHECK(i < nmodel && model[i] == k);
	memmove(&model[i], &model[i + 1], (nmodel - i - 1) * sizeof(model[0]));
	nmodel--;
}

static struct bt T;
static struct sm_tree tree = { .t = &T };
static uint64_t splits, joins, shifts, newroots, killroots;
static unsigned max_height;
static uint64_t last_nodes; /* level-1 blocks at the last checkpoint */

static void mkrec(uint64_t k, struct sm_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->key = kv_cpu_to_le64(k);
	r->check = kv_cpu_to_le64(k ^ SM_CHECK);
	r->value = kv_cpu_to_le32((uint32_t)k * 7);
}

static void mkkey(uint64_t k, struct sm_key *key)
{
	memset(key, 0, sizeof(*key));
	key->key = kv_cpu_to_le64(k);
}

static void cur_init(struct kvfs_btree_cur *cur)
{
	kvfs_btree_cur_init(cur, &sm_ops, &T.g, T.tp, T.bl, SM_OWNER, &tree);
}

static void cur_done(struct kvfs_btree_cur *cur)
{
	splits += cur->nsplits;
	joins += cur->njoins;
	shifts += cur->nshifts;
	newroots += cur->nnewroots;
	killroots += cur->nkillroots;
}

static void insert(uint64_t k)
{
	struct kvfs_btree_cur cur;
	struct sm_rec r;

	mkrec(k, &r);
	cur_init(&cur);
	CHECK_EQ(kvfs_btree_insert(&cur, &r), model_has(k) ? -EEXIST : 0);
	if (!model_has(k))
		model_add(k);
	cur_done(&cur);
}

static void delete (uint64_t k)
{
	struct kvfs_btree_cur cur;
	struct sm_key key;
	int stat;

	mkkey(k, &key);
	cur_init(&cur);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, &key, &stat), 0);
	CHECK_EQ(stat, model_has(k));
	if (!stat)
		return;
	CHECK_EQ(kvfs_btree_delete(&cur, &stat), 0);
	model_del(k);
	cur_done(&cur);
}

struct walk_cmp {
	unsigned i;
};

static int cmp_rec(const void *rec, void *priv)
{
	struct walk_cmp *wc = priv;
	const struct sm_rec *r = rec;

	CHECK(wc->i < nmodel);
	CHECK(kv_le64_to_cpu(r->key) == model[wc->i]);
	wc->i++;
	return 0;
}

static int walk(struct kvfs_btree_walk *w)
{
	struct kvfs_btree_cur cur;

	kvfs_btree_cur_init(&cur, &sm_ops, &T.g, NULL, T.bl, SM_OWNER, &tree);
	return kvfs_btree_walk_check(&cur, T.bc, w);
}

/* Commit, walk clean, compare with the model, begin again. */
static void checkpoint(void)
{
	struct walk_cmp wc = { 0 };
	struct kvfs_btree_walk w = { .rec_fn = cmp_rec, .priv = &wc };
	int err;

	bt_commit(&T);
	err = walk(&w);
	if (err)
		bt_print_findings(&w);
	CHECK_EQ(err, 0);
	CHECK_EQ(wc.i, nmodel);
	CHECK_EQ(w.nrecs, nmodel);
	if (w.height > max_height)
		max_height = w.height;
	last_nodes = w.nblocks[1];
	bt_begin(&T);
}

/* Delete every record, committing every 16 and walking every 4096. */
static void clear_all(void)
{
	while (nmodel) {
		delete (model[nmodel - 1]);
		if (nmodel % 4096 == 0) {
			checkpoint();
		} else if (nmodel % 16 == 0) {
			bt_commit(&T);
			bt_begin(&T);
		}
	}
	checkpoint();
}

/*
 * Random inserts to 5 levels (walked every 1024), then inserts and
 * deletes mixed, walked every 256.
 */
static void test_random(void)
{
	uint64_t seed = 0x1234567;
	unsigned i;

	for (i = 1; i <= 60000; i++) {
		insert(bt_rand(&seed) % (1ULL << 40));
		if (i % 16 == 0) {
			bt_commit(&T);
			bt_begin(&T);
		}
		if (i % 1024 == 0)
			checkpoint();
	}
	checkpoint();
	CHECK(max_height >= 5);
	for (i = 1; i <= 6000; i++) {
		if (bt_rand(&seed) % 2)
			insert(bt_rand(&seed) % (1ULL << 40));
		else
			delete (model[bt_rand(&seed) % nmodel]);
		if (i % 16 == 0) {
			bt_commit(&T);
			bt_begin(&T);
		}
		if (i % 256 == 0)
			checkpoint();
	}
	checkpoint();
	printf("random: height %u reached, %u records\n", max_height, nmodel);
	clear_all();
}

static uint64_t rec_key_at(struct kv_buf *bp, unsigned i)
{
	return kv_le64_to_cpu(
		((struct sm_rec *)kvfs_btree_rec(bp->b_addr, &sm_fmt, i))->key);
}

/*
 * kvfs_btree_insert_at() from the position a lookup of a nearby key left:
 * a key between the cursor's two neighbours goes in there (no descent);
 * one past a neighbour, at a leaf's edge or already present takes the
 * descent (-EEXIST for the present).  Every insertion leaves the cursor on
 * its record and the tree walking clean against the model, through
 * splits to three levels.
 */
static void test_insert_at(void)
{
	uint64_t seed = 0x7654321, k, near;
	unsigned i, between = 0, elsewhere = 0, dups = 0;

	bt_begin(&T);
	for (k = 1; k <= 400; k++)
		insert(k << 20);
	checkpoint();
	for (i = 1; i <= 6000; i++) {
		struct kvfs_btree_cur cur;
		struct sm_rec r, got;
		struct sm_key key;
		struct kv_buf *bp;
		unsigned n;
		int stat, at;

		near = bt_rand(&seed) % (401ULL << 20);
		k = near + bt_rand(&seed) % (1ULL << 19);
		if (i % 11 == 0)
			k = model[bt_rand(&seed) % nmodel];
		mkkey(near, &key);
		cur_init(&cur);
		CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, &key, &stat),
			 0);
		bp = cur.bp[0];
		at = cur.ptr[0];
		n = kv_le16_to_cpu(
			((struct kvfs_btree_block *)bp->b_addr)->numrecs);
		if (model_has(k))
			dups++;
		else if (at > 0 && at < (int)n &&
			 rec_key_at(bp, (unsigned)at - 1) < k &&
			 rec_key_at(bp, (unsigned)at) > k)
			between++;
		else
			elsewhere++;
		mkrec(k, &r);
		CHECK_EQ(kvfs_btree_insert_at(&cur, &r),
			 model_has(k) ? -EEXIST : 0);
		if (!model_has(k)) {
			CHECK_EQ(kvfs_btree_get_rec(&cur, &got, &stat), 0);
			CHECK_EQ(stat, 1);
			CHECK_EQ(kv_le64_to_cpu(got.key), k);
			model_add(k);
		}
		cur_done(&cur);
		if (i % 16 == 0) {
			bt_commit(&T);
			bt_begin(&T);
		}
		if (i % 256 == 0)
			checkpoint();
	}
	checkpoint();
	printf("insert_at: %u between the neighbours, %u elsewhere, %u "
	       "present\n",
	       between, elsewhere, dups);
	CHECK(between >= 1000 && elsewhere >= 500 && dups >= 300);
	CHECK(max_height >= 3);
	clear_all();
	bt_commit(&T);
}

/* The keys of the leaf holding key k, through a lookup. */
static unsigned leaf_keys(uint64_t k, uint64_t *keys, uint64_t *next)
{
	struct kvfs_btree_cur cur;
	struct sm_key key;
	unsigned n;
	int stat;

	mkkey(k, &key);
	cur_init(&cur);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_LE, &key, &stat), 0);
	if (!stat)
		CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_GE, &key, &stat),
			 0);
	CHECK_EQ(stat, 1);
	n = kv_le16_to_cpu(
		((struct kvfs_btree_block *)cur.bp[0]->b_addr)->numrecs);
	for (unsigned i = 0; i < n; i++)
		keys[i] =
			kv_le64_to_cpu(((struct sm_rec *)kvfs_btree_rec(
						cur.bp[0]->b_addr, &sm_fmt, i))
					       ->key);
	/* the first key after the leaf (UINT64_MAX at the end) */
	cur.ptr[0] = (int)n - 1;
	CHECK_EQ(kvfs_btree_increment(&cur, &stat), 0);
	*next = UINT64_MAX;
	if (stat) {
		struct sm_rec r;

		CHECK_EQ(kvfs_btree_get_rec(&cur, &r, &stat), 0);
		*next = kv_le64_to_cpu(r.key);
	}
	return n;
}

/* Splits and joins at the first, middle and last leaf, at each position. */
static void test_positions(void)
{
	const char *where[] = { "first", "middle", "last" };
	uint64_t keys[32], next, k;
	unsigned n, s0, j0, h0;

	for (k = 1; k <= 300; k++)
		insert(k << 40);
	checkpoint();
	h0 = (unsigned)last_nodes;
	for (int leaf = 0; leaf < 3; leaf++) {
		for (int pos = 0; pos < 3; pos++) {
			s0 = (unsigned)splits;
			for (int rep = 0; rep < 20; rep++) {
				uint64_t at = leaf == 0 ? model[0] :
					      leaf == 1 ? model[nmodel / 2] :
							  model[nmodel - 1];

				n = leaf_keys(at, keys, &next);
				if (pos == 0)
					k = leaf == 0 ? keys[0] / 2 :
							(keys[0] + keys[1]) / 2;
				else if (pos == 1)
					k = (keys[n / 2 - 1] + keys[n / 2]) / 2;
				else
					k = next == UINT64_MAX ?
						    keys[n - 1] + (1ULL << 30) :
						    (keys[n - 1] + next) / 2;
				CHECK(!model_has(k));
				insert(k);
				checkpoint();
			}
			CHECK((unsigned)splits > s0);
			printf("positions: inserts at the %s position of the "
			       "%s leaf: %u splits\n",
			       where[pos], where[leaf], (unsigned)splits - s0);
		}
	}
	/* leaf splits split their parents too */
	CHECK(last_nodes > h0);
	h0 = (unsigned)last_nodes;
	for (int leaf = 0; leaf < 3; leaf++) {
		for (int pos = 0; pos < 3; pos++) {
			j0 = (unsigned)joins;
			for (int rep = 0; rep < 20; rep++) {
				uint64_t at = leaf == 0 ? model[0] :
					      leaf == 1 ? model[nmodel / 2] :
							  model[nmodel - 1];

				n = leaf_keys(at, keys, &next);
				delete (keys[pos == 0 ? 0 :
					     pos == 1 ? n / 2 :
							n - 1]);
				checkpoint();
			}
			CHECK((unsigned)joins > j0);
			printf("positions: deletes at the %s position of the "
			       "%s leaf: %u joins\n",
			       where[pos], where[leaf], (unsigned)joins - j0);
		}
	}
	CHECK(last_nodes < h0);
}

/* An update of a leaf's first record moves the keys above it. */
static void test_update_first(void)
{
	struct kvfs_btree_cur cur;
	uint64_t keys[32], next;
	struct sm_key key;
	struct sm_rec r;
	int stat;

	leaf_keys(model[nmodel / 2], keys, &next);
	mkkey(keys[0], &key);
	cur_init(&cur);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, &key, &stat), 0);
	CHECK_EQ(stat, 1);
	CHECK_EQ(cur.ptr[0], 0);
	mkrec(keys[0] - 1, &r);
	CHECK_EQ(kvfs_btree_update(&cur, &r), 0);
	model_del(keys[0]);
	model_add(keys[0] - 1);
	/* out of order with the next record: refused */
	mkrec(keys[1] + 1, &r);
	CHECK_EQ(kvfs_btree_update(&cur, &r), -EINVAL);
	checkpoint();
}

/*
 * The record of key from takes key to, in place or not (want):
 * the model follows what happened, and the walk checks the order and the
 * parents' keys.
 */
static void update_moved(uint64_t from, uint64_t to, bool want)
{
	struct kvfs_btree_cur cur;
	struct sm_key key;
	struct sm_rec r;
	bool done;
	int stat;

	mkkey(from, &key);
	cur_init(&cur);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, &key, &stat), 0);
	CHECK_EQ(stat, 1);
	mkrec(to, &r);
	CHECK_EQ(kvfs_btree_update_moved(&cur, &r, &done), 0);
	CHECK_EQ(done, want);
	if (done) {
		model_del(from);
		model_add(to);
	}
	checkpoint();
}

/*
 * A key moved in place only where the order is known to hold: between
 * its neighbours in the leaf, and at a leaf's edge only away from the
 * next leaf (or with no leaf there).
 */
static void test_update_moved(void)
{
	uint64_t keys[32], next;
	unsigned n;

	n = leaf_keys(model[nmodel / 2], keys, &next);
	CHECK(n >= 3 && next != UINT64_MAX && keys[0] != model[0]);
	CHECK(keys[2] - keys[1] > 2 && keys[1] - keys[0] > 2);
	/* inside the leaf, between its neighbours: in place */
	update_moved(keys[1], keys[1] + 1, true);
	keys[1]++;
	/* past the next record: refused, nothing changed */
	update_moved(keys[1], keys[2] + 1, false);
	/* the first record up, away from the previous leaf: in place */
	update_moved(keys[0], keys[0] + 1, true);
	keys[0]++;
	/* down, towards it: not known here */
	update_moved(keys[0], keys[0] - 2, false);
	/* the last record down: in place; up, towards the next leaf: not */
	CHECK(keys[n - 1] - keys[n - 2] > 2 && next - keys[n - 1] > 2);
	update_moved(keys[n - 1], keys[n - 1] - 1, true);
	keys[n - 1]--;
	update_moved(keys[n - 1], keys[n - 1] + 2, false);
	/* the last leaf's last record up: no leaf beyond, in place */
	n = leaf_keys(model[nmodel - 1], keys, &next);
	CHECK_EQ(next, UINT64_MAX);
	update_moved(keys[n - 1], keys[n - 1] + 1000, true);
}

/* ---- damage ---- */
static uint64_t blocks[4][4096];
static unsigned nblocks[4];

static int collect(uint64_t fsb, unsigned level, void *priv)
{
	(void)priv;
	if (level < 4 && nblocks[level] < 4096)
		blocks[level][nblocks[level]++] = fsb;
	return 0;
}

static uint8_t saved[BT_BLK];

static struct kv_buf *damage_begin(uint64_t fsb)
{
	struct kv_buf *bp;

	CHECK_EQ(kvfs_trans_read_buf(T.tp, T.bl, fsb, 1, &sm_buf_ops, &bp), 0);
	memcpy(saved, bp->b_addr, BT_BLK);
	return bp;
}

static void damage_commit(struct kv_buf *bp)
{
	kvfs_trans_log_buf(T.tp, bp, 0, BT_BLK - 1);
	bt_commit(&T);
}

static void restore(uint64_t fsb)
{
	struct kv_buf *bp;

	bt_begin(&T);
	CHECK_EQ(kvfs_trans_read_buf(T.tp, T.bl, fsb, 1, &sm_buf_ops, &bp), 0);
	memcpy(bp->b_addr, saved, BT_BLK);
	kvfs_trans_log_buf(T.tp, bp, 0, BT_BLK - 1);
	checkpoint();
}

/* The walk finds exactly one thing: at blkno, level, saying what. */
static void expect_finding(uint64_t blkno, int level, const char *what)
{
	struct kvfs_btree_walk w = { .rec_fn = NULL };

	CHECK_EQ(walk(&w), -EUCLEAN);
	bt_print_findings(&w);
	CHECK_EQ(w.nfindings, 1);
	CHECK_EQ(w.findings[0].blkno, blkno);
	CHECK_EQ(w.findings[0].level, level);
	if (strcmp(w.findings[0].what, what)) {
		fprintf(stderr, "finding '%s', expected '%s'\n",
			w.findings[0].what, what);
		exit(1);
	}
}

static void test_damage(void)
{
	struct kvfs_btree_walk w = { .blk_fn = collect };
	struct kvfs_btree_block *bb;
	struct kvfs_btree_cur cur;
	struct kv_buf *bp;
	struct sm_key key;
	struct sm_rec *r;
	uint64_t *l, k;
	char what[160];
	int stat;

	clear_all();
	for (k = 1; k <= 400; k++)
		insert(k << 20);
	checkpoint();
	bt_commit(&T);
	CHECK_EQ(walk(&w), 0);
	CHECK(w.height >= 3 && nblocks[0] >= 4);
	l = blocks[0];

	/* a right sibling that skips a leaf */
	bt_begin(&T);
	bp = damage_begin(l[0]);
	((struct kvfs_btree_block *)bp->b_addr)->rightsib =
		kv_cpu_to_le64(l[2]);
	damage_commit(bp);
	snprintf(what, sizeof(what),
		 "right sibling %" PRIu64 ", expected %" PRIu64, l[2], l[1]);
	expect_finding(l[0], 0, what);
	restore(l[0]);

	/* a parent key that differs from its child's first key */
	bt_commit(&T);
	bt_begin(&T);
	bp = damage_begin(blocks[1][0]);
	{
		struct sm_key *pk = kvfs_btree_key(bp->b_addr, &sm_fmt, 1);

		pk->key = kv_cpu_to_le64(kv_le64_to_cpu(pk->key) + 1);
	}
	damage_commit(bp);
	expect_finding(l[1], 0, "first key differs from the parent's key");
	restore(blocks[1][0]);

	/* record counts under the minimum and over the maximum */
	bt_commit(&T);
	bt_begin(&T);
	bp = damage_begin(l[1]);
	((struct kvfs_btree_block *)bp->b_addr)->numrecs = kv_cpu_to_le16(1);
	damage_commit(bp);
	expect_finding(l[1], 0, "1 entries, fewer than the minimum 3");
	restore(l[1]);
	bt_commit(&T);
	bt_begin(&T);
	bp = damage_begin(l[1]);
	((struct kvfs_btree_block *)bp->b_addr)->numrecs = kv_cpu_to_le16(8);
	damage_commit(bp);
	expect_finding(l[1], 0, "8 records, at most 7 fit");
	restore(l[1]);

	/* out of order across two leaves: leaf 0's last above leaf 1's first */
	bt_commit(&T);
	bt_begin(&T);
	bp = damage_begin(l[0]);
	bb = bp->b_addr;
	r = kvfs_btree_rec(bp->b_addr, &sm_fmt,
			   kv_le16_to_cpu(bb->numrecs) - 1u);
	{
		struct sm_rec *first1;
		struct kv_buf *b1;

		CHECK_EQ(kvfs_trans_read_buf(T.tp, T.bl, l[1], 1, &sm_buf_ops,
					     &b1),
			 0);
		first1 = kvfs_btree_rec(b1->b_addr, &sm_fmt, 0);
		k = kv_le64_to_cpu(first1->key) + 5;
	}
	r->key = kv_cpu_to_le64(k);
	r->check = kv_cpu_to_le64(k ^ SM_CHECK);
	damage_commit(bp);
	expect_finding(
		l[1], 0,
		"first record out of order with the previous block's last");
	restore(l[0]);

	/* a block of the wrong level: operations fail with -EUCLEAN */
	bt_commit(&T);
	bt_begin(&T);
	bp = damage_begin(l[1]);
	((struct kvfs_btree_block *)bp->b_addr)->level = kv_cpu_to_le16(1);
	damage_commit(bp);
	expect_finding(l[1], 0, "level 1, expected 0");
	bt_begin(&T);
	mkkey(kv_le64_to_cpu(
		      ((struct sm_rec *)kvfs_btree_rec(saved, &sm_fmt, 0))
			      ->key),
	      &key);
	cur_init(&cur);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, &key, &stat),
		 -EUCLEAN);
	kvj_trans_cancel(T.tp);
	T.tp = NULL;
	restore(l[1]);
	printf("damage: each reported at its block\n");
}

static void test_delete_all(void)
{
	struct kvfs_btree_walk w = { .rec_fn = NULL };
	unsigned k0 = (unsigned)killroots;

	clear_all();
	for (uint64_t k = 1; k <= 3000; k++) {
		insert(k * 3);
		if (k % 64 == 0)
			checkpoint();
	}
	checkpoint();
	while (nmodel) {
		delete (model[nmodel / 4]);
		if (nmodel % 64 == 0)
			checkpoint();
	}
	checkpoint();
	bt_commit(&T);
	CHECK_EQ(walk(&w), 0);
	CHECK_EQ(w.height, 1);
	CHECK_EQ(w.nrecs, 0);
	CHECK_EQ(w.nblocks[0], 1);
	CHECK_EQ(tree.level, 0);
	CHECK_EQ(T.nused, 1);
	CHECK((unsigned)killroots > k0);
	printf("delete all: one empty root leaf, %u roots killed\n",
	       (unsigned)killroots - k0);
}

/*
 * A shift and a borrow even the two leaves out: two leaves of 4 (the
 * root leaf's split), the left one filled to 7 and given one more in its
 * middle passes 2 to the right one (6 and 6, not 7 and 5); the right one
 * emptied below the minimum borrows 2 back (4 and 4, not 5 and 3).
 */
static void test_even_shifts(void)
{
	uint64_t keys[32], next;
	unsigned s0, sp0;

	bt_begin(&T);
	for (uint64_t k = 1; k <= 8; k++)
		insert(k << 40);
	for (uint64_t j = 1; j <= 3; j++)
		insert((2ULL << 40) + (j << 30));
	checkpoint();
	CHECK_EQ(leaf_keys(1ULL << 40, keys, &next), 7);
	CHECK_EQ(leaf_keys(8ULL << 40, keys, &next), 4);
	s0 = (unsigned)shifts;
	sp0 = (unsigned)splits;
	insert((1ULL << 40) + (1ULL << 30));
	checkpoint();
	CHECK_EQ((unsigned)shifts, s0 + 1);
	CHECK_EQ((unsigned)splits, sp0);
	CHECK_EQ(leaf_keys(1ULL << 40, keys, &next), 6);
	CHECK_EQ(leaf_keys(8ULL << 40, keys, &next), 6);
	for (uint64_t k = 8; k >= 5; k--)
		delete (k << 40);
	checkpoint();
	CHECK_EQ((unsigned)shifts, s0 + 2);
	CHECK_EQ(leaf_keys(1ULL << 40, keys, &next), 4);
	CHECK_EQ(leaf_keys(4ULL << 40, keys, &next), 4);
	clear_all();
	bt_commit(&T);
	printf("even shifts: 6 and 6 after a shift, 4 and 4 after a borrow\n");
}

int main(void)
{
	struct kv_config cfg = { 0 };
	struct kv_buf *bp;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK_EQ(kv_init(&cfg), 0);
	bt_create(&T, "small", 64ULL << 20, SM_ALLOC);
	bt_begin(&T);
	CHECK_EQ(bt_alloc(&T, T.tp, 0, 0, &tree.root), 0);
	CHECK_EQ(kvfs_trans_get_buf(T.tp, T.bl, tree.root, 1, &sm_buf_ops, &bp),
		 0);
	kvfs_btree_init_block(bp->b_addr, &T.g, &sm_fmt, tree.root, SM_OWNER, 0,
			      0);
	kvfs_trans_log_buf(T.tp, bp, 0, KVFS_BTREE_HDR_SIZE - 1);
	checkpoint();

	test_random();
	test_positions();
	test_update_first();
	test_update_moved();
	test_damage();
	test_delete_all();
	test_even_shifts();
	test_insert_at();
	printf("splits %" PRIu64 ", joins %" PRIu64 ", shifts %" PRIu64
	       ", new roots %" PRIu64 ", killed roots %" PRIu64
	       ", max height %u\n",
	       splits, joins, shifts, newroots, killroots, max_height);
	bt_close(&T);
	kv_fini();
	return 0;
}
