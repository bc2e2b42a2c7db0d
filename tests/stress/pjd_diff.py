#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""pjdfstest's cases (the Linux subset) on two directories, compared.

Each case of pjdfstest's chmod, chown, truncate, link, mkdir, mkfifo,
mknod, open, rename, rmdir, symlink, unlink and utimensat suites, with
xattrs, POSIX ACLs, statvfs and st_blocks beside them, runs in its own
directory of TEST (a kvfs mount) and of REF (a tmpfs or an ext4), as root
and as unprivileged users (the effective ids switched around each call:
uid 65534 and 65533, groups 65534 and 65533, which no account needs).
A case records, in order, every call's result (its errno, or its value),
the stat fields of what it made (type and mode, nlink, uid, gid, size,
rdev) and, around the calls pjdfstest times, which of the atime, mtime
and ctime of each named path changed.  Beside pjdfstest: the umask of
every kind of create, failed calls changing no time, SUID/SGID and file
capabilities at writes, fallocate, copy_file_range and chown (xfstests
generic/683-687), ACL inheritance with SGID directories (generic/444).
Every difference is printed; the differences must be exactly KNOWN's.

--save then --verify (after an unmount and a mount of TEST) compare every
name's stat with what the kernel showed before: the kernel caches
attributes, so a daemon that stores other values than it answered shows
only there.

Exit status: 0 when the differences are exactly KNOWN, 1 otherwise, 2 for
a usage error.
"""
import argparse
import contextlib
import ctypes
import errno
import os
import socket
import stat
import struct
import sys
import time

U1, G1 = 65534, 65534  # the unprivileged user of most cases
U2, G2 = 65533, 65533  # another one: owner of what U1 may not touch

# "case/observation" -> (why kvfs differs, the result kvfs gives[, only
# under the writeback cache]): a known difference that goes away or
# changes fails too
NOCACHE = ("FUSE marks its inodes S_NOATIME (the daemon keeps atime) and "
           "the kernel serves this from its page cache (keep_cache, "
           "cache_readdir, cache_symlinks): the daemon never sees it")
KNOWN = {
    "times/read: times f": (NOCACHE, "-", True),
    "open/O_TMPFILE": (
        "libfuse 3.14 has no tmpfile operation (the core has "
        "kvfs_tmpfile()): the kernel answers EOPNOTSUPP, which callers take "
        "as no O_TMPFILE on this filesystem", "ENOTSUP"),
    "acl/acl 600 users": (
        "fuse_set_acl() refuses an ACL over a page (E2BIG) before the "
        "daemon sees it; ext4 has a limit near there too (one block)",
        "E2BIG"),
    "acl/acl 600 read back": ("the same ACL was refused", "ENODATA"),
    "truncate/truncate same: times f": (
        "truncate(2) to the same size: under the writeback cache the "
        "kernel keeps mtime and ctime itself and moves them only when the "
        "size changes (fuse_do_setattr); POSIX asks it only for a change",
        "-", True),
}

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimensat(path, a, m, flags=0):
    """utimensat(2) with (sec, nsec) pairs, UTIME_NOW/UTIME_OMIT in nsec"""
    ts = (Timespec * 2)(Timespec(*a), Timespec(*m))
    if libc.utimensat(AT_FDCWD, path.encode(), ts, flags):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def rename2(a, b, flags):
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


# POSIX ACL xattr (include/uapi/linux/posix_acl_xattr.h)
ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ = 0x01, 0x02, 0x04
ACL_GROUP, ACL_MASK, ACL_OTHER = 0x08, 0x10, 0x20
NOID = 0xffffffff


def acl(*entries):
    """the xattr of (tag, perm, id) entries, in the order given"""
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", t, p, NOID if i is None else i)
        for t, p, i in entries)


def acl_text(v):
    if len(v) < 4 or (len(v) - 4) % 8:
        return "bad %r" % v
    ents = [struct.unpack_from("<HHI", v, 4 + 8 * k)
            for k in range((len(v) - 4) // 8)]
    return ",".join("%x:%o%s" % (t, p, "" if i == NOID else ":%d" % i)
                    for t, p, i in ents)


def fallocate(p):
    fd = os.open(p, os.O_WRONLY)
    try:
        os.posix_fallocate(fd, 0, 8192)
    finally:
        os.close(fd)


def copy_into(src, dst):
    """copy_file_range(2) of src's first bytes into dst"""
    a = os.open(src, os.O_RDONLY)
    b = os.open(dst, os.O_WRONLY)
    try:
        return os.copy_file_range(a, b, 1, 0, 0)
    finally:
        os.close(a)
        os.close(b)


def syncfs(p):
    """syncfs(2) of p's filesystem alone (sync(2) would wait for every
    filesystem of the machine)"""
    fd = os.open(p, os.O_RDONLY)
    try:
        if libc.syncfs(fd):
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    finally:
        os.close(fd)


def creat(p, mode=0o644, flags=0):
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY | flags, mode))


def wfile(p, data=b"x" * 100, mode=0o644):
    fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def opn(p, flags):
    """open(2) and close: whether it opens"""
    os.close(os.open(p, flags))


def rfile(p, n=4096):
    fd = os.open(p, os.O_RDONLY)
    try:
        return os.read(fd, n)
    finally:
        os.close(fd)


def fields(s):
    f = "%s nl=%d %d:%d" % (stat.filemode(s.st_mode) + "/%04o" %
                            stat.S_IMODE(s.st_mode), s.st_nlink,
                            s.st_uid, s.st_gid)
    if not stat.S_ISDIR(s.st_mode):
        f += " sz=%d" % s.st_size
    if stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
        f += " rdev=%d,%d" % (os.major(s.st_rdev), os.minor(s.st_rdev))
    return f


class Run:
    """One directory's run: the observations of every case."""

    def __init__(self, root):
        self.root = root
        self.obs = []

    @contextlib.contextmanager
    def who(self, uid, gid, groups=()):
        """the effective ids of uid (the saved ones stay root)"""
        if uid is None:
            yield
            return
        os.setgroups(list(groups))
        os.setresgid(-1, gid, -1)
        os.setresuid(-1, uid, -1)
        try:
            yield
        finally:
            os.setresuid(-1, 0, -1)
            os.setresgid(-1, 0, -1)
            os.setgroups([])

    def note(self, label, value):
        self.obs.append((label, value))

    def call(self, fn, *args, u=None):
        uid, gid, groups = u if u else (None, None, ())
        try:
            with self.who(uid, gid, groups):
                r = fn(*args)
            return "ok" if r is None else ("ok", r)
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno))

    def op(self, label, fn, *args, u=None):
        r = self.call(fn, *args, u=u)
        self.note(label, r)
        return r

    def st(self, label, *paths):
        for p in paths:
            try:
                self.note("%s: stat %s" % (label, p), fields(os.lstat(p)))
            except OSError as e:
                self.note("%s: stat %s" % (label, p),
                          errno.errorcode[e.errno])

    def tm(self, label, paths, fn, *args, u=None):
        """fn's result, then which times of each path changed ("a>b":
        the inode named a before the call and b after it)"""
        before = {}
        for p in paths:
            try:
                before[p] = os.lstat(p.split(">")[0])
            except OSError:
                before[p] = None
        # tmpfs and ext4 take the time from the tick: let one pass
        time.sleep(0.012)
        self.op(label, fn, *args, u=u)
        for p in paths:
            try:
                s = os.lstat(p.split(">")[-1])
            except OSError as e:
                self.note("%s: times %s" % (label, p),
                          errno.errorcode[e.errno])
                continue
            b = before[p]
            if b is None or b.st_ino != s.st_ino:
                ch = "new"
                if s.st_mtime_ns == s.st_ctime_ns == s.st_atime_ns:
                    ch += " a=m=c"
            else:
                ch = "".join(c for c, x, y in (
                    ("a", b.st_atime_ns, s.st_atime_ns),
                    ("m", b.st_mtime_ns, s.st_mtime_ns),
                    ("c", b.st_ctime_ns, s.st_ctime_ns)) if x != y) or "-"
            self.note("%s: times %s" % (label, p), ch)


