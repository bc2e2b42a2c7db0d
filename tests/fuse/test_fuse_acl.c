// SPDX-License-Identifier: GPL-2.0
/*
 * fs/fuse/acl.c against the kernel's rules (fs/posix_acl.c), each
 * expectation as setfacl/getfacl show it on ext4 and tmpfs: which ACLs
 * are valid, the mode an access ACL gives, chmod's rewrite, and what a
 * new file or directory takes from a default ACL.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fs/fuse/acl.h"
#include "tests/check.h"

#define U 1000u
#define NOID 0xffffffffu

struct ent {
	uint16_t tag, perm;
	uint32_t id;
};

/* The xattr form of n entries into buf: its size (little-endian host). */
static size_t mk(char *buf, const struct ent *e, unsigned n)
{
	uint32_t v = 2;

	memcpy(buf, &v, 4);
	for (unsigned i = 0; i < n; i++)
		memcpy(buf + 4 + 8 * i, &e[i], 8);
	return 4 + 8 * (size_t)n;
}

static unsigned perm_of(const char *buf, unsigned i)
{
	struct ent e;

	memcpy(&e, buf + 4 + 8 * i, 8);
	return e.perm;
}

#define MK(buf, ...)                                 \
	mk(buf, (const struct ent[]){ __VA_ARGS__ }, \
	   sizeof((const struct ent[]){ __VA_ARGS__ }) / sizeof(struct ent))

static void test_check(void)
{
	char b[256];
	size_t n;

	n = MK(b, { 1, 6, NOID }, { 4, 4, NOID }, { 0x20, 0, NOID });
	CHECK_EQ(kvfs_acl_check(b, n), 0);
	CHECK_EQ(kvfs_acl_check(b, n - 1), -EINVAL);
	CHECK_EQ(kvfs_acl_check(b, 4), -EINVAL);
	/* a named user needs a mask */
	n = MK(b, { 1, 6, NOID }, { 2, 6, U }, { 4, 4, NOID },
	       { 0x20, 0, NOID });
	CHECK_EQ(kvfs_acl_check(b, n), -EINVAL);
	n = MK(b, { 1, 6, NOID }, { 2, 6, U }, { 4, 4, NOID },
	       { 0x10, 6, NOID }, { 0x20, 0, NOID });
	CHECK_EQ(kvfs_acl_check(b, n), 0);
	/* a mask without named entries is allowed */
	n = MK(b, { 1, 6, NOID }, { 4, 4, NOID }, { 0x10, 6, NOID },
	       { 0x20, 0, NOID });
	CHECK_EQ(kvfs_acl_check(b, n), 0);
	/* out of order, missing other, bad perm, bad tag, bad version */
	n = MK(b, { 4, 4, NOID }, { 1, 6, NOID }, { 0x20, 0, NOID });
	CHECK_EQ(kvfs_acl_check(b, n), -EINVAL);
	n = MK(b, { 1, 6, NOID }, { 4, 4, NOID });
	CHECK_EQ(kvfs_acl_check(b, n), -EINVAL);
	n = MK(b, { 1, 8, NOID }, { 4, 4, NOID }, { 0x20, 0, NOID });
	CHECK_EQ(kvfs_acl_check(b, n), -EINVAL);
	n = MK(b, { 1, 6, NOID }, { 4, 4, NOID }, { 0x40, 0, NOID });
	CHECK_EQ(kvfs_acl_check(b, n), -EINVAL);
	n = MK(b, { 1, 6, NOID }, { 4, 4, NOID }, { 0x20, 0, NOID });
	b[0] = 1;
	CHECK_EQ(kvfs_acl_check(b, n), -EINVAL);
}

static void test_equiv_chmod(void)
{
	uint32_t mode;
	char b[256];
	size_t n;

	n = MK(b, { 1, 6, NOID }, { 4, 4, NOID }, { 0x20, 0, NOID });
	CHECK_EQ(kvfs_acl_equiv_mode(b, n, &mode), 0);
	CHECK_EQ(mode, 0640);
	/* the mask is the group class: setfacl -m u:1000:rw,m::rw */
	n = MK(b, { 1, 6, NOID }, { 2, 6, U }, { 4, 4, NOID },
	       { 0x10, 6, NOID }, { 0x20, 0, NOID });
	CHECK_EQ(kvfs_acl_equiv_mode(b, n, &mode), 1);
	CHECK_EQ(mode, 0660);
	/* chmod 640 then: the mask, not the owning group, takes r-- */
	kvfs_acl_chmod(b, n, 0640);
	CHECK_EQ(perm_of(b, 0), 6);
	CHECK_EQ(perm_of(b, 1), 6);
	CHECK_EQ(perm_of(b, 2), 4);
	CHECK_EQ(perm_of(b, 3), 4);
	CHECK_EQ(perm_of(b, 4), 0);
	kvfs_acl_chmod(b, n, 0751);
	CHECK_EQ(perm_of(b, 0), 7);
	CHECK_EQ(perm_of(b, 3), 5);
	CHECK_EQ(perm_of(b, 4), 1);
	CHECK_EQ(kvfs_acl_equiv_mode(b, n, &mode), 1);
	CHECK_EQ(mode, 0751);
	/* without a mask chmod sets the owning group */
	n = MK(b, { 1, 6, NOID }, { 4, 4, NOID }, { 0x20, 0, NOID });
	kvfs_acl_chmod(b, n, 0705);
	CHECK_EQ(perm_of(b, 0), 7);
	CHECK_EQ(perm_of(b, 1), 0);
	CHECK_EQ(perm_of(b, 2), 5);
}

static void test_create(void)
{
	uint32_t mode;
	char b[256];
	size_t n;

	/* d:u::rwx,d:u:1000:r-x,d:g::r-x,d:m::rwx,d:o::--x (tmpfs's answers) */
	n = MK(b, { 1, 7, NOID }, { 2, 5, U }, { 4, 5, NOID },
	       { 0x10, 7, NOID }, { 0x20, 1, NOID });
	mode = 0666; /* creat(0666): the umask does not apply */
	CHECK_EQ(kvfs_acl_create_masq(b, n, &mode), 1);
	CHECK_EQ(mode, 0660);
	CHECK_EQ(perm_of(b, 0), 6);
	CHECK_EQ(perm_of(b, 1), 5);
	CHECK_EQ(perm_of(b, 2), 5);
	CHECK_EQ(perm_of(b, 3), 6);
	CHECK_EQ(perm_of(b, 4), 0);
	n = MK(b, { 1, 7, NOID }, { 2, 5, U }, { 4, 5, NOID },
	       { 0x10, 7, NOID }, { 0x20, 1, NOID });
	mode = 0777; /* mkdir(0777) */
	CHECK_EQ(kvfs_acl_create_masq(b, n, &mode), 1);
	CHECK_EQ(mode, 0771);
	CHECK_EQ(perm_of(b, 3), 7);
	/* a minimal default ACL only masks the mode: nothing to store */
	n = MK(b, { 1, 7, NOID }, { 4, 5, NOID }, { 0x20, 0, NOID });
	mode = 0666;
	CHECK_EQ(kvfs_acl_create_masq(b, n, &mode), 0);
	CHECK_EQ(mode, 0640);
}

int main(void)
{
	test_check();
	test_equiv_chmod();
	test_create();
	return 0;
}
