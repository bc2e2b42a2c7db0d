// SPDX-License-Identifier: GPL-2.0
/*
 * The journal never prints: what it has to say beyond an errno goes to
 * the sink of kvj_report_set_sink().  Without one, a shutdown and a
 * refused recovery leave stderr empty; with one, the sink gets one line
 * for each ("log shut down: WHY" once, however often the log is shut
 * down; "the log is dirty and recovery was not allowed"), without the
 * "kvjournal: " prefix or a newline.
 */
#include <sys/stat.h>

#include "tests/journal/jt.h"

#define LOGB (128 * 1024)

static char lines[8][320];
static unsigned nr_lines;

static void sink(const char *line, void *priv)
{
	CHECK(priv == lines);
	CHECK(nr_lines < 8);
	snprintf(lines[nr_lines++], sizeof(lines[0]), "%s", line);
}

/* A dirty log: one transaction forced, then a crash. */
static void dirty_log(struct jt *t, const char *why)
{
	jt_tx1(t, 0, 64, 64, 0x42);
	CHECK_EQ(kvj_log_force(t->log, 0), 0);
	kvj_log_shutdown(t->log, why);
	kvj_log_shutdown(t->log, "again");
	CHECK(kvj_log_close(t->log) == 0);
	t->log = NULL;
}

static void test_silent(void)
{
	struct kvj_log_params p = { .no_recovery = true };
	char path[300];
	struct jt t;
	struct stat st;
	int fd, saved;

	jt_create(&t, "report-silent", 4, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open(&t) == 0);
	snprintf(path, sizeof(path), "%s.err", t.path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	CHECK(saved >= 0 && dup2(fd, STDERR_FILENO) == STDERR_FILENO);
	dirty_log(&t, "test crash");
	CHECK_EQ(jt_log_open_p(&t, &p), -EUCLEAN);
	fflush(stderr);
	CHECK(dup2(saved, STDERR_FILENO) == STDERR_FILENO);
	close(saved);
	CHECK(fstat(fd, &st) == 0);
	CHECK_EQ(st.st_size, 0);
	close(fd);
	unlink(path);
	jt_dev_close(&t);
	jt_remove(&t);
}

static void test_sink(void)
{
	struct kvj_log_params p = { .no_recovery = true };
	struct jt t;

	kvj_report_set_sink(sink, lines);
	jt_create(&t, "report-sink", 4, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open(&t) == 0);
	dirty_log(&t, "test crash");
	CHECK_EQ(nr_lines, 1);
	CHECK(!strcmp(lines[0], "log shut down: test crash"));
	CHECK_EQ(jt_log_open_p(&t, &p), -EUCLEAN);
	CHECK_EQ(nr_lines, 2);
	CHECK(!strcmp(lines[1],
		      "the log is dirty and recovery was not allowed"));
	/* recovery allowed: it replays, and has nothing to say */
	CHECK(jt_log_open(&t) == 0);
	CHECK_EQ(nr_lines, 2);
	jt_check_range(&t, 0, 64, 0x42);
	CHECK(kvj_log_close(t.log) == 0);
	t.log = NULL;
	kvj_report_set_sink(NULL, NULL);
	jt_dev_close(&t);
	jt_remove(&t);
}

int main(void)
{
	jt_init(64 << 20);
	test_silent();
	test_sink();
	jt_fini();
	printf("journal report: ok\n");
	return 0;
}
