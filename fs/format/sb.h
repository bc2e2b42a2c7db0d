/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Superblock: encode the in-core geometry to a block, decode and verify a
 * block into it, read the primary superblock of a device, and the feature
 * rules (unknown incompat -> refuse, unknown ro_compat -> read-only,
 * unknown log_incompat -> refuse a dirty log, needs-repair -> no mount).
 */
#ifndef KV_FS_SB_H
#define KV_FS_SB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/geom.h"

struct kv_dev;

/* Fill blk (g->blocksize bytes) with AG agno's superblock copy. */
void kvfs_sb_to_disk(const struct kvfs_geom *g, uint32_t agno, void *blk);

/*
 * Verify blk (len bytes, read from AG agno's block 0) and decode it into g.
 * meta_uuid NULL: take the metadata UUID from the block's header (the
 * primary); otherwise the header must carry it.  -EBADMSG / -EUCLEAN,
 * recorded via kvfs_corrupt().
 */
int kvfs_sb_from_disk(const void *blk, size_t len, uint32_t agno,
		      const uint8_t *meta_uuid, struct kvfs_geom *g);

/*
 * The block size the primary superblock's header names, checked against
 * the format's range and the device, before the block itself is read (it
 * reads no more than the header: usable before kv_init()).  Errors as
 * kvfs_sb_read()'s.
 */
int kvfs_sb_blocksize(struct kv_dev *dev, uint32_t *bs);

/*
 * Read and verify the primary superblock.  -ENODATA (no message) when block
 * 0 is not a kvfs superblock at all (neither its magic nor the fields
 * around it); -EBADMSG/-EUCLEAN when it is a damaged
 * one; -errno on I/O errors.
 */
int kvfs_sb_read(struct kv_dev *dev, struct kvfs_geom *g);

/*
 * Check that this code may read g: -EOPNOTSUPP for an unknown incompat
 * feature or an unknown log_incompat feature on a dirty filesystem, -EROFS
 * for an unknown ro_compat feature when !rdonly.  Recorded via
 * kvfs_report().  Inspectors (kvfs-db, logprint, fsck) call this one.
 */
int kvfs_sb_check_features(const struct kvfs_geom *g, bool rdonly);

/*
 * kvfs_sb_check_features(), and -EUCLEAN for a filesystem whose repair is
 * unfinished (needs-repair bit): what a mount calls.
 */
int kvfs_sb_check_mount(const struct kvfs_geom *g, bool rdonly);

/*
 * Superblock state words, indexed by the state value (KVFS_STATE_DIRTY and
 * KVFS_STATE_ERRORS are bits): "clean", "dirty", "clean,errors",
 * "dirty,errors".  kvfs_sb_state_name() gives "invalid" for other values.
 */
#define KVFS_SB_STATE_NAMES 4
extern const char *const kvfs_sb_state_names[KVFS_SB_STATE_NAMES];
const char *kvfs_sb_state_name(uint32_t state);

/* UUIDs: parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", format, generate v4. */
int kvfs_uuid_parse(const char *s, uint8_t uuid[KVFS_UUID_SIZE]);
void kvfs_uuid_format(const uint8_t uuid[KVFS_UUID_SIZE], char out[37]);
int kvfs_uuid_generate(uint8_t uuid[KVFS_UUID_SIZE]);

#endif
