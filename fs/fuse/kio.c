// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's reads and writes of /dev/fuse (fs/fuse/kio.h).
 */
#include "fs/fuse/kio.h"

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>
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

static ssize_t kio_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fuse_in_header in;
	ssize_t n = read(fd, buf, len);
	uint32_t v;

	(void)userdata;
	req_kill = false;
	if (n < (ssize_t)sizeof(in))
		return n;
	memcpy(&in, buf, sizeof(in));
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
	if (!__atomic_load_n(&init_seen, __ATOMIC_ACQUIRE) || count != 2 || iov[0].iov_len != sizeof(out) ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags) +
				     sizeof(flags))
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

bool kvfs_fuse_kio_killpriv_v2(void)
{
	return __atomic_load_n(&v2_taken, __ATOMIC_RELAXED);
}
