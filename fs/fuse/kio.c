// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's reads and writes of /dev/fuse (fs/fuse/kio.h).
 */
#include "fs/fuse/kio.h"

#include <linux/fuse.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * The INIT request: its unique id and whether the kernel offered V2, for
 * the thread that answers it; init_seen is read by every reply.
 */
static uint64_t init_unique;
static bool init_seen, init_offers_v2, v2_taken;

static __thread bool req_kill;

/* A field of a request's argument, if the request is that long. */
static bool arg_u32(const char *buf, ssize_t n, size_t off, uint32_t *v)
{
	off += sizeof(struct fuse_in_header);
	if ((size_t)n < off + sizeof(*v))
		return false;
	memcpy(v, buf + off, sizeof(*v));
	return true;
}

/*
 * A request's first WRITE_HDR bytes go to libfuse's buffer, the rest to
 * the thread's data buffer: a WRITE's data then starts on a page of its
 * own.  Read after a header in libfuse's buffer it started 96 bytes into a
 * page: the kernel copied each page of it in two pieces, pinning two user
 * pages (get_user_pages) for each, and the dio path (fs/io/dev.c) copied
 * it once more into an aligned bounce buffer.
 * Any other request's rest is copied back behind its header (small: only
 * WRITE carries much).
 */
#define WRITE_HDR (sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in))
/* not a huge page: a thread touches only what its requests filled */
#define DATA_ALIGN 4096u

static pthread_key_t data_key;
static pthread_once_t data_once = PTHREAD_ONCE_INIT;
static bool data_key_ok;

static __thread void *data_buf;
static __thread size_t data_size;
/* the WRITE this thread handles: where libfuse sees its data, how long */
static __thread const void *wdata_at;
static __thread size_t wdata_len;

static void data_key_init(void)
{
	data_key_ok = !pthread_key_create(&data_key, free);
}

/* The thread's data buffer of at least size bytes, or NULL. */
static void *data_get(size_t size)
{
	size_t want = (size + DATA_ALIGN - 1) & ~(size_t)(DATA_ALIGN - 1);
	void *b;

	if (data_buf && data_size >= size)
		return data_buf;
	pthread_once(&data_once, data_key_init);
	if (!data_key_ok)
		return NULL;
	b = aligned_alloc(DATA_ALIGN, want);
	if (!b || pthread_setspecific(data_key, b)) {
		free(b);
		return NULL;
	}
	free(data_buf);
	data_buf = b;
	data_size = want;
	return b;
}

static ssize_t kio_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fuse_in_header in;
	struct iovec iov[2];
	ssize_t n;
	uint32_t v;

	(void)userdata;
	req_kill = false;
	wdata_at = NULL;
	iov[0].iov_base = buf;
	iov[0].iov_len = WRITE_HDR;
	iov[1].iov_len = len > WRITE_HDR ? len - WRITE_HDR : 0;
	iov[1].iov_base = iov[1].iov_len ? data_get(iov[1].iov_len) : NULL;
	n = iov[1].iov_base ? readv(fd, iov, 2) : read(fd, buf, len);
	if (n < (ssize_t)sizeof(in))
		return n;
	memcpy(&in, buf, sizeof(in));
	if (iov[1].iov_base && n > (ssize_t)WRITE_HDR) {
		if (in.opcode == FUSE_WRITE) {
			wdata_at = (char *)buf + WRITE_HDR;
			wdata_len = (size_t)n - WRITE_HDR;
		} else {
			memcpy((char *)buf + WRITE_HDR, iov[1].iov_base,
			       (size_t)n - WRITE_HDR);
		}
	}
	switch (in.opcode) {
	case FUSE_WRITE:
		req_kill = arg_u32(buf, n,
				   offsetof(struct fuse_write_in, write_flags),
				   &v) &&
			   (v & FUSE_WRITE_KILL_SUIDGID);
		break;
	case FUSE_SETATTR:
		req_kill = arg_u32(buf, n, offsetof(struct fuse_setattr_in, valid),
				   &v) &&
			   (v & FATTR_KILL_SUIDGID);
		break;
	case FUSE_INIT:
		init_offers_v2 =
			arg_u32(buf, n, offsetof(struct fuse_init_in, flags),
				&v) &&
			(v & FUSE_HANDLE_KILLPRIV_V2);
		init_unique = in.unique;
		__atomic_store_n(&init_seen, true, __ATOMIC_RELEASE);
		break;
	}
	return n;
}

/* The INIT reply takes V2 when the kernel offered it. */
static ssize_t kio_writev(int fd, struct iovec *iov, int count,
			  void *userdata)
{
	struct fuse_out_header out;
	struct fuse_init_out arg;
	struct iovec io[2];
	uint32_t flags;

	(void)userdata;
	if (!__atomic_load_n(&init_seen, __ATOMIC_ACQUIRE) || count != 2 ||
	    iov[0].iov_len != sizeof(out) ||
	    iov[1].iov_len <
		    offsetof(struct fuse_init_out, flags) + sizeof(flags))
		return writev(fd, iov, count);
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (out.unique != init_unique)
		return writev(fd, iov, count);
	__atomic_store_n(&init_seen, false, __ATOMIC_RELAXED);
	if (out.error || !init_offers_v2 ||
	    iov[1].iov_len > sizeof(arg))
		return writev(fd, iov, count);
	memcpy(&arg, iov[1].iov_base, iov[1].iov_len);
	arg.flags |= FUSE_HANDLE_KILLPRIV_V2;
	io[0] = iov[0];
	io[1].iov_base = &arg;
	io[1].iov_len = iov[1].iov_len;
	__atomic_store_n(&v2_taken, true, __ATOMIC_RELAXED);
	return writev(fd, io, 2);
}

int kvfs_fuse_kio_attach(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = kio_read,
		.writev = kio_writev,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se)) ? -1 : 0;
}

bool kvfs_fuse_kio_kill_suidgid(void)
{
	return req_kill;
}

const void *kvfs_fuse_kio_write_data(const void *mem, size_t len)
{
	if (!wdata_at)
		return mem;
	/* libfuse's buffer holds no data behind a WRITE's header */
	return mem == wdata_at && len <= wdata_len ? data_buf : NULL;
}

bool kvfs_fuse_kio_killpriv_v2(void)
{
	return __atomic_load_n(&v2_taken, __ATOMIC_RELAXED);
}
