// SPDX-License-Identifier: GPL-2.0
/*
 * The device layer over an image file or a block device, with the
 * fault-injection modes described in fs/io/dev.h.
 *
 * Locking: dev->lock (a plain pthread mutex, a leaf: nothing is taken under
 * it) protects the fault configuration, the crashed state, the volatile
 * overlay and the sector versions.  Without fault injection the I/O paths take
 * no lock at all: pread/pwrite on one descriptor are thread-safe and the write
 * counter is atomic.  With fault injection every write (and every read while
 * the overlay may hold data) runs under dev->lock, so that numbering a write
 * and deciding its fate is one step; that serialisation is acceptable in tests.
 *
 * KV_DEV_DIRECT: the O_DIRECT descriptor is only read (dfd) and, when a
 * write finds O_DIRECT refused, set to -1 for good; it stays open
 * (dfd_owned) until close, so that a write racing that store still
 * writes to an open file.  Each thread's bounce buffer is its own
 * (thread-specific data, freed at the thread's exit).
 *
 * Memory: the struct, the overlay, the sector versions and the bounce
 * buffers come from libc, not kvalloc.  The
 * overlay models the disk's own write cache: it is not the filesystem's
 * memory, must not be charged to its budget nor be reclaimable by it, and the
 * device must be usable by tools before or without kv_init().
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/io/dev.h"

/* Granule of the volatile overlay: a partially written page is read through. */
#define OVL_PAGE_SHIFT 12
#define OVL_PAGE_SIZE (1u << OVL_PAGE_SHIFT)
#define OVL_EMPTY UINT64_MAX
#define SEC_SHIFT 9
#define SEC_SIZE (1u << SEC_SHIFT)
#define CACHE_MODES (KV_FAULT_VOLATILE | KV_FAULT_SECTORS)

struct ovl_slot {
	uint64_t pgno;
	uint8_t *data;
};

/* Open-addressed hash of page number -> page copy; only ever cleared whole. */
struct ovl {
	struct ovl_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t nr;
};

/*
 * KV_FAULT_SECTORS: every state a sector went through since the last flush,
 * in write order, for the crash to pick one (or none: the media's).
 */
struct sec_hist {
	uint64_t secno;
	uint32_t nr, cap;
	uint8_t *vers; /* nr copies of SEC_SIZE bytes */
};

struct secs {
	struct sec_hist *h; /* in first-write order */
	size_t nr, cap;
	size_t *index; /* open-addressed: 1 + index into h, 0 if empty */
	size_t index_cap; /* power of two, or 0 */
};

struct kv_dev {
	int fd;
	/* KV_DEV_DIRECT: fd reopened O_DIRECT, -1 without or once refused */
	atomic_int dfd;
	int dfd_owned; /* the descriptor to close, whatever dfd became */
	bool bdev;
	bool rdonly;
	bool overlay; /* KV_DEV_OVERLAY: every write to ovl, for good */
	uint64_t size;
	char *path;
	atomic_uint_fast64_t nr_writes;
	atomic_uint_fast64_t nr_direct;
	atomic_bool faulty; /* any fault mode set: take the slow path */
	atomic_bool crashed;
	pthread_mutex_t lock;
	struct kv_dev_fault fault;
	struct ovl ovl;
	struct secs secs;
	int media_err; /* persisting a SECTORS choice failed: until reboot */
	kv_dev_read_watch_fn watch;
	void *watch_priv;
};

/*
 * Whole-length pread, pwrite, or with rwf pwritev2() with those flags
 * (RWF_DSYNC); short transfers are retried.
 */
