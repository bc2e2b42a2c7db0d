// SPDX-License-Identifier: GPL-2.0
/*
 * The libraries' bug path (journal/bug.h): kvj_bug() and kvfs_bug() hand
 * one line to the program's hook and abort; with no hook a debug build
 * writes the line to stderr and a release build writes nothing.  Each case
 * runs in a child whose stderr is a pipe.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/bug.h"
#include "journal/bug.h"
#include "tests/check.h"

#ifdef KV_DEBUG
#define KV_DEFAULT_BUG "debug: stderr"
#else
#define KV_DEFAULT_BUG "release: silent"
#endif

static int hook_fd;

static void to_pipe(const char *msg)
{
	if (write(hook_fd, msg, strlen(msg)) < 0)
		_exit(3);
}

/* Run the bug in a child: what its hook and its stderr got. */
static void run(bool hooked, bool fs, char *hooked_out, char *err_out,
		size_t len)
{
	int hp[2], ep[2], status;
	ssize_t n;
	pid_t pid;

	CHECK_EQ(pipe(hp), 0);
	CHECK_EQ(pipe(ep), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		dup2(ep[1], STDERR_FILENO);
		hook_fd = hp[1];
		kvj_bug_set_hook(hooked ? to_pipe : NULL);
		if (fs)
			kvfs_bug("inode %d: %s", 12, "broken");
		kvj_bug("item %s", "x");
	}
	close(hp[1]);
	close(ep[1]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status));
	CHECK_EQ(WTERMSIG(status), SIGABRT);
	n = read(hp[0], hooked_out, len - 1);
	CHECK(n >= 0);
	hooked_out[n] = '\0';
	n = read(ep[0], err_out, len - 1);
	CHECK(n >= 0);
	err_out[n] = '\0';
	close(hp[0]);
	close(ep[0]);
}

int main(void)
{
	char h[600], e[600];

	run(true, false, h, e, sizeof(h));
	CHECK(!strcmp(h, "kvjournal: BUG: item x"));
	CHECK(!strcmp(e, ""));
	run(true, true, h, e, sizeof(h));
	CHECK(!strcmp(h, "kvfs: BUG: inode 12: broken"));
	CHECK(!strcmp(e, ""));
	run(false, true, h, e, sizeof(h));
	CHECK(!strcmp(h, ""));
#ifdef KV_DEBUG
	CHECK(!strcmp(e, "kvfs: BUG: inode 12: broken\n"));
#else
	CHECK(!strcmp(e, ""));
#endif
	printf("bug hook: hooked, fs, and default (%s) cases ok\n",
	       KV_DEFAULT_BUG);
	return 0;
}
