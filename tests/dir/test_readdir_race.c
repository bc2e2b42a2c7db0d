// SPDX-License-Identifier: GPL-2.0
/*
 * Readdir against a concurrent writer (issue 10): a reader thread pages
 * through a directory with kvfs_readdir() (pages of 1 to 40 entries, each
 * resumed at the last cookie) while a writer thread creates and unlinks
 * names of a volatile set in the same directory as fast as it can.  The
 * stable names are there before the reader starts and stay: every pass
 * must return each of them exactly once, with its inode and d_type; a
 * volatile name may be returned or not, twice only if it was removed and
 * created again in between (so never twice when the writer did not touch
 * it); nothing that was never a name.  "." and ".." come first.
 * Two directories: a large one (block form, many data blocks: inserts
 * fill holes behind and ahead of the reader) and a small one that the
 * writer moves between short form and block form under the reader
 * (cookies must survive the conversions).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "fs/ns/dir.h"
#include "tests/dir/dirtest.h"

#define TIMEOUT 120

static const struct kvfs_cred cr = { 0 };
static struct kvfs_mount *mp;
static uint64_t dir;
static unsigned nstable, nvol;
static uint64_t *stable_ino;
/* per volatile name: times the writer created it (odd count: present) */
static _Atomic unsigned *vol_gen;
static atomic_bool stop;
static atomic_ulong writer_ops;

static void stable_name(char *b, size_t n, unsigned i)
{
	snprintf(b, n, "stable-%u-%s", i, i % 5 ? "s" : "a-longer-name-tail");
}

static void vol_name(char *b, size_t n, unsigned i)
{
	snprintf(b, n, "vol-%u%s", i, i % 3 ? "" : "-with-some-more-bytes");
}

static void *writer(void *arg)
{
	uint64_t s = 88172645463325252ull;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned i;
		char name[64];
		struct kvfs_stat st;
		bool created;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		i = (unsigned)(s % nvol);
		vol_name(name, sizeof(name), i);
		if (atomic_load(&vol_gen[i]) % 2) {
			CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
			atomic_fetch_add(&vol_gen[i], 1);
		} else {
			/* counted before: a reader seeing it sees the count */
			atomic_fetch_add(&vol_gen[i], 1);
			CHECK_EQ(kvfs_create(mp, dir, name, 0100644, 0,
					     KVFS_CREATE_EXCL, &cr, &st,
					     &created),
				 0);
		}
		atomic_fetch_add(&writer_ops, 1);
	}
	return NULL;
}

struct pass {
	unsigned char *seen_stable;
	unsigned *seen_vol; /* times returned this pass */
	unsigned *gen_first; /* vol_gen when first returned */
	size_t n;
	size_t limit, in_page;
	uint64_t next;
	bool dot, dotdot;
};

static int fill(void *priv, const char *name, size_t len, uint64_t ino,
		unsigned dtype, uint64_t next)
{
	struct pass *p = priv;
	char buf[KVFS_NAME_MAX + 1];
	unsigned i;

	if (p->in_page == p->limit)
		return 1;
	p->in_page++;
	CHECK(next < 1ull << 63);
	p->next = next;
	memcpy(buf, name, len);
	buf[len] = '\0';
	p->n++;
	if (p->n == 1) {
		CHECK(!strcmp(buf, "."));
		CHECK_EQ(ino, dir);
		return 0;
	}
	if (p->n == 2) {
		CHECK(!strcmp(buf, ".."));
		return 0;
	}
	if (sscanf(buf, "stable-%u", &i) == 1) {
		char want[64];

		CHECK(i < nstable);
		stable_name(want, sizeof(want), i);
		CHECK(!strcmp(buf, want));
		if (p->seen_stable[i]) {
			fprintf(stderr, "readdir: %s returned twice\n", buf);
			exit(1);
		}
		p->seen_stable[i] = 1;
		CHECK_EQ(ino, stable_ino[i]);
		CHECK_EQ(dtype, 8u); /* DT_REG */
		return 0;
	}
	CHECK(sscanf(buf, "vol-%u", &i) == 1 && i < nvol);
	{
		char want[64];

		vol_name(want, sizeof(want), i);
		CHECK(!strcmp(buf, want));
	}
	CHECK_EQ(dtype, 8u);
	/* the writer counted the create before making it */
	CHECK(atomic_load(&vol_gen[i]) > 0);
	if (p->seen_vol[i]++) {
		/* a second time: only as a new entry, made since the first */
		if (atomic_load(&vol_gen[i]) == p->gen_first[i]) {
			fprintf(stderr,
				"readdir: %s returned twice, not recreated\n",
				buf);
			exit(1);
		}
	} else {
		p->gen_first[i] = atomic_load(&vol_gen[i]);
	}
	return 0;
}

