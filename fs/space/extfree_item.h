/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Extent-free intents (XFS's xfs_extfree_item.c, EFI/EFD): a deferred
 * operation (fs/trans/defer.h) that frees extents in transactions after the one
 * that queued them, crash-safe.
 *
 * kvfs_free_extent_later() queues the free of [fsb, fsb + len) on tp; the
 * transaction's commit logs an intent recording the extent (struct
 * kvfs_efi_rec, fs/format.h), rolls, and frees it with kvfs_free_extent()
 * in a later transaction that also logs the intent's done.  The free and
 * the done commit together, so after a crash recovery frees an extent
 * whose intent has no done, and never one whose free is in the log (the
 * free is then durable and would be a double free).
 *
 * A free refused for the AG lock order (-EAGAIN: its AG is numbered lower
 * than one the transaction holds and is busy) is retried after a roll.
 *
 * Space: an intent holds one extent (the extent_free reservation of
 * fs/trans/trans_resv.h covers one free, its done and a relogged intent); each
 * free runs in a commit of its own.  A caller queueing n frees reserves
 * n intents' log bytes (kvfs_efi_intent_bytes()) in the queuing
 * transaction, or queues them in batches.
 */
#ifndef KV_FS_EXTFREE_ITEM_H
#define KV_FS_EXTFREE_ITEM_H

#include <stdint.h>

#include "fs/trans/defer.h"

struct kvfs_trans;

/* The built-in type (fs/trans/defer.c's builtin_types[]). */
extern const struct kvfs_defer_type kvfs_efi_type;

/*
 * Queue the free of [fsb, fsb + len), inside one AG past its headers, on
 * tp.  -EINVAL for an extent out of range; kvfs_defer_add()'s errors.
 */
int kvfs_free_extent_later(struct kvfs_trans *tp, uint64_t fsb, uint32_t len);

/* Log bytes the queuing transaction spends on the intent of one free. */
uint32_t kvfs_efi_intent_bytes(void);

#endif
