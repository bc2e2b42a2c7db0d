// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures are never corruption: with one allocation in N
 * failing (every allocation that may fail: the kvalloc entry points are
 * wrapped at link time, -Wl,--wrap, and a call whose context is not
 * KV_NOFAIL returns NULL, or -ENOMEM from kvgrow(), on every Nth call of
 * any thread), a create/write/setxattr/link/rename/unlink workload with
 * files held open while their last name goes (orphans) returns 0 or
 * -ENOMEM from every call, never EUCLEAN, EBADMSG or EIO, and the
 * filesystem is not shut down.  Then the mount is shut down as a crash
 * would leave it (the orphans on their lists, the log dirty) and opened
 * again with the failures still armed: the open recovers and frees the
 * orphans, or fails with -ENOMEM and a later open does; the checker finds
 * nothing.  N runs over small numbers (every path hit often) and a few
 * larger ones (deeper into each operation before the failure).  Last,
 * metadata writes of the image failing with ENOMEM (host_nomem).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "fs/kvfs.h"
#include "journal/errortag.h"
#include "tests/life/life.h"
#include "tests/scrub_util.h"

#define NOPS 160 /* workload steps per round */
#define NHOLD 8 /* files held open at most */
#define OPEN_TRIES 8 /* opens with allocations failing, per round */

static const struct kvfs_cred cr = { 0 };

/* ---- the failing allocator ---- */

static atomic_uint fail_every; /* 0: nothing fails */
static atomic_ulong fail_after; /* the first ones pass */
static atomic_ulong fail_calls, fail_hits, calls_total;

void *__real_kvmalloc(size_t size, kv_gfp_t flags);
void *__real_kvzalloc(size_t size, kv_gfp_t flags);
void *__real_kvcalloc(size_t n, size_t size, kv_gfp_t flags);
void *__real_kvrealloc(void *p, size_t new_size, kv_gfp_t flags);
int __real_kvgrow(void **arr, size_t *cap, size_t n, size_t size,
		  kv_gfp_t flags);
void *__real_kv_kmalloc(size_t size, kv_gfp_t flags);
void *__real_kv_vmalloc(size_t size, kv_gfp_t flags);
void *__real_kv_alloc_pages(unsigned order, kv_gfp_t flags);
void *__real_kv_cache_alloc(struct kv_cache *c, kv_gfp_t flags);

/* Does this allocation fail?  Never one that may not. */
static bool inject(kv_gfp_t flags)
{
	unsigned every =
		atomic_load_explicit(&fail_every, memory_order_relaxed);

	unsigned long n;

	if (!every || (kv_current_gfp(flags) & KV_NOFAIL))
		return false;
	n = atomic_fetch_add(&fail_calls, 1);
	if (n < atomic_load(&fail_after) || n % every != every - 1)
		return false;
	atomic_fetch_add(&fail_hits, 1);
	return true;
}

void *__wrap_kvmalloc(size_t size, kv_gfp_t flags)
{
	return inject(flags) ? NULL : __real_kvmalloc(size, flags);
}

void *__wrap_kvzalloc(size_t size, kv_gfp_t flags)
{
	return inject(flags) ? NULL : __real_kvzalloc(size, flags);
}

void *__wrap_kvcalloc(size_t n, size_t size, kv_gfp_t flags)
{
	return inject(flags) ? NULL : __real_kvcalloc(n, size, flags);
}

void *__wrap_kvrealloc(void *p, size_t new_size, kv_gfp_t flags)
{
	return inject(flags) ? NULL : __real_kvrealloc(p, new_size, flags);
}

int __wrap_kvgrow(void **arr, size_t *cap, size_t n, size_t size,
		  kv_gfp_t flags)
{
	/* only a call that must grow allocates */
	if (n >= *cap && inject(flags))
		return -ENOMEM;
	return __real_kvgrow(arr, cap, n, size, flags);
}

void *__wrap_kv_kmalloc(size_t size, kv_gfp_t flags)
{
	return inject(flags) ? NULL : __real_kv_kmalloc(size, flags);
}

void *__wrap_kv_vmalloc(size_t size, kv_gfp_t flags)
{
	return inject(flags) ? NULL : __real_kv_vmalloc(size, flags);
}

void *__wrap_kv_alloc_pages(unsigned order, kv_gfp_t flags)
{
	return inject(flags) ? NULL : __real_kv_alloc_pages(order, flags);
}

void *__wrap_kv_cache_alloc(struct kv_cache *c, kv_gfp_t flags)
{
	return inject(flags) ? NULL : __real_kv_cache_alloc(c, flags);
}

/* ---- the workload ---- */

static unsigned round_every;
static unsigned opens_failed;
static uint64_t orphans_freed_failing; /* by opens with failures armed */
static uint64_t rs;

static unsigned rnd(unsigned n)
{
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(rs >> 33) % n;
}

