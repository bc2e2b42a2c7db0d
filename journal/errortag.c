// SPDX-License-Identifier: GPL-2.0
/*
 * Named error-injection points: the table of tags and their arming.
 *
 * Locks: none.  A tag's configuration is published by a release store of
 * its `every` (0 = disarmed) after the other fields; evaluation counts with
 * atomic increments, so concurrent evaluations fire exactly as armed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/errortag.h"

static const char *const tag_names[KVJ_ERRTAG_NR] = {
	[KVJ_ERRTAG_AIL_PUSH_DELAY] = "ail_push_delay",
	[KVJ_ERRTAG_CIL_INSERT_DELAY] = "cil_insert_delay",
	[KVJ_ERRTAG_LOG_WRITE_FAIL] = "log_write_fail",
	[KVJ_ERRTAG_LOG_FLUSH_FAIL] = "log_flush_fail",
	[KVJ_ERRTAG_META_READ_IO] = "meta_read_io",
	[KVJ_ERRTAG_META_WRITE_IO] = "meta_write_io",
	[KVJ_ERRTAG_DEFER_ITEM_FAIL] = "defer_item_fail",
	[KVJ_ERRTAG_IPUT_DELAY] = "iput_delay",
	[KVJ_ERRTAG_INODEGC_DELAY] = "inodegc_delay",
	[KVJ_ERRTAG_IFREE_FAIL] = "ifree_fail",
	[KVJ_ERRTAG_IALLOC_NOSPC] = "ialloc_nospc",
	[KVJ_ERRTAG_MAP_TREE_NOSPC] = "map_tree_nospc",
	[KVJ_ERRTAG_FILE_UNMAP_NOSPC] = "file_unmap_nospc",
	[KVJ_ERRTAG_REMOVE_NORESV] = "remove_noresv",
	[KVJ_ERRTAG_READ_RCU_DELAY] = "read_rcu_delay",
	[KVJ_ERRTAG_CONV_NODEFER] = "conv_nodefer",
	[KVJ_ERRTAG_DIR_SPACE_SMALL] = "dir_space_small",
	[KVJ_ERRTAG_FUSE_WRITE_DELAY] = "fuse_write_delay",
	[KVJ_ERRTAG_PUSH_SORT_NOMEM] = "push_sort_nomem",
	[KVJ_ERRTAG_AG_LOCK_BUSY] = "ag_lock_busy",
	[KVJ_ERRTAG_NOSPACE_DRAIN] = "nospace_drain",
	[KVJ_ERRTAG_IMAGE_LOCK_WAIT] = "image_lock_wait",
};

struct tag {
	_Atomic uint32_t every;
	_Atomic uint64_t after, count;
	_Atomic uint64_t evals, hits;
	_Atomic uint64_t value;
};

static struct tag tags[KVJ_ERRTAG_NR];
atomic_int kvj_errtag_state = 1;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static char env_error[160];

const char *kvj_errtag_name(enum kvj_errtag tag)
{
	return (unsigned)tag < KVJ_ERRTAG_NR ? tag_names[tag] : NULL;
}

int kvj_errtag_lookup(const char *name)
{
	unsigned i;

	for (i = 0; i < KVJ_ERRTAG_NR; i++)
		if (!strcmp(name, tag_names[i]))
			return (int)i;
	return -ENOENT;
}

static void update_state(void)
{
	unsigned i;
	int armed = 0;

	for (i = 0; i < KVJ_ERRTAG_NR; i++)
		if (atomic_load(&tags[i].every))
			armed = 2;
	atomic_store(&kvj_errtag_state, armed);
}

static void tag_arm(int tag, uint64_t after, uint32_t every, uint64_t count)
{
	struct tag *t = &tags[tag];

	atomic_store(&t->every, 0);
	atomic_store(&t->after, after);
	atomic_store(&t->count, count);
	atomic_store(&t->evals, 0);
	atomic_store(&t->hits, 0);
	atomic_store_explicit(&t->every, every, memory_order_release);
}

static int parse_spec(const char *spec, char *err, unsigned errlen);

static void read_env(void)
{
	const char *spec = getenv("KVFS_ERRTAGS");

	if (spec && *spec)
		parse_spec(spec, env_error, sizeof(env_error));
	update_state();
}

static void env_init(void)
{
	pthread_once(&env_once, read_env);
}

const char *kvj_errtag_env_error(void)
{
	env_init();
	return env_error[0] ? env_error : NULL;
}

int kvj_errtag_set(enum kvj_errtag tag, uint64_t after, uint32_t every,
		   uint64_t count)
{
	if ((unsigned)tag >= KVJ_ERRTAG_NR)
		return -EINVAL;
	env_init();
	tag_arm(tag, after, every, count);
	update_state();
	return 0;
}

void kvj_errtag_clear_all(void)
{
	unsigned i;

	env_init();
	for (i = 0; i < KVJ_ERRTAG_NR; i++)
		atomic_store(&tags[i].every, 0);
	update_state();
}

int kvj_errtag_set_value(enum kvj_errtag tag, uint64_t value)
{
	if ((unsigned)tag >= KVJ_ERRTAG_NR)
		return -EINVAL;
	atomic_store(&tags[tag].value, value);
	return 0;
}

uint64_t kvj_errtag_value(enum kvj_errtag tag)
{
	return (unsigned)tag < KVJ_ERRTAG_NR ? atomic_load(&tags[tag].value) :
					       0;
}

uint64_t kvj_errtag_hits(enum kvj_errtag tag)
{
	return (unsigned)tag < KVJ_ERRTAG_NR ? atomic_load(&tags[tag].hits) : 0;
}

bool kvj_errtag_eval(enum kvj_errtag tag)
{
	struct tag *t;
	uint32_t every;
	uint64_t n, count;

	if (atomic_load_explicit(&kvj_errtag_state, memory_order_relaxed) == 1)
		env_init();
	if ((unsigned)tag >= KVJ_ERRTAG_NR)
		return false;
	t = &tags[tag];
	every = atomic_load_explicit(&t->every, memory_order_acquire);
	if (!every)
		return false;
	n = atomic_fetch_add(&t->evals, 1);
	if (n < atomic_load(&t->after) || (n - atomic_load(&t->after)) % every)
		return false;
	count = atomic_load(&t->count);
	if (count && atomic_fetch_add(&t->hits, 1) >= count) {
		atomic_fetch_sub(&t->hits, 1);
		return false;
	}
	if (!count)
		atomic_fetch_add(&t->hits, 1);
	return true;
}

/* One "name[:key=value]..." item of a spec into c; 0 or -EINVAL. */
struct item_cfg {
	int tag;
	uint64_t after, count, value;
	uint32_t every;
};

