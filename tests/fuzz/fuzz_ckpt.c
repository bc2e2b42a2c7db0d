// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: one checkpoint's stream (journal/recover.c's checkpoint
 * parser: zstd payload, checkpoint header, item headers, and each item's
 * delta through its decoder).  The input is a flag byte (bit 0: the stream
 * is stored zstd-compressed, and then its uncompressed length and item
 * count follow, 4 bytes each) and the stream as stored; the harness wraps it in
 * a well-formed log (one CKPT record with its stamps and crcs, its COMMIT
 * record) so that every input reaches the parser.
 */
#include "journal/log_format.h"
#include "tests/fuzz/fuzz.h"
#include "tests/journal/mkrec.h"

#define FUZZ_LOG_BYTES (64u << 10)
#define FUZZ_MAX_STREAM ((KVJ_REC_MAX_BB - 1) * KVJ_BB_SIZE)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t log[FUZZ_LOG_BYTES / 8];
	uint32_t comp, ulen, nr_items = 0;
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
	if (!mkrec_ckpt((uint8_t *)log, sizeof(log), s, (uint32_t)len, comp,
			ulen, nr_items))
		return 0;
	fuzz_walk_log((uint8_t *)log, FUZZ_LOG_BYTES);
	return 0;
}
