// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-core-bench's namespace workloads (bench.h): creates, stats and
 * unlinks of the files n<thread>-<k>, each thread in its own directory
 * or all in one, empty or of 4 KiB.
 */
#include <assert.h>
#include <stdio.h>

#include "bench.h"

#define NS_PREFILL 20000

static struct nsfiles own[NS_MAX], shared[NS_MAX], own4k[NS_MAX];
static uint64_t shared_dir;

static const struct kvfs_cred root_cred;

/* v in decimal at p; the end */
static char *put_dec(char *p, uint64_t v)
{
	char tmp[20];
	unsigned n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	return p;
}

/*
 * "n<idx>-<k>", as snprintf() would make it: formatted by hand because
 * snprintf() was ~1 070 instructions of a stat's ~2 700 (callgrind), the
 * harness weighing more than the core it measures.
 */
static void ns_name(char *buf, size_t len, unsigned idx, uint64_t k)
{
	char *p = buf;

	/* "n", 10 digits, "-", 20 digits, NUL */
	assert(len >= 33);
	*p++ = 'n';
	p = put_dec(p, idx);
	*p++ = '-';
	p = put_dec(p, k);
	*p = 0;
}

/* A new empty file, or with data: 4 KiB written into it. */
int ns_create_one(uint64_t dir, const char *name, bool data)
{
	static const uint8_t block[RAND_IO] = { 0x6b };
	struct kvfs_stat st;
	bool created;
	ssize_t n;
	int err = kvfs_create(mp, dir, name, 0100644, 0, KVFS_CREATE_EXCL,
			      &root_cred, &st, &created);

	if (err || !data)
		return err;
	n = kvfs_write(mp, st.ino, block, sizeof(block), 0, 0);
	return n < 0 ? (int)n : 0;
}

bool ns_wl(enum wl wl)
{
	return wl >= CREATE && wl <= UNLINK_4K;
}

static bool ns_shared(enum wl wl)
{
	return wl == CREATE_SHARED || wl == STAT_SHARED || wl == UNLINK_SHARED;
}

static bool ns_data(enum wl wl)
{
	return wl == CREATE_4K || wl == UNLINK_4K;
}

struct nsfiles *ns_files(enum wl wl)
{
	return ns_shared(wl) ? shared : ns_data(wl) ? own4k : own;
}

/* A directory of the root, made once: *ino. */
int ns_mkdir(const char *name, uint64_t *ino)
{
	struct kvfs_stat st;
	int err;

	if (*ino)
		return 0;
	err = kvfs_mkdir(mp, kvfs_root_ino(mp), name, 040755, &root_cred, &st);
	if (!err)
		*ino = st.ino;
	return err;
}

/* The files stat and unlink need, made untimed if a thread has none. */
int ns_prepare(enum wl wl, unsigned nthreads)
{
	struct nsfiles *f = ns_files(wl);
	char name[64];
	int err = 0;

	if (ns_shared(wl))
		err = ns_mkdir("shared", &shared_dir);
	for (unsigned i = 0; i < nthreads && !err; i++) {
		if (ns_shared(wl)) {
			f[i].dir = shared_dir;
		} else {
			snprintf(name, sizeof(name),
				 ns_data(wl) ? "own4k-%u" : "own-%u", i);
			err = ns_mkdir(name, &f[i].dir);
		}
		if (err || wl == CREATE || wl == CREATE_SHARED ||
		    wl == CREATE_4K || f[i].hi - f[i].lo >= 1000)
			continue;
		while (!err && f[i].hi - f[i].lo < NS_PREFILL) {
			ns_name(name, sizeof(name), i, f[i].hi);
			err = ns_create_one(f[i].dir, name, ns_data(wl));
			if (!err)
				f[i].hi++;
		}
	}
	return err;
}

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void ns_loop(struct worker *w, struct nsfiles *f)
{
	uint64_t rs = 0x9e3779b97f4a7c15ull * (w->idx + 1);
	struct kvfs_stat st;
	char name[64];
	double t0 = now(), c0 = thread_cpu();
	unsigned calls = 0;

	while (!bench_stopped(&calls, 63)) {
		int err;

		switch (w->wl) {
		case CREATE:
		case CREATE_SHARED:
		case CREATE_4K:
			ns_name(name, sizeof(name), w->idx, f->hi);
			err = ns_create_one(f->dir, name, ns_data(w->wl));
			if (!err)
				f->hi++;
			break;
		case STAT:
		case STAT_SHARED:
			ns_name(name, sizeof(name), w->idx,
				f->lo + xorshift(&rs) % (f->hi - f->lo));
			err = kvfs_lookup(mp, f->dir, name, &st);
			if (!err)
				err = kvfs_getattr(mp, st.ino, &st);
			break;
		default:
			if (f->lo == f->hi)
				goto out;
			ns_name(name, sizeof(name), w->idx, f->lo);
			err = kvfs_unlink(mp, f->dir, name);
			if (!err)
				f->lo++;
		}
		if (err) {
			w->err = err;
			break;
		}
		if (++w->ops == opt_ops)
			break;
	}
out:
	w->busy = now() - t0;
	w->cpu = thread_cpu() - c0;
}
