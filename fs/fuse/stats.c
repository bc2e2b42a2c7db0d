// SPDX-License-Identifier: GPL-2.0
/*
 * mount.kvfs's live figures (fs/fuse/stats.h).
 *
 * Slots are only ever added (a lock-free push on the list's head) and
 * never freed while the daemon runs; a slot's owner is the thread whose
 * claim (busy false -> true) succeeded, until its exit releases it.
 */
#include "fs/fuse/stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"

static const char *const op_names[KF_NR_OPS] = {
	[KF_LOOKUP] = "lookup",
	[KF_FORGET] = "forget",
	[KF_BATCH_FORGET] = "batch_forget",
	[KF_GETATTR] = "getattr",
	[KF_SETATTR] = "setattr",
	[KF_READLINK] = "readlink",
	[KF_MKNOD] = "mknod",
	[KF_MKDIR] = "mkdir",
	[KF_SYMLINK] = "symlink",
	[KF_UNLINK] = "unlink",
	[KF_RMDIR] = "rmdir",
	[KF_RENAME] = "rename",
	[KF_LINK] = "link",
	[KF_OPEN] = "open",
	[KF_CREATE] = "create",
	[KF_READ] = "read",
	[KF_WRITE] = "write",
	[KF_RELEASE] = "release",
	[KF_FSYNC] = "fsync",
	[KF_OPENDIR] = "opendir",
	[KF_READDIR] = "readdir",
	[KF_READDIRPLUS] = "readdirplus",
	[KF_RELEASEDIR] = "releasedir",
	[KF_FSYNCDIR] = "fsyncdir",
	[KF_STATFS] = "statfs",
	[KF_SETXATTR] = "setxattr",
	[KF_GETXATTR] = "getxattr",
	[KF_LISTXATTR] = "listxattr",
	[KF_REMOVEXATTR] = "removexattr",
	[KF_FALLOCATE] = "fallocate",
	[KF_LSEEK] = "lseek",
	[KF_COPY_FILE_RANGE] = "copy_file_range",
	[KF_IOCTL] = "ioctl",
};

struct slot {
	struct slot *next; /* set before the slot is published */
	atomic_bool busy;
	atomic_uint_fast64_t count[KF_NR_OPS];
	atomic_uint_fast64_t ns[KF_NR_OPS];
} __attribute__((aligned(64)));

static _Atomic(struct slot *) slots;
static __thread struct slot *mine;
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static bool slot_key_ok;

/* the thread's exit: the next thread to start takes its slot over */
static void slot_release(void *p)
{
	struct slot *s = p;

	atomic_store_explicit(&s->busy, false, memory_order_release);
}

static void slot_key_make(void)
{
	slot_key_ok = !pthread_key_create(&slot_key, slot_release);
}

static struct slot *slot_get(void)
{
	struct slot *s;

	if (mine)
		return mine;
	pthread_once(&slot_once, slot_key_make);
	if (!slot_key_ok)
		return NULL;
	for (s = atomic_load(&slots); s; s = s->next) {
		bool free = false;

		if (atomic_compare_exchange_strong(&s->busy, &free, true))
			break;
	}
	if (!s) {
		/* aligned_alloc: the slot keeps its cache lines to itself */
		s = aligned_alloc(64, sizeof(*s));
		if (!s)
			return NULL; /* this request goes uncounted */
		memset(s, 0, sizeof(*s));
		atomic_init(&s->busy, true);
		s->next = atomic_load(&slots);
		while (!atomic_compare_exchange_weak(&slots, &s->next, s))
			;
	}
	pthread_setspecific(slot_key, s);
	mine = s;
	return s;
}

uint64_t kvfs_fuse_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

void kvfs_fuse_count(enum kvfs_fuse_op op, uint64_t start)
{
	struct slot *s = slot_get();
	uint64_t now = kvfs_fuse_now();

	if (!s)
		return;
	/* the owner is the only writer: no read-modify-write needed */
	atomic_store_explicit(
		&s->count[op],
		atomic_load_explicit(&s->count[op], memory_order_relaxed) + 1,
		memory_order_relaxed);
	atomic_store_explicit(
		&s->ns[op],
		atomic_load_explicit(&s->ns[op], memory_order_relaxed) +
			(now - start),
		memory_order_relaxed);
}

struct out {
	char *buf;
	size_t size, len;
};

static bool __attribute__((format(printf, 2, 3)))
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len)
		return false;
	o->len += n;
	return true;
}

static bool put_fuse(struct out *o)
{
	uint64_t count[KF_NR_OPS] = { 0 }, ns[KF_NR_OPS] = { 0 };

	for (struct slot *s = atomic_load(&slots); s; s = s->next)
		for (int i = 0; i < KF_NR_OPS; i++) {
			count[i] += atomic_load_explicit(&s->count[i],
							 memory_order_relaxed);
			ns[i] += atomic_load_explicit(&s->ns[i],
						      memory_order_relaxed);
		}
	for (int i = 0; i < KF_NR_OPS; i++)
		if (!put(o, "fuse.%s.count %llu\nfuse.%s.ns %llu\n",
			 op_names[i], (unsigned long long)count[i], op_names[i],
			 (unsigned long long)ns[i]))
			return false;
	return true;
}

