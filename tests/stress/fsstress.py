#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""fsstress-like load on a mounted filesystem.

PROCS processes each run OPS random operations (create, mkdir, rmdir,
unlink, rename, renameat2 NOREPLACE/EXCHANGE, link, symlink, mkfifo,
write, truncate, chmod, set/get/remove xattr, readdir, stat, fsync,
chattr's flags set and cleared and read back, copy_file_range, fallocate
in every mode, renameat2 WHITEOUT) on names drawn from one small shared
tree under ROOT, so that they collide.  copy_file_range and fallocate
also run on two files of each worker's own (p<W>a, p<W>b in ROOT), whose
bytes it keeps: each such call is followed by a read of the file, which
must give the bytes the call's semantics make.  An operation may fail
only with an errno that the race or the name drawn explains (EXPECTED
below; with --enospc, ENOSPC too: a filesystem filled on purpose); any
other errno is a failure, EIO ends the worker at once.  KNOWN_BUGS are
errors of kvfs reported and not yet fixed: counted and printed, failures
only with --strict.  Afterwards the tree is walked: every name can be
stat'd, every symlink read, and each directory's link count is 2 plus
its subdirectories; chattr's flags, cleared on every name, read back as
none.

Exit status: 0 when every error was expected and the walk was clean,
1 otherwise, 2 for a usage error.
"""
import argparse
import ctypes
import errno
import fcntl
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
    errno.EPERM: "link(2) of a directory; an immutable or append-only "
                 "inode (chattr) refusing a change",
    errno.ENXIO: "a fifo opened for writing with no reader; a whiteout "
                 "(a character device 0:0) opened",
    errno.ESPIPE: "pwrite to a fifo another worker held open for reading",
    errno.ENAMETOOLONG: "O_CREAT through a symlink to a long target",
    errno.ENOTTY: "chattr's ioctls on a fifo",
    errno.ELOOP: "chattr's open (O_NOFOLLOW) of a symlink",
    errno.EOPNOTSUPP: "fallocate's collapse and insert range, which kvfs "
                      "does not do",
}

# (operation, errno): the bug, reported to the lead; remove once fixed.
KNOWN_BUGS = {}

OPS = ("creat", "mkdir", "rmdir", "unlink", "rename", "rename2", "link",
       "symlink", "mkfifo", "write", "trunc", "chmod", "setx", "getx",
       "rmx", "readdir", "stat", "fsync", "chattr", "copy", "falloc",
       "whiteout")

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4
AT_FDCWD = -100

# linux/fs.h: chattr's ioctls and the flags kvfs keeps
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x10
FS_APPEND_FL = 0x20
FS_NODUMP_FL = 0x40
FS_NOATIME_FL = 0x80
CHATTR_FLAGS = (FS_IMMUTABLE_FL, FS_APPEND_FL, FS_NODUMP_FL, FS_NOATIME_FL)

# linux/falloc.h
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20
FALLOC_MODES = (0, FALLOC_FL_KEEP_SIZE,
                FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                FALLOC_FL_ZERO_RANGE,
                FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
                FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE)

libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                           ctypes.c_char_p, ctypes.c_uint]


libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                           ctypes.c_int64]


def renameat2(old, new, flags):
    if libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(),
                      flags):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), old)


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def getflags(fd):
    buf = bytearray(8)
    fcntl.ioctl(fd, FS_IOC_GETFLAGS, buf)
    return int.from_bytes(buf[:4], "little")


def setflags(fd, fl):
    fcntl.ioctl(fd, FS_IOC_SETFLAGS, fl.to_bytes(8, "little"))


def open_any(path):
    """PATH (a file, a directory or a fifo) opened for chattr's ioctls."""
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)


def falloc_model(cur, mode, off, length, bs):
    """A file's bytes CUR after fallocate(MODE, OFF, LENGTH) succeeded,
    blocks of BS bytes; None where the call must fail with EINVAL."""
    end = off + length
    if mode in (FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE):
        if off % bs or length % bs:
            return None
        if mode == FALLOC_FL_COLLAPSE_RANGE:
            return None if end >= len(cur) else cur[:off] + cur[end:]
        return None if off >= len(cur) else \
            cur[:off] + bytes(length) + cur[off:]
    if mode & FALLOC_FL_KEEP_SIZE:
        end = min(end, len(cur))
    elif end > len(cur):
        cur = cur + bytes(end - len(cur))
    if mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE) and off < end:
        cur = cur[:off] + bytes(end - off) + cur[end:]
    return cur


