// SPDX-License-Identifier: GPL-2.0
/*
 * Liveness of the I/O lock (fs/inode/icache.c): three threads overwrite the
 * inside of a file without pause, each holding the lock shared, until a
 * fourth has made 64 extending writes, each of which takes it
 * exclusively.  With readers preferred the overlapping shared holds kept
 * the extending writer out for as long as the overwriters ran: this test
 * then never ends (the suite's timeout fails it).  Then the file's size
 * and every byte are checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define IO (256u << 10)
#define INSIDE (4u << 20) /* overwritten region */
#define EXTENDS 64

static char path[] = "/tmp/kvfs-test-iolock-XXXXXX";
static struct kvfs_mount *mp;
static uint64_t ino;
static atomic_bool done;

static void *overwriter(void *arg)
{
	uint8_t *buf = malloc(IO);
	unsigned i = 0, id = (unsigned)(uintptr_t)arg;

	CHECK(buf);
	memset(buf, 0x11, IO);
	while (!atomic_load(&done)) {
		off_t off = (off_t)((i++ * 3 + id) % (INSIDE / IO)) * IO;

		CHECK_EQ(kvfs_write(mp, ino, buf, IO, off, 0), (ssize_t)IO);
	}
	free(buf);
	return NULL;
}

int main(void)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_geom g;
	struct kvfs_stat st;
	pthread_t t[3];
	uint8_t *buf;
	bool created;

	CHECK_EQ(kv_init(NULL), 0);
	mp = fresh_fs(path, 256 << 20, 0, &g);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "f", S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	ino = st.ino;
	buf = malloc(IO);
	CHECK(buf);
	memset(buf, 0x11, IO);
	for (off_t off = 0; off < INSIDE; off += IO)
		CHECK_EQ(kvfs_write(mp, ino, buf, IO, off, 0), (ssize_t)IO);
	for (uintptr_t i = 0; i < 3; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, overwriter, (void *)i), 0);
	memset(buf, 0x22, IO);
	for (unsigned i = 0; i < EXTENDS; i++)
		CHECK_EQ(kvfs_write(mp, ino, buf, IO,
				    (off_t)INSIDE + (off_t)i * IO, 0),
			 (ssize_t)IO);
	atomic_store(&done, true);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.size, (uint64_t)INSIDE + EXTENDS * IO);
	for (off_t off = 0; off < (off_t)st.size; off += IO) {
		CHECK_EQ(kvfs_read(mp, ino, buf, IO, off), (ssize_t)IO);
		for (unsigned k = 0; k < IO; k++)
			CHECK_EQ(buf[k], off < INSIDE ? 0x11 : 0x22);
	}
	free(buf);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("iolock: %u extending writes past 3 overwriters, file exact\n",
	       EXTENDS);
	return 0;
}
