// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-db: reading blocks, printing their header and the fields of a
 * structure by its table (tools/db/db.h).
 */
#include "tools/db/db.h"

void print_hdr(const void *blk, size_t len)
{
	const struct kvfs_blk_hdr *h = blk;
	uint32_t stored = kv_le32_to_cpu(h->crc);
	uint32_t crc = kv_crc32c_block(blk, len, KVFS_BLK_CRC_OFF);
	char m[5], uuid[37];

	kvfs_magic_str(kv_le32_to_cpu(h->magic), m);
	kvfs_uuid_format(h->uuid, uuid);
	printf("magic = 0x%08x (\"%s\")\n", kv_le32_to_cpu(h->magic), m);
	printf("crc = 0x%08x (%s)\n", stored,
	       stored == crc ? "correct" : "bad");
	printf("blkno = %" PRIu64 "\n", (uint64_t)kv_le64_to_cpu(h->blkno));
	printf("lsn = 0x%" PRIx64 "\n", (uint64_t)kv_le64_to_cpu(h->lsn));
	printf("owner = %" PRIu64 "\n", (uint64_t)kv_le64_to_cpu(h->owner));
	printf("uuid = %s\n", uuid);
}

int read_blk_n(struct db *db, uint64_t fsb, uint32_t n, void *blk)
{
	int ret = kvfs_read_blocks(db->dev, &db->g, fsb, n, blk);

	if (ret)
		fprintf(stderr, "kvfs-db: cannot read block %" PRIu64 ": %s\n",
			fsb, strerror(-ret));
	return ret;
}

int read_blk(struct db *db, uint64_t fsb, void *blk)
{
	return read_blk_n(db, fsb, 1, blk);
}

const char *fork_format_name(uint8_t f)
{
	switch (f) {
	case 0:
		return "none";
	case KVFS_DFORK_INLINE:
		return "inline";
	case KVFS_DFORK_EXTENTS:
		return "extents";
	case KVFS_DFORK_BTREE:
		return "btree";
	}
	return "unknown";
}

/* One field at p, "prefix.name = value" (no prefix: "name = value"). */
void print_field(const void *p, const char *prefix, const char *name,
		 enum ftype type)
{
	kv_le16 v16 = { 0 };
	kv_le32 v32 = { 0 };
	kv_le64 v64 = { 0 };
	size_t sz = ftype_size(type);
	char uuid[37];

	/* only the field's own bytes: it may end its block */
	memcpy(&v16, p, sz < sizeof(v16) ? sz : sizeof(v16));
	memcpy(&v32, p, sz < sizeof(v32) ? sz : sizeof(v32));
	memcpy(&v64, p, sz < sizeof(v64) ? sz : sizeof(v64));
	printf("%s%s%s = ", prefix ? prefix : "", prefix && *name ? "." : "",
	       name);
	switch (type) {
	case F_U8:
		printf("%u\n", *(const uint8_t *)p);
		break;
	case F_U16:
		printf("%u\n", kv_le16_to_cpu(v16));
		break;
	case F_U32:
		printf("%u\n", kv_le32_to_cpu(v32));
		break;
	case F_U64:
		printf("%" PRIu64 "\n", (uint64_t)kv_le64_to_cpu(v64));
		break;
	case F_HEX16:
		printf("0x%x\n", kv_le16_to_cpu(v16));
		break;
	case F_HEX32:
		printf("0x%x\n", kv_le32_to_cpu(v32));
		break;
	case F_HEX64:
		printf("0x%" PRIx64 "\n", (uint64_t)kv_le64_to_cpu(v64));
		break;
	case F_OCT16:
		printf("0%o\n", kv_le16_to_cpu(v16));
		break;
	case F_NULLAG:
		if (kv_le32_to_cpu(v32) == KVFS_NULLAGBLOCK)
			printf("null\n");
		else
			printf("%u\n", kv_le32_to_cpu(v32));
		break;
	case F_STATE:
		printf("%s\n", kvfs_sb_state_name(kv_le16_to_cpu(v16)));
		break;
	case F_UUID:
		kvfs_uuid_format(p, uuid);
		printf("%s\n", uuid);
		break;
	case F_LABEL:
		printf("\"%.*s\"\n", KVFS_LABEL_MAX, (const char *)p);
		break;
	case F_TS: {
		const struct kvfs_timestamp *t = p;

		printf("%" PRId64 ".%09u\n", (int64_t)kv_le64_to_cpu(t->sec),
		       kv_le32_to_cpu(t->nsec));
		break;
	}
	case F_FORMAT:
		printf("%s\n", fork_format_name(*(const uint8_t *)p));
		break;
	}
}

static void print_fields_pfx(const void *base, const char *prefix,
			     const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		print_field((const uint8_t *)base + f[i].off, prefix, f[i].name,
			    f[i].type);
}

void print_fields(const void *base, const struct field *f, size_t n)
{
	print_fields_pfx(base, NULL, f, n);
}

void hexdump(const uint8_t *p, size_t len)
{
	bool starred = false;

	for (size_t off = 0; off < len; off += 16) {
		if (off && off + 16 <= len &&
		    !memcmp(p + off, p + off - 16, 16)) {
			if (!starred)
				printf("*\n");
			starred = true;
			continue;
		}
		starred = false;
		printf("%06zx:", off);
		for (size_t i = 0; i < 16 && off + i < len; i++)
			printf("%s%02x", i == 8 ? "  " : " ", p[off + i]);
		printf("  ");
		for (size_t i = 0; i < 16 && off + i < len; i++)
			putchar(isprint(p[off + i]) ? p[off + i] : '.');
		putchar('\n');
	}
	printf("%06zx\n", len);
}

size_t ftype_size(enum ftype t)
{
	switch (t) {
	case F_U8:
	case F_FORMAT:
		return 1;
	case F_U16:
	case F_HEX16:
	case F_OCT16:
	case F_STATE:
		return 2;
	case F_U32:
	case F_HEX32:
	case F_NULLAG:
		return 4;
	case F_U64:
	case F_HEX64:
		return 8;
	case F_UUID:
		return KVFS_UUID_SIZE;
	case F_LABEL:
		return KVFS_LABEL_MAX;
	case F_TS:
		return sizeof(struct kvfs_timestamp);
	}
	return 0;
}