#define U(x) ((unsigned long long)(x))

static bool put_core(struct out *o, const struct kvfs_stats *st)
{
	return put(o,
		   "journal.commits %llu\njournal.checkpoints %llu\n"
		   "journal.forces %llu\njournal.force_writes %llu\n"
		   "journal.log_bytes %llu\njournal.log_bytes_used %llu\n"
		   "journal.log_bytes_written %llu\n"
		   "journal.grant_waits %llu\njournal.ail_items %llu\n"
		   "journal.ail_pushed %llu\njournal.zstd_in %llu\n"
		   "journal.zstd_out %llu\n",
		   U(st->log_commits), U(st->log_checkpoints),
		   U(st->log_forces), U(st->log_force_writes), U(st->log_bytes),
		   U(st->log_bytes_used), U(st->log_bytes_written),
		   U(st->log_grant_waits), U(st->ail_items), U(st->ail_pushed),
		   U(st->zstd_in), U(st->zstd_out)) &&
	       put(o,
		   "bcache.hits %llu\nbcache.misses %llu\nbcache.reads %llu\n"
		   "bcache.writes %llu\nbcache.reclaimed %llu\n"
		   "bcache.cached %llu\nbcache.bytes %llu\n"
		   "icache.hits %llu\nicache.misses %llu\n"
		   "icache.reclaimed %llu\nicache.cached %llu\n"
		   "space.block_size %llu\nspace.free_blocks %llu\n"
		   "space.agcount %llu\nspace.wb_pending_blocks %llu\n",
		   U(st->buf_hits), U(st->buf_misses), U(st->buf_reads),
		   U(st->buf_writes), U(st->buf_reclaimed), U(st->buf_cached),
		   U(st->buf_bytes), U(st->inode_hits), U(st->inode_misses),
		   U(st->inode_reclaimed), U(st->inode_cached),
		   U(st->block_size), U(st->free_blocks), U(st->agcount),
		   U(st->wb_pending_blocks));
}

/* kvalloc's own "name value" lines, each under alloc. */
static bool put_alloc(struct out *o)
{
	int n = kv_stats_format(NULL, 0);
	char *text, *line, *save = NULL;
	bool ok = true;
	int cap;

	if (n < 0)
		return false;
	/* room for a shrinker or lock class registered since */
	cap = n + 4096;
	text = malloc(cap);
	if (!text)
		return false;
	n = kv_stats_format(text, cap);
	if (n < 0 || n >= cap) {
		free(text);
		return false;
	}
	for (line = strtok_r(text, "\n", &save); ok && line;
	     line = strtok_r(NULL, "\n", &save))
		ok = put(o, "alloc.%s\n", line);
	free(text);
	return ok;
}

/* The AGs that fit; the rest counted.  Kept room: the omitted line. */
static void put_ags(struct out *o, const struct kvfs_ag_stats *ag,
		    uint32_t agcount)
{
	uint32_t agno = 0;

	if (o->size - o->len <= 64)
		goto out;
	o->size -= 64;
	for (agno = 0; agno < agcount; agno++) {
		size_t len = o->len;

		if (!put(o,
			 "ag.%u.free_blocks %llu\nag.%u.longest %llu\n"
			 "ag.%u.free_extents %llu\nag.%u.inodes %llu\n"
			 "ag.%u.inodes_free %llu\nag.%u.lock_acquired %llu\n"
			 "ag.%u.lock_contended %llu\nag.%u.sick %llu\n",
			 agno, U(ag[agno].free_blocks), agno,
			 U(ag[agno].longest), agno, U(ag[agno].free_extents),
			 agno, U(ag[agno].inodes), agno,
			 U(ag[agno].inodes_free), agno,
			 U(ag[agno].lock_acquired), agno,
			 U(ag[agno].lock_contended), agno, U(ag[agno].sick))) {
			o->len = len;
			break;
		}
	}
	o->size += 64;
out:
	put(o, "space.ag_omitted %u\n", agcount - agno);
}

int kvfs_fuse_stats_format(struct kvfs_mount *mp, char *buf, size_t size)
{
	struct out o = { .buf = buf, .size = size };
	struct kvfs_ag_stats *ag;
	struct kvfs_stats st;
	int err;

	err = kvfs_stats(mp, &st, NULL, 0);
	if (err)
		return err;
	ag = calloc(st.agcount ? st.agcount : 1, sizeof(*ag));
	if (!ag)
		return -ENOMEM;
	err = kvfs_stats(mp, &st, ag, st.agcount);
	if (!err && !(put(&o, "kvfs-stats 1\n") && put_fuse(&o) &&
		      put_core(&o, &st) && put_alloc(&o)))
		err = -ERANGE;
	if (!err)
		put_ags(&o, ag, st.agcount);
	free(ag);
	return err ? err : (int)o.len;
}
