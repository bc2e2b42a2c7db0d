#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""POSIX edge cases run on two directories, their results compared.

The same script of system calls (names, rmdir/rename corner cases,
renameat2 flags, name and symlink length limits, ELOOP, truncate,
SUID/SGID, fifos and devices, xattr flags and limits, timestamps before
1970, link counts, SEEK_DATA/SEEK_HOLE, EFBIG) runs in TEST (the root of
a fresh kvfs mount) and in REF (the root of an empty tmpfs mounted with
mode=0755); each case's result is its errno or its value.  The cases
whose results differ must be exactly those of KNOWN, each with the
result KNOWN gives: a new difference, a known one gone or changed, fails.

Exit status: 0 when the differences are exactly KNOWN, 1 otherwise,
2 for a usage error.
"""
import argparse
import ctypes
import errno
import os
import stat
import sys

# Where kvfs is expected to differ from tmpfs: why, and kvfs's result as a
# function of tmpfs's (so that a known difference that changes fails too).
BIG = (1 << 40) + 1  # the size of "big" after "pwrite far"
KNOWN = {
    "stat .": ("mkfs.kvfs makes lost+found: one more link in the root",
               lambda r: ("ok", (r[1][0], r[1][1] + 1, r[1][2]))),
    "readdir": ("mkfs.kvfs makes lost+found in the root",
                lambda r: ("ok", sorted(r[1] + ["lost+found"]))),
    "nlink root": ("lost+found is a subdirectory of the root",
                   lambda r: ("ok", r[1] + 1)),
    "seek data": ("under the writeback cache the daemon answers LSEEK "
                  "with ENOSYS (fs/fuse/ops.c kf_lseek): the kernel's own "
                  "answer, all data up to the size",
                  lambda r: ("ok", 0)),
    "seek hole": ("the same: the only hole is at the size",
                  lambda r: ("ok", BIG)),
}

libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                           ctypes.c_char_p, ctypes.c_uint]


def rn2(a, b, flags):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def st(p):
    s = os.lstat(p)
    return (stat.filemode(s.st_mode), s.st_nlink,
            -1 if stat.S_ISDIR(s.st_mode) else s.st_size)


def creat(p, flags=0):
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY | flags, 0o644))


def write_size(p):
    with open(p, "wb") as f:
        f.write(b"x" * 5000)
    return os.stat(p).st_size


def read(p):
    with open(p, "rb") as f:
        return f.read()


def then(first, value):
    """first() for its effect, then value()'s result"""
    first()
    return value()


