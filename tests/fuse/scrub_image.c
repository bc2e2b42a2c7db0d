// SPDX-License-Identifier: GPL-2.0
/*
 * scrub_image IMAGE: the core's checker (fs/check/scrub.h) on an unmounted
 * image, for the real-mount tests: exit 0 when it finds nothing (no block
 * leaked or owned twice, counters exact); the findings printed, exit 1,
 * otherwise.  No tool exposes the checker yet (fsck.kvfs is coming).
 */
#include "alloc/kvalloc.h"
#include "tests/scrub_util.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
		return 2;
	}
	CHECK_EQ(kv_init(NULL), 0);
	scrub_image_clean(argv[1]);
	CHECK_EQ(kv_fini(), 0);
	printf("%s: checker clean\n", argv[1]);
	return 0;
}