U1G = (U1, G1, ())
U2G = (U2, G2, ())
U1IN2 = (U1, G1, (G2,))  # U1, a member of G2


def own(p, uid, gid, mode=None):
    os.lchown(p, uid, gid)
    if mode is not None:
        os.chmod(p, mode)


# --- the cases: each runs in an empty directory of its own (cwd) ---------

def c_chmod(r):
    creat("f")
    os.mkdir("d")
    os.mkfifo("p")
    os.symlink("f", "s")
    for p in ("f", "d", "p", "s"):
        r.tm("chmod 0711 " + p, (p, "."), os.chmod, p, 0o711)
        r.st("chmod " + p, p)
    r.tm("chmod via symlink", ("s", "f"), os.chmod, "s", 0o640)
    r.st("chmod via symlink", "f", "s")
    own("f", U1, G1, 0o644)
    r.tm("chmod by owner", ("f",), os.chmod, "f", 0o600, u=U1G)
    r.tm("chmod by other", ("f",), os.chmod, "f", 0o777, u=U2G)
    r.st("chmod others", "f")
    # SGID set by a non-member: cleared silently; by a member: kept
    r.op("chmod sgid non-member", os.chmod, "f", 0o2755, u=U1G)
    r.st("sgid non-member", "f")
    own("f", U1, G2)
    r.op("chmod sgid member", os.chmod, "f", 0o2755, u=U1IN2)
    r.st("sgid member", "f")
    r.op("chmod sticky file", os.chmod, "f", 0o1755, u=U1G)
    r.st("sticky file", "f")
    r.op("chmod ENOENT", os.chmod, "nx", 0o644)
    r.op("chmod ENOTDIR", os.chmod, "f/x", 0o644)
    r.op("chmod ENAMETOOLONG", os.chmod, "x" * 256, 0o644)
    os.symlink("l1", "l2")
    os.symlink("l2", "l1")
    r.op("chmod ELOOP", os.chmod, "l1", 0o644)
    os.mkdir("nx", 0o600)
    r.op("chmod EACCES search", os.chmod, "nx/f", 0o644, u=U1G)


def c_chown(r):
    creat("f")
    os.mkdir("d")
    os.symlink("f", "s")
    r.tm("chown root", ("f",), os.chown, "f", U1, G1)
    r.st("chown root", "f")
    r.tm("lchown symlink", ("s", "f"), os.lchown, "s", U2, G2)
    r.st("lchown symlink", "s", "f")
    r.tm("chown -1 -1", ("f",), os.chown, "f", -1, -1)
    r.tm("chown -1 -1 non-owner", ("f",), os.chown, "f", -1, -1, u=U2G)
    r.op("chown to other uid", os.chown, "f", U2, -1, u=U1G)
    r.op("chgrp to non-member", os.chown, "f", -1, G2, u=U1G)
    r.tm("chgrp to member", ("f",), os.chown, "f", -1, G2, u=U1IN2)
    r.st("chgrp member", "f")
    r.op("chown by non-owner", os.chown, "f", -1, G2, u=U2G)
    # SUID/SGID on chown: every combination, by root and by the owner
    for mode in (0o4755, 0o2755, 0o6755, 0o6745, 0o2745):
        for who, u in (("root", None), ("owner", U1IN2)):
            n = "m%o%s" % (mode, who)
            creat(n)
            own(n, U1, G1, mode)
            r.op("chown %s %o" % (who, mode), os.chown, n, U1, G2, u=u)
            r.st("chown %s %o" % (who, mode), n)
            n2 = n + "-1"
            creat(n2)
            own(n2, U1, G1, mode)
            r.op("chown -1 %s %o" % (who, mode), os.chown, n2, -1, -1, u=u)
            r.st("chown -1 %s %o" % (who, mode), n2)
    os.chmod("d", 0o6755)
    r.op("chown dir sgid", os.chown, "d", U1, G1)
    r.st("chown dir", "d")
    r.op("chown ENOENT", os.chown, "nx", 0, 0)
    r.op("chown ENAMETOOLONG", os.chown, "x" * 256, 0, 0)


def c_truncate(r):
    wfile("f", b"a" * 1000)
    r.tm("truncate grow", ("f",), os.truncate, "f", 12345)
    r.st("truncate grow", "f")
    r.tm("truncate shrink", ("f",), os.truncate, "f", 10)
    r.tm("truncate same", ("f",), os.truncate, "f", 10)
    r.op("read after", rfile, "f")
    fd = os.open("f", os.O_RDWR)
    r.tm("ftruncate", ("f",), os.ftruncate, fd, 5)
    r.tm("ftruncate same", ("f",), os.ftruncate, fd, 5)
    os.close(fd)
    fd = os.open("f", os.O_RDONLY)
    r.op("ftruncate rdonly", os.ftruncate, fd, 0)
    os.close(fd)
    os.mkdir("d")
    r.op("truncate dir", os.truncate, "d", 0)
    r.op("truncate neg", os.truncate, "f", -1)
    r.op("truncate EFBIG", os.truncate, "f", 1 << 62)
    os.mkfifo("p")
    r.op("truncate fifo", os.truncate, "p", 0)
    own("f", U1, G1, 0o444)
    r.op("truncate no write perm", os.truncate, "f", 0, u=U1G)
    os.chmod("f", 0o646)
    r.op("truncate other w perm", os.truncate, "f", 1, u=U2G)
    os.chmod("f", 0o6777)
    r.op("truncate suid by other", os.truncate, "f", 2, u=U2G)
    r.st("truncate suid by other", "f")
    os.chmod("f", 0o6777)
    r.op("truncate suid by root", os.truncate, "f", 3)
    r.st("truncate suid by root", "f")
    os.chmod("f", 0o6777)
    fd = os.open("f", os.O_WRONLY)
    os.close(fd)
    r.op("write suid by other", wfile, "f", b"zz", u=U2G)
    r.st("write suid by other", "f")
    wfile("src", b"s" * 100)
    for mode in (0o6777, 0o2767, 0o4777):
        n = "w%o" % mode
        creat(n)
        own(n, U1, G1, mode)
        r.op("write %o by root" % mode, wfile, n, b"r")
        r.st("write %o by root" % mode, n)
        os.chmod(n, mode)
        r.op("write %o by owner" % mode, wfile, n, b"o", u=U1G)
        r.st("write %o by owner" % mode, n)
        os.chmod(n, mode)
        r.op("ftruncate %o by owner" % mode, lambda: os.truncate(n, 0),
             u=U1G)
        r.st("ftruncate %o by owner" % mode, n)
        # xfstests generic/683-687: fallocate and copy_file_range too
        os.chmod(n, mode)
        r.op("fallocate %o by owner" % mode, fallocate, n, u=U1G)
        r.st("fallocate %o by owner" % mode, n)
        os.chmod(n, mode)
        r.op("copy_file_range %o by owner" % mode, copy_into, "src", n,
             u=U1G)
        r.st("copy_file_range %o by owner" % mode, n)


