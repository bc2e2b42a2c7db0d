// SPDX-License-Identifier: GPL-2.0
/*
 * The engine with its root in an inode fork (XFS_BTREE_ROOT_IN_INODE),
 * over the extent-map block format (fs/btree/bmap_btree.h) and a fork of 40
 * bytes (an inode root of 2 entries), so that the root grows out of the
 * fork and shrinks back into it often:
 *   - random inserts and deletes of extents against a model until the
 *     tree is 4 levels high (root in the fork included) and back to one
 *     leaf under the root, walked (inode root checks, owner, every block)
 *     after every batch; new_iroot and kill_iroot both happened;
 *   - splits and joins at every position: in a tree of full leaves, a
 *     record inserted after every record in turn then deleted again, then
 *     every record deleted from every position, walked after each
 *     operation; lookups agree with the model throughout;
 *   - every block freed at the end (the lone leaf under the root aside).
 */
#include "fs/btree/bmap_btree.h"
#include "tests/btree/bt.h"

#define IR_FORK 40
#define IR_OWNER 4242
#define IR_ALLOC 8192
#define IR_MAX 20000

static struct bt T;
static _Alignas(8) uint8_t fork_bytes[IR_FORK];
static unsigned nlogged;

static uint8_t *ir_iroot(struct kvfs_btree_cur *cur, uint32_t *size)
{
	(void)cur;
	*size = IR_FORK;
	return fork_bytes;
}

/* The fork is the test's memory: count the changes the engine logs. */
static void ir_log_iroot(struct kvfs_btree_cur *cur)
{
	(void)cur;
	nlogged++;
}

static int ir_alloc_block(struct kvfs_btree_cur *cur, uint64_t near,
			  uint64_t *fsb)
{
	return bt_alloc(&T, cur->tp, 0, near, fsb);
}

static int ir_free_block(struct kvfs_btree_cur *cur, uint64_t fsb)
{
	return bt_free(&T, cur->tp, fsb);
}

static const struct kvfs_btree_tree_ops ir_ops = {
	.fmt = &kvfs_bmbt_ops,
	.buf_ops = &kvfs_bmbt_buf_ops,
	.alloc_block = ir_alloc_block,
	.free_block = ir_free_block,
	.iroot = ir_iroot,
	.log_iroot = ir_log_iroot,
};

static uint8_t present[IR_MAX];
static unsigned npresent;
static uint64_t newroots, killroots, splits, joins;
static unsigned max_height;

static void cur_init(struct kvfs_btree_cur *cur)
{
	kvfs_btree_cur_init(cur, &ir_ops, &T.g, T.tp, T.bl, IR_OWNER, NULL);
	cur->bc = T.bc;
}

static void count(const struct kvfs_btree_cur *cur)
{
	newroots += cur->nnewroots;
	killroots += cur->nkillroots;
	splits += cur->nsplits;
	joins += cur->njoins;
}

static struct kvfs_extent ext(uint64_t key)
{
	return (struct kvfs_extent){ kv_cpu_to_le64(key), kv_cpu_to_le64(T.lo),
				     kv_cpu_to_le32(1), kv_cpu_to_le32(0) };
}

static void insert(uint64_t key)
{
	struct kvfs_btree_cur cur;
	struct kvfs_extent e = ext(key);

	cur_init(&cur);
	CHECK_EQ(kvfs_btree_insert(&cur, &e), 0);
	count(&cur);
	present[key] = 1;
	npresent++;
}

static void del(uint64_t key)
{
	struct kvfs_btree_cur cur;
	struct kvfs_bmbt_key k = { kv_cpu_to_le64(key) };
	int stat;

	cur_init(&cur);
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, &k, &stat), 0);
	CHECK_EQ(stat, 1);
	CHECK_EQ(kvfs_btree_delete(&cur, &stat), 0);
	count(&cur);
	present[key] = 0;
	npresent--;
}

static int walk_rec(const void *rec, void *priv)
{
	uint64_t *next = priv;
	uint64_t k =
		kv_le64_to_cpu(((const struct kvfs_extent *)rec)->startoff);

	/* the records are exactly the model's, in order */
	while (*next < IR_MAX && !present[*next])
		(*next)++;
	CHECK_EQ(k, *next);
	(*next)++;
	return 0;
}

/* Walk between transactions; returns the height. */
static unsigned walk(void)
{
	static struct kvfs_btree_walk w;
	struct kvfs_btree_cur cur;
	uint64_t next = 0;

	memset(&w, 0, sizeof(w));
	w.rec_fn = walk_rec;
	w.priv = &next;
	kvfs_btree_cur_init(&cur, &ir_ops, &T.g, NULL, T.bl, IR_OWNER, NULL);
	cur.bc = T.bc;
	if (kvfs_btree_walk_check(&cur, T.bc, &w)) {
		bt_print_findings(&w);
		CHECK(0);
	}
	CHECK_EQ(w.nrecs, npresent);
	if (w.height > max_height)
		max_height = w.height;
	return w.height;
}

