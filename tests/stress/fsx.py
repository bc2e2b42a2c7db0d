#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""fsx-like data-path check of one file per seed against an in-memory model.

For each seed, DIR/fsx-SEED is created and OPS random operations run on
it: pwrite, pread, ftruncate up and down, fallocate (with and without
KEEP_SIZE), PUNCH_HOLE, ZERO_RANGE (with and without KEEP_SIZE), writes
and reads through a shared mmap, fsync and fdatasync, copy_file_range
within the file (ranges apart, the source maybe past the end: the count
must be what the model has there) and SEEK_DATA/SEEK_HOLE (no byte the
model has non-zero may lie in a hole they report).  Every read, and
the whole file every CHECK_EVERY operations, at the end and after a
reopen, must equal the model byte for byte, and the size the model's.
With --manifest, each file's SHA-256 as the model has it is written
there in sha256sum(1) format, so that a caller can check the files
again after an unmount and a mount.

Exit status: 0 when every file matched its model, 1 at the first
difference or failed call (where and what printed), 2 for a usage error.
"""
import argparse
import ctypes
import errno
import hashlib
import mmap
import os
import random
import sys

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10
CHECK_EVERY = 50

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                           ctypes.c_int64]


class Mismatch(Exception):
    pass


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length):
        e = ctypes.get_errno()
        raise OSError(e, "fallocate(mode %#x, %d, %d): %s" %
                      (mode, off, length, os.strerror(e)))


def compare(got, want, what):
    if got == want:
        return
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            raise Mismatch("%s: byte %d is %#x, model %#x (%d bytes read, "
                           "model %d)" % (what, i, g, w, len(got), len(want)))
    raise Mismatch("%s: %d bytes read, model %d" % (what, len(got), len(want)))


class Fsx:
    def __init__(self, path, seed, maxlen):
        self.r = random.Random(seed)
        self.maxlen = maxlen
        self.model = bytearray()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self.path = path

    def check(self, where):
        size = os.fstat(self.fd).st_size
        if size != len(self.model):
            raise Mismatch("%s: size %d, model %d" %
                           (where, size, len(self.model)))
        compare(os.pread(self.fd, len(self.model) + 4096, 0),
                bytes(self.model), where)

    def zero(self, off, end):
        if off < end:
            self.model[off:end] = bytes(end - off)

    def extend(self, size):
        if size > len(self.model):
            self.model.extend(bytes(size - len(self.model)))

    def seek(self, off, where):
        """SEEK_DATA and SEEK_HOLE from OFF against the model's bytes."""
        m, size = self.model, len(self.model)
        try:
            data = os.lseek(self.fd, off, os.SEEK_DATA)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            data = size
        if not off <= data <= size or any(m[off:data]):
            raise Mismatch("%s: SEEK_DATA from %d: %d (size %d)" %
                           (where, off, data, size))
        if off < size:
            hole = os.lseek(self.fd, off, os.SEEK_HOLE)
            if not off <= hole <= size:
                raise Mismatch("%s: SEEK_HOLE from %d: %d (size %d)" %
                               (where, off, hole, size))

    def step(self, i):
        r, fd, m = self.r, self.fd, self.model
        op = r.choice(("write", "write", "read", "trunc", "punch", "zero",
                       "falloc", "mwrite", "mread", "sync", "copy", "seek"))
        off = r.randrange(self.maxlen)
        ln = r.randrange(1, 65536)
        where = "op %d %s %d+%d" % (i, op, off, ln)
        if op == "write":
            data = r.randbytes(ln)
            if os.pwrite(fd, data, off) != ln:
                raise Mismatch(where + ": short write")
            self.extend(off)
            m[off:off + ln] = data
        elif op == "read":
            compare(os.pread(fd, ln, off), bytes(m[off:off + ln]), where)
        elif op == "trunc":
            size = r.randrange(self.maxlen)
            os.ftruncate(fd, size)
            del m[size:]
            self.extend(size)
        elif op == "punch":
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, ln)
            self.zero(off, min(off + ln, len(m)))
        elif op == "zero":
            keep = r.random() < 0.5
            fallocate(fd, FALLOC_FL_ZERO_RANGE |
                      (FALLOC_FL_KEEP_SIZE if keep else 0), off, ln)
            end = min(off + ln, len(m)) if keep else off + ln
            self.extend(end)
            self.zero(off, end)
        elif op == "falloc":
            keep = r.random() < 0.5
            fallocate(fd, FALLOC_FL_KEEP_SIZE if keep else 0, off, ln)
            if not keep:
                self.extend(off + ln)
        elif op in ("mwrite", "mread") and m:
            o = off % len(m)
            o -= o % mmap.PAGESIZE
            ln = min(ln, len(m) - o)
            where = "op %d %s %d+%d" % (i, op, o, ln)
            with mmap.mmap(fd, o + ln, mmap.MAP_SHARED,
                           mmap.PROT_READ | mmap.PROT_WRITE) as mm:
                if op == "mwrite":
                    data = r.randbytes(ln)
                    mm[o:o + ln] = data
                    m[o:o + ln] = data
                    if r.random() < 0.5:
                        mm.flush()
                else:
                    compare(mm[o:o + ln], bytes(m[o:o + ln]), where)
        elif op == "copy":
            src = r.randrange(len(m) + 4096)
            if not (src + ln <= off or off + ln <= src):
                return  # overlapping ranges of one file: EINVAL
            where = "op %d copy %d->%d+%d" % (i, src, off, ln)
            want = max(0, min(ln, len(m) - src))
            n = os.copy_file_range(fd, fd, ln, src, off)
            if n != want:
                raise Mismatch("%s: copied %d, model %d" % (where, n, want))
            if n:
                data = bytes(m[src:src + n])
                self.extend(off)
                m[off:off + n] = data
        elif op == "seek":
            self.seek(off % (len(m) + 1), where)
        elif op == "sync":
            if r.random() < 0.5:
                os.fsync(fd)
            else:
                os.fdatasync(fd)
        if i % CHECK_EVERY == 0:
            self.check(where)

    def run(self, nops):
        for i in range(nops):
            self.step(i)
        self.check("end")
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_RDONLY)
        self.check("after a reopen")
        os.close(self.fd)
        return hashlib.sha256(self.model).hexdigest()


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 every file matched, 1 a difference or a "
               "failed call, 2 usage.")
    ap.add_argument("dir", help="a directory on the filesystem")
    ap.add_argument("-s", "--seed", type=int, action="append",
                    help="a seed (repeatable; default 1): one file each")
    ap.add_argument("-n", "--ops", type=int, default=1000,
                    help="operations per seed (default 1000)")
    ap.add_argument("-l", "--maxlen", type=int, default=1 << 20,
                    help="largest offset drawn (default 1 MiB)")
    ap.add_argument("-m", "--manifest",
                    help="write each file's expected SHA-256 here")
    a = ap.parse_args()
    if a.ops < 1 or a.maxlen < 1:
        ap.error("--ops and --maxlen must be positive")
    sums = []
    for seed in a.seed or [1]:
        name = "fsx-%d" % seed
        try:
            sums.append((Fsx(os.path.join(a.dir, name), seed, a.maxlen)
                         .run(a.ops), name))
        except (Mismatch, OSError) as e:
            print("FAIL: seed %d: %s" % (seed, e))
            return 1
        print("fsx seed %d: %d ops ok" % (seed, a.ops))
    if a.manifest:
        with open(a.manifest, "w") as f:
            for digest, name in sums:
                f.write("%s  %s\n" % (digest, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
