// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-db: inspector of a kvfs filesystem, like xfs_db.  Every decoder is
 * libkvfs's (fs/: verifiers, the directory, attribute and extent-map
 * code through a read-only mount); kvfs-db (tools/db/) only prints, and
 * in expert mode (-x) writes named fields and flips bits.  Structures are
 * described by field tables (name, offset, kind; the kind gives the size) that
 * both printing and writing use.  Commands live in one table: add a row to add
 * a command.
 */
#include "tools/db/db.h"
#include "tools/report.h"

int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

int parse_agno(struct db *db, const char *s, uint32_t *agno)
{
	uint64_t v;

	if (parse_u64(s, &v) || v >= db->g.agcount) {
		fprintf(stderr, "kvfs-db: invalid AG \"%s\" (AGs 0..%u)\n", s,
			db->g.agcount - 1);
		return -EINVAL;
	}
	*agno = (uint32_t)v;
	return 0;
}

int parse_ino(struct db *db, const char *s, uint64_t *ino)
{
	if (parse_u64(s, ino) || !kvfs_ino_in_range(&db->g, *ino)) {
		fprintf(stderr, "kvfs-db: invalid inode number \"%s\"\n", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_block(struct db *db, const char *s, uint64_t *fsb)
{
	uint64_t nblocks = db->sb_ok ? db->g.dblocks :
				       kv_dev_size(db->dev) >> db->g.blocklog;

	if (parse_u64(s, fsb) || *fsb >= nblocks) {
		fprintf(stderr,
			"kvfs-db: invalid block \"%s\" (0..%" PRIu64 ")\n", s,
			nblocks - 1);
		return -EINVAL;
	}
	return 0;
}

/*
 * The n words w of a command or write target named name, by spec (the
 * words up to MAX_SPEC, then opt if the command takes one) into a.
 * -EINVAL, said on stderr, when one is not what its kind wants.
 */
int parse_args(struct db *db, const char *name, const enum arg *spec,
	       const char *opt, char **w, int n, struct db_args *a)
{
	memset(a, 0, sizeof(*a));
	a->argc = n;
	a->argv = w;
	if (opt && n > 0 && (n > MAX_SPEC || spec[n - 1] == A_NONE)) {
		if (strcmp(w[n - 1], opt)) {
			fprintf(stderr, "kvfs-db: %s: unknown option \"%s\"\n",
				name, w[n - 1]);
			return -EINVAL;
		}
		a->opt = true;
		n--;
	}
	for (int i = 0; i < n && i < MAX_SPEC && spec[i] != A_NONE; i++) {
		int ret = 0;

		a->word[i] = w[i];
		if (spec[i] == A_AG)
			ret = parse_agno(db, w[i], &a->agno);
		else if (spec[i] == A_INO)
			ret = parse_ino(db, w[i], &a->ino);
		else if (spec[i] == A_BLOCK)
			ret = parse_block(db, w[i], &a->fsb);
		if (ret)
			return ret;
	}
	return 0;
}

static int cmd_help(struct db *db, const struct db_args *a);

/* The words on a line: marks where each command's output begins. */
static int cmd_echo(struct db *db, const struct db_args *a)
{
	(void)db;
	for (int i = 0; i < a->argc; i++)
		printf("%s%s", i ? " " : "", a->argv[i]);
	printf("\n");
	return 0;
}

static const struct db_cmd db_cmds[] = {
	{ "sb",
	  "[AG]",
	  "decode and verify a superblock (default AG 0)",
	  0,
	  1,
	  { A_AG },
	  NULL,
	  false,
	  false,
	  cmd_sb },
	{ "ag",
	  "AG",
	  "decode and verify an AG's free-space and inode headers",
	  1,
	  1,
	  { A_AG },
	  NULL,
	  false,
	  false,
	  cmd_ag },
	{ "agi",
	  "AG",
	  "decode and verify an AG's inode header",
	  1,
	  1,
	  { A_AG },
	  NULL,
	  false,
	  false,
	  cmd_agi },
	{ "agfl",
	  "AG",
	  "decode and verify an AG's reserve list",
	  1,
	  1,
	  { A_AG },
	  NULL,
	  false,
	  false,
	  cmd_agfl },
	{ "freesp",
	  "AG [-v]",
	  "free extents of an AG (-v: list them), from its by-block tree",
	  1,
	  2,
	  { A_AG },
	  "-v",
	  false,
	  false,
	  cmd_freesp },
	{ "inode",
	  "INO",
	  "decode and verify an inode",
	  1,
	  1,
	  { A_INO },
	  NULL,
	  false,
	  false,
	  cmd_inode },
	{ "btree",
	  "OWNER TREE",
	  "every block of a tree, top level first, as LEVEL:N (below)",
	  2,
	  2,
	  { A_WORD, A_WORD },
	  NULL,
	  false,
	  false,
	  cmd_btree },
	{ "ls",
	  "DIR_INO",
	  "a directory's entries: cookie, inode, type, name",
	  1,
	  1,
	  { A_INO },
	  NULL,
	  false,
	  false,
	  cmd_ls },
	{ "bmap",
	  "INO [-a]",
	  "the extents of the data (-a: attribute) fork, through the tree",
	  1,
	  2,
	  { A_INO },
	  "-a",
	  false,
	  false,
	  cmd_bmap },
	{ "xattr",
	  "INO",
	  "extended attribute names and value sizes",
	  1,
	  1,
	  { A_INO },
	  NULL,
	  false,
	  false,
	  cmd_xattr },
	{ "block",
	  "N",
	  "hex dump of block N with its decoded header",
	  1,
	  1,
	  { A_BLOCK },
	  NULL,
	  true,
	  false,
	  cmd_block },
	{ "check-crc",
	  "",
	  "verify every metadata block (checksums and structure)",
	  0,
	  0,
	  { A_NONE },
	  NULL,
	  false,
	  false,
	  cmd_check_crc },
	{ "write",
	  "[-c] STRUCT ADDR... FIELD VALUE",
	  "(-x) set a field, crc recomputed unless -c (below)",
	  3,
	  7,
	  { A_NONE },
	  NULL,
	  true,
	  true,
	  cmd_write },
	{ "fuzz",
	  "[-c] [-s SEED] STRUCT ADDR... FIELD VERB",
	  "(-x) change a field by VERB, print its old and new value (below)",
	  3,
	  9,
	  { A_NONE },
	  NULL,
	  true,
	  true,
	  cmd_fuzz },
	{ "blocktrash",
	  "-s SEED -n COUNT [-t TYPES] [-b BITS]",
	  "(-x) flip BITS random bits (default 1) in COUNT metadata blocks",
	  4,
	  8,
	  { A_NONE },
	  NULL,
	  false,
	  true,
	  cmd_blocktrash },
	{ "echo",
	  "[WORD...]",
	  "print the words (in a -c batch, to mark where an output begins)",
	  0,
	  8,
	  { A_NONE },
	  NULL,
	  true,
	  false,
	  cmd_echo },
	{ "help",
	  "",
	  "list the commands",
	  0,
	  0,
	  { A_NONE },
	  NULL,
	  true,
	  false,
	  cmd_help },
	{ NULL, NULL, NULL, 0, 0, { A_NONE }, NULL, false, false, NULL },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvfs-db [-x] TARGET COMMAND [ARGS...]\n"
		"       kvfs-db [-x] [-k] -c COMMAND [-c COMMAND]... TARGET\n"
		"Inspector of a kvfs filesystem; -x (expert mode) opens it "
		"read-write\nfor the commands marked (-x), which are refused "
		"without it.\n\n"
		"-c COMMAND (repeatable, like xfs_db's) runs the commands in "
		"order on one open\nof TARGET, each COMMAND its words split "
		"at blanks (no quoting); the output\nis theirs run one at a "
		"time.  Every command is checked (name, word count,\n-x) "
		"before TARGET is opened: a bad one runs none (exit 2).  The "
		"first command\nthat fails ends the batch with its error and "
		"exit status, the later ones not\nrun.  -k (keep going) runs "
		"them all, each failing one followed on stderr by\n"
		"\"kvfs-db: COMMAND: exit S\" (its status alone); the exit "
		"status is the first\nfailure's.  A damaged superblock falls "
		"back to raw blocks only when every\ncommand can use them "
		"(block, write, echo, help); else the open fails for all.  "
		"The geometry is\nthe superblock's at the open (a write to "
		"it counts from the next run).\n\n"
		"Commands:\n");
	for (const struct db_cmd *c = db_cmds; c->name; c++)
		fprintf(f, "  %s%s%s\n      %s\n", c->name, *c->args ? " " : "",
			c->args, c->help);
	fprintf(f,
		"\nTrees: OWNER TREE is AG bno|cnt|ino, or INO bmbt|abmbt (an "
		"inode's data or\nattribute fork's extent tree), or DIR_INO "
		"dirhash|dirfree (a block directory's\nname hash or free-space "
		"index).  A tree block "
		"is LEVEL:N, the N-th block from the\nleft at that level (0:0 "
		"the leftmost leaf), reached from the root by leftmost\n"
		"pointers and right siblings.\n\n"
		"write STRUCT ADDR... FIELD VALUE, the fields as the read "
		"commands print them:\n"
		"  sb [AG] FIELD         superblock fields, header fields "
		"(magic crc blkno lsn owner uuid)\n"
		"  agf AG FIELD          AGF fields and header fields\n"
		"  agi AG FIELD          AGI fields, unlinked[N]\n"
		"  agfl AG FIELD         bno[N] and header fields\n"
		"  inode INO FIELD       core fields, u.extent[N].startoff|"
		"startblock|blockcount|flags,\n"
		"                        a.extent[N].*, u.bmdr.level|numrecs, "
		"u.bmdr.key[N].startoff,\n"
		"                        u.bmdr.ptr[N], u.sfdir.parent|count "
		"(short-form directory)\n"
		"  btree OWNER TREE LEVEL:N FIELD   level numrecs leftsib "
		"rightsib, rec[N].*, key[N].*,\n"
		"                        ptr[N] (record fields as \"btree\" "
		"prints them)\n"
		"  dirent DIR_INO NAME FIELD   inumber namelen type (and "
		"cookie or reclen)\n"
		"  dirhead DIR_INO FIELD block 0 of a block directory: dblk "
		"bestfree nents idxlag, parent\n"
		"                        hash_root free_root hash_level "
		"free_level ndata nentries\n"
		"VALUE: a number (0x.. hex, 0.. octal), \"null\" for AG "
		"pointers, clean|dirty|clean,errors|dirty,errors,\n"
		"none|inline|extents|btree, SEC[.NSEC] "
		"for times.  -c leaves the crc as it was\n(then wrong); writing "
		"the crc field itself always keeps it.\n\n"
		"fuzz [-c] [-s SEED] STRUCT ADDR... FIELD VERB, xfs_db's fuzz: "
		"the field addressed\nas write addresses it, changed on its "
		"width, \"old FIELD = V\" and \"new FIELD = V\"\nprinted; "
		"VERB: zeroes, ones, firstbit (flip the value's top bit), "
		"middlebit\n(the bit half-way down), lastbit (the lowest), add "
		"or sub (2000, 2 for a\none-byte field, modulo its width; "
		"fields of 64 bits at most), random (the\nfield's bytes from "
		"a generator seeded by SEED, or by the clock, printed as\n"
		"\"seed = N\": the same seed writes the same bytes).  On a "
		"timestamp the verbs\nact on its seconds.  -c as for "
		"write.\n\n"
		"blocktrash TYPES (comma-separated; default all but log): ");
	for (int t = 0; t < KVFS_MB_NTYPES; t++)
		fprintf(f, "%s%s", t ? "," : "", kvfs_metablk_type_name(t));
	fprintf(f, "\n  a block is chosen with probability by size among the "
		   "blocks of those types the\n  checker's walk reaches; the "
		   "same SEED on the same image flips the same bits.\n\n"
		   "ls, bmap and xattr read through a read-only mount (a clean "
		   "log is needed).\n\n"
		   "Exit status: 0 ok, 1 corruption or error, 2 usage.\n");
}

static int cmd_help(struct db *db, const struct db_args *a)
{
	(void)db;
	(void)a;
	usage(stdout);
	return 0;
}

/* The library records what its verifiers find; kvfs-db prints it. */
static void print_report(const struct kvfs_report *r, void *priv)
{
	char line[320];

	(void)priv;
	kvfs_report_format(r, line, sizeof(line));
	fprintf(stderr, "kvfs: %s\n", line);
}

/*
 * Expert mode takes the lock mount.kvfs and fsck.kvfs hold (the fd keeps
 * it until exit): writing under a mounted filesystem would be undone or
 * worse.
 */
static int lock_image(const char *path, int *fdp)
{
	int err = kvfs_image_lock(path, false, KVFS_IMAGE_LOCK_WAIT_MS, fdp);

	if (err == -EBUSY)
		fprintf(stderr,
			"kvfs-db: %s: in use (mounted, or being checked): "
			"expert mode refused\n",
			path);
	else if (err)
		fprintf(stderr, "kvfs-db: cannot open %s: %s\n", path,
			strerror(-err));
	return err;
}

/* Open the target and read its superblock (or fall back to raw access). */
static int db_open(struct db *db, const char *path, bool raw_ok)
{
	int ret = kv_dev_open(path, db->expert ? 0 : KV_DEV_RDONLY, &db->dev);

	if (ret) {
		fprintf(stderr, "kvfs-db: cannot open %s: %s\n", path,
			strerror(-ret));
		return ret;
	}
	ret = kvfs_sb_read(db->dev, &db->g);
	if (ret == -ENODATA)
		fprintf(stderr, "kvfs-db: %s: no kvfs superblock\n", path);
	else if (ret && ret != -EBADMSG && ret != -EUCLEAN)
		fprintf(stderr, "kvfs-db: %s: cannot read the superblock: %s\n",
			path, strerror(-ret));
	if (!ret)
		ret = kvfs_sb_check_features(&db->g, true);
	db->sb_ok = !ret;
	if (ret && raw_ok) {
		/* still dump raw blocks, at the default block size */
		db->g = (struct kvfs_geom){
			.blocksize = 1u << KVFS_DEF_BLOCKLOG,
			.blocklog = KVFS_DEF_BLOCKLOG,
		};
		fprintf(stderr,
			"kvfs-db: warning: no valid superblock, "
			"using %u-byte blocks\n",
			db->g.blocksize);
		ret = 0;
	}
	if (ret)
		kv_dev_close(db->dev);
	return ret;
}

/* The journal's reports (recovery, a shutdown), as it printed them. */
static void print_jreport(const char *line, void *priv)
{
	(void)priv;
	fprintf(stderr, "kvjournal: %s\n", line);
}

/*
 * One command of a run: the table's row and its words.  A batch (-c CMD,
 * repeated) is a list of them, run in order on one open of the target.
 */
struct db_call {
	const struct db_cmd *c;
	int argc;
	char **argv;
};

/*
 * Check a command's name, word count and mode before the target is
 * opened, as a run of it alone does: 0, or the exit status (2).
 */
static int check_call(const struct db *db, char **argv, int argc,
		      struct db_call *call)
{
	const struct db_cmd *c;

	for (c = db_cmds; c->name && strcmp(c->name, argv[0]); c++)
		;
	if (!c->name) {
		fprintf(stderr, "kvfs-db: unknown command \"%s\"\n", argv[0]);
		return 2;
	}
	if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
		fprintf(stderr, "kvfs-db: usage: %s %s\n", c->name, c->args);
		return 2;
	}
	if (c->writes && !db->expert) {
		fprintf(stderr,
			"kvfs-db: %s writes to the filesystem: refused without "
			"-x (expert mode)\n",
			c->name);
		return 2;
	}
	*call = (struct db_call){ c, argc - 1, argv + 1 };
	return 0;
}

/*
 * Split a -c string into words at blanks (no quoting, as xfs_db's -c):
 * the words point into the string, which is kept for the run.
 */
static int split_words(char *s, char ***wordsp, int *np)
{
	char **w = calloc(strlen(s) / 2 + 1, sizeof(*w));
	int n = 0;

	if (!w)
		return -ENOMEM;
	for (char *t = strtok(s, " \t\n"); t; t = strtok(NULL, " \t\n"))
		w[n++] = t;
	*wordsp = w;
	*np = n;
	return 0;
}

/* The exit status of a command's error, as a run of it alone gives. */
static int exit_status(int ret)
{
	if (ret == -EINVAL)
		return 2;
	return ret ? 1 : 0;
}

/*
 * Run the calls in order.  The first to fail ends the run with its
 * status (the later ones are not run), as `kvfs-db T C1 && kvfs-db T C2
 * && ...` would.  With keep_going (-k) every call runs and each failing
 * one is followed on stderr by "kvfs-db: CMD: exit S", its status alone
 * (as make -k names each failed target); the run's status is the
 * first failure's.  stdout is flushed after each call so that its
 * lines and stderr's keep their order, as in separate runs.
 */
static int run_calls(struct db *db, const struct db_call *calls, int n,
		     bool keep_going)
{
	struct db_args args;
	int first = 0;

	for (int i = 0; i < n && (keep_going || !first); i++) {
		const struct db_call *k = &calls[i];
		int ret;

		ret = parse_args(db, k->c->name, k->c->spec, k->c->opt, k->argv,
				 k->argc, &args);
		if (!ret)
			ret = k->c->fn(db, &args);
		fflush(stdout);
		if (ret && keep_going) {
			fprintf(stderr, "kvfs-db: %s", k->c->name);
			for (int w = 0; w < k->argc; w++)
				fprintf(stderr, " %s", k->argv[w]);
			fprintf(stderr, ": exit %d\n", exit_status(ret));
		}
		if (!first)
			first = ret;
	}
	return first;
}

/* Options before the target: -x, -k, and -c CMD any number of times. */
static int parse_opts(struct db *db, int *argcp, char ***argvp, char ***batchp,
		      int *nbatchp, bool *keep_going)
{
	int argc = *argcp;
	char **argv = *argvp, **batch;
	int n = 0;

	batch = calloc(argc, sizeof(*batch));
	if (!batch)
		return -ENOMEM;
	while (argc >= 2) {
		if (!strcmp(argv[1], "-x")) {
			db->expert = true;
		} else if (!strcmp(argv[1], "-k")) {
			*keep_going = true;
		} else if (!strcmp(argv[1], "-c") && argc >= 3) {
			batch[n++] = argv[2];
			argv++;
			argc--;
		} else {
			break;
		}
		argv++;
		argc--;
	}
	*argcp = argc;
	*argvp = argv;
	*batchp = batch;
	*nbatchp = n;
	return 0;
}

int main(int argc, char **argv)
{
	struct db db = { 0 };
	struct db_call *calls = NULL;
	char **batch = NULL, **words = NULL;
	int ncalls = 0, nbatch = 0, ret, lock_fd = -1;
	bool raw_ok = true, keep_going = false;

	tool_report_init("kvfs-db");
	kvj_bug_set_hook(kvj_bug_stderr);
	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (parse_opts(&db, &argc, &argv, &batch, &nbatch, &keep_going))
		goto nomem;
	/* TARGET COMMAND [ARGS...], or TARGET alone after -c */
	if (nbatch ? argc != 2 : argc < 3) {
		usage(stderr);
		ret = 2;
		goto out;
	}
	calls = calloc(nbatch ? nbatch : 1, sizeof(*calls));
	if (!calls)
		goto nomem;
	if (!nbatch) {
		ret = check_call(&db, argv + 2, argc - 2, &calls[0]);
		if (ret)
			goto out;
		ncalls = 1;
	}
	for (int i = 0; i < nbatch; i++, ncalls++) {
		int n;

		if (split_words(batch[i], &words, &n))
			goto nomem;
		if (!n) {
			fprintf(stderr, "kvfs-db: -c: an empty command\n");
			ret = 2;
			goto out;
		}
		ret = check_call(&db, words, n, &calls[i]);
		if (ret)
			goto out;
		/* the call keeps the words: a fresh array for the next */
		words = NULL;
	}
	/*
	 * One open for all: with the superblock damaged, the raw fallback
	 * only when every command can use it (else the open fails as a run
	 * of the first command that needs the superblock does).
	 */
	for (int i = 0; i < ncalls; i++)
		raw_ok = raw_ok && calls[i].c->raw_ok;
	db.path = argv[1];
	ret = kv_init(NULL);
	if (ret) {
		fprintf(stderr, "kvfs-db: cannot initialise memory: %s\n",
			strerror(-ret));
		ret = 1;
		goto out;
	}
	kvfs_report_set_sink(print_report, NULL);
	kvj_report_set_sink(print_jreport, NULL);
	ret = db.expert ? lock_image(argv[1], &lock_fd) : 0;
	if (!ret)
		ret = db_open(&db, argv[1], raw_ok);
	if (!ret) {
		ret = run_calls(&db, calls, ncalls, keep_going);
		kv_dev_close(db.dev);
	}
	kv_fini();
	if (lock_fd >= 0)
		close(lock_fd);
	ret = exit_status(ret);
out:
	for (int i = 0; nbatch && i < ncalls; i++)
		free(calls[i].argv - 1);
	free(words);
	free(calls);
	free(batch);
	return ret;
nomem:
	fprintf(stderr, "kvfs-db: out of memory\n");
	ret = 1;
	goto out;
}
