// SPDX-License-Identifier: GPL-2.0
/*
 * A push must wait out the committers of the context it switches away from
 * (an RCU grace period) before collecting it: a committer that read the
 * old context and adds its items after the collection would have its
 * force return with nothing written.  Threads commit and force changes to
 * their own blocks while the cil_insert_delay tag stretches the window
 * between reading the context and adding to it; after a crash, recovery
 * must show every block as of its last force.
 */
#include "journal/errortag.h"
#include "tests/journal/jt.h"

#define THREADS 4
#define ROUNDS 20
/* a lost delta shows only if no later force covers it: crash often */
#define CYCLES 40

static struct jt t;
static uint8_t forced[THREADS];

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, r;

	for (r = 1; r <= ROUNDS; r++) {
		uint8_t v = (uint8_t)(forced[id] + 1 + id);
		uint64_t seq;

		seq = jt_tx1(&t, id, 64, 64, v);
		CHECK(kvj_log_force(t.log, seq) == 0);
		forced[id] = v;
	}
	return NULL;
}

int main(void)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_FAIL_WRITE,
				  .fail_write = UINT64_MAX };
	struct kvj_log_params p = { .push_interval_ms = 1 };
	pthread_t th[THREADS];
	unsigned i, c;

	jt_init(64u << 20);
	jt_create(&t, "cil_race", THREADS, 4u << 20);
	jt_dev_open(&t);
	/* flushes simulated: the image is scratch */
	CHECK(kv_dev_set_fault(t.dev, &f) == 0);
	CHECK(kvj_errtag_set_value(KVJ_ERRTAG_CIL_INSERT_DELAY, 300) == 0);
	for (c = 0; c < CYCLES; c++) {
		CHECK(jt_log_open_p(&t, &p) == 0);
		CHECK(kvj_errtag_set(KVJ_ERRTAG_CIL_INSERT_DELAY, 0, 3, 0) ==
		      0);
		for (i = 0; i < THREADS; i++)
			CHECK(pthread_create(&th[i], NULL, worker,
					     (void *)(uintptr_t)i) == 0);
		for (i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		CHECK(kvj_errtag_hits(KVJ_ERRTAG_CIL_INSERT_DELAY) > 0);
		kvj_errtag_clear_all();
		jt_log_crash(&t);
		CHECK(jt_log_open(&t) == 0);
		for (i = 0; i < THREADS; i++)
			jt_check_range(&t, i, 64, forced[i]);
		CHECK(kvj_log_close(t.log) == 0);
	}
	jt_dev_close(&t);
	jt_remove(&t);
	jt_fini();
	printf("journal cil race: ok\n");
	return 0;
}
