#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""fsstress-like load on a mounted filesystem.

PROCS processes each run OPS random operations (create, mkdir, rmdir,
unlink, rename, renameat2 NOREPLACE/EXCHANGE, link, symlink, mkfifo,
write, truncate, chmod, set/get/remove xattr, readdir, stat, fsync) on
names drawn from one small shared tree under ROOT, so that they collide.
An operation may fail only with an errno that the race or the name drawn
explains (EXPECTED below); any other errno is a failure, EIO ends the
worker at once.  KNOWN_BUGS are errors of kvfs reported and not yet
fixed: counted and printed, failures only with --strict.  Afterwards the tree is walked: every name can be
stat'd, every symlink read, and each directory's link count is 2 plus
its subdirectories.

Exit status: 0 when every error was expected and the walk was clean,
1 otherwise, 2 for a usage error.
"""
import argparse
import ctypes
import errno
import multiprocessing
import os
import random
import stat
import sys

# Why each errno may come back from a correct filesystem under this load.
EXPECTED = {
    errno.ENOENT: "the name, or a directory on its path, is not there",
    errno.EEXIST: "O_EXCL, mkdir, link, symlink, mkfifo, NOREPLACE",
    errno.ENOTEMPTY: "rmdir, or a rename over a non-empty directory",
    errno.EINVAL: "a directory renamed into itself; fsync of a fifo",
    errno.ENOTDIR: "a path through a file; a directory over a file",
    errno.EISDIR: "a file renamed over a directory; write to one",
    errno.ENODATA: "getxattr/removexattr of a name never set",
    errno.EPERM: "link(2) of a directory",
    errno.ENXIO: "a fifo opened for writing with no reader",
    errno.ESPIPE: "pwrite to a fifo another worker held open for reading",
    errno.ENAMETOOLONG: "O_CREAT through a symlink to a long target",
}

# (operation, errno): the bug, reported to the lead; remove once fixed.
KNOWN_BUGS = {}

OPS = ("creat", "mkdir", "rmdir", "unlink", "rename", "rename2", "link",
       "symlink", "mkfifo", "write", "trunc", "chmod", "setx", "getx",
       "rmx", "readdir", "stat", "fsync")

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
AT_FDCWD = -100

libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                           ctypes.c_char_p, ctypes.c_uint]


def renameat2(old, new, flags):
    if libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(),
                      flags):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), old)


class Worker:
    def __init__(self, root, seed, w):
        self.root = root
        self.r = random.Random(seed * 1000 + w)

    def dir(self):
        parts = [self.root]
        for _ in range(self.r.randrange(3)):
            parts.append("d%d" % self.r.randrange(6))
        return os.path.join(*parts)

    def name(self):
        return os.path.join(self.dir(), self.r.choice("fdls") +
                            str(self.r.randrange(12)))

    def op(self, op):
        r = self.r
        if op == "creat":
            flags = os.O_CREAT | os.O_WRONLY | os.O_NONBLOCK
            if r.random() < 0.5:
                flags |= os.O_EXCL
            os.close(os.open(self.name(), flags, 0o644))
        elif op == "mkdir":
            os.mkdir(self.name())
        elif op == "rmdir":
            os.rmdir(self.name())
        elif op == "unlink":
            os.unlink(self.name())
        elif op == "rename":
            os.rename(self.name(), self.name())
        elif op == "rename2":
            renameat2(self.name(), self.name(),
                      r.choice((RENAME_NOREPLACE, RENAME_EXCHANGE)))
        elif op == "link":
            os.link(self.name(), self.name())
        elif op == "symlink":
            os.symlink("x" * r.randrange(1, 3000), self.name())
        elif op == "mkfifo":
            os.mkfifo(self.name())
        elif op == "write":
            fd = os.open(self.name(), os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK,
                         0o644)
            try:
                os.pwrite(fd, r.randbytes(r.randrange(1, 200000)),
                          r.randrange(1 << 22))
            finally:
                os.close(fd)
        elif op == "trunc":
            os.truncate(self.name(), r.randrange(1 << 22))
        elif op == "chmod":
            os.chmod(self.name(), r.choice((0o644, 0o4755, 0o2755)))
        elif op == "setx":
            os.setxattr(self.name(), "user.a%d" % r.randrange(20),
                        r.randbytes(r.randrange(3000)))
        elif op == "getx":
            os.getxattr(self.name(), "user.a%d" % r.randrange(20))
        elif op == "rmx":
            os.removexattr(self.name(), "user.a%d" % r.randrange(20))
        elif op == "readdir":
            os.listdir(self.dir())
        elif op == "stat":
            os.lstat(self.name())
        elif op == "fsync":
            fd = os.open(self.name(), os.O_RDONLY | os.O_NONBLOCK)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def work(args):
    root, seed, w, nops, strict, ops = args
    wk = Worker(root, seed, w)
    done = dict.fromkeys(OPS, 0)
    known = dict.fromkeys(KNOWN_BUGS, 0)
    bad = []
    for i in range(nops):
        op = wk.r.choice(ops)
        try:
            wk.op(op)
            done[op] += 1
        except OSError as e:
            if e.errno in EXPECTED:
                continue
            if (op, e.errno) in KNOWN_BUGS and not strict:
                known[op, e.errno] += 1
                continue
            bad.append("worker %d op %d %s: %s" % (w, i, op, e))
            if e.errno == errno.EIO:
                break
    return done, known, bad


def walk(root):
    """Every name reachable; each directory's link count its subdirectories + 2."""
    bad = []
    names = 0
    for d, subdirs, files in os.walk(root, onerror=lambda e: bad.append(
            "walk: %s" % e)):
        try:
            nlink = os.lstat(d).st_nlink
        except OSError as e:
            bad.append("lstat %s: %s" % (d, e))
            continue
        if nlink != 2 + len(subdirs):
            bad.append("%s: %d links, %d subdirectories" %
                       (d, nlink, len(subdirs)))
        for n in files:
            p = os.path.join(d, n)
            names += 1
            try:
                if stat.S_ISLNK(os.lstat(p).st_mode):
                    os.readlink(p)
            except OSError as e:
                bad.append("%s: %s" % (p, e))
    return names, bad


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 clean, 1 an unexpected errno or a bad "
               "tree, 2 usage.")
    ap.add_argument("root", help="an empty directory on the filesystem")
    ap.add_argument("-p", "--procs", type=int, default=4,
                    help="worker processes (default 4)")
    ap.add_argument("-n", "--ops", type=int, default=2000,
                    help="operations per worker (default 2000)")
    ap.add_argument("-s", "--seed", type=int, default=1,
                    help="seed of the operations (default 1)")
    ap.add_argument("-x", "--without", action="append", default=[],
                    choices=OPS, metavar="OP",
                    help="leave operation OP out (repeatable; one of: %s)" %
                    " ".join(OPS))
    ap.add_argument("--strict", action="store_true",
                    help="the KNOWN_BUGS' errors fail too")
    a = ap.parse_args()
    if a.procs < 1 or a.ops < 1:
        ap.error("--procs and --ops must be positive")
    if set(OPS) <= set(a.without):
        ap.error("every operation left out")

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(a.procs) as pool:
        ops = tuple(op for op in OPS if op not in a.without)
        res = pool.map(work, [(a.root, a.seed, w, a.ops, a.strict, ops)
                              for w in range(a.procs)])
    done = dict.fromkeys(OPS, 0)
    known = dict.fromkeys(KNOWN_BUGS, 0)
    bad = []
    for d, k, b in res:
        for key, v in d.items():
            done[key] += v
        for key, v in k.items():
            known[key] += v
        bad += b
    names, wbad = walk(a.root)
    bad += wbad
    for line in bad:
        print("FAIL:", line)
    print("fsstress seed %d: %d workers x %d ops; succeeded: %s; %d names "
          "left" % (a.seed, a.procs, a.ops,
                    " ".join("%s %d" % kv for kv in done.items()), names))
    for (op, e), n in known.items():
        if n:
            print("KNOWN BUG: %s %s %d times: %s" %
                  (op, errno.errorcode[e], n, KNOWN_BUGS[op, e]))
    # the load must have reached the filesystem: the tree was built
    never = [op for op in ("creat", "mkdir", "write", "rename", "link")
             if not done[op] and op not in a.without]
    if never:
        print("FAIL: never succeeded:", " ".join(never))
    return 1 if bad or never else 0


if __name__ == "__main__":
    sys.exit(main())
