// SPDX-License-Identifier: GPL-2.0
/* POSIX ACLs in their xattr form (fs/fuse/acl.h). */
#include "fs/fuse/acl.h"

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define ACL_VERSION 2
#define HDR 4
#define ENT 8
#define PERMS 7u

static unsigned count(size_t size)
{
	return (unsigned)((size - HDR) / ENT);
}

static uint16_t get16(const void *value, size_t off)
{
	uint16_t v;

	memcpy(&v, (const char *)value + off, sizeof(v));
	return le16toh(v);
}

static void put16(void *value, size_t off, uint16_t v)
{
	v = htole16(v);
	memcpy((char *)value + off, &v, sizeof(v));
}

static uint16_t tag(const void *value, unsigned i)
{
	return get16(value, HDR + (size_t)i * ENT);
}

static uint16_t perm(const void *value, unsigned i)
{
	return get16(value, HDR + (size_t)i * ENT + 2);
}

static void set_perm(void *value, unsigned i, uint32_t p)
{
	put16(value, HDR + (size_t)i * ENT + 2, (uint16_t)(p & PERMS));
}

int kvfs_acl_check(const void *value, size_t size)
{
	/* the states of posix_acl_valid(): the entry kinds still allowed */
	enum {
		S_USER_OBJ,
		S_USER,
		S_GROUP,
		S_OTHER,
		S_DONE
	} state = S_USER_OBJ;
	uint32_t version;
	bool needs_mask = false;

	if (size < HDR + ENT || (size - HDR) % ENT)
		return -EINVAL;
	memcpy(&version, value, sizeof(version));
	if (le32toh(version) != ACL_VERSION)
		return -EINVAL;
	for (unsigned i = 0; i < count(size); i++) {
		if (perm(value, i) & ~PERMS)
			return -EINVAL;
		switch (tag(value, i)) {
		case KVFS_ACL_USER_OBJ:
			if (state != S_USER_OBJ)
				return -EINVAL;
			state = S_USER;
			break;
		case KVFS_ACL_USER:
			if (state != S_USER)
				return -EINVAL;
			needs_mask = true;
			break;
		case KVFS_ACL_GROUP_OBJ:
			if (state != S_USER)
				return -EINVAL;
			state = S_GROUP;
			break;
		case KVFS_ACL_GROUP:
			if (state != S_GROUP)
				return -EINVAL;
			needs_mask = true;
			break;
		case KVFS_ACL_MASK:
			if (state != S_GROUP)
				return -EINVAL;
			state = S_OTHER;
			break;
		case KVFS_ACL_OTHER:
			if (state != S_OTHER &&
			    (state != S_GROUP || needs_mask))
				return -EINVAL;
			state = S_DONE;
			break;
		default:
			return -EINVAL;
		}
	}
	return state == S_DONE ? 0 : -EINVAL;
}

int kvfs_acl_equiv_mode(const void *value, size_t size, uint32_t *mode)
{
	uint32_t owner = 0, group = 0, other = 0;
	int more = 0, mask = -1;

	for (unsigned i = 0; i < count(size); i++) {
		uint32_t p = perm(value, i) & PERMS;

		switch (tag(value, i)) {
		case KVFS_ACL_USER_OBJ:
			owner = p;
			break;
		case KVFS_ACL_GROUP_OBJ:
			group = p;
			break;
		case KVFS_ACL_MASK:
			mask = (int)p;
			more = 1;
			break;
		case KVFS_ACL_OTHER:
			other = p;
			break;
		default:
			more = 1;
			break;
		}
	}
	/* with a mask, the mode's group bits are the mask */
	*mode = owner << 6 | (mask >= 0 ? (uint32_t)mask : group) << 3 | other;
	return more;
}

/* The index of the entry tagged t, or -1. */
static int find(const void *value, size_t size, uint16_t t)
{
	for (unsigned i = 0; i < count(size); i++)
		if (tag(value, i) == t)
			return (int)i;
	return -1;
}

void kvfs_acl_chmod(void *value, size_t size, uint32_t mode)
{
	int mask = find(value, size, KVFS_ACL_MASK);
	int group = find(value, size, KVFS_ACL_GROUP_OBJ);

	for (unsigned i = 0; i < count(size); i++) {
		if (tag(value, i) == KVFS_ACL_USER_OBJ)
			set_perm(value, i, mode >> 6);
		else if (tag(value, i) == KVFS_ACL_OTHER)
			set_perm(value, i, mode);
	}
	set_perm(value, (unsigned)(mask >= 0 ? mask : group), mode >> 3);
}

int kvfs_acl_create_masq(void *value, size_t size, uint32_t *mode)
{
	int mask = find(value, size, KVFS_ACL_MASK);
	int group = find(value, size, KVFS_ACL_GROUP_OBJ);
	unsigned g = (unsigned)(mask >= 0 ? mask : group);
	uint32_t m = *mode;
	int more = mask >= 0;

	for (unsigned i = 0; i < count(size); i++) {
		uint32_t p = perm(value, i);

		switch (tag(value, i)) {
		case KVFS_ACL_USER_OBJ:
			p &= m >> 6;
			set_perm(value, i, p);
			m &= p << 6 | ~0700u;
			break;
		case KVFS_ACL_OTHER:
			p &= m;
			set_perm(value, i, p);
			m &= p | ~07u;
			break;
		case KVFS_ACL_USER:
		case KVFS_ACL_GROUP:
			more = 1;
			break;
		default:
			break;
		}
	}
	set_perm(value, g, perm(value, g) & (m >> 3));
	m &= (uint32_t)perm(value, g) << 3 | ~070u;
	*mode = m;
	return more;
}
