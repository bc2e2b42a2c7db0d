// SPDX-License-Identifier: GPL-2.0
/*
 * Command-line values of the tools (tools/cli.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/format/mkfs.h"
#include "tools/cli.h"

int cli_uint(const char *prog, const char *opt, const char *s, unsigned min,
	     unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || *s == '-' || v < min || v > max) {
		fprintf(stderr, "%s: bad %s value '%s' (%u..%u)\n", prog, opt,
			s, min, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int cli_seconds(const char *prog, const char *opt, const char *s, double min,
		double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* strtod's hex, inf and nan forms are no durations */
	if (errno || *end || !*s || strspn(s, "0123456789.") != strlen(s) ||
	    !(v >= min && v <= max)) {
		fprintf(stderr, "%s: bad %s value '%s' (%g..%g seconds)\n",
			prog, opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_uint_list(const char *prog, const char *opt, const char *s,
		  unsigned max_each, unsigned *out, unsigned max_n, unsigned *n)
{
	const char *p = s;
	char tok[16];
	size_t len;

	*n = 0;
	for (;;) {
		len = strcspn(p, ",");
		if (*n == max_n) {
			fprintf(stderr, "%s: at most %u %s values\n", prog,
				max_n, opt);
			return -1;
		}
		if (!len || len >= sizeof(tok)) {
			fprintf(stderr, "%s: bad %s value '%s'\n", prog, opt,
				s);
			return -1;
		}
		memcpy(tok, p, len);
		tok[len] = '\0';
		if (cli_uint(prog, opt, tok, 1, max_each, &out[(*n)++]))
			return -1;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

int cli_size(const char *prog, const char *opt, const char *s, uint64_t min,
	     uint64_t *out)
{
	if (kvfs_parse_size(s, out) || *out < min || !*out) {
		fprintf(stderr,
			"%s: bad %s value '%s' (a size of at least %llu bytes, K/M/G/T suffixes)\n",
			prog, opt, s, (unsigned long long)(min ? min : 1));
		return -1;
	}
	return 0;
}