def c_link(r):
    creat("f")
    os.mkdir("d")
    r.tm("link", ("f", "."), os.link, "f", "g")
    r.st("link", "f", "g")
    r.tm("link into d", ("f", "d"), os.link, "f", "d/h")
    r.st("link into d", "f")
    r.op("link EEXIST", os.link, "f", "g")
    r.op("link EEXIST dir", os.link, "f", "d")
    r.op("link dir EPERM", os.link, "d", "d2")
    r.op("link ENOENT", os.link, "nx", "y")
    r.op("link ENOENT dst", os.link, "f", "nx/y")
    r.op("link ENOTDIR", os.link, "f/x", "y")
    r.op("link ENAMETOOLONG", os.link, "f", "x" * 256)
    os.symlink("f", "s")
    r.op("link symlink", lambda: os.link("s", "s2", follow_symlinks=False))
    r.st("link symlink", "s2", "f")
    os.mkfifo("p")
    r.op("link fifo", os.link, "p", "p2")
    r.st("link fifo", "p")
    os.mkdir("ro", 0o755)
    r.op("link EACCES dir", os.link, "f", "ro/x", u=U1G)
    os.mkdir("rw", 0o777)
    creat("priv")
    own("priv", U2, G2, 0o600)
    r.op("link other's unwritable", os.link, "priv", "rw/x", u=U1G)
    own("priv", U2, G2, 0o666)
    r.op("link other's writable", os.link, "priv", "rw/y", u=U1G)
    os.unlink("g")
    r.tm("unlink other link", ("f", "."), os.unlink, "d/h")
    r.st("unlink other link", "f")


def c_mkdir(r):
    os.umask(0o022)
    r.tm("mkdir", (".", "a"), os.mkdir, "a", 0o777)
    r.st("mkdir", "a", ".")
    r.op("mkdir 01777", os.mkdir, "b", 0o1777)
    r.st("mkdir 01777", "b")
    r.op("mkdir 07777", os.mkdir, "c", 0o7777)
    r.st("mkdir 07777", "c")
    os.chmod("c", 0o2777)
    os.chown("c", U2, G2)
    r.op("mkdir in sgid", os.mkdir, "c/x", 0o755, u=U1G)
    r.st("mkdir in sgid", "c/x", "c")
    r.op("creat in sgid", creat, "c/f", 0o2755, u=U1G)
    r.st("creat in sgid", "c/f")
    r.op("mkfifo in sgid", os.mkfifo, "c/p", 0o2755)
    r.op("symlink in sgid", os.symlink, "t", "c/l", u=U1G)
    r.st("others in sgid", "c/p", "c/l")
    r.op("mkdir by user", os.mkdir, "b/u", 0o700, u=U1G)
    r.st("mkdir by user", "b/u")
    r.op("mkdir EEXIST", os.mkdir, "a")
    creat("f")
    r.op("mkdir EEXIST file", os.mkdir, "f")
    os.symlink("nx", "dangle")
    r.op("mkdir EEXIST dangling", os.mkdir, "dangle")
    r.op("mkdir ENOENT", os.mkdir, "nx/y")
    r.op("mkdir ENOTDIR", os.mkdir, "f/y")
    r.op("mkdir ENAMETOOLONG", os.mkdir, "x" * 256)
    r.op("mkdir 255", os.mkdir, "x" * 255)
    r.op("mkdir EACCES", os.mkdir, "a/y", u=U1G)
    os.symlink("l1", "l2")
    os.symlink("l2", "l1")
    r.op("mkdir ELOOP", os.mkdir, "l1/x")
    r.st("nlink .", ".")


def bind_unix(p):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(p)


def rfile_at(p, off, n=16):
    with open(p, "rb") as f:
        f.seek(off)
        return f.read(n)


def c_mknod(r):
    os.umask(0o022)
    r.tm("mkfifo", (".", "p"), os.mkfifo, "p", 0o666)
    r.st("mkfifo", "p")
    r.op("mkfifo EEXIST", os.mkfifo, "p")
    r.tm("mknod chr", (".", "c"), os.mknod, "c", stat.S_IFCHR | 0o644,
         os.makedev(1, 3))
    r.op("mknod blk", os.mknod, "b", stat.S_IFBLK | 0o600,
         os.makedev(7, 200))
    r.op("mknod big dev", os.mknod, "b2", stat.S_IFBLK | 0o600,
         os.makedev(4095, 0xfffff))
    r.op("mknod reg", os.mknod, "r", stat.S_IFREG | 0o640)
    r.op("mknod sock", os.mknod, "k", stat.S_IFSOCK | 0o640)
    # pjdfstest makes its sockets with bind(2), under the umask
    r.op("bind", bind_unix, "k2")
    r.st("mknod", "c", "b", "b2", "r", "k", "k2")
    os.mkdir("w", 0o777)
    r.op("mknod chr non-root", os.mknod, "w/c", stat.S_IFCHR | 0o644,
         os.makedev(1, 3), u=U1G)
    r.op("mkfifo non-root", os.mkfifo, "w/p", 0o4777, u=U1G)
    r.st("mkfifo non-root", "w/p")
    r.op("mknod EEXIST", os.mknod, "r", stat.S_IFREG)
    r.op("mknod ENOTDIR", os.mkfifo, "r/x")
    r.op("mknod ENAMETOOLONG", os.mkfifo, "x" * 256)
    os.mkdir("ro", 0o755)
    r.op("mkfifo EACCES", os.mkfifo, "ro/x", u=U1G)


def c_open(r):
    os.umask(0o022)
    r.tm("O_CREAT", (".", "f"), creat, "f", 0o777)
    r.st("O_CREAT", "f")
    r.tm("O_CREAT existing", (".", "f"), creat, "f", 0o600)
    r.op("O_CREAT|O_EXCL existing", creat, "f", 0o600, os.O_EXCL)
    os.symlink("nx", "dangle")
    r.op("O_EXCL dangling", creat, "dangle", 0o600, os.O_EXCL)
    r.op("O_CREAT dangling", creat, "dangle", 0o600)
    r.st("O_CREAT dangling", "nx")
    wfile("f", b"y" * 3000)
    r.tm("O_TRUNC", ("f", "."), creat, "f", 0o600, os.O_TRUNC)
    r.st("O_TRUNC", "f")
    r.tm("O_TRUNC empty", ("f",), creat, "f", 0o600, os.O_TRUNC)
    wfile("f", b"abc")
    fd = os.open("f", os.O_WRONLY | os.O_APPEND)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, b"def")
    r.op("O_APPEND pos", os.lseek, fd, 0, os.SEEK_CUR)
    os.close(fd)
    r.op("O_APPEND data", rfile, "f")
    os.mkdir("d")
    r.op("O_WRONLY dir", opn, "d", os.O_WRONLY)
    r.op("O_RDWR dir", opn, "d", os.O_RDWR)
    r.op("O_CREAT dir", opn, "d", os.O_CREAT | os.O_RDONLY)
    r.op("O_DIRECTORY file", opn, "f", os.O_DIRECTORY)
    r.op("ENOTDIR", opn, "f/x", os.O_RDONLY)
    os.symlink("f", "s")
    r.op("O_NOFOLLOW", opn, "s", os.O_RDONLY | os.O_NOFOLLOW)
    r.op("O_EXCL symlink", creat, "s", 0o600, os.O_EXCL)
    os.symlink("l1", "l2")
    os.symlink("l2", "l1")
    r.op("ELOOP", opn, "l1", os.O_RDONLY)
    r.op("ENAMETOOLONG", opn, "x" * 256, os.O_RDONLY | os.O_CREAT)
    r.op("ENAMETOOLONG path", opn, "x/" * 2100, os.O_RDONLY)
    r.op("ENOENT", opn, "nx", os.O_RDONLY)
    os.mkfifo("p")
    r.op("ENXIO fifo", opn, "p", os.O_WRONLY | os.O_NONBLOCK)
    # EACCES as non-root: each mode bit against each access
    for mode in (0o000, 0o400, 0o200, 0o040, 0o020, 0o004, 0o002, 0o600,
                 0o060, 0o006):
        n = "m%03o" % mode
        creat(n)
        own(n, U1, G1, mode)
        for acc, fl in (("r", os.O_RDONLY), ("w", os.O_WRONLY),
                        ("rw", os.O_RDWR)):
            res = r.call(lambda: os.close(os.open(n, fl)), u=U1G)
            r.note("open %s %s owner" % (n, acc), res)
            res = r.call(lambda: os.close(os.open(n, fl)), u=U1IN2)
            r.note("open %s %s other/group1" % (n, acc), res)
            res = r.call(lambda: os.close(os.open(n, fl)), u=U2G)
            r.note("open %s %s other" % (n, acc), res)
    os.mkdir("nox", 0o766)
    creat("nox/f")
    r.op("EACCES search", opn, "nox/f", os.O_RDONLY, u=U1G)
    os.mkdir("now", 0o755)
    r.op("EACCES O_CREAT", opn, "now/f", os.O_CREAT | os.O_RDONLY,
         u=U1G)
    os.chmod("now", 0o777)
    r.op("O_CREAT user", creat, "now/f", 0o640, u=U1G)
    r.st("O_CREAT user", "now/f")
    # O_CREAT of an existing file in a sticky, world-writable directory
    # owned by another user (protected_regular aside: it is ours)
    os.mkdir("st", 0o1777)
    creat("st/g")
    own("st/g", U2, G2, 0o666)
    r.op("O_RDWR sticky other's", lambda: os.close(os.open(
        "st/g", os.O_RDWR)), u=U1G)
    r.op("O_CREAT 06777 by user", creat, "now/s", 0o6777, u=U1G)
    r.st("O_CREAT 06777 by user", "now/s")
    own("f", U2, G2, 0o644)
    r.op("O_TRUNC no write", opn, "f", os.O_RDONLY | os.O_TRUNC, u=U1G)
    wfile("ap", b"12345")
    fd = os.open("ap", os.O_WRONLY | os.O_APPEND)
    os.pwrite(fd, b"X", 0)
    os.close(fd)
    r.op("pwrite O_APPEND", rfile, "ap")
    r.tm("open O_RDONLY times", ("ap",), opn, "ap", os.O_RDONLY)
    r.op("O_TMPFILE", opn, ".", os.O_TMPFILE | os.O_RDWR)
    r.op("O_CREAT dir/", opn, "d/", os.O_CREAT | os.O_RDWR)
    r.op("O_CREAT|O_DIRECTORY", opn, "nd", os.O_CREAT | os.O_DIRECTORY)
    fd = os.open("ap", os.O_RDONLY)
    r.op("fallocate O_RDONLY", os.posix_fallocate, fd, 0, 10)
    os.close(fd)
    r.op("O_PATH symlink", opn, "s", os.O_PATH | os.O_NOFOLLOW)
    os.symlink("d", "dl")
    r.op("O_DIRECTORY symlink to dir", opn, "dl", os.O_DIRECTORY)


