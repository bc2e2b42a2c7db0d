// SPDX-License-Identifier: GPL-2.0
/*
 * zstd glue: compression and decompression contexts whose memory comes from
 * kvmalloc (zstd's custom allocator), so the budget is real.  One context
 * pair per log; the push lock (compression) and recovery (decompression)
 * serialise their use.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <errno.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "journal/log_priv.h"

/*
 * zstd's fastest strategy with its first acceleration step: on checkpoint
 * streams (mostly zeros: whole new blocks, inode cores) it compresses as
 * well as level 1 (17.8x on a create run's 8 MiB checkpoint) for 13%
 * fewer instructions, and compression is nearly all of a push's CPU.
 */
#define KVJ_ZSTD_LEVEL (-1)

struct kvj_zstd {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

/*
 * zstd reports a failed allocation as an error its callers handle (a
 * checkpoint goes out uncompressed; recovery fails with -ENOMEM): no
 * warning from the allocator on top.
 */
static void *zstd_alloc(void *opaque, size_t size)
{
	(void)opaque;
	return kvmalloc(size, KV_NOWARN);
}

static void zstd_free(void *opaque, void *addr)
{
	(void)opaque;
	kvfree(addr);
}

static const ZSTD_customMem kvj_zstd_mem = {
	.customAlloc = zstd_alloc,
	.customFree = zstd_free,
	.opaque = NULL,
};

struct kvj_zstd *kvj_zstd_create(void)
{
	struct kvj_zstd *z = kvzalloc(sizeof(*z), 0);

	if (!z)
		return NULL;
	z->cctx = ZSTD_createCCtx_advanced(kvj_zstd_mem);
	z->dctx = ZSTD_createDCtx_advanced(kvj_zstd_mem);
	if (!z->cctx || !z->dctx) {
		kvj_zstd_destroy(z);
		return NULL;
	}
	return z;
}

void kvj_zstd_destroy(struct kvj_zstd *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	kvfree(z);
}

/*
 * A whole frame of len bytes into dst; the stream a push writes may be
 * several frames one after another, which one ZSTD_decompressDCtx() call
 * decompresses whole.
 */
int kvj_zstd_compress(struct kvj_zstd *z, void *dst, size_t cap, size_t *pos,
		      const void *src, size_t len)
{
	size_t r = ZSTD_compressCCtx(z->cctx, (uint8_t *)dst + *pos, cap - *pos,
				     src, len, KVJ_ZSTD_LEVEL);

	if (ZSTD_isError(r))
		return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ?
			       -ENOMEM :
			       -ENOSPC;
	*pos += r;
	return 0;
}

int kvj_zstd_decompress(struct kvj_zstd *z, void *dst, size_t cap,
			const void *src, size_t len)
{
	size_t r = ZSTD_decompressDCtx(z->dctx, dst, cap, src, len);

	if (ZSTD_isError(r) || r != cap)
		return -EBADMSG;
	return 0;
}
