// SPDX-License-Identifier: GPL-2.0
/*
 * Metadata block header: fill, checksum, verify, report corruption.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/blkhdr.h"
#include "journal/crc32c.h"

/* Only a statistic: a lost increment under a race is harmless. */
static unsigned long kvfs_nr_corrupt;

void kvfs_blkhdr_init(void *blk, uint32_t magic, uint64_t blkno, uint64_t owner,
		      const uint8_t *uuid)
{
	struct kvfs_blk_hdr *h = blk;

	h->magic = kv_cpu_to_le32(magic);
	h->crc = 0;
	h->blkno = kv_cpu_to_le64(blkno);
	h->lsn = 0;
	h->owner = kv_cpu_to_le64(owner);
	memcpy(h->uuid, uuid, KVFS_UUID_SIZE);
}

void kvfs_blkhdr_set_crc(void *blk, size_t len)
{
	struct kvfs_blk_hdr *h = blk;

	h->crc = kv_cpu_to_le32(kv_crc32c_block(blk, len, KVFS_BLK_CRC_OFF));
}

void kvfs_blkhdr_stamp(void *blk, size_t len, uint64_t lsn)
{
	struct kvfs_blk_hdr *h = blk;

	h->lsn = kv_cpu_to_le64(lsn);
	kvfs_blkhdr_set_crc(blk, len);
}

void kvfs_magic_str(uint32_t magic, char out[5])
{
	for (int i = 0; i < 4; i++) {
		int c = (magic >> (8 * i)) & 0xff;

		out[i] = isprint(c) ? (char)c : '?';
	}
	out[4] = '\0';
}

int kvfs_corrupt(int err, uint64_t blkno, const char *what, const char *fmt,
		 ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	__atomic_fetch_add(&kvfs_nr_corrupt, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "kvfs: %s in block %" PRIu64 " (%s): %s\n",
		err == -EBADMSG ? "checksum error" : "corruption", blkno, what,
		msg);
	return err;
}

unsigned long kvfs_corrupt_count(void)
{
	return __atomic_load_n(&kvfs_nr_corrupt, __ATOMIC_RELAXED);
}

int kvfs_blkhdr_verify(const void *blk, size_t len, uint32_t magic,
		       uint64_t blkno, uint64_t owner, const uint8_t *uuid,
		       const char *what)
{
	const struct kvfs_blk_hdr *h = blk;
	uint32_t stored = kv_le32_to_cpu(h->crc);
	uint32_t crc = kv_crc32c_block(blk, len, KVFS_BLK_CRC_OFF);
	uint32_t m = kv_le32_to_cpu(h->magic);
	char want[5], got[5];

	kvfs_magic_str(magic, want);
	kvfs_magic_str(m, got);
	if (crc != stored && m != magic)
		return kvfs_corrupt(-EBADMSG, blkno, what,
				    "bad crc32c 0x%08x, computed 0x%08x; magic "
				    "\"%s\", expected \"%s\"",
				    stored, crc, got, want);
	if (crc != stored)
		return kvfs_corrupt(-EBADMSG, blkno, what,
				    "bad crc32c 0x%08x, computed 0x%08x",
				    stored, crc);
	if (m != magic)
		return kvfs_corrupt(
			-EUCLEAN, blkno, what,
			"bad magic \"%s\" (0x%08x), expected \"%s\"", got, m,
			want);
	if (kv_le64_to_cpu(h->blkno) != blkno)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "header names block %" PRIu64,
				    (uint64_t)kv_le64_to_cpu(h->blkno));
	if (kv_le64_to_cpu(h->owner) != owner)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "owner %" PRIu64 ", expected %" PRIu64,
				    (uint64_t)kv_le64_to_cpu(h->owner), owner);
	if (uuid && memcmp(h->uuid, uuid, KVFS_UUID_SIZE))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "filesystem UUID does not match");
	return 0;
}