class Worker:
    def __init__(self, root, seed, w):
        self.root = root
        self.r = random.Random(seed * 1000 + w)
        # this worker's own files, no other touches: their bytes known
        self.own = [os.path.join(root, "p%d%s" % (w, c)) for c in "ab"]
        self.model = {}
        self.bad = []
        self.bs = os.statvfs(root).f_bsize

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
        elif op == "chattr":
            self.chattr()
        elif op == "copy":
            if r.random() < 0.5:
                self.own_op(op)
            else:
                self.copy(self.name(), self.name())
        elif op == "falloc":
            if r.random() < 0.5:
                self.own_op(op)
            else:
                fd = os.open(self.name(), os.O_WRONLY | os.O_NONBLOCK)
                try:
                    fallocate(fd, r.choice(FALLOC_MODES),
                              r.randrange(1 << 22), r.randrange(1, 1 << 20))
                finally:
                    os.close(fd)
        elif op == "whiteout":
            renameat2(self.name(), self.name(), RENAME_WHITEOUT)

    def chattr(self):
        """Flags set (half of the time none: cleared), read back: no flag
        but the four kvfs keeps (another worker may have changed them)."""
        r = self.r
        fl = 0
        if r.random() < 0.5:
            for f in CHATTR_FLAGS:
                if r.random() < 0.3:
                    fl |= f
        fd = open_any(self.name())
        try:
            setflags(fd, fl)
            got = getflags(fd)
        finally:
            os.close(fd)
        if got & ~sum(CHATTR_FLAGS):
            self.bad.append("chattr: flags %#x read back, set %#x" %
                            (got, fl))

    def copy(self, src, dst):
        """copy_file_range from SRC to DST; the bytes copied."""
        r = self.r
        fi = os.open(src, os.O_RDONLY | os.O_NONBLOCK)
        try:
            fo = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o644)
            try:
                return os.copy_file_range(fi, fo, r.randrange(1, 1 << 20),
                                          r.randrange(1 << 20),
                                          r.randrange(1 << 20))
            finally:
                os.close(fo)
        finally:
            os.close(fi)

    def read_own(self, p):
        with open(p, "rb") as f:
            return f.read()

    def own_op(self, op):
        """copy_file_range or fallocate on this worker's own files, then
        the file changed against the model.  A call that failed (ENOSPC
        on a full filesystem) may have done part of its work: the model
        is then both files as they read."""
        try:
            self.own_call(op)
        except OSError:
            self.model = {p: self.read_own(p) for p in self.model}
            raise

    def own_call(self, op):
        r = self.r
        a, b = self.own
        for p in self.own:
            if p not in self.model:
                with open(p, "wb") as f:
                    f.write(r.randbytes(r.randrange(1 << 19)))
                self.model[p] = self.read_own(p)
            if len(self.model[p]) > 1 << 21:
                # bounded, so that each check reads little
                os.truncate(p, 1 << 19)
                self.model[p] = self.model[p][:1 << 19]
        if op == "copy":
            src, dst = (a, b) if r.random() < 0.5 else (b, a)
            if r.random() < 0.3:
                # fresh bytes in the source, some past its end
                data = r.randbytes(r.randrange(1, 1 << 17))
                off = r.randrange(len(self.model[src]) + 4096)
                with open(src, "r+b") as f:
                    f.seek(off)
                    f.write(data)
                cur = self.model[src]
                cur = cur + bytes(max(0, off - len(cur)))
                self.model[src] = cur[:off] + data + cur[off + len(data):]
            fi = os.open(src, os.O_RDONLY)
            fo = os.open(dst, os.O_WRONLY)
            try:
                cnt = r.randrange(1, 1 << 18)
                oi = r.randrange(len(self.model[src]) + 4096)
                oo = r.randrange(len(self.model[dst]) + 4096)
                what = "copy_file_range %d at %d to %d" % (cnt, oi, oo)
                n = os.copy_file_range(fi, fo, cnt, oi, oo)
                data = self.model[src][oi:oi + cnt]
                # short as a write may be (ENOSPC next time), but 0 is
                # the source's end
                if n > len(data) or (data and not n):
                    self.bad.append("%s: %d copied, %d expected" %
                                    (what, n, len(data)))
                data = data[:n]
                cur = self.model[dst]
                # nothing copied (the source's end) moves no size
                if data:
                    cur = cur + bytes(max(0, oo - len(cur)))
                    cur = cur[:oo] + data + cur[oo + len(data):]
                self.model[dst] = cur
                self.check_own(dst, what)
            finally:
                os.close(fi)
                os.close(fo)
            return
        p = r.choice(self.own)
        mode = r.choice(FALLOC_MODES)
        cur = self.model[p]
        if r.random() < 0.5:
            off = r.randrange(len(cur) // self.bs + 2) * self.bs
            length = r.randrange(1, 64) * self.bs
        else:
            off = r.randrange(len(cur) + 8192)
            length = r.randrange(1, 1 << 18)
        what = "fallocate mode %#x at %d of %d" % (mode, off, length)
        want = falloc_model(cur, mode, off, length, self.bs)
        fd = os.open(p, os.O_WRONLY)
        try:
            fallocate(fd, mode, off, length)
        except OSError as e:
            if e.errno in (errno.EOPNOTSUPP, errno.EINVAL):
                self.model[p] = self.read_own(p)
                # nothing changed when nothing could
                if self.model[p] != cur:
                    self.bad.append("%s: failed (%s), yet changed the file"
                                    % (what, e))
                if e.errno == errno.EINVAL and want is not None:
                    self.bad.append("%s: %s" % (what, e))
                return
            raise e
        finally:
            os.close(fd)
        if want is None:
            self.bad.append("%s: succeeded, EINVAL expected" % what)
            self.model[p] = self.read_own(p)
            return
        self.model[p] = want
        self.check_own(p, what)

    def check_own(self, p, what):
        got = self.read_own(p)
        want = self.model[p]
        if got != want:
            diff = next((i for i in range(min(len(got), len(want)))
                         if got[i] != want[i]), min(len(got), len(want)))
            self.bad.append("%s: %s has %d bytes, %d expected, first "
                            "difference at %d" % (what, p, len(got),
                                                  len(want), diff))
            self.model[p] = got


def work(args):
    root, seed, w, nops, strict, ops, enospc = args
    wk = Worker(root, seed, w)
    done = dict.fromkeys(OPS, 0)
    known = dict.fromkeys(KNOWN_BUGS, 0)
    bad = []
    nospc = 0
    for i in range(nops):
        op = wk.r.choice(ops)
        try:
            wk.op(op)
            done[op] += 1
        except OSError as e:
            if enospc and e.errno == errno.ENOSPC:
                nospc += 1
                continue
            if e.errno in EXPECTED:
                continue
            if (op, e.errno) in KNOWN_BUGS and not strict:
                known[op, e.errno] += 1
                continue
            bad.append("worker %d op %d %s: %s" % (w, i, op, e))
            if e.errno == errno.EIO:
                break
        bad += wk.bad
        wk.bad = []
    return done, known, bad, nospc


def unflag(root):
    """chattr's flags cleared on every name under ROOT (the workers left
    some set), each read back as none; problems."""
    bad = []
    for d, subdirs, files in os.walk(root):
        for n in [None] + files:
            p = d if n is None else os.path.join(d, n)
            try:
                # chattr's ioctls reach kvfs for files and directories
                # only (whiteouts are character devices)
                mode = os.lstat(p).st_mode
                if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                    continue
                fd = open_any(p)
            except OSError as e:
                bad.append("unflag %s: %s" % (p, e))
                continue
            try:
                setflags(fd, 0)
                fl = getflags(fd)
                if fl:
                    bad.append("%s: flags %#x after they were cleared" %
                               (p, fl))
            except OSError as e:
                bad.append("unflag %s: %s" % (p, e))
            finally:
                os.close(fd)
    return bad


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
    ap.add_argument("--enospc", action="store_true",
                    help="ENOSPC is expected (a small filesystem the load "
                    "fills); the bytes and the tree are checked all the same")
    a = ap.parse_args()
    if a.procs < 1 or a.ops < 1:
        ap.error("--procs and --ops must be positive")
    if set(OPS) <= set(a.without):
        ap.error("every operation left out")

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(a.procs) as pool:
        ops = tuple(op for op in OPS if op not in a.without)
        res = pool.map(work, [(a.root, a.seed, w, a.ops, a.strict, ops,
                               a.enospc) for w in range(a.procs)])
    done = dict.fromkeys(OPS, 0)
    known = dict.fromkeys(KNOWN_BUGS, 0)
    bad = unflag(a.root)
    nospc = 0
    for d, k, b, n in res:
        for key, v in d.items():
            done[key] += v
        for key, v in k.items():
            known[key] += v
        bad += b
        nospc += n
    if a.enospc:
        print("ENOSPC met %d times" % nospc)
        if not nospc:
            bad.append("--enospc: the load never filled the filesystem")
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