static uint64_t rnd_state = 12345;

static unsigned rnd(void)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(rnd_state >> 33);
}

/*
 * Passes of paged readdir while the writer runs, at least passes and
 * until the writer made wops changes; returns the passes.  Each stable
 * name exactly once per pass.
 */
static unsigned read_passes(unsigned passes, unsigned long wops)
{
	struct pass p = { 0 };
	unsigned done;

	p.seen_stable = malloc(nstable);
	p.seen_vol = malloc(nvol * sizeof(*p.seen_vol));
	p.gen_first = malloc(nvol * sizeof(*p.gen_first));
	CHECK(p.seen_stable && p.seen_vol && p.gen_first);
	for (done = 0; done < passes || atomic_load(&writer_ops) < wops;
	     done++) {
		memset(p.seen_stable, 0, nstable);
		memset(p.seen_vol, 0, nvol * sizeof(*p.seen_vol));
		p.n = 0;
		p.next = 0;
		for (;;) {
			p.limit = 1 + rnd() % 40;
			p.in_page = 0;
			CHECK_EQ(kvfs_readdir(mp, dir, p.next, fill, &p), 0);
			if (p.in_page < p.limit)
				break;
		}
		for (unsigned i = 0; i < nstable; i++)
			if (!p.seen_stable[i]) {
				fprintf(stderr,
					"readdir: stable-%u skipped (pass "
					"%u)\n",
					i, done);
				exit(1);
			}
	}
	free(p.seen_stable);
	free(p.seen_vol);
	free(p.gen_first);
	return done;
}

static void run(const char *dname, unsigned ns, unsigned nv,
		unsigned min_passes, unsigned long wops)
{
	struct kvfs_dir_stats s0, s1;
	struct kvfs_stat st;
	pthread_t th;
	char name[64];
	bool created;
	unsigned passes;

	nstable = ns;
	nvol = nv;
	stable_ino = calloc(ns, sizeof(*stable_ino));
	vol_gen = calloc(nv, sizeof(*vol_gen));
	CHECK(stable_ino && vol_gen);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), dname, 040755, &cr, &st), 0);
	dir = st.ino;
	for (unsigned i = 0; i < ns; i++) {
		stable_name(name, sizeof(name), i);
		CHECK_EQ(kvfs_create(mp, dir, name, 0100644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, &created),
			 0);
		stable_ino[i] = st.ino;
	}
	kvfs_dir_get_stats(&s0);
	atomic_store(&stop, false);
	writer_ops = 0;
	CHECK_EQ(pthread_create(&th, NULL, writer, NULL), 0);
	passes = read_passes(min_passes, wops);
	atomic_store(&stop, true);
	CHECK_EQ(pthread_join(th, NULL), 0);
	kvfs_dir_get_stats(&s1);
	/* the writer really raced the reader */
	CHECK(atomic_load(&writer_ops) >= wops);
	printf("readdir race: %s: %u stable and %u volatile names, %u paged "
	       "passes against %lu creates and unlinks (%llu to block form, "
	       "%llu to short form): each stable name once per pass\n",
	       dname, ns, nv, passes, atomic_load(&writer_ops),
	       (unsigned long long)(s1.to_block - s0.to_block),
	       (unsigned long long)(s1.to_sf - s0.to_sf));
	if (ns < 10)
		CHECK(s1.to_sf > s0.to_sf);
	free(stable_ino);
	free(vol_gen);
}

static void timed_out(int sig)
{
	static const char msg[] = "readdir race: timed out\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

int main(void)
{
	struct kvfs_open_opts o = { .atime = KVFS_ATIME_NOATIME };
	struct kvfs_open_info info;

	signal(SIGALRM, timed_out);
	alarm(TIMEOUT);
	CHECK_EQ(kv_init(NULL), 0);
	set_path("rdrace");
	make_fs(256 << 20, 0);
	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	run("large", 3000, 3000, 20, 4000);
	/* 2 names stay: short form <-> block form as the others come and go */
	run("small", 2, 24, 200, 8000);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
