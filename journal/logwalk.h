/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Read-only walk of an on-disk log: the one parser of the log format
 * (journal/recover.c), shared by recovery and by tools such as
 * kvfs-logprint, as libxfs is for XFS.  Recovery is this walk plus replay.
 *
 * The walk finds the head and the tail, then reads every record from the
 * tail to the head, verifying every crc, decompressing and parsing every
 * checkpoint, and reports what it finds through callbacks.  It only reads.
 */
#ifndef KV_JOURNAL_LOGWALK_H
#define KV_JOURNAL_LOGWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/journal.h"

enum kvj_walk_state {
	KVJ_WALK_EMPTY, /* no record was ever completed (at most torn) */
	KVJ_WALK_CLEAN, /* ends with an unmount record naming itself */
	KVJ_WALK_DIRTY, /* needs recovery */
};

struct kvj_walk_head {
	enum kvj_walk_state state;
	uint64_t log_bytes;
	/* just past the highest LSN written (the walk may end before it) */
	kvj_lsn_t head_lsn;
	kvj_lsn_t tail_lsn; /* the walk starts here (1/0 when empty) */
	/* the last valid record before the head (zero when empty) */
	kvj_lsn_t last_lsn;
	uint32_t last_type; /* enum kvj_rec_type */
	uint64_t last_seq;
};

/* One record whose header is valid. */
struct kvj_walk_rec {
	kvj_lsn_t lsn;
	uint32_t type; /* enum kvj_rec_type */
	uint32_t nr_bb; /* record length in basic blocks, header included */
	uint32_t len; /* payload bytes */
	bool crc_ok; /* payload crc (CKPT records; true for others) */
	kvj_lsn_t tail_lsn;
	uint64_t seq;
	uint64_t part_off; /* CKPT: offset of the payload in the stream */
};

/* A complete checkpoint: its commit record matched every piece. */
struct kvj_walk_ckpt {
	uint64_t seq;
	kvj_lsn_t lsn; /* its first CKPT record */
	kvj_lsn_t commit_lsn; /* its commit record */
	uint32_t nr_parts;
	uint32_t nr_items;
	uint32_t comp; /* enum kvj_comp */
	uint64_t stream_len; /* bytes as stored */
	uint64_t ulen; /* bytes uncompressed */
};

struct kvj_walk_item {
	uint32_t index; /* within its checkpoint */
	unsigned phase; /* which of the walk's item_phases delivers it */
	uint32_t type; /* KVJ_ITEM_INTENT, KVJ_ITEM_DONE or a client type */
	uint32_t len;
	const void *delta; /* decoded delta, valid during the callback only */
};

enum kvj_walk_problem {
	/* an incomplete or damaged last checkpoint: recovery discards it */
	KVJ_WALK_TORN,
	/* damage that recovery refuses: the walk returns -EUCLEAN */
	KVJ_WALK_CORRUPT,
};

/*
 * Every callback is optional.  A non-zero return (a negative errno) stops
 * the walk, which returns it.  Order: head(); then for every record,
 * record(); after a commit record, ckpt() and item() for each of its
 * items (item_phases times over, 0 counting as 1: a reader that applies
 * some item types before others); problem() where damage is found.
 */
struct kvj_walk_ops {
	unsigned item_phases;
	int (*head)(void *priv, const struct kvj_walk_head *h);
	int (*record)(void *priv, const struct kvj_walk_rec *r);
	int (*ckpt)(void *priv, const struct kvj_walk_ckpt *c);
	int (*item)(void *priv, const struct kvj_walk_ckpt *c,
		    const struct kvj_walk_item *it);
	/*
	 * lsn: the damaged record (KVJ_WALK_CORRUPT) or the start of the
	 * discarded tail (KVJ_WALK_TORN); msg: the one line recovery prints
	 * after "kvjournal: ".  After a KVJ_WALK_CORRUPT the walk may go on
	 * reporting what is readable before it returns -EUCLEAN.
	 */
	int (*problem)(void *priv, enum kvj_walk_problem what, kvj_lsn_t lsn,
		       const char *msg);
};

/*
 * Walk the log of log_bytes (as for kvj_log_open()) read through io (only
 * io->read is used).
 * Returns 0 when the log is readable (empty, clean, or dirty with at most
 * a torn tail), -EUCLEAN when it cannot be recovered (after problem()),
 * -EINVAL for a bad size, another -errno on I/O or memory errors, or what
 * a callback returned.  Never writes.
 */
int kvj_log_walk(const struct kvj_io_ops *io, void *io_priv, uint64_t log_bytes,
		 const struct kvj_walk_ops *ops, void *priv);

/* "CKPT", "COMMIT", "UNMOUNT", "TAIL" or "?" */
const char *kvj_rec_type_name(uint32_t type);

/*
 * One line describing an item of the journal's own types (intent, done)
 * into out; -ENOENT for a client type (the client describes those).
 */
int kvj_walk_item_describe(const struct kvj_walk_item *it, char *out,
			   size_t outlen);

#endif