static int io_full_rwf(int fd, void *buf, size_t len, uint64_t off, bool write,
		       int rwf)
{
	uint8_t *p = buf;

	while (len) {
		struct iovec iov = { .iov_base = p, .iov_len = len };
		ssize_t n = !write ? pread(fd, p, len, (off_t)off) :
			    rwf	   ? pwritev2(fd, &iov, 1, (off_t)off, rwf) :
				     pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return write ? -ENOSPC : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int io_full(int fd, void *buf, size_t len, uint64_t off, bool write)
{
	return io_full_rwf(fd, buf, len, off, write, 0);
}

static bool in_range(const struct kv_dev *dev, size_t len, uint64_t off)
{
	return off <= dev->size && len <= dev->size - off;
}

/*
 * The same open file again, O_DIRECT (by /proc/self/fd: the very inode,
 * whatever its path became); -1 where the kernel or /proc refuses.
 */
static int open_direct(int fd)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
}

int kv_dev_open(const char *path, unsigned flags, struct kv_dev **devp)
{
	int oflags =
		(flags & (KV_DEV_RDONLY | KV_DEV_OVERLAY) ? O_RDONLY : O_RDWR) |
		O_CLOEXEC;
	struct kv_dev *dev;
	struct stat st;
	int err;

	*devp = NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->path = strdup(path);
	if (!dev->path) {
		err = -ENOMEM;
		goto out_free;
	}
	dev->fd = open(path, oflags);
	if (dev->fd < 0) {
		err = -errno;
		goto out_path;
	}
	if (fstat(dev->fd, &st) < 0) {
		err = -errno;
		goto out_close;
	}
	if (S_ISBLK(st.st_mode)) {
		dev->bdev = true;
		if (flags & KV_DEV_EXCL) {
			/* O_EXCL without O_CREAT: exclusive open of a bdev */
			int fd = open(path, oflags | O_EXCL);

			if (fd < 0) {
				err = -errno;
				goto out_close;
			}
			close(dev->fd);
			dev->fd = fd;
		}
		if (ioctl(dev->fd, BLKGETSIZE64, &dev->size) < 0) {
			err = -errno;
			goto out_close;
		}
	} else if (S_ISREG(st.st_mode)) {
		dev->size = (uint64_t)st.st_size;
	} else {
		err = -EINVAL;
		goto out_close;
	}
	dev->overlay = flags & KV_DEV_OVERLAY;
	dev->rdonly = (flags & KV_DEV_RDONLY) && !dev->overlay;
	dev->dfd_owned = -1;
	if (flags & KV_DEV_DIRECT &&
	    !(flags & (KV_DEV_RDONLY | KV_DEV_OVERLAY)))
		dev->dfd_owned = open_direct(dev->fd);
	atomic_init(&dev->dfd, dev->dfd_owned);
	/* the slow paths read through the overlay */
	atomic_store(&dev->faulty, dev->overlay);
	pthread_mutex_init(&dev->lock, NULL);
	*devp = dev;
	return 0;

out_close:
	close(dev->fd);
out_path:
	free(dev->path);
out_free:
	free(dev);
	return err;
}

static void ovl_clear(struct ovl *o)
{
	for (size_t i = 0; i < o->cap; i++)
		free(o->slots[i].data);
	free(o->slots);
	memset(o, 0, sizeof(*o));
}

static void secs_clear(struct secs *s)
{
	for (size_t i = 0; i < s->nr; i++)
		free(s->h[i].vers);
	free(s->h);
	free(s->index);
	memset(s, 0, sizeof(*s));
}

/* Drop the volatile cache, as a power loss does. */
static void cache_drop(struct kv_dev *dev)
{
	ovl_clear(&dev->ovl);
	secs_clear(&dev->secs);
}

void kv_dev_close(struct kv_dev *dev)
{
	if (!dev)
		return;
	/* an unflushed volatile cache is lost, as on a real power-off */
	cache_drop(dev);
	pthread_mutex_destroy(&dev->lock);
	if (dev->dfd_owned >= 0)
		close(dev->dfd_owned);
	close(dev->fd);
	free(dev->path);
	free(dev);
}

static size_t ovl_hash(uint64_t pgno, size_t cap)
{
	return (size_t)((pgno * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static uint8_t *ovl_find(const struct ovl *o, uint64_t pgno)
{
	if (!o->cap)
		return NULL;
	for (size_t i = ovl_hash(pgno, o->cap);; i = (i + 1) & (o->cap - 1)) {
		if (o->slots[i].pgno == pgno)
			return o->slots[i].data;
		if (o->slots[i].pgno == OVL_EMPTY)
			return NULL;
	}
}

static void ovl_place(struct ovl_slot *slots, size_t cap, uint64_t pgno,
		      uint8_t *data)
{
	size_t i = ovl_hash(pgno, cap);

	while (slots[i].pgno != OVL_EMPTY)
		i = (i + 1) & (cap - 1);
	slots[i].pgno = pgno;
	slots[i].data = data;
}

/* An empty slot table of cap slots, or NULL. */
static struct ovl_slot *ovl_slots_alloc(size_t cap)
{
	struct ovl_slot *slots = malloc(cap * sizeof(*slots));

	for (size_t i = 0; slots && i < cap; i++) {
		slots[i].pgno = OVL_EMPTY;
		slots[i].data = NULL;
	}
	return slots;
}

static int ovl_grow(struct ovl *o)
{
	size_t cap = o->cap ? o->cap * 2 : 256;
	struct ovl_slot *slots = ovl_slots_alloc(cap);

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < o->cap; i++)
		if (o->slots[i].pgno != OVL_EMPTY)
			ovl_place(slots, cap, o->slots[i].pgno,
				  o->slots[i].data);
	free(o->slots);
	o->slots = slots;
	o->cap = cap;
	return 0;
}

/* Bytes of page pgno that lie inside the device. */
static size_t page_len(const struct kv_dev *dev, uint64_t pgno)
{
	uint64_t start = pgno << OVL_PAGE_SHIFT;
	uint64_t left = dev->size - start;

	return left < OVL_PAGE_SIZE ? (size_t)left : OVL_PAGE_SIZE;
}

/*
 * The overlay copy of page pgno, created on first use: read through from
 * the media unless the caller is about to overwrite all of it.
 */
static int ovl_get(struct kv_dev *dev, uint64_t pgno, bool whole,
		   uint8_t **datap)
{
	struct ovl *o = &dev->ovl;
	uint8_t *data = ovl_find(o, pgno);
	int err;

	if (data) {
		*datap = data;
		return 0;
	}
	if ((o->nr + 1) * 2 > o->cap) {
		err = ovl_grow(o);
		if (err)
			return err;
	}
	data = calloc(1, OVL_PAGE_SIZE);
	if (!data)
		return -ENOMEM;
	if (!whole) {
		err = io_full(dev->fd, data, page_len(dev, pgno),
			      pgno << OVL_PAGE_SHIFT, false);
		if (err) {
			free(data);
			return err;
		}
	}
	ovl_place(o->slots, o->cap, pgno, data);
	o->nr++;
	*datap = data;
	return 0;
}

static int ovl_write(struct kv_dev *dev, const uint8_t *buf, size_t len,
		     uint64_t off)
{
	while (len) {
		uint64_t pgno = off >> OVL_PAGE_SHIFT;
		size_t in = (size_t)(off & (OVL_PAGE_SIZE - 1));
		size_t plen = page_len(dev, pgno);
		size_t n = plen - in < len ? plen - in : len;
		uint8_t *data;
		int err;

		err = ovl_get(dev, pgno, in == 0 && n == plen, &data);
		if (err)
			return err;
		memcpy(data + in, buf, n);
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* Lay the overlay's copies over what was read from the media. */
static void ovl_read(const struct kv_dev *dev, uint8_t *buf, size_t len,
		     uint64_t off)
{
	while (len) {
		uint64_t pgno = off >> OVL_PAGE_SHIFT;
		size_t in = (size_t)(off & (OVL_PAGE_SIZE - 1));
		size_t plen = page_len(dev, pgno);
		size_t n = plen - in < len ? plen - in : len;
		const uint8_t *data = ovl_find(&dev->ovl, pgno);

		if (data)
			memcpy(buf, data + in, n);
		buf += n;
		len -= n;
		off += n;
	}
}

/* Apply the overlay to the media; the overlay is emptied only on success. */
static int ovl_apply(struct kv_dev *dev)
{
	struct ovl *o = &dev->ovl;

	for (size_t i = 0; i < o->cap; i++) {
		uint64_t pgno = o->slots[i].pgno;
		int err;

		if (pgno == OVL_EMPTY)
			continue;
		err = io_full(dev->fd, o->slots[i].data, page_len(dev, pgno),
			      pgno << OVL_PAGE_SHIFT, true);
		if (err)
			return err;
	}
	cache_drop(dev);
	return 0;
}

/* Index every history of s in the empty index of cap slots. */
static void secs_index_fill(const struct secs *s, size_t *index, size_t cap)
{
	for (size_t i = 0; i < s->nr; i++) {
		size_t j = ovl_hash(s->h[i].secno, cap);

		while (index[j])
			j = (j + 1) & (cap - 1);
		index[j] = i + 1;
	}
}

/*
 * Make the overlay's bytes in [off, off + len) durable (both sector
 * aligned): written to the media, their sectors' histories dropped.  A
 * page wholly inside leaves the overlay; a page across an end stays for
 * its bytes outside, still volatile.  Nothing changes unless every write
 * succeeded.
 */
static int ovl_apply_range(struct kv_dev *dev, uint64_t off, uint64_t len)
{
	struct ovl *o = &dev->ovl;
	struct secs *s = &dev->secs;
	uint64_t end = off + len;
	struct ovl_slot *slots;
	size_t i, j;
	int err;

	if (!o->nr)
		return 0;
	slots = ovl_slots_alloc(o->cap);
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < o->cap; i++) {
		uint64_t start = o->slots[i].pgno << OVL_PAGE_SHIFT;
		uint64_t lo, hi;

		if (o->slots[i].pgno == OVL_EMPTY)
			continue;
		lo = start > off ? start : off;
		hi = start + page_len(dev, o->slots[i].pgno);
		hi = hi < end ? hi : end;
		if (lo >= hi)
			continue;
		err = io_full(dev->fd, o->slots[i].data + (lo - start),
			      (size_t)(hi - lo), lo, true);
		if (err) {
			free(slots);
			return err;
		}
	}
	for (i = 0; i < o->cap; i++) {
		uint64_t pgno = o->slots[i].pgno;
		uint64_t start = pgno << OVL_PAGE_SHIFT;

		if (pgno == OVL_EMPTY)
			continue;
		if (start >= off && start + page_len(dev, pgno) <= end) {
			free(o->slots[i].data);
			o->nr--;
			continue;
		}
		ovl_place(slots, o->cap, pgno, o->slots[i].data);
	}
	free(o->slots);
	o->slots = slots;

	/* the sectors inside are the media's now; the rest keep their order */
	for (i = j = 0; i < s->nr; i++) {
		uint64_t sec = s->h[i].secno << SEC_SHIFT;

		if (sec >= off && sec + SEC_SIZE <= end) {
			free(s->h[i].vers);
			continue;
		}
		s->h[j++] = s->h[i];
	}
	s->nr = j;
	if (s->index_cap) {
		memset(s->index, 0, s->index_cap * sizeof(*s->index));
		secs_index_fill(s, s->index, s->index_cap);
	}
	return 0;
}

static int secs_index_grow(struct secs *s)
{
	size_t cap = s->index_cap ? s->index_cap * 2 : 256;
	size_t *index = calloc(cap, sizeof(*index));

	if (!index)
		return -ENOMEM;
	secs_index_fill(s, index, cap);
	free(s->index);
	s->index = index;
	s->index_cap = cap;
	return 0;
}

/* The history of sector secno, created empty on its first write. */
static int secs_get(struct secs *s, uint64_t secno, struct sec_hist **hp)
{
	size_t j;
	int err;

	if ((s->nr + 1) * 2 > s->index_cap) {
		err = secs_index_grow(s);
		if (err)
			return err;
	}
	for (j = ovl_hash(secno, s->index_cap); s->index[j];
	     j = (j + 1) & (s->index_cap - 1)) {
		if (s->h[s->index[j] - 1].secno == secno) {
			*hp = &s->h[s->index[j] - 1];
			return 0;
		}
	}
	if (s->nr == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct sec_hist *h = realloc(s->h, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		s->h = h;
		s->cap = cap;
	}
	s->index[j] = s->nr + 1;
	*hp = &s->h[s->nr++];
	memset(*hp, 0, sizeof(**hp));
	(*hp)->secno = secno;
	return 0;
}

/* After a write to [off, off + len): append its sectors' new states. */
static int secs_record(struct kv_dev *dev, uint64_t off, size_t len)
{
	uint64_t sn, last = (off + len - 1) >> SEC_SHIFT;

	if (!len)
		return 0;
	for (sn = off >> SEC_SHIFT; sn <= last; sn++) {
		uint64_t start = sn << SEC_SHIFT;
		/* the overlay holds the sector's whole current state */
		const uint8_t *page =
			ovl_find(&dev->ovl, start >> OVL_PAGE_SHIFT);
		struct sec_hist *h;
		int err;

		err = secs_get(&dev->secs, sn, &h);
		if (err)
			return err;
		if (h->nr == h->cap) {
			uint32_t cap = h->cap ? h->cap * 2 : 2;
			uint8_t *vers =
				realloc(h->vers, (size_t)cap * SEC_SIZE);

			if (!vers)
				return -ENOMEM;
			h->vers = vers;
			h->cap = cap;
		}
		memcpy(h->vers + (size_t)h->nr * SEC_SIZE,
		       page + (start & (OVL_PAGE_SIZE - 1)), SEC_SIZE);
		h->nr++;
	}
	return 0;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * The crash under KV_FAULT_SECTORS: each sector written since the last
 * flush keeps the media's state (pick 0) or its state after its pick-th
 * write, drawn from the seed, the sector and its number of writes only, so
 * that the outcome does not depend on how the cache happens to be laid out.
 * The history is dropped; the overlay stays for the dead machine's reads
 * until the power fails, as under VOLATILE.
 */
static int secs_resolve(struct kv_dev *dev)
{
	const struct secs *s = &dev->secs;
	int err = 0;

	for (size_t i = 0; i < s->nr && !err; i++) {
		const struct sec_hist *h = &s->h[i];
		uint64_t x = mix64(dev->fault.seed +
				   0x9e3779b97f4a7c15ull * (h->secno + 1));
		uint64_t pick = mix64(x ^ h->nr) % (h->nr + 1);
		uint64_t start = h->secno << SEC_SHIFT;
		uint64_t left = dev->size - start;

		if (pick)
			err = io_full(dev->fd,
				      h->vers + (size_t)(pick - 1) * SEC_SIZE,
				      left < SEC_SIZE ? (size_t)left : SEC_SIZE,
				      start, true);
	}
	secs_clear(&dev->secs);
	return err;
}

int kv_dev_pread(struct kv_dev *dev, void *buf, size_t len, uint64_t off)
{
	int err;

	if (!in_range(dev, len, off))
		return -EINVAL;
	if (!atomic_load_explicit(&dev->faulty, memory_order_acquire)) {
		err = io_full(dev->fd, buf, len, off, false);
	} else {
		pthread_mutex_lock(&dev->lock);
		err = dev->media_err;
		if (!err)
			err = io_full(dev->fd, buf, len, off, false);
		if (!err && dev->ovl.nr)
			ovl_read(dev, buf, len, off);
		pthread_mutex_unlock(&dev->lock);
	}
	if (!err && dev->watch)
		dev->watch(dev->watch_priv, buf, len, off);
	return err;
}

void kv_dev_set_read_watch(struct kv_dev *dev, kv_dev_read_watch_fn fn,
			   void *priv)
{
	dev->watch = fn;
	dev->watch_priv = priv;
}

/* A write under fault injection; dev->lock held. */
static int fault_write(struct kv_dev *dev, const void *buf, size_t len,
		       uint64_t off, uint64_t nr)
{
	const struct kv_dev_fault *f = &dev->fault;
	int err;

	if (atomic_load(&dev->crashed))
		return f->modes & KV_FAULT_DEAD_EIO ? -EIO : 0;
	if ((f->modes & KV_FAULT_FAIL_WRITE) && nr == f->fail_write)
		return -EIO;
	if ((f->modes & KV_FAULT_TEAR) && nr == f->tear_write) {
		len = (len / 2) & ~(size_t)511;
		atomic_store(&dev->crashed, true);
	}
	if ((f->modes & KV_FAULT_CRASH) && nr >= f->crash_after)
		atomic_store(&dev->crashed, true);
	if (!(f->modes & CACHE_MODES))
		return io_full(dev->fd, (void *)buf, len, off, true);
	err = ovl_write(dev, buf, len, off);
	if (!err && (f->modes & KV_FAULT_SECTORS)) {
		err = secs_record(dev, off, len);
		/* this write was the last: the media keeps what it keeps */
		if (!err && atomic_load(&dev->crashed))
			dev->media_err = secs_resolve(dev);
	}
	return err;
}

static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;

static void bounce_key_init(void)
{
	/* without a key (no memory), unaligned buffers go buffered */
	if (pthread_key_create(&bounce_key, free))
		bounce_key = (pthread_key_t)-1;
}

/* The thread's KV_DEV_DIRECT_CHUNK-byte aligned buffer, or NULL. */
static void *bounce_buf(void)
{
	void *b;

	pthread_once(&bounce_once, bounce_key_init);
	if (bounce_key == (pthread_key_t)-1)
		return NULL;
	b = pthread_getspecific(bounce_key);
	if (b)
		return b;
	b = aligned_alloc(KV_DEV_DIRECT_ALIGN, KV_DEV_DIRECT_CHUNK);
	if (b && pthread_setspecific(bounce_key, b)) {
		free(b);
		b = NULL;
	}
	return b;
}

/*
 * Write through the O_DIRECT descriptor: 1 when written, 0 when the write
 * is for the buffered path (not eligible, no buffer, or O_DIRECT refused:
 * whatever reached the file already is written again, the same bytes),
 * or a negative errno.
 */
static int direct_write(struct kv_dev *dev, const uint8_t *buf, size_t len,
			uint64_t off)
{
	int fd = atomic_load_explicit(&dev->dfd, memory_order_relaxed);
	uint8_t *bounce = NULL;
	int err = 0;

	if (fd < 0 || len < KV_DEV_DIRECT_MIN ||
	    (len | off) & (KV_DEV_DIRECT_ALIGN - 1))
		return 0;
	if ((uintptr_t)buf & (KV_DEV_DIRECT_ALIGN - 1)) {
		bounce = bounce_buf();
		if (!bounce)
			return 0;
	}
	while (len && !err) {
		size_t n = bounce && len > KV_DEV_DIRECT_CHUNK ?
				   KV_DEV_DIRECT_CHUNK :
				   len;

		if (bounce)
			memcpy(bounce, buf, n);
		err = io_full(fd, bounce ? bounce : (uint8_t *)buf, n, off,
			      true);
		buf += n;
		off += n;
		len -= n;
	}
	if (err == -EINVAL) {
		/* the filesystem under wants another alignment: buffered */
		atomic_store(&dev->dfd, -1);
		return 0;
	}
	if (!err)
		atomic_fetch_add_explicit(&dev->nr_direct, 1,
					  memory_order_relaxed);
	return err ? err : 1;
}

int kv_dev_pwrite(struct kv_dev *dev, const void *buf, size_t len, uint64_t off)
{
	uint64_t nr;
	int err;

	if (dev->rdonly)
		return -EROFS;
	if (!in_range(dev, len, off))
		return -EINVAL;
	if (!atomic_load_explicit(&dev->faulty, memory_order_acquire)) {
		atomic_fetch_add_explicit(&dev->nr_writes, 1,
					  memory_order_relaxed);
		err = direct_write(dev, buf, len, off);
		if (err)
			return err < 0 ? err : 0;
		return io_full(dev->fd, (void *)buf, len, off, true);
	}

	pthread_mutex_lock(&dev->lock);
	nr = atomic_fetch_add(&dev->nr_writes, 1) + 1;
	err = dev->overlay ? ovl_write(dev, buf, len, off) :
			     fault_write(dev, buf, len, off, nr);
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int kv_dev_pwrite_durable(struct kv_dev *dev, const void *buf, size_t len,
			  uint64_t off, uint64_t range_off, uint64_t range_len)
{
	uint64_t nr;
	int err;

	if (dev->rdonly)
		return -EROFS;
	if (!in_range(dev, len, off) || !in_range(dev, range_len, range_off) ||
	    off < range_off || off + len > range_off + range_len ||
	    ((range_off | range_len) & (SEC_SIZE - 1)))
		return -EINVAL;
	if (!atomic_load_explicit(&dev->faulty, memory_order_acquire)) {
		atomic_fetch_add_explicit(&dev->nr_writes, 1,
					  memory_order_relaxed);
		/*
		 * The range's earlier writes reach the device, then this one,
		 * synchronous: written back with its range only, then the
		 * device cache flushed (vfs_fsync_range() in the host's write
		 * path), so what was written back before is durable with it
		 * and no other dirty page is written.
		 */
		if (sync_file_range(dev->fd, (off_t)range_off, (off_t)range_len,
				    SYNC_FILE_RANGE_WAIT_BEFORE |
					    SYNC_FILE_RANGE_WRITE |
					    SYNC_FILE_RANGE_WAIT_AFTER) < 0)
			err = -errno;
		else
			err = io_full_rwf(dev->fd, (void *)buf, len, off, true,
					  RWF_DSYNC);
		if (err != -EINVAL && err != -ENOSYS && err != -ESPIPE &&
		    err != -EOPNOTSUPP)
			return err;
		/* a host without one of them: the whole device flushed */
		err = io_full(dev->fd, (void *)buf, len, off, true);
		if (!err && fdatasync(dev->fd) < 0)
			err = -errno;
		return err;
	}
	pthread_mutex_lock(&dev->lock);
	nr = atomic_fetch_add(&dev->nr_writes, 1) + 1;
	if (dev->overlay) {
		/* flushes write nothing to the media of an overlay */
		err = ovl_write(dev, buf, len, off);
	} else {
		err = fault_write(dev, buf, len, off, nr);
		if (!err && !atomic_load(&dev->crashed) &&
		    (dev->fault.modes & CACHE_MODES))
			err = ovl_apply_range(dev, range_off, range_len);
	}
	pthread_mutex_unlock(&dev->lock);
	return err;
}

/*
 * Under fault injection the flush is simulated: the overlay is applied and
 * the page cache of the scratch image stands for the media, so there is no
 * fdatasync (crash tests flush thousands of times).
 */
int kv_dev_flush(struct kv_dev *dev)
{
	int err;

	if (dev->overlay)
		return 0;
	if (atomic_load_explicit(&dev->faulty, memory_order_acquire)) {
		pthread_mutex_lock(&dev->lock);
		/* a dead machine flushes nothing */
		err = !atomic_load(&dev->crashed)	   ? ovl_apply(dev) :
		      dev->fault.modes & KV_FAULT_DEAD_EIO ? -EIO :
							     0;
		pthread_mutex_unlock(&dev->lock);
		return err;
	}
	if (dev->rdonly)
		return 0;
	return fdatasync(dev->fd) < 0 ? -errno : 0;
}

/*
 * Discard is advisory: the contents of a discarded range are unspecified
 * afterwards.  Under fault injection it does nothing, so that it cannot
 * reach the media ahead of unflushed or dropped writes.
 */
void kv_dev_willneed(struct kv_dev *dev, uint64_t off, uint64_t len)
{
	if (len && in_range(dev, len, off))
		(void)posix_fadvise(dev->fd, (off_t)off, (off_t)len,
				    POSIX_FADV_WILLNEED);
}

int kv_dev_discard(struct kv_dev *dev, uint64_t off, uint64_t len)
{
	if (dev->rdonly)
		return -EROFS;
	if (!in_range(dev, len, off))
		return -EINVAL;
	if (!len || atomic_load(&dev->faulty))
		return 0;
	if (dev->bdev) {
		uint64_t range[2] = { off, len };

		if (ioctl(dev->fd, BLKDISCARD, range) < 0)
			return errno == ENOTTY ? -EOPNOTSUPP : -errno;
		return 0;
	}
	if (fallocate(dev->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : -errno;
	return 0;
}

int kv_dev_reserve(struct kv_dev *dev, uint64_t off, uint64_t len)
{
	if (dev->rdonly)
		return -EROFS;
	if (!in_range(dev, len, off))
		return -EINVAL;
	if (!len || dev->bdev || atomic_load(&dev->faulty))
		return 0;
	if (fallocate(dev->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : -errno;
	return 0;
}

uint64_t kv_dev_size(const struct kv_dev *dev)
{
	return dev->size;
}

bool kv_dev_is_bdev(const struct kv_dev *dev)
{
	return dev->bdev;
}

bool kv_dev_rdonly(const struct kv_dev *dev)
{
	return dev->rdonly;
}

const char *kv_dev_path(const struct kv_dev *dev)
{
	return dev->path;
}

/* The kind of volatile cache modes ask for: SECTORS wins over VOLATILE. */
static unsigned cache_kind(unsigned modes)
{
	return modes & KV_FAULT_SECTORS ? KV_FAULT_SECTORS :
					  modes & KV_FAULT_VOLATILE;
}

int kv_dev_set_fault(struct kv_dev *dev, const struct kv_dev_fault *f)
{
	const unsigned all = KV_FAULT_FAIL_WRITE | KV_FAULT_CRASH |
			     KV_FAULT_VOLATILE | KV_FAULT_TEAR |
			     KV_FAULT_SECTORS | KV_FAULT_DEAD_EIO;
	int err = 0;

	if ((f->modes & ~all) || dev->overlay)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	if (atomic_load(&dev->crashed)) {
		/* a reboot: the crash lost the volatile cache */
		cache_drop(dev);
		atomic_store(&dev->crashed, false);
		err = dev->media_err;
		dev->media_err = 0;
	} else if (cache_kind(f->modes) != cache_kind(dev->fault.modes) &&
		   dev->ovl.nr) {
		/* another kind of cache (or none) writes it back, as a flush */
		err = ovl_apply(dev);
	}
	if (!err) {
		dev->fault = *f;
		if ((f->modes & KV_FAULT_CRASH) &&
		    f->crash_after <= atomic_load(&dev->nr_writes)) {
			atomic_store(&dev->crashed, true);
			if (f->modes & KV_FAULT_SECTORS)
				dev->media_err = secs_resolve(dev);
		}
		atomic_store(&dev->faulty, f->modes != 0);
	}
	pthread_mutex_unlock(&dev->lock);
	return err;
}

uint64_t kv_dev_nr_writes(const struct kv_dev *dev)
{
	return atomic_load(&dev->nr_writes);
}

uint64_t kv_dev_nr_direct(const struct kv_dev *dev)
{
	return atomic_load(&dev->nr_direct);
}

bool kv_dev_crashed(const struct kv_dev *dev)
{
	return atomic_load(&dev->crashed);
}

void kv_dev_power_fail(struct kv_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	if ((dev->fault.modes & KV_FAULT_SECTORS) &&
	    !atomic_load(&dev->crashed))
		dev->media_err = secs_resolve(dev);
	cache_drop(dev);
	/* the machine is down: nothing issued afterwards reaches the media */
	atomic_store(&dev->crashed, true);
	atomic_store(&dev->faulty, true);
	pthread_mutex_unlock(&dev->lock);
}