/* A lookup of every kind agrees with the model at a random key. */
static void probe(uint64_t *seed)
{
	uint64_t key = bt_rand(seed) % IR_MAX, want;
	struct kvfs_bmbt_key k = { kv_cpu_to_le64(key) };
	struct kvfs_btree_cur cur;
	struct kvfs_extent e;
	int stat, st2;

	kvfs_btree_cur_init(&cur, &ir_ops, &T.g, NULL, T.bl, IR_OWNER, NULL);
	cur.bc = T.bc;
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_GE, &k, &stat), 0);
	for (want = key; want < IR_MAX && !present[want]; want++)
		;
	CHECK_EQ(stat, want < IR_MAX);
	if (stat) {
		CHECK_EQ(kvfs_btree_get_rec(&cur, &e, &st2), 0);
		CHECK_EQ(kv_le64_to_cpu(e.startoff), want);
	}
	CHECK_EQ(kvfs_btree_lookup(&cur, KVFS_LOOKUP_LE, &k, &stat), 0);
	for (want = key + 1; want > 0 && !present[want - 1]; want--)
		;
	CHECK_EQ(stat, want > 0);
	if (stat) {
		CHECK_EQ(kvfs_btree_get_rec(&cur, &e, &st2), 0);
		CHECK_EQ(kv_le64_to_cpu(e.startoff), want - 1);
	}
	kvfs_btree_cur_del(&cur);
}

/* An empty leaf under a one-entry root in the fork. */
static void make_tree(void)
{
	struct kvfs_bmdr_block *rb = (void *)fork_bytes;
	struct kv_buf *bp;
	uint64_t fsb;

	bt_begin(&T);
	CHECK_EQ(bt_alloc(&T, T.tp, 0, 0, &fsb), 0);
	CHECK_EQ(
		kvfs_trans_get_buf(T.tp, T.bl, fsb, 1, &kvfs_bmbt_buf_ops, &bp),
		0);
	kvfs_btree_init_block(bp->b_addr, &T.g, &kvfs_bmbt_ops, fsb, IR_OWNER,
			      0, 0);
	kvfs_trans_log_buf(T.tp, bp, 0, KVFS_BTREE_HDR_SIZE - 1);
	bt_commit(&T);
	memset(fork_bytes, 0, sizeof(fork_bytes));
	rb->level = kv_cpu_to_le16(1);
	rb->numrecs = kv_cpu_to_le16(1);
	*(kv_le64 *)(fork_bytes + KVFS_BMDR_HDR_SIZE +
		     kvfs_btree_iroot_maxrecs(IR_FORK, 8) * 8) =
		kv_cpu_to_le64(fsb);
}

static void test_random(void)
{
	uint64_t seed = 0x1234567;
	unsigned ops = 0;

	/* inserts (mostly) until 4 levels, then deletes (mostly) to none */
	for (int phase = 0; phase < 2; phase++) {
		while (phase ? npresent > 0 : max_height < 4) {
			bt_begin(&T);
			for (int i = 0; i < 256; i++, ops++) {
				uint64_t key = bt_rand(&seed) % IR_MAX;
				bool ins = bt_rand(&seed) % 4 != 0;

				if (phase) {
					/* the next present key goes */
					ins = !ins;
					while (!ins && npresent &&
					       !present[key])
						key = (key + 1) % IR_MAX;
				}
				if (!present[key] && ins)
					insert(key);
				else if (present[key] && !ins)
					del(key);
			}
			bt_commit(&T);
			walk();
			for (int i = 0; i < 16; i++)
				probe(&seed);
			if (phase && npresent < 64) {
				bt_begin(&T);
				for (uint64_t k = 0; k < IR_MAX; k++)
					if (present[k])
						del(k);
				bt_commit(&T);
				walk();
			}
		}
	}
	printf("random: %u operations, height %u, %" PRIu64 " new roots in "
	       "the fork, %" PRIu64 " killed, %" PRIu64 " splits, %" PRIu64
	       " joins, %u root logs\n",
	       ops, max_height, newroots, killroots, splits, joins, nlogged);
	CHECK(max_height >= 4 && newroots >= 2 && killroots >= 2);
	/* back to one empty leaf under the root */
	CHECK_EQ(walk(), 2);
	CHECK_EQ(T.nused, 1);
}

static void test_positions(void)
{
	unsigned n = 0;

	/* ascending inserts: leaves filled by shifts, then split */
	bt_begin(&T);
	for (uint64_t k = 0; k < 3 * IR_MAX / 4 && max_height < 3; k += 4)
		insert(k), n++;
	bt_commit(&T);
	CHECK(walk() >= 3);
	/* after every record: insert one, walk, delete it, walk */
	for (uint64_t k = 0; k < IR_MAX; k++) {
		if (!present[k] || k + 1 >= IR_MAX || present[k + 1])
			continue;
		bt_begin(&T);
		insert(k + 1);
		bt_commit(&T);
		walk();
		bt_begin(&T);
		del(k + 1);
		bt_commit(&T);
		walk();
	}
	/* every record deleted, alternately from the left and the right */
	for (unsigned i = 0; npresent; i++) {
		uint64_t k;

		if (i % 2)
			for (k = IR_MAX - 1; !present[k]; k--)
				;
		else
			for (k = 0; !present[k]; k++)
				;
		bt_begin(&T);
		del(k);
		bt_commit(&T);
		walk();
	}
	printf("positions: %u records, %" PRIu64 " splits, %" PRIu64
	       " joins, %" PRIu64 " roots killed\n",
	       n, splits, joins, killroots);
	CHECK_EQ(walk(), 2);
	CHECK_EQ(T.nused, 1);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	bt_create(&T, "iroot", 32u << 20, IR_ALLOC);
	make_tree();
	CHECK_EQ(walk(), 2);
	test_random();
	max_height = 0;
	test_positions();
	bt_close(&T);
	CHECK_EQ(kv_fini(), 0);
	printf("btree_iroot: ok\n");
	return 0;
}
