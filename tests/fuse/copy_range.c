// SPDX-License-Identifier: GPL-2.0
/*
 * copy_range SRC DST OFF_IN OFF_OUT LEN: one copy_file_range(2) call, as a
 * program using it makes it (DST opened O_WRONLY|O_CREAT, or O_RDWR when
 * it is SRC).  Prints the byte count, or the errno's name (EINVAL, ...)
 * and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	loff_t off_in, off_out;
	int in, out;
	ssize_t n;

	if (argc != 6) {
		fprintf(stderr,
			"usage: copy_range SRC DST OFF_IN OFF_OUT LEN\n");
		return 2;
	}
	off_in = strtoll(argv[3], NULL, 0);
	off_out = strtoll(argv[4], NULL, 0);
	in = open(argv[1], O_RDONLY);
	out = strcmp(argv[1], argv[2]) ?
		      open(argv[2], O_WRONLY | O_CREAT, 0644) :
		      open(argv[2], O_RDWR);
	if (in < 0 || out < 0) {
		printf("%s\n", strerrorname_np(errno));
		return 1;
	}
	n = copy_file_range(in, &off_in, out, &off_out,
			    strtoull(argv[5], NULL, 0), 0);
	if (n < 0) {
		printf("%s\n", strerrorname_np(errno));
		return 1;
	}
	printf("%zd\n", n);
	return 0;
}