/* 0 or -ENOMEM; anything else fails the test, naming the call. */
static int ok_or_nomem(long long err, const char *what, unsigned step)
{
	if (err >= 0 || err == -ENOMEM)
		return err < 0 ? (int)err : 0;
	fprintf(stderr,
		"one allocation in %u failing: step %u: %s: %lld (%s), not 0 "
		"or -ENOMEM\n",
		round_every, step, what, err, strerror((int)-err));
	exit(1);
}

/* From now on one allocation in every fails, after the first `after`. */
static void arm(unsigned every, unsigned long after)
{
	atomic_store(&fail_every, 0);
	atomic_fetch_add(&calls_total, atomic_exchange(&fail_calls, 0));
	atomic_store(&fail_after, after);
	atomic_store(&fail_every, every);
}

/*
 * The name's inode, or 0 if it has none: what the model needs, so with
 * nothing failing (a call that failed with -ENOMEM may have done its work).
 */
static uint64_t lookup(struct kvfs_mount *mp, uint64_t dir, const char *name,
		       unsigned step)
{
	unsigned every = atomic_exchange(&fail_every, 0);
	struct kvfs_stat st;
	int err;

	err = kvfs_lookup(mp, dir, name, &st);
	atomic_store(&fail_every, every);
	if (err == -ENOENT)
		return 0;
	ok_or_nomem(err, "lookup", step);
	return err ? 0 : st.ino;
}

struct held {
	uint64_t ino;
	char name[16]; /* empty once unlinked */
};

static void workload(struct kvfs_mount *mp, uint64_t dir)
{
	static char buf[48 << 10];
	struct held held[NHOLD];
	unsigned nheld = 0, nfiles = 0;
	struct kvfs_stat st;
	char name[16], name2[16];
	long long err;

	memset(buf, 0x6b, sizeof(buf));
	for (unsigned step = 0; step < NOPS; step++) {
		unsigned op = rnd(8), k;
		uint64_t ino;

		snprintf(name, sizeof(name), "f%u", rnd(nfiles ? nfiles : 1));
		switch (op) {
		case 0:
		case 1: /* a new file, maybe with data and an xattr */
			snprintf(name, sizeof(name), "f%u", nfiles++);
			err = kvfs_create(mp, dir, name, S_IFREG | 0644, 0,
					  KVFS_CREATE_EXCL, &cr, &st, NULL);
			if (ok_or_nomem(err, "create", step))
				break;
			err = kvfs_write(mp, st.ino, buf,
					 (size_t)rnd(sizeof(buf)),
					 rnd(3) * 8192, 0);
			ok_or_nomem(err, "write", step);
			if (rnd(2))
				ok_or_nomem(kvfs_setxattr(mp, st.ino, "user.x",
							  buf, 100 + rnd(900),
							  0),
					    "setxattr", step);
			break;
		case 2: /* held open, then its last name goes: an orphan */
			ino = lookup(mp, dir, name, step);
			if (!ino || nheld == NHOLD)
				break;
			err = kvfs_inode_open(mp, ino, 0);
			if (ok_or_nomem(err, "open", step))
				break;
			held[nheld].ino = ino;
			snprintf(held[nheld].name, sizeof(held[0].name), "%s",
				 name);
			nheld++;
			break;
		case 3: /* unlink (of a held file too) */
		case 4:
			if (!lookup(mp, dir, name, step))
				break;
			err = kvfs_unlink(mp, dir, name);
			if (err == -ENOENT) /* a link of a held file went */
				break;
			ok_or_nomem(err, "unlink", step);
			break;
		case 5: /* a second name, or a rename over one */
			snprintf(name2, sizeof(name2), "f%u",
				 rnd(nfiles ? nfiles : 1));
			if (!lookup(mp, dir, name, step) ||
			    !strcmp(name, name2))
				break;
			if (rnd(2)) {
				ino = lookup(mp, dir, name, step);
				err = kvfs_link(mp, ino, dir, name2, &st);
				if (err == -EEXIST)
					break;
				ok_or_nomem(err, "link", step);
			} else {
				err = kvfs_rename(mp, dir, name, dir, name2, 0,
						  &cr);
				ok_or_nomem(err, "rename", step);
			}
			break;
		case 6: /* a held file closed: freed if no name is left */
			if (!nheld)
				break;
			k = rnd(nheld);
			kvfs_inode_close(mp, held[k].ino);
			held[k] = held[--nheld];
			break;
		default: /* durable: the next crash keeps the orphans */
			ok_or_nomem(kvfs_fsync(mp, dir, false), "fsync", step);
		}
	}
	/* the held ones stay open: the crash leaves them on their lists */
	for (unsigned i = 0; i < nheld; i++) {
		err = kvfs_unlink(mp, dir, held[i].name);
		if (err != -ENOENT)
			ok_or_nomem(err, "unlink of a held file", NOPS);
	}
	ok_or_nomem(kvfs_sync(mp), "sync", NOPS);
}

