/* SPDX-License-Identifier: GPL-2.0 */
/*
 * On-disk format of the kvjournal log, version 1.
 *
 * The log is a circular region addressed in 512-byte basic blocks (BB, the
 * unit a device writes atomically).  A log sequence number is
 * (cycle << 32) | block: cycle counts the passes over the region (the first
 * pass is cycle 1; a region mkfs left zero reads as cycle 0 everywhere, an
 * empty log), block is the BB offset of a record within the region.
 *
 * Cycle stamping (XFS's): every BB carries the cycle of the pass that wrote
 * it.  A record header BB carries it in its cycle field; every other BB of
 * a record carries it in its first 32-bit word, whose real contents are
 * kept in the header's cycle_data[] and put back by the reader.  A BB whose
 * first word is KVJ_REC_MAGIC is a header BB.  So the reader knows, for
 * every BB, the LSN it was last written at, whatever order a volatile write
 * cache persisted the BBs of an unflushed write in: the head is found as
 * the highest LSN any BB claims, a record is complete exactly when all its
 * BBs carry its cycle, and a BB written before the last pass can never be
 * taken for a new one.  Zeroes mean nothing (but cycle 0).
 *
 * The writer flushes at least every KVJ_WINDOW_BB BBs it writes, so a power
 * cut leaves at most that many unflushed: the reader samples one BB in
 * every KVJ_WINDOW_BB and reads only the two windows after the newest
 * sample, instead of the whole log, to find the head.
 *
 * Every record starts on a BB boundary with a one-BB struct kvj_rec_hdr,
 * followed by its payload from the next BB, padded to a whole number of
 * BBs; a record is at most KVJ_REC_MAX_BB long.  A record never spans the
 * end of the region, so records follow each other without gaps and every
 * BB is rewritten in every pass.
 *
 * A checkpoint is one or more KVJ_REC_CKPT records carrying consecutive
 * pieces of one stream, then one KVJ_REC_COMMIT record describing the whole
 * stream.  A compressed stream is one or more zstd frames one after
 * another, decompressing to the stream.  Recovery replays a checkpoint only
 * when its commit record is present, all its BBs carry the right cycle and
 * every crc matches.  Only the last write (one checkpoint, or one TAIL or
 * UNMOUNT record; each is flushed before the next is written) can be torn.
 *
 * When recovery discards a torn tail it overwrites it with KVJ_REC_FILL
 * records of the previous cycle of each BB (xlog_clear_stale_blocks), so
 * that nothing of the discarded write can later be read as current.
 *
 * The uncompressed stream is a struct kvj_ckpt_hdr followed by nr_items
 * struct kvj_item_hdr, each followed by len bytes of item-defined delta
 * padded to 8 bytes.
 */
#ifndef KV_JOURNAL_LOG_FORMAT_H
#define KV_JOURNAL_LOG_FORMAT_H

#include <assert.h>
#include <endian.h>
#include <stdint.h>

typedef uint32_t kvj_le32;
typedef uint64_t kvj_le64;

static inline uint32_t kvj_le32_to_cpu(kvj_le32 v) { return le32toh(v); }
static inline uint64_t kvj_le64_to_cpu(kvj_le64 v) { return le64toh(v); }
static inline kvj_le32 kvj_cpu_to_le32(uint32_t v) { return htole32(v); }
static inline kvj_le64 kvj_cpu_to_le64(uint64_t v) { return htole64(v); }

typedef uint64_t kvj_lsn_t;

#define KVJ_BB_SHIFT 9
#define KVJ_BB_SIZE (1u << KVJ_BB_SHIFT)
#define KVJ_LSN(cycle, bb) (((uint64_t)(cycle) << 32) | (uint32_t)(bb))
#define KVJ_LSN_CYCLE(lsn) ((uint32_t)((lsn) >> 32))
#define KVJ_LSN_BLOCK(lsn) ((uint32_t)(lsn))

#define KVJ_REC_MAGIC 0x524a564bu /* "KVJR" */
/* most BBs written between two flushes of the log (4 MiB) */
#define KVJ_WINDOW_BB 8192u
/* cycle_data[] words: the header is one BB */
#define KVJ_CYCLE_WORDS 96
#define KVJ_CKPT_MAGIC 0x434a564bu /* "KVJC" */
#define KVJ_LOG_VERSION 1