def c_rename(r):
    creat("f")
    os.mkdir("d")
    os.mkdir("e")
    r.tm("rename file", ("f>g", "."), os.rename, "f", "g")
    r.st("rename file", "g")
    r.tm("rename file to d", ("g>d/g", ".", "d"), os.rename, "g", "d/g")
    creat("h")
    os.link("h", "h2")
    r.tm("rename over file", ("d/g>h", "h2", "d", "."), os.rename, "d/g",
         "h")
    r.st("rename over file", "h", "h2")
    os.link("h", "h3")
    r.tm("rename hardlink to itself", ("h", "h3", "."), os.rename, "h",
         "h3")
    r.st("rename hardlink", "h", "h3")
    os.unlink("h3")
    os.mkdir("d/sub")
    r.tm("rename dir", ("d/sub>e/sub", "d", "e"), os.rename, "d/sub",
         "e/sub")
    r.st("rename dir", "d", "e", "e/sub")
    r.op("dotdot follows", lambda: os.stat("e/sub/..").st_ino ==
         os.stat("e").st_ino)
    os.mkdir("e2")
    r.tm("rename dir over empty", ("e/sub>e2", "e", "."), os.rename,
         "e/sub", "e2")
    r.st("rename dir over empty", "e", "e2", ".")
    os.mkdir("full")
    creat("full/x")
    os.mkdir("m")
    r.op("ENOTEMPTY", os.rename, "m", "full")
    r.op("EISDIR", os.rename, "h", "m")
    r.op("ENOTDIR", os.rename, "m", "h")
    r.op("ENOTDIR trailing slash", os.rename, "h", "h9/")
    r.op("EINVAL subtree", os.rename, "m", "m/x")
    os.mkdir("m/n")
    r.op("EINVAL deep subtree", os.rename, "m", "m/n/x")
    r.op("EINVAL .", os.rename, ".", "x")
    r.op("EINVAL ..", os.rename, "m/..", "x")
    r.op("rename onto .", os.rename, "m/n", "m/.")
    r.op("ENOENT", os.rename, "nx", "y")
    r.op("ENOENT dst dir", os.rename, "h", "nx/y")
    r.op("ENAMETOOLONG", os.rename, "h", "x" * 256)
    r.op("rename dir to itself", os.rename, "m", "m")
    r.op("rename parent onto child", os.rename, "m", "m/n")
    os.symlink("l1", "l2")
    os.symlink("l2", "l1")
    r.op("ELOOP", os.rename, "l1/x", "y")
    r.tm("rename symlink", ("l1>l3", "."), os.rename, "l1", "l3")
    r.st("rename symlink", "l3")
    os.mkfifo("p")
    r.tm("rename fifo over file", ("p>h2", "."), os.rename, "p", "h2")
    r.st("rename fifo", "h2", "h")
    # sticky directories: only the owner of the file or of the directory
    os.mkdir("st", 0o1777)
    for n, uid in (("a", U2), ("b", U1), ("c", U2)):
        creat("st/" + n)
        own("st/" + n, uid, uid)
    r.op("sticky rename other's", os.rename, "st/a", "st/z", u=U1G)
    r.op("sticky rename own", os.rename, "st/b", "st/y", u=U1G)
    r.op("sticky replace other's", os.rename, "st/y", "st/c", u=U1G)
    r.op("sticky rename out", os.rename, "st/y", "x1", u=U1G)
    os.chown("st", U1, G1)
    r.op("sticky dir owner", os.rename, "st/a", "st/z", u=U1G)
    os.chown("st", 0, 0)
    os.mkdir("st/da")
    os.chown("st/da", U2, G2)
    os.mkdir("st/db")
    os.chown("st/db", U1, G1)
    os.mkdir("st/dc")
    os.chown("st/dc", U2, G2)
    r.op("sticky rename other's dir", os.rename, "st/da", "st/dz", u=U1G)
    r.op("sticky replace other's dir", os.rename, "st/db", "st/dc", u=U1G)
    r.op("sticky rename own dir", os.rename, "st/db", "st/dy", u=U1G)
    # write permission: source dir, destination dir, the moved dir itself
    os.mkdir("ro", 0o755)
    os.mkdir("rw", 0o777)
    creat("ro/f")
    r.op("EACCES src dir", os.rename, "ro/f", "rw/f", u=U1G)
    creat("rw/g")
    r.op("EACCES dst dir", os.rename, "rw/g", "ro/g", u=U1G)
    os.mkdir("rw/sd", 0o755)
    os.mkdir("rw2", 0o777)
    r.op("EACCES moved dir (..)", os.rename, "rw/sd", "rw2/sd", u=U1G)
    r.op("moved dir same parent", os.rename, "rw/sd", "rw/sd2", u=U1G)
    # renameat2 flags
    creat("x1")
    creat("x2")
    r.op("RENAME_NOREPLACE", rename2, "x1", "x2", 1)
    r.op("RENAME_EXCHANGE", rename2, "x1", "m", 2)
    r.st("RENAME_EXCHANGE", "x1", "m")
    r.op("RENAME_EXCHANGE ENOENT", rename2, "x1", "nx", 2)
    r.op("RENAME_WHITEOUT", rename2, "x2", "x3", 4)
    r.st("RENAME_WHITEOUT", "x2", "x3")
    creat("t1")
    r.op("rename trailing slash dst dir", os.rename, "t1", "m/")
    r.op("rename dir trailing slash", os.rename, "e/", "e3")
    r.op("rename to ./ itself", os.rename, "e3", "./e3")
    os.symlink("e3", "sd")
    r.op("rename dir over symlink", os.rename, "e3", "sd")
    r.st("rename dir over symlink", "sd")
    r.op("rename file over symlink to dir", os.rename, "t1", "sd")
    r.st("rename file over symlink", "sd")
    r.st("nlink", ".", "d")


