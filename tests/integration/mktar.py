"""Builds hostile tar archives for the tests (trusted test code, host side).

usage: mktar.py KIND OUT
"""
import gzip, io, sys, tarfile

kind, out = sys.argv[1], sys.argv[2]
buf = io.BytesIO()
mode = "w"

def add(t, name, data=b"x", **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(ti, k, v)
    if ti.type == tarfile.REGTYPE:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)

with tarfile.open(fileobj=buf, mode=mode, format=tarfile.GNU_FORMAT) as t:
    if kind == "absolute":
        add(t, "/etc/sandq-pwned")
    elif kind == "absolute-not-utf8":
        add(t, "/etc/sandq-pwned-\udcff")  # the byte 0xff (surrogateescape)
    elif kind == "dotdot":
        add(t, "ok.txt")
        add(t, "a/../../sandq-pwned")
    elif kind == "symlink-out":
        add(t, "link", type=tarfile.SYMTYPE, linkname="/etc")
        add(t, "link/sandq-pwned")
    elif kind == "symlink-up":
        add(t, "d", type=tarfile.DIRTYPE, mode=0o755)
        add(t, "d/up", type=tarfile.SYMTYPE, linkname="../../..")
    elif kind == "symlink-chain":
        # Each stays inside as text; followed, t leads above the root.
        add(t, "d1", type=tarfile.DIRTYPE, mode=0o755)
        add(t, "d1/d2", type=tarfile.DIRTYPE, mode=0o755)
        add(t, "d1/d2/s", type=tarfile.SYMTYPE, linkname="../..")
        add(t, "t", type=tarfile.SYMTYPE, linkname="d1/d2/s/..")
    elif kind == "symlink-ok":
        # Links that climb first and then descend, as real trees have.
        add(t, "data/a.csv", b"x\n")
        add(t, "sub", type=tarfile.DIRTYPE, mode=0o755)
        add(t, "sub/data", type=tarfile.SYMTYPE, linkname="../data")
        add(t, "sub/a", type=tarfile.SYMTYPE, linkname="../data/a.csv")
    elif kind == "hardlink-out":
        add(t, "h", type=tarfile.LNKTYPE, linkname="/etc/passwd")
    elif kind == "device":
        add(t, "null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
    elif kind == "fifo":
        add(t, "pipe", type=tarfile.FIFOTYPE)
    elif kind == "setuid":
        add(t, "tool", b"#!/bin/sh\necho hi\n", mode=0o4755)
    elif kind == "many":
        for i in range(300):
            add(t, f"f{i}")
    elif kind == "deep":
        add(t, "/".join(["d"] * 40) + "/f")
    elif kind == "longname":
        add(t, "n" * 2000)
    elif kind == "control":
        add(t, "bad\x1bname")
    elif kind == "bomb":
        add(t, "zeros", b"\0" * (200 << 20))
    elif kind == "inside-links":
        add(t, "data.txt", b"hello\n")
        add(t, "sub", type=tarfile.DIRTYPE, mode=0o755)
        add(t, "sub/link", type=tarfile.SYMTYPE, linkname="../data.txt")
        add(t, "hard", type=tarfile.LNKTYPE, linkname="data.txt")
    else:
        sys.exit("unknown kind " + kind)

data = buf.getvalue()
if kind in ("bomb",):
    data = gzip.compress(data, 9)
    out += ""  # a .tar.gz named .tar.gz below
open(out, "wb").write(data)
