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
	/*
	 * A frame's output goes to one buffer of ZSTD_compressBound() bytes:
	 * zstd writes it in place instead of through its own buffer.
	 */
	if (!z->cctx || !z->dctx ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(
		    z->cctx, ZSTD_c_compressionLevel, KVJ_ZSTD_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_stableOutBuffer,
						1))) {
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

size_t kvj_zstd_bound(size_t len)
{
	return ZSTD_compressBound(len);
}

static int zstd_errno(size_t r)
{
	return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM :
								      -EIO;
}

/*
 * The pledged length puts it in the frame header and sizes the window as
 * a one-shot compression of the same bytes would.
 */
int kvj_zstd_begin(struct kvj_zstd *z, size_t len)
{
	size_t r = ZSTD_CCtx_reset(z->cctx, ZSTD_reset_session_only);

	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setPledgedSrcSize(z->cctx, len);
	return ZSTD_isError(r) ? zstd_errno(r) : 0;
}

int kvj_zstd_stream(struct kvj_zstd *z, void *dst, size_t cap, size_t *pos,
		    const void *src, size_t len, bool end)
{
	ZSTD_outBuffer out = { .dst = dst, .size = cap, .pos = *pos };
	ZSTD_inBuffer in = { .src = src, .size = len, .pos = 0 };
	size_t r;

	do {
		size_t before = in.pos + out.pos;

		r = ZSTD_compressStream2(z->cctx, &out, &in,
					 end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(r))
			return zstd_errno(r);
		/* cap is the bound: no progress would be a zstd bug */
		if (in.pos + out.pos == before)
			return -EIO;
	} while (in.pos < in.size || (end && r));
	*pos = out.pos;
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
