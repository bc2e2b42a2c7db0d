// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's table of kernel references (fs/fuse/nodes.c) against a
 * counting model of the core's open references: the first reference
 * opens, the forget that brings the count to zero closes, a failed open
 * counts nothing, unmount closes what the kernel did not forget, and the
 * security.capability state follows set/remove over a racing read; then 4
 * threads taking and forgetting references at random on 64 inodes end with
 * the core's count equal to the inodes still referenced.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "fs/fuse/nodes.h"
#include "fs/kvfs.h"
#include "tests/check.h"

#define NINO 64

/* the core's open references, per inode number (the model) */
static int opens[NINO + 1];
static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t freed = 5; /* kvfs_inode_open() of this one fails */

int kvfs_inode_open(struct kvfs_mount *mp, uint64_t ino, uint32_t gen)
{
	(void)mp;
	if (ino == freed)
		return -ENOENT;
	if (gen == 99)
		return -ESTALE;
	pthread_mutex_lock(&model_lock);
	opens[ino]++;
	pthread_mutex_unlock(&model_lock);
	return 0;
}

void kvfs_inode_close(struct kvfs_mount *mp, uint64_t ino)
{
	(void)mp;
	pthread_mutex_lock(&model_lock);
	CHECK(opens[ino] > 0);
	opens[ino]--;
	pthread_mutex_unlock(&model_lock);
}

static void test_counts(void)
{
	struct kvfs_fuse_nodes *nt;

	CHECK_EQ(kvfs_fuse_nodes_new(NULL, &nt), 0);
	CHECK_EQ(kvfs_fuse_node_get(nt, 1, 0), 0);
	CHECK_EQ(kvfs_fuse_node_get(nt, 1, 0), 0);
	CHECK_EQ(kvfs_fuse_node_get(nt, 1, 0), 0);
	CHECK_EQ(opens[1], 1); /* one core reference for any count */
	kvfs_fuse_node_forget(nt, 1, 2);
	CHECK_EQ(opens[1], 1);
	kvfs_fuse_node_forget(nt, 1, 1);
	CHECK_EQ(opens[1], 0);
	CHECK_EQ(kvfs_fuse_nodes_count(nt), 0);
	/* a forget of an unknown inode changes nothing */
	kvfs_fuse_node_forget(nt, 2, 1);
	CHECK_EQ(opens[2], 0);

	CHECK_EQ(kvfs_fuse_node_get(nt, freed, 0), -ENOENT);
	CHECK_EQ(kvfs_fuse_node_get(nt, 3, 99), -ESTALE);
	CHECK_EQ(kvfs_fuse_nodes_count(nt), 0);

	/* capabilities: unknown, learned, and a set racing with a read */
	CHECK_EQ(kvfs_fuse_node_get(nt, 4, 0), 0);
	CHECK_EQ(kvfs_fuse_node_caps(nt, 4), KVFS_CAPS_UNKNOWN);
	kvfs_fuse_node_set_caps(nt, 4, KVFS_CAPS_NONE, true);
	CHECK_EQ(kvfs_fuse_node_caps(nt, 4), KVFS_CAPS_NONE);
	kvfs_fuse_node_set_caps(nt, 4, KVFS_CAPS_SET, false);
	kvfs_fuse_node_set_caps(nt, 4, KVFS_CAPS_NONE, true);
	CHECK_EQ(kvfs_fuse_node_caps(nt, 4), KVFS_CAPS_SET);
	kvfs_fuse_node_set_caps(nt, 4, KVFS_CAPS_NONE, false);
	CHECK_EQ(kvfs_fuse_node_caps(nt, 4), KVFS_CAPS_NONE);
	/* forgotten and looked up again: nothing is known */
	kvfs_fuse_node_forget(nt, 4, 1);
	kvfs_fuse_node_set_caps(nt, 4, KVFS_CAPS_SET, false);
	CHECK_EQ(kvfs_fuse_node_get(nt, 4, 0), 0);
	CHECK_EQ(kvfs_fuse_node_caps(nt, 4), KVFS_CAPS_UNKNOWN);

	/* unmount: every reference left is dropped in the core */
	for (uint64_t i = 10; i < 50; i++)
		CHECK_EQ(kvfs_fuse_node_get(nt, i, 0), 0);
	CHECK_EQ(kvfs_fuse_nodes_count(nt), 41);
	kvfs_fuse_nodes_free(nt);
	for (int i = 0; i <= NINO; i++)
		CHECK_EQ(opens[i], 0);
}

struct worker {
	struct kvfs_fuse_nodes *nt;
	unsigned seed;
	uint64_t held[NINO + 1]; /* this thread's kernel references */
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 200000; i++) {
		uint64_t ino = 6 + rand_r(&w->seed) % (NINO - 6);

		if (rand_r(&w->seed) % 2) {
			CHECK_EQ(kvfs_fuse_node_get(w->nt, ino, 0), 0);
			w->held[ino]++;
		} else if (w->held[ino]) {
			uint64_t n = 1 + rand_r(&w->seed) % w->held[ino];

			kvfs_fuse_node_forget(w->nt, ino, n);
			w->held[ino] -= n;
		}
	}
	return NULL;
}

static void test_threads(void)
{
	struct worker w[4] = { 0 };
	struct kvfs_fuse_nodes *nt;
	pthread_t t[4];
	uint64_t live = 0;

	CHECK_EQ(kvfs_fuse_nodes_new(NULL, &nt), 0);
	for (int i = 0; i < 4; i++) {
		w[i].nt = nt;
		w[i].seed = 1 + i;
		CHECK_EQ(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	for (int ino = 0; ino <= NINO; ino++) {
		uint64_t held = 0;

		for (int i = 0; i < 4; i++)
			held += w[i].held[ino];
		CHECK_EQ(opens[ino], held ? 1 : 0);
		live += held != 0;
	}
	CHECK_EQ(kvfs_fuse_nodes_count(nt), live);
	CHECK(live > 0);
	kvfs_fuse_nodes_free(nt);
	for (int i = 0; i <= NINO; i++)
		CHECK_EQ(opens[i], 0);
}

int main(void)
{
	test_counts();
	test_threads();
	printf("fuse nodes: ok\n");
	return 0;
}
