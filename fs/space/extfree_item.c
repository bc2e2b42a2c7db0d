// SPDX-License-Identifier: GPL-2.0
/*
 * Extent-free intents (see fs/space/extfree_item.h for the contract).
 */
#include <errno.h>

#include "alloc/kvalloc.h"
#include "fs/space/alloc.h"
#include "fs/format/ag.h"
#include "fs/space/extfree_item.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "fs/trans/trans_resv.h"

struct efi_item {
	struct kvfs_defer_item di;
	uint64_t fsb;
	uint32_t len;
};

/* An extent a free may be asked for: inside one AG, past its headers. */
static bool extent_ok(const struct kvfs_geom *g, uint64_t fsb, uint32_t len)
{
	uint32_t agno, agbno;

	if (!len || fsb >= g->dblocks || len > g->dblocks - fsb)
		return false;
	agno = kvfs_fsb_to_agno(g, fsb);
	agbno = kvfs_fsb_to_agbno(g, fsb);
	return agbno >= KVFS_AG_HDR_BLOCKS &&
	       len <= kvfs_ag_length(g, agno) - agbno;
}

static struct efi_item *efi_alloc(uint64_t fsb, uint32_t len)
{
	struct efi_item *it = kvmalloc(sizeof(*it), 0);

	if (it) {
		it->fsb = fsb;
		it->len = len;
	}
	return it;
}

static void efi_log_item(const struct kvfs_defer_item *di, void *rec)
{
	const struct efi_item *it = (const struct efi_item *)di;
	struct kvfs_efi_rec *r = rec;

	r->fsb = kv_cpu_to_le64(it->fsb);
	r->len = kv_cpu_to_le32(it->len);
	r->pad0 = kv_cpu_to_le32(0);
}

static int efi_recover_item(struct kvfs_mount *mp, const void *rec,
			    struct kvfs_defer_item **itemp)
{
	const struct kvfs_efi_rec *r = rec;
	uint64_t fsb = kv_le64_to_cpu(r->fsb);
	uint32_t len = kv_le32_to_cpu(r->len);
	struct efi_item *it;

	if (kv_le32_to_cpu(r->pad0) || !extent_ok(&mp->g, fsb, len))
		return -EUCLEAN;
	it = efi_alloc(fsb, len);
	if (!it)
		return -ENOMEM;
	*itemp = &it->di;
	return 0;
}

/* -EAGAIN (the AG lock order) keeps the item for the next transaction. */
static int efi_finish_item(struct kvfs_trans *tp, struct kvfs_defer_item *di)
{
	struct efi_item *it = (struct efi_item *)di;
	int err = kvfs_free_extent_deferred(tp, it->fsb, it->len);

	if (!err)
		kvfree(it);
	return err;
}

static void efi_cancel_item(struct kvfs_defer_item *di)
{
	kvfree(di);
}

/* One free: what the extent_free reservation holds beyond its close. */
static void efi_mount_init(const struct kvfs_mount *mp,
			   struct kvfs_defer_type *t)
{
	t->step_log_bytes = mp->resv.extent_free.log_bytes -
			    kvfs_resv_done_bytes() - kvfs_efi_intent_bytes();
	t->step_blocks = mp->resv.extent_free.blocks;
}

const struct kvfs_defer_type kvfs_efi_type = {
	.name = "extent_free",
	.subtype = KVFS_INTENT_EFI,
	.max_items = 1,
	.item_bytes = KVFS_EFI_REC_SIZE,
	.log_item = efi_log_item,
	.recover_item = efi_recover_item,
	.finish_item = efi_finish_item,
	.cancel_item = efi_cancel_item,
	.mount_init = efi_mount_init,
};

uint32_t kvfs_efi_intent_bytes(void)
{
	return kvfs_resv_intent_bytes(KVFS_EFI_REC_SIZE);
}

int kvfs_free_extent_later(struct kvfs_trans *tp, uint64_t fsb, uint32_t len)
{
	const struct kvfs_defer_type *t =
		kvfs_defer_type_of(tp->mp, KVFS_INTENT_EFI);
	struct efi_item *it;
	int err;

	if (!extent_ok(&tp->mp->g, fsb, len))
		return -EINVAL;
	it = efi_alloc(fsb, len);
	if (!it)
		return -ENOMEM;
	err = kvfs_defer_add(tp, t, &it->di);
	if (err)
		kvfree(it);
	return err;
}