CASES = [
    ("mkdir d", lambda: os.mkdir("d")),
    ("mkdir d again", lambda: os.mkdir("d")),
    ("mkdir d/e", lambda: os.mkdir("d/e")),
    ("creat f", lambda: creat("f")),
    ("excl f", lambda: creat("f", os.O_EXCL)),
    ("O_DIRECTORY f",
     lambda: os.close(os.open("f", os.O_RDONLY | os.O_DIRECTORY))),
    ("open d write", lambda: os.close(os.open("d", os.O_WRONLY))),
    ("f/x", lambda: os.stat("f/x")),
    ("mkdir f/x", lambda: os.mkdir("f/x")),
    ("rmdir f", lambda: os.rmdir("f")),
    ("unlink d", lambda: os.unlink("d")),
    ("rmdir d (nonempty)", lambda: os.rmdir("d")),
    ("rmdir .", lambda: os.rmdir(".")),
    ("rmdir d/.", lambda: os.rmdir("d/.")),
    ("rmdir d/..", lambda: os.rmdir("d/..")),
    ("link d", lambda: os.link("d", "d2")),
    ("link f", lambda: os.link("f", "f2")),
    ("stat f", lambda: st("f")),
    ("link f exists", lambda: os.link("f", "f2")),
    ("rename d d/e/x", lambda: os.rename("d", "d/e/x")),
    ("rename d d", lambda: os.rename("d", "d")),
    ("rename f d", lambda: os.rename("f", "d")),
    ("rename d f", lambda: os.rename("d", "f")),
    ("mkdir g", lambda: os.mkdir("g")),
    ("rename g d (nonempty)", lambda: os.rename("g", "d")),
    ("mkdir h", lambda: os.mkdir("h")),
    ("rename g h (empty)", lambda: os.rename("g", "h")),
    ("stat h", lambda: st("h")),
    ("stat .", lambda: st(".")),
    ("rename f f2 (same inode)", lambda: os.rename("f", "f2")),
    ("stat f after", lambda: st("f")),
    ("noreplace f f2", lambda: rn2("f", "f2", 1)),
    ("exchange f h", lambda: rn2("f", "h", 2)),
    ("stat f after xchg", lambda: st("f")),
    ("exchange f missing", lambda: rn2("f", "zz", 2)),
    ("exchange+noreplace", lambda: rn2("f", "h", 3)),
    ("rename . x", lambda: os.rename(".", "x")),
    ("rename d/.. x", lambda: os.rename("d/..", "x")),
    ("rename missing x", lambda: os.rename("nonexist", "x")),
    ("rename f2 f3/", lambda: os.rename("f2", "f3/")),
    ("name 255", lambda: creat("a" * 255)),
    ("name 256", lambda: creat("a" * 256)),
    ("stat 256", lambda: os.stat("a" * 256)),
    ("symlink loop", lambda: os.symlink("loop", "loop")),
    ("open loop", lambda: os.open("loop", os.O_RDONLY)),
    ("open nofollow", lambda: os.open("loop", os.O_RDONLY | os.O_NOFOLLOW)),
    ("symlink empty", lambda: os.symlink("", "empty")),
    ("symlink 4095", lambda: os.symlink("x" * 4095, "s4095")),
    ("readlink 4095", lambda: len(os.readlink("s4095"))),
    ("symlink 4096", lambda: os.symlink("x" * 4096, "s4096")),
    ("readlink f2", lambda: os.readlink("f2")),
    ("truncate d", lambda: os.truncate("d", 0)),
    ("truncate neg", lambda: os.truncate("f2", -1)),
    ("write+size", lambda: write_size("f2")),
    ("truncate 100",
     lambda: then(lambda: os.truncate("f2", 100),
                  lambda: os.stat("f2").st_size)),
    ("read after trunc", lambda: read("f2")),
    ("extend 10000",
     lambda: then(lambda: os.truncate("f2", 10000),
                  lambda: read("f2")[95:105])),
    ("chmod 4755",
     lambda: then(lambda: os.chmod("f2", 0o4755),
                  lambda: stat.filemode(os.stat("f2").st_mode))),
    ("chown keeps suid(root)",
     lambda: then(lambda: os.chown("f2", 1, 1),
                  lambda: stat.filemode(os.stat("f2").st_mode))),
    ("mknod fifo", lambda: os.mkfifo("fifo")),
    ("stat fifo", lambda: st("fifo")),
    ("mknod chr",
     lambda: then(lambda: os.mknod("chr", stat.S_IFCHR | 0o600,
                                   os.makedev(1, 3)),
                  lambda: os.stat("chr").st_rdev == os.makedev(1, 3))),
    ("setxattr user on fifo", lambda: os.setxattr("fifo", "user.a", b"1")),
    ("setxattr create",
     lambda: os.setxattr("f2", "user.a", b"1", os.XATTR_CREATE)),
    ("setxattr create again",
     lambda: os.setxattr("f2", "user.a", b"1", os.XATTR_CREATE)),
    ("setxattr replace missing",
     lambda: os.setxattr("f2", "user.b", b"1", os.XATTR_REPLACE)),
    ("getxattr missing", lambda: os.getxattr("f2", "user.zz")),
    ("setxattr 64k", lambda: os.setxattr("f2", "user.big", b"v" * 65536)),
    ("setxattr 64k+1",
     lambda: os.setxattr("f2", "user.big2", b"v" * 65537)),
    ("xattr name 255", lambda: os.setxattr("f2", "user." + "n" * 250, b"1")),
    ("xattr name 256", lambda: os.setxattr("f2", "user." + "n" * 251, b"1")),
    ("listxattr", lambda: sorted(os.listxattr("f2"))),
    ("unknown ns", lambda: os.setxattr("f2", "bogus.a", b"1")),
    ("utime",
     lambda: then(lambda: os.utime("f2", ns=(1, -5_000_000_000)),
                  lambda: os.stat("f2").st_mtime_ns)),
    ("utime prehist",
     lambda: then(lambda: os.utime("f2", ns=(123456789, -123456789)),
                  lambda: (os.stat("f2").st_atime_ns,
                           os.stat("f2").st_mtime_ns))),
    ("readdir", lambda: sorted(os.listdir("."))),
    ("readdir d", lambda: sorted(os.listdir("d"))),
    ("nlink d", lambda: os.stat("d").st_nlink),
    ("rmdir d/e", lambda: os.rmdir("d/e")),
    ("nlink d after", lambda: os.stat("d").st_nlink),
    ("nlink root", lambda: os.stat(".").st_nlink),
]

