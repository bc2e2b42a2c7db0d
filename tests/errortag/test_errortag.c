// SPDX-License-Identifier: GPL-2.0
/*
 * Named error-injection points (journal/errortag.h): the firing pattern of
 * after/every/count, exact under concurrent evaluation; specs parsed or
 * refused whole; KVFS_ERRTAGS read from the environment (in a child run of
 * this program); and the metadata read and write points failing the buffer
 * cache's I/O with -EIO, once, then working again.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal/errortag.h"
#include "tests/buf/buf_util.h"

#define BS 4096u

static void test_pattern(void)
{
	const enum kvj_errtag t = KVJ_ERRTAG_META_READ_IO;
	unsigned i, fired = 0;
	bool want;

	CHECK(!kvj_errtag(t));
	CHECK_EQ(kvj_errtag_set(t, 5, 3, 4), 0);
	for (i = 0; i < 40; i++) {
		/* evaluations 5, 8, 11, 14 fire; then the count is spent */
		want = i >= 5 && (i - 5) % 3 == 0 && i <= 14;
		CHECK_EQ(kvj_errtag(t), want);
		fired += want;
	}
	CHECK_EQ(kvj_errtag_hits(t), fired);
	CHECK_EQ(kvj_errtag_set(t, 0, 0, 0), 0);
	CHECK(!kvj_errtag(t));
	CHECK_EQ(kvj_errtag_set((enum kvj_errtag)KVJ_ERRTAG_NR, 0, 1, 0),
		 -EINVAL);
}

static void test_parse(void)
{
	char err[160];

	CHECK_EQ(kvj_errtag_lookup("meta_write_io"),
		 KVJ_ERRTAG_META_WRITE_IO);
	CHECK_EQ(kvj_errtag_lookup("nope"), -ENOENT);
	CHECK(!strcmp(kvj_errtag_name(KVJ_ERRTAG_META_READ_IO),
		      "meta_read_io"));
	CHECK_EQ(kvj_errtag_parse("meta_write_io:after=2:count=1", err,
				   sizeof(err)),
		 0);
	CHECK(!kvj_errtag(KVJ_ERRTAG_META_WRITE_IO));
	CHECK(!kvj_errtag(KVJ_ERRTAG_META_WRITE_IO));
	CHECK(kvj_errtag(KVJ_ERRTAG_META_WRITE_IO));
	CHECK(!kvj_errtag(KVJ_ERRTAG_META_WRITE_IO));
	kvj_errtag_clear_all();
	/* a bad spec arms nothing, not even its good items */
	CHECK_EQ(kvj_errtag_parse("meta_read_io,bogus", err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "unknown error tag 'bogus'"));
	CHECK(!kvj_errtag(KVJ_ERRTAG_META_READ_IO));
	CHECK_EQ(kvj_errtag_parse("meta_read_io:every=0", err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "bad option"));
	CHECK_EQ(kvj_errtag_parse("meta_read_io:after=x", err, sizeof(err)),
		 -EINVAL);
	CHECK_EQ(kvj_errtag_parse("meta_read_io:size=1", err, sizeof(err)),
		 -EINVAL);
	CHECK_EQ(kvj_errtag_parse("ail_push_delay:value=250", err,
				  sizeof(err)),
		 0);
	CHECK(kvj_errtag(KVJ_ERRTAG_AIL_PUSH_DELAY));
	CHECK_EQ(kvj_errtag_value(KVJ_ERRTAG_AIL_PUSH_DELAY), 250);
	kvj_errtag_clear_all();
	CHECK(!kvj_errtag(KVJ_ERRTAG_META_READ_IO));
}

#define THREADS 4
#define EVALS 100000

static void *eval_worker(void *arg)
{
	unsigned *fired = arg, i;

	for (i = 0; i < EVALS; i++)
		*fired += kvj_errtag(KVJ_ERRTAG_META_READ_IO);
	return NULL;
}

/* Concurrent evaluations fire exactly count times in all. */
static void test_concurrent(void)
{
	pthread_t th[THREADS];
	unsigned fired[THREADS] = { 0 }, sum = 0, i;

	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_META_READ_IO, 1000, 7, 5000), 0);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, eval_worker, &fired[i]) ==
		      0);
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		sum += fired[i];
	}
	CHECK_EQ(sum, 5000);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_META_READ_IO), 5000);
	kvj_errtag_clear_all();
}

/* The buffer cache's metadata I/O fails where armed, then works. */
static void test_buffer_io(void)
{
	char path[256];
	struct kv_bcache *bc;
	struct kv_buf *bp;
	struct kv_dev *dev;

	tb_make_image(path, sizeof(path), 64u * BS);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	tb_put_raw(dev, BS, 3, 1, 1);
	CHECK_EQ(kv_bcache_create(dev, BS, 0, &bc), 0);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_META_READ_IO, 0, 1, 1), 0);
	CHECK_EQ(kv_buf_read(bc, 3, 1, &tb_ops, &bp), -EIO);
	CHECK_EQ(kv_buf_read(bc, 3, 1, &tb_ops, &bp), 0);
	CHECK(tb_payload_ok(bp->b_addr, bp->b_len, 3, 1));
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_META_WRITE_IO, 0, 1, 1), 0);
	kv_buf_lock(bp);
	tb_fill(bp->b_addr, bp->b_len, 3, 2);
	kv_buf_mark_dirty(bp);
	CHECK_EQ(kv_buf_write(bp), -EIO);
	CHECK(kv_buf_is_dirty(bp));
	CHECK_EQ(kv_buf_write(bp), 0);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_META_WRITE_IO), 1);
	kv_bcache_destroy(bc);
	kv_dev_close(dev);
	unlink(path);
}

/* This program run with spec in KVFS_ERRTAGS and argument "child". */
static int run_child(const char *self, const char *spec)
{
	pid_t pid = fork();
	int st;

	CHECK(pid >= 0);
	if (!pid) {
		setenv("KVFS_ERRTAGS", spec, 1);
		execl(self, self, "child", (char *)NULL);
		_exit(127);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Exit 3 if the env armed meta_read_io to fire first at evaluation 2. */
static int child(void)
{
	const char *e = kvj_errtag_env_error();

	if (e) {
		printf("child: %s\n", e);
		return strstr(e, "unknown error tag") ? 4 : 5;
	}
	if (kvj_errtag(KVJ_ERRTAG_META_READ_IO) ||
	    kvj_errtag(KVJ_ERRTAG_META_READ_IO))
		return 1;
	return kvj_errtag(KVJ_ERRTAG_META_READ_IO) ? 3 : 2;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "child"))
		return child();
	CHECK_EQ(kv_init(NULL), 0);
	test_pattern();
	test_parse();
	test_concurrent();
	test_buffer_io();
	CHECK_EQ(run_child(argv[0], "meta_read_io:after=2"), 3);
	CHECK_EQ(run_child(argv[0], "meta_read_io,what"), 4);
	CHECK_EQ(run_child(argv[0], ""), 2);
	kv_fini();
	printf("errortag: ok\n");
	return 0;
}
