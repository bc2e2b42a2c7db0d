/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Named error-injection points (XFS's xfs_errortag.h): one place where
 * every point the core can be made to fail is declared, instead of test
 * hooks scattered through the code.
 *
 * A point is evaluated where the failure would happen:
 *
 *	if (kvfs_errtag(KVFS_ERRTAG_META_READ_IO))
 *		return -EIO;
 *
 * Each tag is off until armed, by a test (kvfs_errtag_set()) or by the
 * environment variable KVFS_ERRTAGS, read once at the first evaluation:
 *
 *	KVFS_ERRTAGS="meta_read_io,meta_write_io:after=100:every=3:count=2"
 *
 * A point armed with (after, every, count) lets its first `after`
 * evaluations pass, then fires on one evaluation in `every` (1: each),
 * at most `count` times (0: no limit).  Disarmed, a point costs one relaxed
 * atomic load.  The state is process-wide (one filesystem per daemon); a
 * malformed KVFS_ERRTAGS arms nothing and is reported by
 * kvfs_errtag_env_error() for the daemon or tool to print.
 *
 * Thread-safe: tags may be armed and evaluated from any thread.
 */
#ifndef KV_FS_ERRORTAG_H
#define KV_FS_ERRORTAG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum kvfs_errtag {
	KVFS_ERRTAG_META_READ_IO, /* a metadata buffer read: -EIO */
	KVFS_ERRTAG_META_WRITE_IO, /* a metadata buffer write: -EIO */
	KVFS_ERRTAG_NR,
};

/* 0: nothing armed; 1: KVFS_ERRTAGS not read yet; 2: something armed */
extern atomic_int kvfs_errtag_state;

bool kvfs_errtag_eval(enum kvfs_errtag tag);

/* Does the point fire now?  Counts the evaluation when armed. */
static inline bool kvfs_errtag(enum kvfs_errtag tag)
{
	if (__builtin_expect(atomic_load_explicit(&kvfs_errtag_state,
						  memory_order_relaxed) == 0,
			     1))
		return false;
	return kvfs_errtag_eval(tag);
}

/* Arm a tag; every 0 disarms it.  -EINVAL for an unknown tag. */
int kvfs_errtag_set(enum kvfs_errtag tag, uint64_t after, uint32_t every,
		    uint64_t count);
void kvfs_errtag_clear_all(void);
/* Times the tag fired since it was last armed. */
uint64_t kvfs_errtag_hits(enum kvfs_errtag tag);

/* "meta_read_io"; NULL for an unknown tag. */
const char *kvfs_errtag_name(enum kvfs_errtag tag);
/* The tag of a name, or -ENOENT. */
int kvfs_errtag_lookup(const char *name);
/*
 * Arm tags from a spec in the KVFS_ERRTAGS syntax.  0, or -EINVAL with
 * nothing armed and a description in err.
 */
int kvfs_errtag_parse(const char *spec, char *err, unsigned errlen);
/* What was wrong with KVFS_ERRTAGS, or NULL. */
const char *kvfs_errtag_env_error(void);

#endif
