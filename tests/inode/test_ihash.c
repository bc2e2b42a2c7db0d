// SPDX-License-Identifier: GPL-2.0
/*
 * The inode cache's hash (fs/hash.h, kvfs_ino_hash()) on the index's
 * tables (rculfhash: bucket = hash & (size - 1), a power of two of at
 * least KVFS_HT_MIN_BUCKETS buckets, doubled by kvfs_ht_grow() when the
 * nodes outnumber them, a doubling splitting each chain on the next hash
 * bit up).
 *
 * Neighbours: a chunk's 64 inodes take 64 neighbouring buckets, in order,
 * at every table size (what the hash is for).
 *
 * Chains: inode numbers laid out as the format lays them (agno, then the
 * AG block, then the index in the block), chunks taken in order from the
 * start of each AG, every 64th chunk only (the low bits of the chunk
 * numbers alike), and one chunk at the same block of each of many AGs
 * (only the high bits differ); at every number of inodes a doubling is
 * made at, the longest chain and the mean length a lookup walks stay
 * those of random keys.
 *
 * Growth (fs/hash.c): a real table grown by kvfs_ht_grow() to 2^18 nodes
 * while a second thread looks its nodes up: the resizes ran on the
 * table's own thread, the table reaches the size the model says, and
 * every node inserted is found throughout; the thread is joined at
 * destroy (ASan counts what would leak).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fs/hash.h"
#include "tests/check.h"

#define INOPBLOG 3 /* 4 KiB blocks of 512-byte inodes */
#define AGBLKLOG 20
#define CHUNK_BLOCKS (64 >> INOPBLOG)

static uint64_t ino_of(uint64_t agno, uint64_t agbno, unsigned idx)
{
	return agno << (AGBLKLOG + INOPBLOG) | agbno << INOPBLOG | idx;
}

static void test_neighbours(void)
{
	for (uint64_t agno = 0; agno < 16; agno++) {
		for (uint64_t chunk = 0; chunk < 4096; chunk += 7) {
			uint64_t first = ino_of(agno, chunk * CHUNK_BLOCKS, 0);

			for (unsigned log = 10; log <= 24; log++) {
				unsigned long mask = (1ul << log) - 1;
				unsigned long b0 = kvfs_ino_hash(first) & mask;

				CHECK_EQ(b0 % 64, 0);
				for (unsigned i = 1; i < 64; i++) {
					unsigned long b =
						kvfs_ino_hash(first + i);

					CHECK_EQ(b & mask, b0 + i);
				}
			}
		}
	}
}

/* The table kvfs_ht_grow() keeps for nr nodes: buckets, a power of two. */
static size_t table_size(size_t nr)
{
	size_t size = KVFS_HT_MIN_BUCKETS;

	while (nr > size)
		size *= 2;
	return size;
}

/*
 * The chains of the first nr numbers of inos in a table of size buckets:
 * the longest, and the mean a successful lookup walks (sum of squares
 * over nodes; 1 + load for random keys).
 */
static void chains(const uint64_t *inos, size_t nr, size_t size,
		   unsigned *longest, double *walk)
{
	unsigned *len = calloc(size, sizeof(*len));
	uint64_t sq = 0;

	CHECK(len);
	*longest = 0;
	for (size_t i = 0; i < nr; i++) {
		unsigned *l = &len[kvfs_ino_hash(inos[i]) & (size - 1)];

		sq += 2 * *l + 1;
		if (++*l > *longest)
			*longest = *l;
	}
	*walk = (double)sq / (double)nr;
	free(len);
}

/* inos[] at every doubling and halfway between: chains as random keys' */
static void check_layout(const char *what, const uint64_t *inos, size_t n)
{
	unsigned worst = 0;
	double worst_walk = 0;

	for (size_t nr = 512; nr <= n; nr *= 2) {
		size_t counts[] = { nr, nr + nr / 2 };

		for (unsigned c = 0; c < 2; c++) {
			size_t k = counts[c] < n ? counts[c] : n;
			unsigned longest;
			double walk;

			chains(inos, k, table_size(k), &longest, &walk);
			if (longest > worst)
				worst = longest;
			if (walk > worst_walk)
				worst_walk = walk;
		}
	}
	printf("%s: %zu inodes, longest chain %u, mean walk %.2f\n", what, n,
	       worst, worst_walk);
	/* kvfs_hash64()'s on these layouts: 9 and 2.11 */
	CHECK(worst <= 10);
	CHECK(worst_walk <= 2.3);
}

