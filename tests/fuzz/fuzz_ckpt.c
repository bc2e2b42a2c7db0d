// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: one checkpoint's stream (journal/recover.c's checkpoint
 * parser: zstd payload, checkpoint header, item headers, and each item's
 * delta through its decoder).  The input is a flag byte (bit 0: the stream
 * is stored zstd-compressed, and then its uncompressed length and item
 * count follow, 4 bytes each) and the stream as stored; the harness wraps it in a well-formed
 * log (one CKPT record with its stamps and crcs, its COMMIT record) so
 * that every input reaches the parser.
 */
#include "journal/crc32c.h"
#include "journal/log_format.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_LOG_BYTES (64u << 10)
#define FUZZ_MAX_STREAM ((KVJ_REC_MAX_BB - 1) * KVJ_BB_SIZE)

static void hdr_seal(struct kvj_rec_hdr *h)
{
	h->hdr_crc = kvj_cpu_to_le32(
		kv_crc32c_block(h, sizeof(*h), KVJ_REC_HDR_CRC_OFF));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t log[FUZZ_LOG_BYTES / 8];
	uint8_t *p = (uint8_t *)log;
	struct kvj_rec_hdr *ck = (void *)p, *cm;
	uint32_t comp, ulen, nr_bb, nr_items = 0;
	const uint8_t *s;
	size_t len;

	fuzz_geom();
	if (size < 1)
		return 0;
	comp = data[0] & 1 ? KVJ_COMP_ZSTD : KVJ_COMP_NONE;
	s = data + 1;
	len = size - 1;
	if (comp == KVJ_COMP_ZSTD) {
		if (len < 8)
			return 0;
		memcpy(&ulen, s, 4);
		memcpy(&nr_items, s + 4, 4);
		ulen = le32toh(ulen);
		nr_items = le32toh(nr_items);
		s += 8;
		len -= 8;
	}
	if (len > FUZZ_MAX_STREAM)
		return 0;
	if (comp == KVJ_COMP_NONE)
		ulen = (uint32_t)len;
	/* the input is not aligned: the item count read byte-wise */
	if (comp == KVJ_COMP_NONE && len >= sizeof(struct kvj_ckpt_hdr)) {
		memcpy(&nr_items, s + offsetof(struct kvj_ckpt_hdr, nr_items),
		       4);
		nr_items = le32toh(nr_items);
	}
	memset(log, 0, sizeof(log));
	nr_bb = 1 + (uint32_t)((len + KVJ_BB_SIZE - 1) / KVJ_BB_SIZE);
	memcpy(p + KVJ_BB_SIZE, s, len);

	ck->magic = kvj_cpu_to_le32(KVJ_REC_MAGIC);
	ck->version = kvj_cpu_to_le32(KVJ_LOG_VERSION);
	ck->type = kvj_cpu_to_le32(KVJ_REC_CKPT);
	ck->cycle = kvj_cpu_to_le32(1);
	ck->nr_bb = kvj_cpu_to_le32(nr_bb);
	ck->lsn = kvj_cpu_to_le64(KVJ_LSN(1, 0));
	ck->tail_lsn = kvj_cpu_to_le64(KVJ_LSN(1, 0));
	ck->seq = kvj_cpu_to_le64(1);
	ck->len = kvj_cpu_to_le32((uint32_t)len);
	ck->data_crc = kvj_cpu_to_le32(kv_crc32c(0, s, len));
	/* the cycle stamps of the payload BBs, and the words they displace */
	for (uint32_t i = 1; i < nr_bb; i++) {
		kvj_le32 *w = (kvj_le32 *)(p + (size_t)i * KVJ_BB_SIZE);

		ck->cycle_data[i - 1] = *w;
		*w = kvj_cpu_to_le32(1);
	}
	hdr_seal(ck);

	cm = (void *)(p + (size_t)nr_bb * KVJ_BB_SIZE);
	cm->magic = kvj_cpu_to_le32(KVJ_REC_MAGIC);
	cm->version = kvj_cpu_to_le32(KVJ_LOG_VERSION);
	cm->type = kvj_cpu_to_le32(KVJ_REC_COMMIT);
	cm->cycle = kvj_cpu_to_le32(1);
	cm->nr_bb = kvj_cpu_to_le32(1);
	cm->lsn = kvj_cpu_to_le64(KVJ_LSN(1, nr_bb));
	cm->tail_lsn = kvj_cpu_to_le64(KVJ_LSN(1, 0));
	cm->seq = kvj_cpu_to_le64(1);
	cm->ckpt_lsn = kvj_cpu_to_le64(KVJ_LSN(1, 0));
	cm->stream_len = kvj_cpu_to_le64(len);
	cm->ulen = kvj_cpu_to_le64(ulen);
	cm->comp = kvj_cpu_to_le32(comp);
	cm->stream_crc = kvj_cpu_to_le32(kv_crc32c(0, s, len));
	cm->nr_items = kvj_cpu_to_le32(nr_items);
	cm->nr_parts = kvj_cpu_to_le32(1);
	hdr_seal(cm);

	fuzz_walk_log(p, FUZZ_LOG_BYTES);
	return 0;
}
