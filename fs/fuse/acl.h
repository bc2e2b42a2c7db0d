/* SPDX-License-Identifier: GPL-2.0 */
/*
 * POSIX ACLs in their xattr form (include/uapi/linux/posix_acl_xattr.h: a
 * little-endian version 2 header, then {tag, perm, id} entries), for the
 * daemon's FUSE_CAP_POSIX_ACL: the kernel enforces the ACLs it reads as
 * xattrs; the daemon keeps each file's mode in step with its access ACL
 * (a chmod rewrites the ACL, a new ACL rewrites the mode) and derives a
 * new inode's ACLs and mode from its directory's default ACL.  The rules
 * are the kernel's (fs/posix_acl.c).  Pure functions on a buffer: no I/O.
 */
#ifndef KV_FS_FUSE_ACL_H
#define KV_FS_FUSE_ACL_H

#include <stddef.h>
#include <stdint.h>

#define KVFS_ACL_ACCESS "system.posix_acl_access"
#define KVFS_ACL_DEFAULT "system.posix_acl_default"
/* the kernel's limit on what it sends (fuse_set_acl: one page) */
#define KVFS_ACL_MAX_SIZE 4096

/* tags */
#define KVFS_ACL_USER_OBJ 0x01
#define KVFS_ACL_USER 0x02
#define KVFS_ACL_GROUP_OBJ 0x04
#define KVFS_ACL_GROUP 0x08
#define KVFS_ACL_MASK 0x10
#define KVFS_ACL_OTHER 0x20

/*
 * 0 if value is a well-formed ACL (posix_acl_valid(): one owner, owning
 * group and other entry, in order, and a mask when named entries are
 * there), -EINVAL otherwise.
 */
int kvfs_acl_check(const void *value, size_t size);

/*
 * The permission bits (0777) of a valid access ACL: owner, mask (or the
 * owning group without one), other.  1 if the ACL says more than those
 * bits (it must be stored), 0 if the mode says it all.
 */
int kvfs_acl_equiv_mode(const void *value, size_t size, uint32_t *mode);

/* chmod of a valid access ACL: owner, mask (or group) and other from mode. */
void kvfs_acl_chmod(void *value, size_t size, uint32_t mode);

/*
 * A new inode's access ACL from its directory's default ACL (value, valid,
 * rewritten in place), *mode (its permission bits) masked by the ACL and
 * the ACL by *mode: posix_acl_create_masq().  1 if the result must be
 * stored, 0 if the mode says it all.
 */
int kvfs_acl_create_masq(void *value, size_t size, uint32_t *mode);

#endif
