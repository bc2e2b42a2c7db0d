// SPDX-License-Identifier: GPL-2.0
/*
 * kv_report() (alloc/report.h): with a hook installed, a leak at kv_fini()
 * and an invalid free reach the hook, with their level, and nothing
 * reaches stderr; with the hook removed, stderr again (the default of a
 * program that installed none, and of every test).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "alloc/report.h"
#include "tests/alloc/child.h"
#include "tests/check.h"

#define BUDGET (16u << 20)

static int hook_fd = -1;

/* "W kvalloc: ...\n" or "B kvalloc: ...\n" down the pipe */
static void to_pipe(int level, const char *msg)
{
	char c = level == KV_REPORT_BUG ? 'B' : 'W';

	if (write(hook_fd, &c, 1) != 1 || write(hook_fd, " ", 1) != 1 ||
	    write(hook_fd, msg, strlen(msg)) < 0 ||
	    write(hook_fd, "\n", 1) != 1)
		_exit(3);
}

static void leak_one(bool strict)
{
	struct kv_config cfg = { .budget_bytes = BUDGET };

	if (strict)
		setenv("KVALLOC_STRICT", "1", 1);
	else
		unsetenv("KVALLOC_STRICT");
	CHECK_EQ(kv_init(&cfg), 0);
	CHECK(kvmalloc(100, 0));
}

static void leak_hooked(void)
{
	kv_report_set_hook(to_pipe);
	leak_one(false);
	CHECK_EQ(kv_fini(), 1);
}

static void bad_free_hooked(void)
{
	char *p;

	kv_report_set_hook(to_pipe);
	leak_one(true);
	p = kvmalloc(100 << 10, 0);
	kvfree(p + KV_PAGE_SIZE);
}

static void leak_unhooked(void)
{
	kv_report_set_hook(to_pipe);
	kv_report_set_hook(NULL);
	leak_one(false);
	CHECK_EQ(kv_fini(), 1);
}

/* Run fn in a child whose hook writes to a pipe: what the hook got. */
static int run_hooked(void (*fn)(void), char *hooked, char *err, size_t len)
{
	int hp[2], status;
	ssize_t n;
	size_t got = 0;

	CHECK_EQ(pipe(hp), 0);
	hook_fd = hp[1];
	status = run_child(fn, err, len);
	close(hp[1]);
	while (got < len - 1 &&
	       (n = read(hp[0], hooked + got, len - 1 - got)) > 0)
		got += (size_t)n;
	hooked[got] = '\0';
	close(hp[0]);
	return status;
}

int main(void)
{
	char h[4096], e[4096];
	int status;

	status = run_hooked(leak_hooked, h, e, sizeof(h));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(strstr(h, "W kvalloc: leak: 1 object(s) of kmalloc-112"));
	CHECK(strstr(h, "W kvalloc: 1 allocation(s) never freed\n"));
	CHECK(!strcmp(e, ""));

	status = run_hooked(bad_free_hooked, h, e, sizeof(h));
	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(h, "B kvalloc: kvfree of invalid pointer"));
	CHECK(!strcmp(e, ""));

	status = run_hooked(leak_unhooked, h, e, sizeof(h));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!strcmp(h, ""));
	CHECK(strstr(e, "kvalloc: 1 allocation(s) never freed\n"));
	printf("report hook: leak and invalid free to the hook, none to stderr\n");
	return 0;
}
