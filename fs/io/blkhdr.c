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

#include "fs/io/blkhdr.h"
#include "fs/io/buf.h"
#include "journal/crc32c.h"
#include "journal/log_format.h"

/* Only a statistic: a lost increment under a race is harmless. */
static unsigned long kvfs_nr_corrupt;
static __thread struct kvfs_report tl_last;
static __thread unsigned tl_muted;
static void (*report_sink)(const struct kvfs_report *r, void *priv);
static void *report_priv;

void kvfs_blkhdr_init(void *blk, uint32_t magic, uint64_t blkno, uint64_t owner,
		      const uint8_t *uuid)
{
	struct kvfs_blk_hdr *h = blk;

	h->magic = kv_cpu_to_le32(magic);
	h->crc = kv_cpu_to_le32(0);
	h->blkno = kv_cpu_to_le64(blkno);
	h->lsn = kv_cpu_to_le64(0);
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

int kvfs_report(const struct kvfs_report *r)
{
	void (*sink)(const struct kvfs_report *, void *);

	tl_last = *r;
	__atomic_fetch_add(&kvfs_nr_corrupt, 1, __ATOMIC_RELAXED);
	kv_bcache_count_report();
	sink = __atomic_load_n(&report_sink, __ATOMIC_ACQUIRE);
	if (sink && !tl_muted)
		sink(r, report_priv);
	return r->err;
}

void kvfs_report_mute(bool mute)
{
	if (mute)
		tl_muted++;
	else if (tl_muted)
		tl_muted--;
}

static int vreport(int err, uint64_t blkno, uint64_t ino, const char *what,
		   const char *fmt, va_list ap)
{
	struct kvfs_report r = { .err = err, .blkno = blkno, .ino = ino };

	snprintf(r.what, sizeof(r.what), "%s", what);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	return kvfs_report(&r);
}

int kvfs_corrupt(int err, uint64_t blkno, const char *what, const char *fmt,
		 ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = vreport(err, blkno, KVFS_NULLINO, what, fmt, ap);
	va_end(ap);
	return err;
}

int kvfs_corrupt_inode(int err, uint64_t blkno, uint64_t ino, const char *fmt,
		       ...)
{
	char what[32];
	va_list ap;

	snprintf(what, sizeof(what), "inode %" PRIu64, ino);
	va_start(ap, fmt);
	err = vreport(err, blkno, ino, what, fmt, ap);
	va_end(ap);
	return err;
}

const struct kvfs_report *kvfs_report_last(void)
{
	return &tl_last;
}

void kvfs_report_set_sink(void (*fn)(const struct kvfs_report *r, void *priv),
			  void *priv)
{
	report_priv = priv;
	__atomic_store_n(&report_sink, fn, __ATOMIC_RELEASE);
}

static const char *report_kind(const struct kvfs_report *r)
{
	return r->err == -EBADMSG ? "checksum error" :
	       r->err == -EUCLEAN ? "corruption" :
				    "refused";
}

void kvfs_report_format(const struct kvfs_report *r, char *buf, size_t len)
{
	if (r->blkno == KVFS_NULLBLOCK)
		snprintf(buf, len, "%s (%s): %s", report_kind(r), r->what,
			 r->msg);
	else
		snprintf(buf, len, "%s in block %" PRIu64 " (%s): %s",
			 report_kind(r), r->blkno, r->what, r->msg);
}

void kvfs_report_format_run(const struct kvfs_report *r, uint64_t n,
			    uint64_t last, char *buf, size_t len)
{
	if (n < 2) {
		kvfs_report_format(r, buf, len);
		return;
	}
	snprintf(buf, len,
		 "%s in %" PRIu64 " blocks, %" PRIu64 " to %" PRIu64
		 " (%s): %s",
		 report_kind(r), n, r->blkno, last, r->what, r->msg);
}

unsigned long kvfs_corrupt_count(void)
{
	return __atomic_load_n(&kvfs_nr_corrupt, __ATOMIC_RELAXED);
}

static int hdr_check(const void *blk, size_t len, uint32_t magic,
		     uint64_t blkno, uint64_t owner, uint64_t ino,
		     const uint8_t *uuid, const char *what)
{
	const struct kvfs_blk_hdr *h = blk;
	uint32_t stored = kv_le32_to_cpu(h->crc);
	uint32_t crc = kv_crc32c_block(blk, len, KVFS_BLK_CRC_OFF);
	uint32_t m = kv_le32_to_cpu(h->magic);
	char want[5], got[5], msg[160];
	int err = -EUCLEAN;

	kvfs_magic_str(magic, want);
	kvfs_magic_str(m, got);
	if (crc != stored && m != magic) {
		err = -EBADMSG;
		snprintf(msg, sizeof(msg),
			 "bad crc32c 0x%08x, computed 0x%08x; magic \"%s\", "
			 "expected \"%s\"",
			 stored, crc, got, want);
	} else if (crc != stored) {
		err = -EBADMSG;
		snprintf(msg, sizeof(msg), "bad crc32c 0x%08x, computed 0x%08x",
			 stored, crc);
	} else if (m != magic) {
		snprintf(msg, sizeof(msg),
			 "bad magic \"%s\" (0x%08x), expected \"%s\"", got, m,
			 want);
	} else if (kv_le64_to_cpu(h->blkno) != blkno) {
		snprintf(msg, sizeof(msg), "header names block %" PRIu64,
			 (uint64_t)kv_le64_to_cpu(h->blkno));
	} else if (kv_le64_to_cpu(h->owner) != owner) {
		snprintf(msg, sizeof(msg),
			 "owner %" PRIu64 ", expected %" PRIu64,
			 (uint64_t)kv_le64_to_cpu(h->owner), owner);
	} else if (uuid && memcmp(h->uuid, uuid, KVFS_UUID_SIZE)) {
		snprintf(msg, sizeof(msg),
			 "metadata UUID does not match the filesystem's");
	} else {
		return 0;
	}
	if (ino != KVFS_NULLINO)
		return kvfs_corrupt_inode(err, blkno, ino, "%s", msg);
	return kvfs_corrupt(err, blkno, what, "%s", msg);
}

int kvfs_blkhdr_verify(const void *blk, size_t len, uint32_t magic,
		       uint64_t blkno, uint64_t owner, const uint8_t *uuid,
		       const char *what)
{
	return hdr_check(blk, len, magic, blkno, owner, KVFS_NULLINO, uuid,
			 what);
}

int kvfs_blkhdr_verify_inode(const void *dip, size_t len, uint64_t blkno,
			     uint64_t ino, const uint8_t *uuid)
{
	return hdr_check(dip, len, KVFS_DINODE_MAGIC, blkno, ino, ino, uuid,
			 NULL);
}

int kvfs_blkhdr_check_lsn(const void *blk, uint64_t blkno, uint64_t ino,
			  const char *what, uint64_t head)
{
	const struct kvfs_blk_hdr *h = blk;
	uint64_t lsn = kv_le64_to_cpu(h->lsn);
	char msg[96];

	if (!head || lsn < head)
		return 0;
	snprintf(msg, sizeof(msg), "LSN %u/%u ahead of the log (head %u/%u)",
		 KVJ_LSN_CYCLE(lsn), KVJ_LSN_BLOCK(lsn), KVJ_LSN_CYCLE(head),
		 KVJ_LSN_BLOCK(head));
	if (ino != KVFS_NULLINO)
		return kvfs_corrupt_inode(-EUCLEAN, blkno, ino, "%s", msg);
	return kvfs_corrupt(-EUCLEAN, blkno, what, "%s", msg);
}
