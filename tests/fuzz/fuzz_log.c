// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the journal's log parser over a raw 64 KiB log region (the
 * input, zero-padded): head and tail search over the cycle stamps, record
 * headers, checkpoint reassembly and its items.  Record headers get their
 * crc recomputed (a header BB is one that starts with the record magic) so
 * that mutated headers are parsed; payload checksums are left as they are.
 */
#include "journal/crc32c.h"
#include "journal/log_format.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_LOG_BYTES (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t log[FUZZ_LOG_BYTES / 8];
	uint8_t *p = (uint8_t *)log;

	fuzz_geom();
	memset(log, 0, sizeof(log));
	memcpy(log, data, size < sizeof(log) ? size : sizeof(log));
	for (size_t o = 0; o < FUZZ_LOG_BYTES; o += KVJ_BB_SIZE) {
		struct kvj_rec_hdr *h = (void *)(p + o);

		if (kvj_le32_to_cpu(h->magic) == KVJ_REC_MAGIC)
			h->hdr_crc = kvj_cpu_to_le32(kv_crc32c_block(
				h, sizeof(*h), KVJ_REC_HDR_CRC_OFF));
	}
	fuzz_walk_log(p, FUZZ_LOG_BYTES);
	return 0;
}
