// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-difftest's runs (difftest.h): a seed's calls on fresh trees, each
 * call made on both sides and compared, then the whole trees; and the
 * minimisation of a difference by replays of fewer calls.
 */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "difftest.h"

struct side S[2];
struct op *ops;
long n_ok[K_NKIND], n_err[K_NKIND];
static long run_no;

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* what cannot be removed shows in the next run's trees */
	if (flag == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

static void side_reset(struct side *s)
{
	for (int i = 0; i < NSLOT; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
}

static int side_start(struct side *s)
{
	snprintf(s->base, sizeof(s->base), "%s/difftest.%d.%ld", s->root,
		 (int)getpid(), run_no);
	nftw(s->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (mkdir(s->base, 0777) || chmod(s->base, 0777))
		return -errno;
	side_reset(s);
	return 0;
}

static void side_end(struct side *s)
{
	side_reset(s);
	/* a tree changed by fsuid 1000 may hold 0000 dirs: root removes */
	nftw(s->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Run ops[idx[0..n-1]] on fresh trees; the index of the call where the
 * sides first differed (diff_msg says how), or -1.  kind_only >= 0: a
 * difference at another kind of call does not count (minimising).
 */
long run(const long *idx, long n, int kind_only, bool quiet, bool draw)
{
	long bad = -1;

	run_no++;
	set_cred(0, 0);
	if (side_start(&S[0]) || side_start(&S[1])) {
		fprintf(stderr, "kvfs-difftest: cannot make the trees: %s\n",
			strerror(errno));
		exit(2);
	}
	for (long j = 0; j < n; j++) {
		const struct op *o = &ops[idx[j]];
		char names[MAXPATHS][PATH_MAX];
		struct snap pre[MAXPATHS][2], post[2], fdpre[2];
		struct res r[2] = { { 0 } };
		uid_t uid = cur_uid;
		bool d = false, skip_times;
		int nn;

		if (draw)
			op_draw_live(&ops[idx[j]]);
		if (o->kind == K_CRED) {
			set_cred((uid_t)o->a, (gid_t)o->b);
			continue;
		}
		nn = touched(o, names);
		set_cred(0, 0);
		/* a call on an open file: its stamps, by fstat */
		for (int s = 0; s < 2; s++) {
			int fd = S[s].fd[o->slot];

			fdpre[s].err = nn || o->kind == K_CLOSE || fd < 0 ||
				       fstat(fd, &fdpre[s].st);
		}
		clock_past(names, nn, fdpre);
		for (int i = 0; i < nn; i++)
			for (int s = 0; s < 2; s++)
				snap_take(&S[s], names[i], &pre[i][s]);
		set_cred(uid, uid == 0 ? 0 : (gid_t)uid);
		for (int s = 0; s < 2; s++)
			op_run(&S[s], o, s, &r[s]);
		set_cred(0, 0);
		skip_times = filtered_result(o, r);
		if (skip_times) {
			if (o->kind == K_SETXATTR || o->kind == K_FSETXATTR)
				filtered_undo(o);
		} else
			d = res_differ(o, r);
		free(r[0].data);
		free(r[1].data);
		known_update(o, r[1].ret);
		if (r[1].err)
			n_err[o->kind]++;
		else
			n_ok[o->kind]++;
		for (int i = 0; !d && i < nn; i++) {
			for (int s = 0; s < 2; s++)
				snap_take(&S[s], names[i], &post[s]);
			d = snap_differ(names[i], &post[0], &post[1]);
			if (!d && same_size_truncate(o, i, pre[i]))
				filtered_times++;
			/* a filtered call changed one side only */
			else if (!d && !skip_times)
				d = times_differ(names[i], pre[i], post);
		}
		if (!d && o->slot >= 0 && nn == 0)
			d = fd_differ(o);
		/*
		 * A FIFO's data never reaches a FUSE daemon: the kernel's
		 * pipe stamps the inode, a local filesystem keeps the stamp
		 */
		if (!d && !skip_times && !fdpre[1].err &&
		    S_ISFIFO(fdpre[1].st.st_mode) &&
		    (o->kind == K_WRITE || o->kind == K_READ))
			filtered_fifo++;
		else if (!d && !skip_times && !fdpre[0].err && !fdpre[1].err) {
			char what[32];

			for (int s = 0; s < 2; s++)
				post[s].err =
					fstat(S[s].fd[o->slot], &post[s].st);
			snprintf(what, sizeof(what), "slot %d", o->slot);
			d = times_differ(what, fdpre, post);
		}
		if (!d && (check_every && (j + 1) % check_every == 0))
			d = tree_differ(".");
		set_cred(uid, uid == 0 ? 0 : (gid_t)uid);
		if (verbose > 1) {
			fprintf(stderr, "uid %u -> %s ", uid,
				r[1].err ? strerror(r[1].err) : "ok");
			op_print(stderr, idx[j], o);
		}
		if (d && (kind_only < 0 || (int)o->kind == kind_only)) {
			bad = j;
			if (!quiet) {
				fprintf(stderr,
					"DIFF at call %ld (uid %u): %s\n",
					idx[j], uid, diff_msg);
				op_print(stderr, idx[j], o);
			}
			if (!keep_going || quiet)
				break;
		} else if (d) {
			break;
		}
	}
	set_cred(0, 0);
	if (bad < 0 && tree_differ(".")) {
		bad = n;
		if (!quiet)
			fprintf(stderr, "DIFF at the end: %s\n", diff_msg);
	}
	side_end(&S[0]);
	side_end(&S[1]);
	return bad;
}

/* Leave out calls while the difference (at the same kind of call) stays. */
void minimize(long *idx, long n, long bad)
{
	int kind = bad < n ? (int)ops[idx[bad]].kind : -1;
	long trials = 0, chunk;
	long *try = malloc(sizeof(*try) * (size_t)n);

	n = bad < n ? bad + 1 : n;
	for (chunk = n / 2; chunk >= 1 && trials < 600; chunk /= 2) {
		for (long start = 0; start < n && trials < 600;) {
			long m = 0, b;

			for (long j = 0; j < n; j++)
				if (j < start || j >= start + chunk)
					try[m++] = idx[j];
			trials++;
			b = m ? run(try, m, kind, true, false) : -1;
			if (b >= 0) {
				n = b + 1;
				memcpy(idx, try, sizeof(*idx) * (size_t)n);
			} else {
				start += chunk;
			}
		}
	}
	keep_going = false;
	printf("minimal reproducer (%ld calls, %ld trials):\n", n, trials);
	for (long j = 0; j < n; j++)
		op_print(stdout, idx[j], &ops[idx[j]]);
	if (run(idx, n, kind, false, false) >= 0)
		printf("  -> %s\n", diff_msg);
	free(try);
}