static void round_with(unsigned every, uint64_t seed)
{
	struct kvfs_open_opts o = { 0 };
	struct kvfs_open_info info;
	struct kvfs_stat st;
	struct kvfs_mount *mp;
	unsigned tries;
	uint64_t dir;
	int err;

	round_every = every;
	rs = seed;
	make_fs_ags(2);
	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 0755, &cr, &st), 0);
	dir = st.ino;
	arm(every, 0);
	workload(mp, dir);
	atomic_store(&fail_every, 0);
	/* no call failed but with -ENOMEM: nothing may have shut it down */
	CHECK(!kvj_log_is_shutdown(mp->log));
	/* a crash: the orphans stay on their lists, the log dirty */
	kvfs_mount_shutdown(mp, "test: crash");
	CHECK_EQ(kvfs_close(mp), -EIO);

	/*
	 * Recovery and the orphans' freeing under the same failures, from
	 * later and later in the open (the mount's own set-up makes a
	 * hundred allocations), then once with nothing failing.
	 */
	for (tries = 0;; tries++) {
		if (tries < OPEN_TRIES)
			arm(every, 32ul << tries);
		err = kvfs_open(path, &o, &mp, &info);
		atomic_store(&fail_every, 0);
		if (!err)
			break;
		if (err != -ENOMEM || tries == OPEN_TRIES) {
			fprintf(stderr,
				"one allocation in %u failing: open %u: %d "
				"(%s): %s\n",
				every, tries, err, strerror(-err),
				kvfs_open_error());
			exit(1);
		}
		opens_failed++;
	}
	if (tries < OPEN_TRIES && info.orphans)
		orphans_freed_failing += info.orphans;
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	/* nothing left on the lists */
	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	CHECK(!info.recovered);
	CHECK_EQ(info.orphans, 0);
	CHECK_EQ(kvfs_close(mp), 0);
}

/*
 * The host short of memory: an image file's write may fail with ENOMEM
 * (its page cache under pressure).  Metadata write-back meets it 40 times
 * (the meta_write_io tag with value ENOMEM): retried, never a shutdown,
 * the close clean (it shut the filesystem down, and it closed with EIO).
 */
static void host_nomem(void)
{
	struct kvfs_open_opts o = { 0 };
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	char name[16];

	make_fs_ags(2);
	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	CHECK_EQ(kvj_errtag_set_value(KVJ_ERRTAG_META_WRITE_IO, ENOMEM), 0);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_META_WRITE_IO, 0, 2, 40), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name,
				     S_IFREG | 0644, 0, KVFS_CREATE_EXCL, &cr,
				     &st, NULL),
			 0);
		if (i % 3 == 0)
			CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), name), 0);
	}
	CHECK_EQ(kvfs_sync(mp), 0);
	CHECK(!kvj_log_is_shutdown(mp->log));
	/* the close writes everything back: through every failure */
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_META_WRITE_IO), 40);
	kvj_errtag_clear_all();
	scrub_image_clean(path);
	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	CHECK(!info.recovered);
	CHECK_EQ(kvfs_close(mp), 0);
}

/* test_nomem [N [SEED]]: one round, one allocation in N failing (0: all) */
int main(int argc, char **argv)
{
	static unsigned every[] = { 2,	3,  4,	5,  7,	 9,   13,
				    17, 25, 40, 64, 101, 163, 257 };
	unsigned long calls = 0, hits = 0;
	unsigned nr = sizeof(every) / sizeof(every[0]);
	uint64_t seed = 1000;

	if (argc > 1 && strtoul(argv[1], NULL, 0)) {
		every[0] = (unsigned)strtoul(argv[1], NULL, 0);
		nr = 1;
	}
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 0);
	CHECK_EQ(kv_init(NULL), 0);
	set_path("nomem");
	for (unsigned i = 0; i < nr; i++)
		round_with(every[i], seed + i);
	host_nomem();
	unlink(path);
	calls = atomic_load(&calls_total) + atomic_load(&fail_calls);
	hits = atomic_load(&fail_hits);
	/* the failures reached the workload, the opens and the orphans */
	CHECK(hits > 10 * nr);
	CHECK(opens_failed > 0);
	CHECK(nr == 1 || orphans_freed_failing > 0);
	CHECK_EQ(kv_fini(), 0);
	printf("nomem: %u rounds, %lu of %lu allocations that could fail "
	       "failed; %u opens failed, opens with failures armed freed %" PRIu64
	       " orphans; only -ENOMEM came back; 40 metadata writes failing "
	       "with ENOMEM retried; the images check clean\n",
	       nr, hits, calls, opens_failed, orphans_freed_failing);
	return 0;
}
