// SPDX-License-Identifier: GPL-2.0
/*
 * The buffers a recovery pass holds, by block number (fs/io/rec_bufs.h).
 */
#include <errno.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/hash.h"
#include "fs/io/rec_bufs.h"

static size_t slot_of(const struct kvfs_rec_bufs *t, uint64_t blkno)
{
	return (size_t)kvfs_hash64(blkno) & (t->cap - 1);
}

struct kvfs_rec_buf *kvfs_rec_bufs_find(struct kvfs_rec_bufs *t, uint64_t blkno)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = slot_of(t, blkno); t->slots[i].bp; i = (i + 1) & (t->cap - 1))
		if (t->slots[i].bp->b_blkno == blkno)
			break;
	return &t->slots[i];
}

/* Keep the table at most half full. */
static int grow(struct kvfs_rec_bufs *t)
{
	struct kvfs_rec_buf *old = t->slots;
	size_t oldcap = t->cap, i;

	if ((t->nr + 1) * 2 <= t->cap)
		return 0;
	t->cap = oldcap ? oldcap * 2 : 64;
	t->slots = kvzalloc(t->cap * sizeof(*t->slots), 0);
	if (!t->slots) {
		t->slots = old;
		t->cap = oldcap;
		return -ENOMEM;
	}
	for (i = 0; i < oldcap; i++)
		if (old[i].bp)
			*kvfs_rec_bufs_find(t, old[i].bp->b_blkno) = old[i];
	kvfree(old);
	return 0;
}

struct kvfs_rec_buf *kvfs_rec_bufs_get(struct kvfs_rec_bufs *t, uint64_t blkno)
{
	if (grow(t))
		return NULL;
	return kvfs_rec_bufs_find(t, blkno);
}

void kvfs_rec_bufs_fill(struct kvfs_rec_bufs *t, struct kvfs_rec_buf *rb,
			struct kv_buf *bp)
{
	rb->bp = bp;
	rb->lsn = 0;
	rb->changed = false;
	t->nr++;
}

/* Linear probing: shift back the entries after the hole. */
void kvfs_rec_bufs_remove(struct kvfs_rec_bufs *t, struct kvfs_rec_buf *rb)
{
	size_t i = (size_t)(rb - t->slots), j = i, k;

	for (;;) {
		j = (j + 1) & (t->cap - 1);
		if (!t->slots[j].bp)
			break;
		k = slot_of(t, t->slots[j].bp->b_blkno);
		/* entry j may move to the hole at i unless its home is in (i, j] */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->nr--;
}

void kvfs_rec_bufs_reset(struct kvfs_rec_bufs *t)
{
	kvfree(t->slots);
	t->slots = NULL;
	t->cap = t->nr = 0;
}