def c_rmdir(r):
    os.mkdir("d")
    r.tm("rmdir", ("."), os.rmdir, "d")
    r.st("rmdir", ".")
    os.mkdir("d")
    creat("d/f")
    r.op("ENOTEMPTY", os.rmdir, "d")
    r.op("ENOTDIR", os.rmdir, "d/f")
    r.op("ENOENT", os.rmdir, "nx")
    r.op("EINVAL .", os.rmdir, "d/.")
    r.op("ENOTEMPTY ..", os.rmdir, "d/..")
    r.op("rmdir cwd name", os.rmdir, ".")
    r.op("ENAMETOOLONG", os.rmdir, "x" * 256)
    os.symlink("d", "s")
    r.op("rmdir symlink", os.rmdir, "s")
    os.mkdir("st", 0o1777)
    os.mkdir("st/a")
    os.chown("st/a", U2, G2)
    os.mkdir("st/b")
    os.chown("st/b", U1, G1)
    r.op("sticky other's", os.rmdir, "st/a", u=U1G)
    r.op("sticky own", os.rmdir, "st/b", u=U1G)
    os.mkdir("ro", 0o755)
    os.mkdir("ro/x")
    r.op("EACCES", os.rmdir, "ro/x", u=U1G)
    os.mkdir("ro/x/y")
    r.tm("rmdir nested", ("ro/x", "ro"), os.rmdir, "ro/x/y")
    r.st("rmdir nested", "ro/x", "ro")


def c_symlink(r):
    r.tm("symlink", (".", "s"), os.symlink, "target", "s")
    r.st("symlink", "s")
    r.op("readlink", os.readlink, "s")
    r.op("EEXIST", os.symlink, "t", "s")
    creat("f")
    r.op("EEXIST file", os.symlink, "t", "f")
    r.op("ENOTDIR", os.symlink, "t", "f/x")
    r.op("ENAMETOOLONG name", os.symlink, "t", "x" * 256)
    r.op("target 1023", os.symlink, "y" * 1023, "s1023")
    r.op("target 4095", os.symlink, "y" * 4095, "s4095")
    r.op("ENAMETOOLONG target", os.symlink, "y" * 4096, "s4096")
    r.st("targets", "s1023", "s4095")
    os.mkdir("ro", 0o755)
    r.op("EACCES", os.symlink, "t", "ro/s", u=U1G)
    os.mkdir("rw", 0o777)
    r.op("symlink user", os.symlink, "t", "rw/s", u=U1G)
    r.st("symlink user", "rw/s")
    r.op("lstat size", lambda: os.lstat("s4095").st_size)


def c_unlink(r):
    creat("f")
    r.tm("unlink", (".",), os.unlink, "f")
    os.mkdir("d")
    r.op("EISDIR", os.unlink, "d")
    r.op("ENOENT", os.unlink, "nx")
    creat("g")
    r.op("ENOTDIR", os.unlink, "g/x")
    r.op("ENAMETOOLONG", os.unlink, "x" * 256)
    os.symlink("g", "s")
    r.tm("unlink symlink", ("s", "g", "."), os.unlink, "s")
    os.mkfifo("p")
    r.op("unlink fifo", os.unlink, "p")
    os.mkdir("st", 0o1777)
    for n, uid in (("a", U2), ("b", U1)):
        creat("st/" + n)
        own("st/" + n, uid, uid)
    r.op("sticky other's", os.unlink, "st/a", u=U1G)
    r.op("sticky own", os.unlink, "st/b", u=U1G)
    os.mkdir("ro", 0o755)
    creat("ro/f")
    r.op("EACCES", os.unlink, "ro/f", u=U1G)
    # an open file unlinked: still readable, nlink 0
    wfile("o", b"kept")
    fd = os.open("o", os.O_RDONLY)
    r.op("unlink open", os.unlink, "o")
    r.op("fstat unlinked", lambda: os.fstat(fd).st_nlink)
    r.op("read unlinked", os.pread, fd, 10, 0)
    os.close(fd)


def c_utimens(r):
    creat("f")
    own("f", U1, G1, 0o644)
    r.tm("both explicit", ("f",), utimensat, "f", (1000, 5), (2000, 7))
    r.op("values", lambda: (os.stat("f").st_atime_ns,
                            os.stat("f").st_mtime_ns))
    r.tm("both OMIT", ("f",), utimensat, "f", (0, UTIME_OMIT),
         (0, UTIME_OMIT))
    r.tm("atime OMIT", ("f",), utimensat, "f", (0, UTIME_OMIT), (3000, 0))
    r.op("values OMIT", lambda: (os.stat("f").st_atime_ns,
                                 os.stat("f").st_mtime_ns))
    r.tm("mtime NOW", ("f",), utimensat, "f", (0, UTIME_OMIT),
         (0, UTIME_NOW))
    r.tm("both NOW", ("f",), utimensat, "f", (0, UTIME_NOW),
         (0, UTIME_NOW))
    r.tm("NOW by owner", ("f",), utimensat, "f", (0, UTIME_NOW),
         (0, UTIME_NOW), u=U1G)
    r.tm("explicit by owner", ("f",), utimensat, "f", (5, 0), (6, 0),
         u=U1G)
    r.tm("NOW by other, no write", ("f",), utimensat, "f", (0, UTIME_NOW),
         (0, UTIME_NOW), u=U2G)
    r.tm("explicit by other", ("f",), utimensat, "f", (5, 0), (6, 0),
         u=U2G)
    os.chmod("f", 0o666)
    r.tm("NOW by other, write", ("f",), utimensat, "f", (0, UTIME_NOW),
         (0, UTIME_NOW), u=U2G)
    r.tm("NOW,OMIT by other, write", ("f",), utimensat, "f",
         (0, UTIME_NOW), (0, UTIME_OMIT), u=U2G)
    r.tm("explicit by other, write", ("f",), utimensat, "f", (5, 0),
         (6, 0), u=U2G)
    r.tm("OMIT by other", ("f",), utimensat, "f", (0, UTIME_OMIT),
         (0, UTIME_OMIT), u=U2G)
    r.op("EINVAL nsec", utimensat, "f", (0, 1000000000), (0, 0))
    os.symlink("f", "s")
    r.tm("symlink nofollow", ("s", "f"), utimensat, "s", (7, 0), (8, 0),
         AT_SYMLINK_NOFOLLOW)
    r.op("symlink times", lambda: os.lstat("s").st_mtime_ns)
    r.tm("negative", ("f",), utimensat, "f", (-1, 5), (-100, 999999999))
    r.op("negative values", lambda: (os.stat("f").st_atime_ns,
                                     os.stat("f").st_mtime_ns))
    r.op("far future", utimensat, "f", (1 << 40, 1), (1 << 34, 2))
    r.op("far future values", lambda: (os.stat("f").st_atime_ns,
                                       os.stat("f").st_mtime_ns))
    os.mkdir("d")
    os.chmod("d", 0o777)
    r.tm("dir NOW by other, 0777", ("d",), utimensat, "d", (0, UTIME_NOW),
         (0, UTIME_NOW), u=U2G)
    fd = os.open("f", os.O_RDONLY)
    r.tm("futimens", ("f",), lambda: os.utime(fd, ns=(11, 12)))
    os.close(fd)