static int parse_item(char *item, struct item_cfg *c, char *err,
		      unsigned errlen)
{
	char *save = NULL, *tok = strtok_r(item, ":", &save);

	c->after = c->count = c->value = 0;
	c->every = 1;
	c->tag = tok ? kvj_errtag_lookup(tok) : -ENOENT;
	if (c->tag < 0) {
		snprintf(err, errlen, "unknown error tag '%s'", tok ? tok : "");
		return -EINVAL;
	}
	while ((tok = strtok_r(NULL, ":", &save))) {
		char *eq = strchr(tok, '='), *end;
		unsigned long long v;

		if (!eq || !eq[1])
			goto bad;
		*eq = 0;
		errno = 0;
		v = strtoull(eq + 1, &end, 10);
		if (errno || *end || eq[1] == '-')
			goto bad;
		if (!strcmp(tok, "after"))
			c->after = v;
		else if (!strcmp(tok, "count"))
			c->count = v;
		else if (!strcmp(tok, "value"))
			c->value = v;
		else if (!strcmp(tok, "every") && v >= 1 && v <= UINT32_MAX)
			c->every = (uint32_t)v;
		else
			goto bad;
	}
	return 0;
bad:
	snprintf(
		err, errlen,
		"error tag '%s': bad option '%s' (after=N, every=N>=1, count=N, value=N)",
		tag_names[c->tag], tok);
	return -EINVAL;
}

static int parse_spec(const char *spec, char *err, unsigned errlen)
{
	struct item_cfg cfg[KVJ_ERRTAG_NR * 2];
	unsigned n = 0, i;
	char *s = strdup(spec), *save = NULL, *item;
	int ret = 0;

	if (!s)
		return -ENOMEM;
	for (item = strtok_r(s, ",", &save); item && !ret;
	     item = strtok_r(NULL, ",", &save)) {
		if (n == sizeof(cfg) / sizeof(cfg[0])) {
			snprintf(err, errlen, "too many error tags");
			ret = -EINVAL;
			break;
		}
		ret = parse_item(item, &cfg[n++], err, errlen);
	}
	free(s);
	for (i = 0; i < n && !ret; i++) {
		atomic_store(&tags[cfg[i].tag].value, cfg[i].value);
		tag_arm(cfg[i].tag, cfg[i].after, cfg[i].every, cfg[i].count);
	}
	return ret;
}

int kvj_errtag_parse(const char *spec, char *err, unsigned errlen)
{
	int ret;

	env_init();
	ret = parse_spec(spec, err, errlen);
	update_state();
	return ret;
}