# on one file, "big", held open
FD_CASES = [
    ("pwrite far", lambda fd: os.pwrite(fd, b"z", 1 << 40)),
    ("seek data", lambda fd: os.lseek(fd, 0, os.SEEK_DATA)),
    ("seek hole", lambda fd: os.lseek(fd, 0, os.SEEK_HOLE)),
    ("seek data past", lambda fd: os.lseek(fd, (1 << 40) + 1, os.SEEK_DATA)),
    ("pwrite EFBIG", lambda fd: os.pwrite(fd, b"z", (1 << 63) - 1)),
    ("ftruncate EFBIG", lambda fd: os.ftruncate(fd, (1 << 63) - 1)),
]


def result(fn, *args):
    try:
        return ("ok", fn(*args))
    except OSError as e:
        return (errno.errorcode.get(e.errno, str(e.errno)), None)


def run(root):
    """Each case's name and result, run in root."""
    cwd = os.getcwd()
    os.chdir(root)
    try:
        out = [(name, result(fn)) for name, fn in CASES]
        fd = os.open("big", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            out += [(name, result(fn, fd)) for name, fn in FD_CASES]
        finally:
            os.close(fd)
    finally:
        os.chdir(cwd)
    return out


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 the differences are exactly the known "
               "ones, 1 otherwise, 2 usage.")
    ap.add_argument("test", help="an empty kvfs mount's root")
    ap.add_argument("ref", help="an empty tmpfs mount's root (mode=0755)")
    ap.add_argument("-l", "--list", action="store_true",
                    help="print every case's two results")
    a = ap.parse_args()
    got, want = run(a.test), run(a.ref)
    differ = set()
    for (name, x), (_, y) in zip(got, want):
        if a.list or x != y:
            print("%-26s %s: %s  %s: %s" % (name, a.test, x, a.ref, y))
        if x != y:
            differ.add(name)
    bad = 0
    for name in sorted(differ - KNOWN.keys()):
        print("FAIL: %s: a new difference" % name)
        bad += 1
    for name, x, y in [(n, x, y) for (n, x), (_, y) in zip(got, want)
                       if n in KNOWN]:
        why, expect = KNOWN[name]
        try:
            want_x = expect(y)
        except (TypeError, IndexError):
            want_x = "tmpfs's result changed: %s" % (y,)
        if name not in differ:
            print("FAIL: %s: the known difference (%s) is gone: update "
                  "KNOWN" % (name, why))
            bad += 1
        elif x != want_x:
            print("FAIL: %s: %s, expected %s (%s)" % (name, x, want_x, why))
            bad += 1
    print("posix_diff: %d cases, %d differ (%d known)" %
          (len(got), len(differ), len(differ & KNOWN.keys())))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