def c_times(r):
    """the times pjdfstest and POSIX name for data and directory calls"""
    wfile("f", b"")
    r.tm("write", ("f", "."), wfile, "f", b"hello")
    r.tm("read", ("f",), rfile, "f")
    r.tm("read again", ("f",), rfile, "f")
    os.mkdir("d")
    creat("d/x")
    r.tm("readdir", ("d",), os.listdir, "d")
    r.tm("stat", ("f",), lambda: os.stat("f") and None)
    r.tm("chmod same", ("f",), os.chmod, "f", 0o644)
    r.tm("setxattr", ("f",), os.setxattr, "f", "user.a", b"1")
    r.tm("removexattr", ("f",), os.removexattr, "f", "user.a")
    r.tm("getxattr", ("f",), os.listxattr, "f")
    fd = os.open("f", os.O_RDWR)
    r.tm("pwrite", ("f",), os.pwrite, fd, b"x", 100)
    r.tm("fsync", ("f",), os.fsync, fd)
    r.tm("fallocate keep", ("f",), os.posix_fallocate, fd, 0, 8192)
    os.close(fd)
    r.st("after", "f")


def c_xattr(r):
    creat("f")
    own("f", U1, G1, 0o644)
    r.op("user set owner", os.setxattr, "f", "user.a", b"v", u=U1G)
    r.op("user get other", os.getxattr, "f", "user.a", u=U2G)
    r.op("user set other", os.setxattr, "f", "user.b", b"v", u=U2G)
    r.op("user list other", os.listxattr, "f", u=U2G)
    os.chmod("f", 0o600)
    r.op("user get no read", os.getxattr, "f", "user.a", u=U2G)
    r.op("trusted set root", os.setxattr, "f", "trusted.t", b"v")
    r.op("trusted set user", os.setxattr, "f", "trusted.u", b"v", u=U1G)
    r.op("trusted get user", os.getxattr, "f", "trusted.t", u=U1G)
    r.op("list root", lambda: sorted(os.listxattr("f")))
    r.op("list owner", lambda: sorted(os.listxattr("f")), u=U1G)
    r.op("security set", os.setxattr, "f", "security.x", b"v")
    r.op("security get", os.getxattr, "f", "security.x")
    os.symlink("f", "s")
    r.op("user on symlink", lambda: os.setxattr(
        "s", "user.a", b"v", follow_symlinks=False))
    r.op("trusted on symlink", lambda: os.setxattr(
        "s", "trusted.a", b"v", follow_symlinks=False))
    os.mkdir("st", 0o1777)
    os.chown("st", U2, G2)
    r.op("user on sticky dir other", os.setxattr, "st", "user.a", b"v",
         u=U1G)
    os.mknod("c", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    r.op("user on chr", os.setxattr, "c", "user.a", b"v")
    r.op("remove missing", os.removexattr, "f", "user.zz")
    r.op("set 2 bytes", os.setxattr, "f", "user.a", b"vv")
    r.op("ERANGE", getxattr1, "f", "user.a")
    os.chmod("f", 0o444)
    r.op("user set owner no write", os.setxattr, "f", "user.w", b"v",
         u=U1G)
    r.op("user set root no write", os.setxattr, "f", "user.w", b"v")
    os.chmod("f", 0o644)
    r.op("list size probe other", lambda: len(os.listxattr("f")), u=U2G)
    # file capabilities go at a write by a non-root user and at chown
    cap = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)
    for n, how in (("cw", "write"), ("cc", "chown"), ("cr", "root write")):
        creat(n)
        own(n, U1, G1, 0o755)
        r.op("set capability " + n, os.setxattr, n, "security.capability",
             cap)
        if how == "write":
            r.op("cap: write by owner", wfile, n, b"x", u=U1G)
        elif how == "chown":
            r.op("cap: chown", os.chown, n, U2, G2)
        else:
            r.op("cap: write by root", wfile, n, b"x")
        r.op("cap after " + how,
             lambda: os.getxattr(n, "security.capability") == cap)
    r.op("empty value", os.setxattr, "f", "user.e", b"")
    r.op("get empty", os.getxattr, "f", "user.e")


def getxattr1(p, n):
    """getxattr(2) into a one-byte buffer"""
    buf = ctypes.create_string_buffer(1)
    if libc.getxattr(p.encode(), n.encode(), buf, ctypes.c_size_t(1)) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def getacl(p, name="system.posix_acl_access"):
    try:
        return acl_text(os.getxattr(p, name))
    except OSError as e:
        return errno.errorcode[e.errno]


