// SPDX-License-Identifier: GPL-2.0
/*
 * Multi-block buffers (16 blocks of 4 KiB, a 64 KiB directory block): with
 * the arena fragmented into isolated free pages, their memory must come
 * from the vmap fallback; verification covers the whole buffer; write-back
 * and re-read from a fresh cache give the same bytes.
 */
#include "tests/buf/buf_util.h"

#define BS 4096u
#define NB 16u
#define NBUF 24u

/* Take every free page, then give back every other one. */
static void **fragment(size_t *nr)
{
	size_t cap = 16384, n = 0;
	void **pages = malloc(cap * sizeof(*pages));
	void *p;

	CHECK(pages);
	while (n < cap && (p = kv_alloc_pages(0, KV_NORETRY | KV_NOWARN)))
		pages[n++] = p;
	CHECK(n > 1024);
	for (size_t i = 0; i < n; i += 2) {
		kv_free_pages(pages[i], 0);
		pages[i] = NULL;
	}
	*nr = n;
	return pages;
}

int main(void)
{
	struct kv_config cfg = { .budget_bytes = 16u << 20 };
	struct kv_bcache *bc;
	struct kv_bcache_stats st;
	struct kv_stats ks;
	struct kv_dev *dev;
	struct kv_buf *bp;
	char path[256];
	void **pages;
	size_t npages;
	unsigned vmapped = 0;
	uint8_t *copy = malloc((size_t)NBUF * NB * BS);

	CHECK(copy);
	CHECK_EQ(kv_init(&cfg), 0);
	tb_make_image(path, sizeof(path), (uint64_t)(NBUF + 1) * NB * BS);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_bcache_create(dev, BS, 0, &bc), 0);

	pages = fragment(&npages);
	for (unsigned i = 0; i < NBUF; i++) {
		uint64_t blk = (uint64_t)i * NB;

		CHECK_EQ(kv_buf_get(bc, blk, NB, &tb_ops, &bp), 0);
		CHECK_EQ(bp->b_len, NB * BS);
		if (kv_is_vmap(bp->b_addr))
			vmapped++;
		kv_buf_lock(bp);
		tb_fill(bp->b_addr, bp->b_len, blk, 6);
		bp->b_lsn = 77;
		kv_buf_mark_dirty(bp);
		CHECK_EQ(kv_buf_write(bp), 0);
		memcpy(copy + (size_t)i * NB * BS, bp->b_addr, bp->b_len);
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
	kv_stats(&ks);
	CHECK_EQ(vmapped, NBUF);
	CHECK(ks.vmap_fallbacks >= NBUF);
	CHECK_EQ(kv_bcache_flush(bc), 0);
	kv_bcache_destroy(bc);
	for (size_t i = 1; i < npages; i += 2)
		kv_free_pages(pages[i], 0);
	free(pages);

	/* a fresh cache reads the same bytes back, verified whole */
	CHECK_EQ(kv_bcache_create(dev, BS, 0, &bc), 0);
	for (unsigned i = 0; i < NBUF; i++) {
		uint64_t blk = (uint64_t)i * NB;

		CHECK_EQ(kv_buf_read(bc, blk, NB, &tb_ops, &bp), 0);
		CHECK(memcmp(bp->b_addr, copy + (size_t)i * NB * BS,
			     bp->b_len) == 0);
		CHECK(tb_payload_ok(bp->b_addr, bp->b_len, blk, 6));
		CHECK_EQ(kv_le64_to_cpu(
				 ((struct kvfs_blk_hdr *)bp->b_addr)->lsn),
			 77);
		kv_buf_rele(bp);
	}
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.reads, NBUF);
	CHECK_EQ(st.bytes_cached, (uint64_t)NBUF * NB * BS);

	/* corruption in the last block of a multi-block buffer is caught */
	{
		uint8_t b = 0;
		uint64_t off = (uint64_t)(NB - 1) * BS + 123 + NB * BS;

		CHECK_EQ(kv_dev_pread(dev, &b, 1, off), 0);
		b ^= 0x40;
		CHECK_EQ(kv_dev_pwrite(dev, &b, 1, off), 0);
	}
	kv_bcache_destroy(bc);
	CHECK_EQ(kv_bcache_create(dev, BS, 0, &bc), 0);
	CHECK_EQ(kv_buf_read(bc, NB, NB, &tb_ops, &bp), -EBADMSG);
	CHECK_EQ(kv_buf_read(bc, 0, NB, &tb_ops, &bp), 0);
	kv_buf_rele(bp);
	kv_bcache_destroy(bc);

	kv_dev_close(dev);
	unlink(path);
	kv_fini();
	free(copy);
	return 0;
}