static void test_chains(void)
{
	const size_t n = 1 << 19;
	uint64_t *inos = malloc(n * sizeof(*inos));
	size_t i = 0;

	CHECK(inos);
	/* 4 AGs filled in turn, a chunk at a time, from their starts */
	for (uint64_t chunk = 0; i < n; chunk++)
		for (uint64_t agno = 0; agno < 4 && i < n; agno++)
			for (unsigned idx = 0; idx < 64 && i < n; idx++)
				inos[i++] =
					ino_of(agno, chunk * CHUNK_BLOCKS, idx);
	check_layout("in order", inos, n);

	/* every 64th chunk: the chunk numbers' low 6 bits all the same */
	i = 0;
	for (uint64_t chunk = 0; i < n; chunk += 64)
		for (unsigned idx = 0; idx < 64 && i < n; idx++)
			inos[i++] = ino_of(chunk >> (AGBLKLOG - 3),
					   chunk * CHUNK_BLOCKS &
						   ((1u << AGBLKLOG) - 1),
					   idx);
	check_layout("strided", inos, n);

	/* the same block of 8192 AGs, then the next: only high bits differ */
	i = 0;
	for (uint64_t agbno = 0; i < n; agbno += CHUNK_BLOCKS)
		for (uint64_t agno = 0; agno < 8192 && i < n; agno++)
			for (unsigned idx = 0; idx < 64 && i < n; idx++)
				inos[i++] = ino_of(agno, agbno, idx);
	check_layout("across AGs", inos, n);
	free(inos);
}

struct gnode {
	struct cds_lfht_node hn;
	uint64_t key;
};

static struct cds_lfht *g_ht;
static atomic_size_t g_inserted;
static atomic_bool g_done;
static struct gnode *g_nodes;

static int gmatch(struct cds_lfht_node *node, const void *key)
{
	return caa_container_of(node, struct gnode, hn)->key ==
	       *(const uint64_t *)key;
}

static bool gfind(uint64_t key)
{
	struct cds_lfht_iter it;
	bool found;

	rcu_read_lock();
	cds_lfht_lookup(g_ht, kvfs_ino_hash(key), gmatch, &key, &it);
	found = cds_lfht_iter_get_node(&it) != NULL;
	rcu_read_unlock();
	return found;
}

/* Looks up nodes already inserted until the inserter is done. */
static void *looker(void *arg)
{
	unsigned long misses = 0, seed = 1;

	(void)arg;
	rcu_register_thread();
	while (!atomic_load(&g_done)) {
		size_t n = atomic_load(&g_inserted);

		seed = seed * 6364136223846793005ul + 1442695040888963407ul;
		if (n && !gfind(g_nodes[(seed >> 33) % n].key))
			misses++;
	}
	rcu_unregister_thread();
	return (void *)misses;
}

static void test_growth(void)
{
	const size_t n = 1 << 18;
	struct kvfs_ht_size s;
	pthread_t t;
	void *misses;

	rcu_register_thread();
	g_nodes = calloc(n, sizeof(*g_nodes));
	CHECK(g_nodes);
	g_ht = kvfs_ht_new(&s);
	CHECK(g_ht);
	CHECK_EQ(pthread_create(&t, NULL, looker, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		/* 4 AGs filled in turn, a chunk at a time */
		g_nodes[i].key = ino_of(i / 64 % 4, i / 256 * CHUNK_BLOCKS,
					(unsigned)(i % 64));
		cds_lfht_node_init(&g_nodes[i].hn);
		rcu_read_lock();
		CHECK(cds_lfht_add_unique(g_ht, kvfs_ino_hash(g_nodes[i].key),
					  gmatch, &g_nodes[i].key,
					  &g_nodes[i].hn) == &g_nodes[i].hn);
		rcu_read_unlock();
		atomic_store(&g_inserted, i + 1);
		kvfs_ht_grow(&s, i + 1);
	}
	kvfs_ht_settle(&s);
	atomic_store(&g_done, true);
	CHECK_EQ(pthread_join(t, &misses), 0);
	CHECK_EQ((unsigned long)misses, 0);
	/* the thread did the resizing, to the model's size */
	CHECK(s.started);
	CHECK_EQ(s.resized, table_size(n));
	CHECK_EQ(atomic_load(&s.size), table_size(n));
	for (size_t i = 0; i < n; i++)
		CHECK(gfind(g_nodes[i].key));
	for (size_t i = 0; i < n; i++) {
		rcu_read_lock();
		CHECK_EQ(cds_lfht_del(g_ht, &g_nodes[i].hn), 0);
		rcu_read_unlock();
	}
	synchronize_rcu();
	kvfs_ht_destroy(&s);
	free(g_nodes);
	rcu_unregister_thread();
	printf("growth: %zu nodes, %zu buckets, resized on the table's "
	       "thread\n",
	       n, s.resized);
}

int main(void)
{
	test_neighbours();
	test_chains();
	test_growth();
	return 0;
}
