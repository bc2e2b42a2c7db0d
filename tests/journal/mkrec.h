/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hand-built log records for the tests of damaged logs (tests/journal
 * badrec, tests/logprint mklog): records whose crcs and cycle stamps are
 * right and whose fields say what the test wants, which the journal's own
 * writer would never produce.
 */
#ifndef KV_TESTS_JOURNAL_MKREC_H
#define KV_TESTS_JOURNAL_MKREC_H

#include <string.h>

#include "journal/crc32c.h"
#include "journal/log_format.h"

static inline void mkrec_seal(struct kvj_rec_hdr *h)
{
	h->hdr_crc = kvj_cpu_to_le32(
		kv_crc32c_block(h, sizeof(*h), KVJ_REC_HDR_CRC_OFF));
}

/*
 * Fill log (bytes long, zeroed first) with one checkpoint at block 0 of
 * cycle 1: a CKPT record holding stream (len bytes, stored as comp), then
 * its COMMIT record claiming ulen bytes uncompressed and nr_items items.
 * Returns the commit record's LSN, 0 when the records do not fit.
 */
static inline kvj_lsn_t mkrec_ckpt(uint8_t *log, size_t bytes,
				   const void *stream, uint32_t len,
				   uint32_t comp, uint64_t ulen,
				   uint32_t nr_items)
{
	struct kvj_rec_hdr *ck = (void *)log, *cm;
	uint32_t nr_bb = 1 + (len + KVJ_BB_SIZE - 1) / KVJ_BB_SIZE, i;

	if (nr_bb > KVJ_REC_MAX_BB || (size_t)(nr_bb + 1) * KVJ_BB_SIZE > bytes)
		return 0;
	memset(log, 0, bytes);
	memcpy(log + KVJ_BB_SIZE, stream, len);
	ck->magic = kvj_cpu_to_le32(KVJ_REC_MAGIC);
	ck->version = kvj_cpu_to_le32(KVJ_LOG_VERSION);
	ck->type = kvj_cpu_to_le32(KVJ_REC_CKPT);
	ck->cycle = kvj_cpu_to_le32(1);
	ck->nr_bb = kvj_cpu_to_le32(nr_bb);
	ck->lsn = kvj_cpu_to_le64(KVJ_LSN(1, 0));
	ck->tail_lsn = kvj_cpu_to_le64(KVJ_LSN(1, 0));
	ck->seq = kvj_cpu_to_le64(1);
	ck->len = kvj_cpu_to_le32(len);
	ck->data_crc = kvj_cpu_to_le32(kv_crc32c(0, stream, len));
	/* the payload blocks' cycle stamps, and the words they displace */
	for (i = 1; i < nr_bb; i++) {
		kvj_le32 *w = (kvj_le32 *)(log + (size_t)i * KVJ_BB_SIZE);

		ck->cycle_data[i - 1] = *w;
		*w = kvj_cpu_to_le32(1);
	}
	mkrec_seal(ck);
	cm = (void *)(log + (size_t)nr_bb * KVJ_BB_SIZE);
	cm->magic = kvj_cpu_to_le32(KVJ_REC_MAGIC);
	cm->version = kvj_cpu_to_le32(KVJ_LOG_VERSION);
	cm->type = kvj_cpu_to_le32(KVJ_REC_COMMIT);
	cm->cycle = kvj_cpu_to_le32(1);
	cm->nr_bb = kvj_cpu_to_le32(1);
	cm->lsn = kvj_cpu_to_le64(KVJ_LSN(1, nr_bb));
	cm->tail_lsn = kvj_cpu_to_le64(KVJ_LSN(1, 0));
	cm->seq = kvj_cpu_to_le64(1);
	cm->data_crc = kvj_cpu_to_le32(kv_crc32c(0, NULL, 0));
	cm->ckpt_lsn = kvj_cpu_to_le64(KVJ_LSN(1, 0));
	cm->stream_len = kvj_cpu_to_le64(len);
	cm->ulen = kvj_cpu_to_le64(ulen);
	cm->comp = kvj_cpu_to_le32(comp);
	cm->stream_crc = kvj_cpu_to_le32(kv_crc32c(0, stream, len));
	cm->nr_items = kvj_cpu_to_le32(nr_items);
	cm->nr_parts = kvj_cpu_to_le32(1);
	mkrec_seal(cm);
	return KVJ_LSN(1, nr_bb);
}

#endif