def c_acl(r):
    A = "system.posix_acl_access"
    D = "system.posix_acl_default"
    creat("f")
    own("f", U2, G2, 0o600)
    # a minimal ACL is the mode: stored as the mode alone
    r.tm("set minimal", ("f",), os.setxattr, "f", A,
         acl((ACL_USER_OBJ, 6, None), (ACL_GROUP_OBJ, 4, None),
             (ACL_OTHER, 0, None)))
    r.st("set minimal", "f")
    r.op("get minimal", getacl, "f")
    # a named user: the mask becomes the group bits
    full = acl((ACL_USER_OBJ, 6, None), (ACL_USER, 6, U1),
               (ACL_GROUP_OBJ, 4, None), (ACL_MASK, 6, None),
               (ACL_OTHER, 0, None))
    r.tm("set named user", ("f",), os.setxattr, "f", A, full)
    r.st("set named user", "f")
    r.op("get named user", getacl, "f")
    r.op("named user reads", rfile, "f", u=U1G)
    r.op("named user writes", wfile, "f", b"w", u=U1G)
    r.op("other reads", rfile, "f", u=(65532, 65532, ()))
    r.tm("chmod with acl", ("f",), os.chmod, "f", 0o640)
    r.st("chmod with acl", "f")
    r.op("get after chmod", getacl, "f")
    r.op("named user after chmod", wfile, "f", b"w", u=U1G)
    r.op("invalid acl", os.setxattr, "f", A, b"\x02\0\0\0garbage!")
    r.op("acl no mask", os.setxattr, "f", A,
         acl((ACL_USER_OBJ, 6, None), (ACL_USER, 6, U1),
             (ACL_GROUP_OBJ, 4, None), (ACL_OTHER, 0, None)))
    r.op("acl by non-owner", os.setxattr, "f", A, full, u=U1G)
    r.op("default on file", os.setxattr, "f", D, full)
    r.op("remove acl", os.removexattr, "f", A)
    r.st("remove acl", "f")
    r.op("get removed", getacl, "f")
    r.op("named user after remove", rfile, "f", u=U1G)
    # SGID: an owner outside the group setting an ACL loses it
    creat("g")
    own("g", U1, G2, 0o2770)
    r.op("acl by non-member owner", os.setxattr, "g", A,
         acl((ACL_USER_OBJ, 7, None), (ACL_GROUP_OBJ, 5, None),
             (ACL_OTHER, 0, None)), u=U1G)
    r.st("acl sgid", "g")
    # default ACLs: inherited by what is made in the directory
    os.umask(0o022)
    os.mkdir("d")
    dfl = acl((ACL_USER_OBJ, 7, None), (ACL_USER, 5, U1),
              (ACL_GROUP_OBJ, 5, None), (ACL_MASK, 7, None),
              (ACL_OTHER, 1, None))
    r.op("set default", os.setxattr, "d", D, dfl)
    r.op("get default", getacl, "d", D)
    r.st("set default", "d")
    r.op("creat in default", creat, "d/f", 0o666)
    r.st("creat in default", "d/f")
    r.op("file acl", getacl, "d/f")
    r.op("file default", getacl, "d/f", D)
    r.op("mkdir in default", os.mkdir, "d/s", 0o777)
    r.st("mkdir in default", "d/s")
    r.op("dir acl", getacl, "d/s")
    r.op("dir default", getacl, "d/s", D)
    r.op("mkfifo in default", os.mkfifo, "d/p", 0o600)
    r.st("mkfifo in default", "d/p")
    r.op("symlink in default", os.symlink, "t", "d/l")
    r.st("symlink in default", "d/l")
    r.op("symlink acl", getacl, "d/l")
    r.op("umask ignored", lambda: (os.umask(0o077), creat("d/u", 0o666),
                                   os.umask(0o022))[2])
    r.st("umask ignored", "d/u")
    r.op("remove default", os.removexattr, "d", D)
    r.op("creat after remove", creat, "d/g", 0o666)
    r.st("creat after remove", "d/g")
    r.op("list", lambda: sorted(os.listxattr("d/f")))
    # named groups, the mask limiting a named entry, directories' search
    creat("g2")
    own("g2", U2, G2, 0o600)
    r.op("named group", os.setxattr, "g2", A,
         acl((ACL_USER_OBJ, 6, None), (ACL_USER, 6, U1),
             (ACL_GROUP_OBJ, 0, None), (ACL_GROUP, 6, G1),
             (ACL_MASK, 4, None), (ACL_OTHER, 0, None)))
    r.st("named group", "g2")
    r.op("named user masked write", wfile, "g2", b"x", u=U1G)
    r.op("named user masked read", rfile, "g2", u=U1G)
    r.op("named group read", rfile, "g2", u=(65532, G1, ()))
    r.op("named group write", wfile, "g2", b"x", u=(65532, G1, ()))
    os.mkdir("sd", 0o700)
    creat("sd/x")
    r.op("no search", os.stat, "sd/x", u=U1G)
    r.op("search by acl", os.setxattr, "sd", A,
         acl((ACL_USER_OBJ, 7, None), (ACL_USER, 1, U1),
             (ACL_GROUP_OBJ, 0, None), (ACL_MASK, 1, None),
             (ACL_OTHER, 0, None)))
    r.op("search granted", lambda: os.stat("sd/x") and None, u=U1G)
    r.op("list denied", os.listdir, "sd", u=U1G)
    r.op("create denied", creat, "sd/y", u=U1G)
    os.symlink("f", "sl")
    r.op("acl on symlink", lambda: os.setxattr(
        "sl", A, acl((ACL_USER_OBJ, 6, None), (ACL_GROUP_OBJ, 4, None),
                     (ACL_OTHER, 0, None)), follow_symlinks=False))
    # a default ACL granting a user what the mode would not
    os.mkdir("dw", 0o755)
    r.op("default grants write", os.setxattr, "dw", D,
         acl((ACL_USER_OBJ, 7, None), (ACL_USER, 7, U1),
             (ACL_GROUP_OBJ, 5, None), (ACL_MASK, 7, None),
             (ACL_OTHER, 5, None)))
    r.op("access grants write", os.setxattr, "dw", A,
         acl((ACL_USER_OBJ, 7, None), (ACL_USER, 7, U1),
             (ACL_GROUP_OBJ, 5, None), (ACL_MASK, 7, None),
             (ACL_OTHER, 5, None)))
    r.op("user creates", creat, "dw/u", 0o640, os.O_EXCL, u=U1G)
    r.st("user creates", "dw/u")
    r.op("user's file acl", getacl, "dw/u")
    r.op("user mkdir", os.mkdir, "dw/ud", 0o750, u=U1G)
    r.st("user mkdir", "dw/ud")
    r.op("user's dir default", getacl, "dw/ud", D)
    r.op("user mknod", os.mkfifo, "dw/up", 0o666, u=U1G)
    r.st("user mknod", "dw/up")
    # xfstests generic/444: SGID directory with a default ACL, non-member
    os.chmod("dw", 0o2755)
    os.chown("dw", 0, G2)
    r.op("sgid+default creat 02775", creat, "dw/sg", 0o2775, os.O_EXCL,
         u=U1G)
    r.op("sgid+default mkdir", os.mkdir, "dw/sgd", 0o775, u=U1G)
    r.st("sgid+default", "dw/sg", "dw/sgd")
    r.op("sgid+default acl", getacl, "dw/sg")
    # many entries: the kernel hands FUSE at most a page of ACL
    for n in (500, 600):
        creat("big%d" % n)
        r.op("acl %d users" % n, os.setxattr, "big%d" % n, A, acl(
            (ACL_USER_OBJ, 6, None),
            *[(ACL_USER, 4, 1000 + i) for i in range(n)],
            (ACL_GROUP_OBJ, 4, None), (ACL_MASK, 4, None),
            (ACL_OTHER, 0, None)))
        r.op("acl %d read back" % n,
             lambda: len(os.getxattr("big%d" % n, A)))


def c_umask(r):
    """the umask of each kind of create, without a default ACL"""
    for um in (0o000, 0o077, 0o027, 0o002, 0o777):
        os.umask(um)
        n = "%03o" % um
        r.op("creat " + n, creat, "f" + n, 0o777)
        r.op("mkdir " + n, os.mkdir, "d" + n, 0o777)
        r.op("mkfifo " + n, os.mkfifo, "p" + n, 0o777)
        r.op("mknod reg " + n, os.mknod, "r" + n, stat.S_IFREG | 0o666)
        r.op("mkdir sticky " + n, os.mkdir, "s" + n, 0o1777)
        r.op("symlink " + n, os.symlink, "t", "l" + n)
        r.st("umask " + n, "f" + n, "d" + n, "p" + n, "r" + n, "s" + n,
             "l" + n)
        if um == 0:
            r.op("user creat " + n, creat, "d%s/u" % n, 0o666, u=U1G)
    os.umask(0o022)
    os.mkdir("w")
    os.chmod("w", 0o777)
    os.umask(0o077)
    r.op("user umask 077", creat, "w/u", 0o666, u=U1G)
    r.st("user umask 077", "w/u")
    os.umask(0o022)


def c_failtimes(r):
    """failed calls change no time"""
    os.mkdir("d")
    creat("d/f")
    os.mkdir("d/s")
    creat("d/s/x")
    r.tm("mkdir EEXIST", ("d", "d/f"), os.mkdir, "d/f")
    r.tm("creat EXCL EEXIST", ("d", "d/f"), creat, "d/f", 0o644, os.O_EXCL)
    r.tm("rmdir ENOTEMPTY", ("d", "d/s"), os.rmdir, "d/s")
    r.tm("unlink ENOENT", ("d",), os.unlink, "d/nx")
    r.tm("rename ENOTEMPTY", ("d", "d/s"), os.rename, "d/f", "d/s")
    r.tm("link EEXIST", ("d", "d/f"), os.link, "d/f", "d/s")
    r.tm("symlink EEXIST", ("d",), os.symlink, "t", "d/f")
    r.tm("chmod EPERM", ("d/f",), os.chmod, "d/f", 0o777, u=U1G)
    r.tm("chown EPERM", ("d/f",), os.chown, "d/f", U1, -1, u=U1G)
    r.tm("utimens EPERM", ("d/f",), utimensat, "d/f", (1, 0), (1, 0),
         u=U1G)
    r.tm("removexattr ENODATA", ("d/f",), os.removexattr, "d/f", "user.x")
    r.tm("setxattr EEXIST", ("d/f",), lambda: (
        os.setxattr("d/f", "user.x", b"1"),
        os.setxattr("d/f", "user.x", b"1", os.XATTR_CREATE)))
    r.tm("truncate EISDIR", ("d",), os.truncate, "d", 0)


