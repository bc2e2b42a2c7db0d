// SPDX-License-Identifier: GPL-2.0
/*
 * Recognising what is already on a device, so that mkfs does not destroy
 * a filesystem or volume by accident (like libblkid's probes, for the few
 * signatures that matter).
 */
#include <stdint.h>
#include <string.h>

#include "fs/format.h"
#include "fs/format/mkfs.h"

static bool has(const uint8_t *b, size_t len, size_t off, const void *sig,
		size_t siglen)
{
	return off + siglen <= len && !memcmp(b + off, sig, siglen);
}

static uint32_t le32_at(const uint8_t *b, size_t off)
{
	kv_le32 v;

	memcpy(&v, b + off, sizeof(v));
	return kv_le32_to_cpu(v);
}

static const char *probe_ext(const uint8_t *b, size_t len)
{
	const size_t sb = 1024;
	uint32_t compat, incompat;

	if (!has(b, len, sb + 0x38, "\x53\xef", 2) || len < sb + 0x68)
		return NULL;
	compat = le32_at(b, sb + 0x5c);
	incompat = le32_at(b, sb + 0x60);
	/* extents, 64bit, flex_bg, or inline data: ext4 */
	if (incompat & (0x40 | 0x80 | 0x200 | 0x8000))
		return "ext4";
	return compat & 0x4 ? "ext3" : "ext2";
}

const char *kvfs_probe_signature(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	kv_le32 kvsb = kv_cpu_to_le32(KVFS_SB_MAGIC);
	const char *ext;

	if (has(b, len, 0, &kvsb, 4))
		return "kvfs";
	if (has(b, len, 0, "XFSB", 4))
		return "XFS";
	ext = probe_ext(b, len);
	if (ext)
		return ext;
	if (has(b, len, 65536 + 64, "_BHRfS_M", 8))
		return "btrfs";
	if (has(b, len, 0, "LUKS\xba\xbe", 6))
		return "LUKS";
	if (has(b, len, 0, "hsqs", 4))
		return "squashfs";
	if (has(b, len, 4096 - 10, "SWAPSPACE2", 10) ||
	    has(b, len, 4096 - 10, "SWAP-SPACE", 10))
		return "swap";
	if (has(b, len, 512, "LABELONE", 8))
		return "LVM2";
	if (has(b, len, 32769, "CD001", 5))
		return "iso9660";
	if (has(b, len, 512, "EFI PART", 8))
		return "GPT partition table";
	if (has(b, len, 510, "\x55\xaa", 2)) {
		if (has(b, len, 54, "FAT", 3) || has(b, len, 82, "FAT", 3))
			return "FAT";
		if (has(b, len, 3, "NTFS    ", 8))
			return "NTFS";
		return "DOS partition table";
	}
	return NULL;
}