enum kvj_rec_type {
	KVJ_REC_CKPT = 1,    /* a piece of a checkpoint stream */
	KVJ_REC_COMMIT = 2,  /* ends a checkpoint */
	KVJ_REC_UNMOUNT = 3, /* clean: nothing before it needs replay */
	KVJ_REC_TAIL = 4,    /* carries a newer tail only */
	KVJ_REC_FILL = 5,    /* stale space rewritten by recovery: never live */
};

enum kvj_comp {
	KVJ_COMP_NONE = 0,
	KVJ_COMP_ZSTD = 1,
};

struct kvj_rec_hdr {
	kvj_le32 magic;
	kvj_le32 hdr_crc;  /* crc32c of this header, hdr_crc read as zero */
	kvj_le32 version;
	kvj_le32 type;     /* enum kvj_rec_type */
	kvj_le32 cycle;    /* == KVJ_LSN_CYCLE(lsn) */
	kvj_le32 nr_bb;    /* whole record length in BBs, header included */
	kvj_le64 lsn;      /* this record's own position */
	kvj_le64 tail_lsn; /* oldest LSN still needed when written */
	kvj_le64 seq;      /* checkpoint sequence */
	kvj_le32 len;      /* payload bytes following this header */
	kvj_le32 data_crc; /* crc32c of the payload */
	kvj_le64 part_off; /* CKPT: offset of the payload in the stream */
	/* COMMIT only */
	kvj_le64 ckpt_lsn;   /* LSN of the checkpoint's first CKPT record */
	kvj_le64 stream_len; /* bytes of the stream as stored */
	kvj_le64 ulen;       /* bytes of the stream uncompressed */
	kvj_le32 comp;       /* enum kvj_comp */
	kvj_le32 stream_crc; /* crc32c of the whole stored stream */
	kvj_le32 nr_items;
	kvj_le32 nr_parts;
	kvj_le64 pad[3];
	/* first words of the record's BBs 1..nr_bb-1, displaced by stamps */
	kvj_le32 cycle_data[KVJ_CYCLE_WORDS];
};

#define KVJ_REC_HDR_SIZE KVJ_BB_SIZE
#define KVJ_REC_HDR_CRC_OFF 4
#define KVJ_REC_HDR_CYCLE_OFF 16
/* a header BB and as many payload BBs as cycle_data[] has words */
#define KVJ_REC_MAX_BB (1 + KVJ_CYCLE_WORDS)

struct kvj_ckpt_hdr {
	kvj_le32 magic; /* KVJ_CKPT_MAGIC */
	kvj_le32 nr_items;
	kvj_le64 seq;
};

struct kvj_item_hdr {
	kvj_le32 type; /* the item type's recovery ops */
	kvj_le32 len;  /* bytes of delta following, before padding to 8 */
};

/* Item types reserved by the journal itself. */
#define KVJ_ITEM_INTENT 1
#define KVJ_ITEM_DONE 2
/* First type number free for clients. */
#define KVJ_ITEM_CLIENT 16

/* Intent delta: the header, then len bytes of client payload. */
struct kvj_intent_fmt {
	kvj_le64 id;
	kvj_le32 subtype;
	kvj_le32 len;
};

struct kvj_done_fmt {
	kvj_le64 id;
};

static_assert(sizeof(struct kvj_rec_hdr) == KVJ_REC_HDR_SIZE,
	      "kvj_rec_hdr size");
static_assert(__builtin_offsetof(struct kvj_rec_hdr, cycle) ==
		      KVJ_REC_HDR_CYCLE_OFF,
	      "kvj_rec_hdr cycle offset");
static_assert(__builtin_offsetof(struct kvj_rec_hdr, cycle_data) == 128,
	      "kvj_rec_hdr cycle_data offset");
static_assert(sizeof(struct kvj_ckpt_hdr) == 16, "kvj_ckpt_hdr size");
static_assert(sizeof(struct kvj_item_hdr) == 8, "kvj_item_hdr size");
static_assert(sizeof(struct kvj_intent_fmt) == 16, "kvj_intent_fmt size");
static_assert(sizeof(struct kvj_done_fmt) == 8, "kvj_done_fmt size");

#endif
