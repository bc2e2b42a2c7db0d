/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device layer: byte-addressed I/O over an image file or a block
 * device, with a test-only fault-injection mode that the journal's and the
 * filesystem's crash tests are built on.
 *
 * Fault modes (combinable where it makes sense):
 *   KV_FAULT_FAIL_WRITE   the Nth write (1-based) fails with -EIO
 *   KV_FAULT_CRASH        writes after the Nth are silently not persisted
 *                         (the machine died after write N); reads still see
 *                         what reached the device
 *   KV_FAULT_VOLATILE     writes sit in a volatile cache until a flush;
 *                         kv_dev_power_fail() drops every write not yet
 *                         covered by a flush
 *   KV_FAULT_TEAR         the Nth write persists only its first half
 *                         (rounded down to 512 bytes), then acts as CRASH
 *   KV_FAULT_SECTORS      a volatile write cache that persists any subset
 *                         of its sectors, in any order: writes sit in the
 *                         cache as with VOLATILE; at the crash (the CRASH
 *                         or TEAR point, or kv_dev_power_fail()) every
 *                         512-byte sector written since the last flush
 *                         independently keeps its pre-flush contents or
 *                         the contents after one of the writes to it since
 *                         (a sector written k times: one of k + 1 states,
 *                         each as likely).  The choice is a function of
 *                         seed, the sector and its writes: the same seed
 *                         and the same writes give the same media.
 *
 * Write numbers count every kv_dev_pwrite() since open (target the k-th
 * write from now with kv_dev_nr_writes() + k).  Once crashed, writes,
 * flushes and discards succeed without reaching the media, and a volatile
 * cache keeps serving reads until kv_dev_power_fail() (under SECTORS the
 * media's state is chosen at the crash point itself: the cache only serves
 * the dead machine's reads).
 * kv_dev_power_fail() also leaves the device crashed, whatever the modes.
 *   KV_FAULT_DEAD_EIO     once crashed, writes and flushes fail with -EIO
 *                         instead: a process that outlives the crash (a
 *                         daemon whose replies a test reads) can then not
 *                         report as done what never reached the media
 * kv_dev_set_fault() on a crashed device is a reboot: the crash state and
 * any volatile cache are dropped, then the new modes apply.  Otherwise a
 * change of cache (none, VOLATILE, SECTORS) writes the cache back first.
 * kv_dev_close() does not flush: unflushed volatile writes are lost, as on
 * a power-off (SECTORS too: call kv_dev_power_fail() first to keep its
 * choice).  If persisting that choice fails, reads and the next
 * kv_dev_set_fault() return the error.  With any fault mode set, a flush
 * is simulated (no fdatasync): the image is scratch and its page cache
 * stands for the media.
 *
 * The device is thread-safe.  I/O outside [0, kv_dev_size()) is -EINVAL;
 * writes to a read-only device are -EROFS.
 */
#ifndef KV_FS_DEV_H
#define KV_FS_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kv_dev;

#define KV_DEV_RDONLY (1u << 0)
#define KV_DEV_EXCL (1u << 1) /* O_EXCL on block devices */
/*
 * Opened read-only, but writes succeed: they are kept in memory (the
 * volatile overlay) and read back, flushes write nothing, and all of it
 * is dropped at close.  fsck -n replays a dirty log this way.  No fault
 * mode may be set on such a device.
 */
#define KV_DEV_OVERLAY (1u << 2)
/*
 * Large writes (at least KV_DEV_DIRECT_MIN bytes, offset and length
 * multiples of KV_DEV_DIRECT_ALIGN) go through a second, O_DIRECT
 * descriptor of the same file: the host's page cache is neither filled
 * nor written back by them (a buffer not so aligned is copied into an
 * aligned one of the thread's, KV_DEV_DIRECT_CHUNK bytes at a time).
 * Best effort: where O_DIRECT cannot be had (the open, or a first write,
 * refused), every write stays buffered.  Durability is the same:
 * kv_dev_flush() flushes the device cache over both.  Reads stay
 * buffered (the host keeps the page cache coherent).  Ignored with a
 * fault mode set, and on read-only and overlay devices.
 */
#define KV_DEV_DIRECT (1u << 3)
#define KV_DEV_DIRECT_MIN (64u << 10)
#define KV_DEV_DIRECT_ALIGN 4096u
#define KV_DEV_DIRECT_CHUNK (1u << 20)

int kv_dev_open(const char *path, unsigned flags, struct kv_dev **devp);
void kv_dev_close(struct kv_dev *dev);

/* Whole-length I/O (short transfers are retried); 0 or -errno. */
int kv_dev_pread(struct kv_dev *dev, void *buf, size_t len, uint64_t off);
int kv_dev_pwrite(struct kv_dev *dev, const void *buf, size_t len,
		  uint64_t off);
int kv_dev_flush(struct kv_dev *dev);
/*
 * Write buf at off and return once it, and every write issued before it
 * within [range_off, range_off + range_len), are durable; writes outside
 * the range may stay volatile.  The write lies inside the range, whose
 * ends are multiples of 512.  The cheap flush of a small region (the log)
 * on a device whose other pages are dirty: the range's pages are written
 * back (sync_file_range()), then this write is made synchronous
 * (RWF_DSYNC), whose host fsync of its own range flushes the device
 * cache; only where the host refuses RWF_DSYNC is the whole device
 * flushed.  Under the volatile fault modes only the range becomes
 * durable.
 */
int kv_dev_pwrite_durable(struct kv_dev *dev, const void *buf, size_t len,
			  uint64_t off, uint64_t range_off, uint64_t range_len);
/*
 * A hint that [off, off + len) is read soon (fsck's inode walk): the host
 * starts reading it into its page cache, the caller goes on.  Reads into
 * no memory of the caller's and changes nothing; a range out of the
 * device, or a host that declines, is ignored.
 */
void kv_dev_willneed(struct kv_dev *dev, uint64_t off, uint64_t len);
/*
 * -EOPNOTSUPP where the device cannot discard.  Advisory: the contents of a
 * discarded range are unspecified afterwards (under fault injection it does
 * nothing).
 */
int kv_dev_discard(struct kv_dev *dev, uint64_t off, uint64_t len);
/*
 * Have the host allocate [off, off + len) of an image file (contents kept,
 * size unchanged), so that writes there never meet a full host
 * filesystem: 0, or the host's -errno (-EOPNOTSUPP where it cannot).
 * Nothing to do for a block device or under fault injection.
 */
int kv_dev_reserve(struct kv_dev *dev, uint64_t off, uint64_t len);
/*
 * Have fn(priv, buf, len, off) see what every read that succeeds returns,
 * after it, in the reading thread (fsck.kvfs notes the LSNs of the
 * metadata its phases read: fs/repair/log.c); fn NULL: none.  Set while
 * no other thread uses the device.
 */
typedef void (*kv_dev_read_watch_fn)(void *priv, const void *buf, size_t len,
				     uint64_t off);
void kv_dev_set_read_watch(struct kv_dev *dev, kv_dev_read_watch_fn fn,
			   void *priv);
uint64_t kv_dev_size(const struct kv_dev *dev);
bool kv_dev_is_bdev(const struct kv_dev *dev);
bool kv_dev_rdonly(const struct kv_dev *dev);
const char *kv_dev_path(const struct kv_dev *dev);

/* Fault injection (tests and tools only). */
#define KV_FAULT_FAIL_WRITE (1u << 0)
#define KV_FAULT_CRASH (1u << 1)
#define KV_FAULT_VOLATILE (1u << 2)
#define KV_FAULT_TEAR (1u << 3)
#define KV_FAULT_SECTORS (1u << 4)
#define KV_FAULT_DEAD_EIO (1u << 5)

struct kv_dev_fault {
	unsigned modes;
	uint64_t fail_write; /* KV_FAULT_FAIL_WRITE: 1-based write number */
	uint64_t crash_after; /* KV_FAULT_CRASH: last write that persists */
	uint64_t tear_write; /* KV_FAULT_TEAR: the write torn in half */
	uint64_t seed; /* KV_FAULT_SECTORS: which sectors persist */
};

int kv_dev_set_fault(struct kv_dev *dev, const struct kv_dev_fault *f);
/* number of writes issued since open */
uint64_t kv_dev_nr_writes(const struct kv_dev *dev);
/* of them, those that went through the O_DIRECT descriptor */
uint64_t kv_dev_nr_direct(const struct kv_dev *dev);
/* true once a CRASH or TEAR point has been passed */
bool kv_dev_crashed(const struct kv_dev *dev);
/*
 * VOLATILE: drop every write not covered by a flush; SECTORS: keep the
 * seeded choice of their sectors.
 */
void kv_dev_power_fail(struct kv_dev *dev);

#endif
