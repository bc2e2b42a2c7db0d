// SPDX-License-Identifier: GPL-2.0
/*
 * Debug builds only: a freed vmap area too large for the area cache gives
 * its pages back at once, and its range is unmapped first, so a write
 * through a stale pointer faults instead of landing in the pages' next
 * owner (a release build keeps the mapping until the lazy purge).
 */
#include <signal.h>
#include <string.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "alloc/kvalloc.h"
#include "tests/alloc/child.h"

#define BUDGET (16u << 20)
#define AREA (8u << 20) /* above the cache's share: queued for the purge */

static void fault(int sig)
{
	(void)sig;
	_exit(99);
}

static void stale_write(void)
{
	struct kv_config cfg = { .budget_bytes = BUDGET, .vmap_zones = 1 };
	volatile char *p;
	char *q;

	CHECK_EQ(kv_init(&cfg), 0);
	p = kv_vmalloc(AREA, 0);
	CHECK(p);
	memset((char *)p, 1, AREA);
	kv_vfree((void *)p);
	/* the pages are someone else's now */
	q = kv_vmalloc(AREA, 0);
	CHECK(q);
	memset(q, 2, AREA);
#ifdef __SANITIZE_ADDRESS__
	/* the mapping, not ASan's poison, must stop the write */
	__asan_unpoison_memory_region((void *)p, AREA);
#endif
	signal(SIGSEGV, fault);
	signal(SIGBUS, fault);
	p[100] = 3;
	CHECK(q[100] == 2);
	_exit(0);
}

int main(void)
{
	char err[4096];
	int status = run_child(stale_write, err, sizeof(err));

	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) != 99)
		fprintf(stderr, "child: status %d, stderr: %s\n",
			WEXITSTATUS(status), err);
	CHECK_EQ(WEXITSTATUS(status), 99);
	printf("kvalloc stale: ok\n");
	return 0;
}