def c_misc(r):
    wfile("f", b"z" * 5000)
    syncfs(".")
    r.op("blocks 5000", lambda: os.stat("f").st_blocks)
    fd = os.open("sp", os.O_CREAT | os.O_RDWR, 0o644)
    os.ftruncate(fd, 1 << 20)
    r.op("blocks sparse", lambda: os.fstat(fd).st_blocks)
    os.pwrite(fd, b"q", 512 * 1024)
    os.fsync(fd)
    r.op("blocks one page", lambda: os.fstat(fd).st_blocks)
    os.close(fd)
    # pjdfstest open/25: data past 2 GiB (32-bit offsets in the daemon)
    fd = os.open("big", os.O_CREAT | os.O_WRONLY, 0o755)
    r.op("pwrite past 2 GiB", os.pwrite, fd, b"a", (2 << 30) + 1)
    os.close(fd)
    r.op("size past 2 GiB", lambda: os.stat("big").st_size)
    r.op("pread past 2 GiB", rfile_at, "big", (2 << 30) + 1)
    wfile("w", b"w" * 10000)
    r.op("blocks after close", lambda: os.stat("w").st_blocks)
    os.symlink("t", "s")
    r.op("blocks symlink", lambda: os.lstat("s").st_blocks)
    os.mkfifo("p")
    r.op("blocks fifo", lambda: os.lstat("p").st_blocks)
    v = os.statvfs(".")
    r.note("statvfs namemax", v.f_namemax)
    r.note("statvfs sane", (v.f_bsize > 0, v.f_frsize > 0,
                            v.f_bfree <= v.f_blocks,
                            v.f_bavail <= v.f_bfree,
                            v.f_ffree <= v.f_files))
    # pjdfstest's directory link counts: 2 + subdirectories
    os.mkdir("n")
    for i in range(5):
        os.mkdir("n/%d" % i)
    creat("n/file")
    r.op("nlink 5 subdirs", lambda: os.stat("n").st_nlink)
    os.rename("n/0", "n/4/0")
    r.op("nlink after move", lambda: (os.stat("n").st_nlink,
                                      os.stat("n/4").st_nlink))
    os.rmdir("n/1")
    r.op("nlink after rmdir", lambda: os.stat("n").st_nlink)
    r.op("dir size", lambda: stat.S_ISDIR(os.stat("n").st_mode))
    # statvfs follows what is made and freed
    syncfs(".")
    v0 = os.statvfs(".")
    os.mkdir("many")
    for i in range(100):
        creat("many/%d" % i)
    wfile("many/big", b"b" * (1 << 20))
    syncfs(".")
    v1 = os.statvfs(".")
    r.note("statvfs ffree after 101 creates", v0.f_ffree - v1.f_ffree >= 101)
    r.note("statvfs bfree after 1 MiB",
           (v0.f_bfree - v1.f_bfree) * v1.f_frsize >= 1 << 20)
    for i in range(100):
        os.unlink("many/%d" % i)
    os.unlink("many/big")
    # the blocks come back when the kernel forgets the unlinked inodes:
    # FUSE sends those FORGETs asynchronously, maybe after the STATFS
    for _ in range(50):
        syncfs(".")
        v2 = os.statvfs(".")
        if (v2.f_bfree - v1.f_bfree) * v2.f_frsize >= 1 << 20:
            break
        time.sleep(0.1)
    r.note("statvfs bfree back", (v2.f_bfree - v1.f_bfree) * v2.f_frsize >=
           1 << 20)


CASES = [c_chmod, c_chown, c_truncate, c_link, c_mkdir, c_mknod, c_open,
         c_rename, c_rmdir, c_symlink, c_unlink, c_utimens, c_times,
         c_xattr, c_acl, c_umask, c_failtimes, c_misc]


def run(root, only):
    """{case: observations} of every case, each in root/NAME"""
    out = {}
    cwd = os.getcwd()
    os.umask(0o022)
    for c in CASES:
        name = c.__name__[2:]
        if only and name not in only:
            continue
        d = os.path.join(root, name)
        os.mkdir(d, 0o755)
        os.chdir(d)
        r = Run(d)
        try:
            c(r)
        except OSError as e:
            r.note("case aborted", "%s %s" % (
                errno.errorcode.get(e.errno, e.errno), e.filename))
        finally:
            os.setresuid(-1, 0, -1)
            os.setresgid(-1, 0, -1)
            os.setgroups([])
            os.umask(0o022)
            os.chdir(cwd)
        out[name] = r.obs
    return out


def snapshot(root):
    """every name under root with its inode's stat fields and times: what
    the kernel showed, to compare with what the image says after a
    remount (the kernel keeps attributes for a day: a daemon that answers
    differently than the kernel guessed shows only then)"""
    out = {}
    todo = [root]
    while todo:
        d = todo.pop()
        # no link followed (os.walk's is_dir() would read every symlink,
        # moving the atimes it records)
        for e in sorted(os.scandir(d), key=lambda e: e.name):
            p = e.path
            if e.is_dir(follow_symlinks=False):
                todo.append(p)
            s = os.lstat(p)
            out[os.path.relpath(p, root)] = "%s ino=%d m=%d c=%d%s" % (
                fields(s), s.st_ino, s.st_mtime_ns, s.st_ctime_ns,
                "" if stat.S_ISDIR(s.st_mode) else
                " a=%d blocks=%d" % (s.st_atime_ns, s.st_blocks))
    return out


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 the differences are exactly the known "
               "ones, 1 otherwise, 2 usage.")
    ap.add_argument("test", help="an empty directory on a kvfs mount")
    ap.add_argument("ref", help="an empty directory on tmpfs or ext4")
    ap.add_argument("-l", "--list", action="store_true",
                    help="print every observation")
    ap.add_argument("-c", "--case", action="append", default=[],
                    help="run only this case (repeatable)")
    ap.add_argument("--nowriteback", dest="writeback",
                    action="store_false",
                    help="TEST is mounted with -o nowriteback_cache")
    ap.add_argument("--save", metavar="FILE",
                    help="then write TEST's snapshot (stat of every name)")
    ap.add_argument("--verify", metavar="FILE",
                    help="only compare TEST (remounted) with a --save")
    a = ap.parse_args()
    if os.geteuid():
        print("pjd_diff: must run as root (it switches users)")
        return 2
    if a.verify:
        with open(a.verify) as f:
            saved = dict(line.rstrip("\n").split("\t") for line in f)
        now = snapshot(a.test)
        bad = 0
        for k in sorted(saved.keys() | now.keys()):
            if saved.get(k) != now.get(k):
                print("FAIL: %s: before the remount %s, after %s" %
                      (k, saved.get(k), now.get(k)))
                bad += 1
        print("pjd_diff: %d names, %d differ after a remount" %
              (len(saved), bad))
        return 1 if bad else 0
    got, want = run(a.test, a.case), run(a.ref, a.case)
    bad = n = known = 0
    for name in got:
        g, w = got[name], want[name]
        for k in range(max(len(g), len(w))):
            x = g[k] if k < len(g) else ("(none)", None)
            y = w[k] if k < len(w) else ("(none)", None)
            key = "%s/%s" % (name, x[0])
            n += 1
            if a.list or x != y:
                print("%-8s %-40s kvfs: %s  ref: %s" %
                      (name, x[0] if x[0] == y[0] else "%s|%s" %
                       (x[0], y[0]), x[1], y[1]))
            if key in KNOWN and (len(KNOWN[key]) < 3 or a.writeback):
                known += 1
                why, kv = KNOWN[key][:2]
                if x == y:
                    print("FAIL: %s: the known difference is gone (%s)" %
                          (key, why))
                    bad += 1
                elif x[1] != kv:
                    print("FAIL: %s: %s, expected %s (%s)" %
                          (key, x[1], kv, why))
                    bad += 1
            elif x != y:
                print("FAIL: %s: a new difference" % key)
                bad += 1
    print("pjd_diff: %d cases, %d observations, %d known differences, "
          "%d failures" % (len(got), n, known, bad))
    if a.save:
        with open(a.save, "w") as f:
            for k, v in sorted(snapshot(a.test).items()):
                f.write("%s\t%s\n" % (k, v))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
