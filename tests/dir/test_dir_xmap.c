// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_dir_xmap() (fs/ns/dir.h): the mapping of a stored directory's file
 * blocks from a cursor, against fixed cases (adjacent extents joined,
 * breaks on disk, holes, the list's end) and, on random sorted disjoint
 * lists looked up at rising offsets, against the linear search
 * kvfs_extent_list_map() block by block.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fs/btree/bmap_btree.h"
#include "fs/format.h"
#include "fs/ns/dir.h"
#include "tests/check.h"

static void set(struct kvfs_extent *e, uint64_t off, uint64_t bno, uint32_t n)
{
	e->startoff = kv_cpu_to_le64(off);
	e->startblock = kv_cpu_to_le64(bno);
	e->blockcount = kv_cpu_to_le32(n);
	e->flags = kv_cpu_to_le32(0);
}

static void fixed(void)
{
	struct kvfs_extent x[5];
	struct kvfs_dir_xmap m = { .x = x, .n = 5 };
	uint32_t run;

	set(&x[0], 0, 100, 2);
	set(&x[1], 2, 102, 2); /* on disk after x[0]: one piece */
	set(&x[2], 4, 200, 1);
	set(&x[3], 5, 300, 3); /* after x[2] in the file, not on disk */
	set(&x[4], 10, 400, 4); /* after a hole [8, 10) */
	CHECK_EQ(kvfs_dir_xmap(&m, 0, 4, &run), 100);
	CHECK_EQ(run, 4);
	CHECK_EQ(kvfs_dir_xmap(&m, 4, 4, &run), 200);
	CHECK_EQ(run, 1);
	CHECK_EQ(kvfs_dir_xmap(&m, 7, 1, &run), 302);
	CHECK_EQ(run, 1);
	CHECK_EQ(kvfs_dir_xmap(&m, 8, 4, &run), KVFS_NULLBLOCK);
	CHECK_EQ(run, 0);
	CHECK_EQ(kvfs_dir_xmap(&m, 11, 4, &run), 401);
	CHECK_EQ(run, 3);
	CHECK_EQ(kvfs_dir_xmap(&m, 20, 1, &run), KVFS_NULLBLOCK);
	CHECK_EQ(run, 0);
	m = (struct kvfs_dir_xmap){ .x = x, .n = 0 };
	CHECK_EQ(kvfs_dir_xmap(&m, 0, 4, &run), KVFS_NULLBLOCK);
	CHECK_EQ(run, 0);
}

static void random_lists(void)
{
	struct kvfs_extent x[64];

	srand(7);
	for (int round = 0; round < 2000; round++) {
		uint32_t n = (uint32_t)(rand() % 64), len = 1u << (rand() % 4);
		struct kvfs_dir_xmap m = { .x = x, .n = n };
		uint64_t off = 0, bno = 1000;

		for (uint32_t i = 0; i < n; i++) {
			uint32_t c = 1 + (uint32_t)(rand() % 6);

			off += (uint64_t)(rand() % 3 == 0) * (rand() % 5);
			/* half the time on disk right after the previous one */
			bno += rand() % 2 ? (uint64_t)(rand() % 50) : 0;
			set(&x[i], off, bno, c);
			off += c;
			bno += c;
		}
		for (uint64_t q = 0; q < off + 8;) {
			uint64_t fsb, want = kvfs_extent_list_map(x, n, q);
			uint32_t run;

			fsb = kvfs_dir_xmap(&m, q, len, &run);
			CHECK_EQ(fsb, want);
			CHECK(run <= len &&
			      (run == 0) == (want == KVFS_NULLBLOCK));
			for (uint32_t i = 0; i < run; i++)
				CHECK_EQ(kvfs_extent_list_map(x, n, q + i),
					 fsb + i);
			if (run && run < len)
				CHECK(kvfs_extent_list_map(x, n, q + run) !=
				      fsb + run);
			q += run ? run : 1 + (uint64_t)(rand() % 2);
		}
	}
}

int main(void)
{
	fixed();
	random_lists();
	printf("dir_xmap: ok\n");
	return 0;
}
