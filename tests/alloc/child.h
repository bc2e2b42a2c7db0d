/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Run a function in a forked child and collect how it ended and what it
 * wrote on stderr: for the checks whose failure is the process dying.
 */
#ifndef KV_TESTS_ALLOC_CHILD_H
#define KV_TESTS_ALLOC_CHILD_H

#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"

/* fn runs in the child (exit status 0 if it returns); returns the status */
static inline int run_child(void (*fn)(void), char *err, size_t errlen)
{
	int pipefd[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	CHECK_EQ(pipe(pipefd), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		dup2(pipefd[1], 2);
		fn();
		_exit(0);
	}
	close(pipefd[1]);
	while (len < errlen - 1 &&
	       (n = read(pipefd[0], err + len, errlen - 1 - len)) > 0)
		len += (size_t)n;
	err[len] = 0;
	close(pipefd[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	return status;
}

static inline int child_signal(int status)
{
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

#endif
