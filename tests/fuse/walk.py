#!/usr/bin/env python3
"""Read everything under a mount, for the corruption tests (corrupt.sh).

Prints one line per path, sorted: "OK PATH SHA256" for a regular file read
whole, "OK PATH -" for anything else that could be looked at, and
"ERR PATH ERRNO-NAME" for every operation that failed (stat, readdir,
open, read, listxattr, getxattr).  Paths are relative to the mount.
Exit 0 unless the walk itself could not run (the mount point is gone).
"""
import argparse
import errno
import hashlib
import os
import stat
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="the mount point")
    args = ap.parse_args()
    out = []

    def err(path, e):
        out.append("ERR %s %s" % (path, errno.errorcode.get(e.errno, e.errno)))

    def visit(rel):
        full = os.path.join(args.root, rel) if rel else args.root
        try:
            st = os.lstat(full)
        except OSError as e:
            err(rel or ".", e)
            return
        try:
            for name in os.listxattr(full, follow_symlinks=False):
                os.getxattr(full, name, follow_symlinks=False)
        except OSError as e:
            err((rel or ".") + "@xattr", e)
        if stat.S_ISDIR(st.st_mode):
            try:
                names = sorted(os.listdir(full))
            except OSError as e:
                err(rel or ".", e)
                return
            out.append("OK %s -" % (rel or "."))
            for n in names:
                visit(os.path.join(rel, n) if rel else n)
        elif stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            try:
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            except OSError as e:
                err(rel, e)
                return
            out.append("OK %s %s" % (rel, h.hexdigest()))
        else:
            out.append("OK %s -" % rel)

    if not os.path.isdir(args.root):
        print("walk: %s is not a directory" % args.root, file=sys.stderr)
        return 2
    visit("")
    for line in sorted(out):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
