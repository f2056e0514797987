#!/usr/bin/env python3
"""Fuzzes the submit path: calls the submit script (lib.lua + submit.lua)
straight over RESP, as a client in another language might, with valid
submissions mutated in their numbers, names, keys, spec and input.

usage: submit_fuzz.py SOCKET LUA_DIR COUNT SEED OUT

Writes one line per accepted job to OUT ("<id>"), leaving out those whose
record may expire before the test looks (a keep_s the mutation made
shorter than 10 minutes: what the client asked for), and
prints one summary line: "accepted A refused R odd O short S", then each
odd reply (neither a job nor an error reply of the submit script that
names the argument).
Only test data is made here; nothing is executed.
"""
import gzip
import io
import json
import os
import random
import socket
import sys
import tarfile


class Resp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode("utf-8", "surrogateescape")
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self.read()

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            return Exception(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)


def tar_gz(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data, kind in entries:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                t.addfile(ti)
            elif kind == "dev":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = 1, 3
                t.addfile(ti)
    return buf.getvalue()


def lua_number(v):
    """What Lua 5.1's tonumber makes of an accepted argument: the C string
    up to a NUL, blanks around it allowed, hex too."""
    v = v.split("\0")[0].strip()
    try:
        return int(v, 0)
    except ValueError:
        return int(float(v))


def main():
    sock, lua_dir, count, seed, out = sys.argv[1:6]
    rnd = random.Random(int(seed))
    src = b"".join(open(os.path.join(lua_dir, f), "rb").read() for f in ("lib.lua", "submit.lua"))
    r = Resp(sock)
    sha = r.call("SCRIPT", "LOAD", src).decode()

    good_input = tar_gz([("data.csv", b"a,b\n1,2\n", "file")])
    numbers = ["", "-1", "0", "1.5", "1e3", "1e400", "nan", "inf", "-inf", "0x10", " 7",
               "7 ", "99999999999999999999999", "3\x00", "\xff", "lots", "2", "1", "100",
               "101", "31536000001"]
    names = ["", ".x", "-x", "a" * 129, "a}b", "a{b", "a b", "caf\u00e9", "a\x00b", "a\nb",
             "a/b", "*", "ok_name-1.2:3"]
    specs = [
        "", "null", "[]", "{", '{"version":1', '{"version":2,"command":["/bin/true"]}',
        '{"version":1,"command":[]}', '{"version":1,"command":"/bin/true"}',
        '{"version":1,"command":[1,2]}', '{"version":1,"command":[""]}',
        '{"version":1,"command":["/bin/true"],"env":{"A":1}}',
        '{"version":1,"command":["/bin/true"],"env":{"=A":"x"}}',
        '{"version":1,"command":["/bin/true"],"env":["A=1"]}',
        '{"version":1,"command":["/bin/true"],"limits":{"memory":-1}}',
        '{"version":1,"command":["/bin/true"],"limits":{"memory":1e300}}',
        '{"version":1,"command":["/bin/true"],"limits":{"memory":1.5}}',
        '{"version":1,"command":["/bin/true"],"limits":{"memory":"1G"}}',
        '{"version":1,"command":["/bin/true"],"limits":{"pids":0}}',
        '{"version":1,"command":["/bin/true"],"limits":{"bogus":1}}',
        '{"version":1,"command":["/bin/true"],"extra":true}',
        '{"version":1,"command":["/bin/true\\u0000x"]}',
        '{"version":1,"command":["\xff\xfe"]}',
        '{"version":1,"command":["/bin/true"]}' + " " * 10 + "trailing",
        "[" * 5000 + "]" * 5000,
        json.dumps({"version": 1, "command": ["/bin/true"] + ["x"] * 20000}),
        json.dumps({"version": 1, "command": ["/bin/true", "y" * 2000000]}),
    ]
    inputs = [
        b"", b"\x00" * 10, os.urandom(300), good_input[: len(good_input) // 2],
        gzip.compress(os.urandom(1000)),
        tar_gz([("../escape", b"x", "file")]),
        tar_gz([("/abs", b"x", "file")]),
        tar_gz([("s", "/etc/passwd", "sym")]),
        tar_gz([("null", None, "dev")]),
        tar_gz([("big", bytes(50 << 20), "file")]),  # over the ratio cap
        tar_gz([("a" * 300, b"x", "file")]),
        tar_gz([("d/" * 100 + "f", b"x", "file")]),
    ]

    accepted, refused, odd, short = [], 0, [], 0
    for i in range(int(count)):
        q = "default"
        f = {"id": "fz%d-%d" % (int(seed), i), "spec": '{"version":1,"command":["/bin/true"]}',
             "input": good_input, "ttl": "3600000", "keep": "600", "queue": q, "prio": "1",
             "att": "3", "who": "fuzz"}
        keys_off = None
        for _ in range(rnd.randint(0, 3)):
            what = rnd.choice(["num", "num", "id", "queue", "keys", "spec", "spec", "spec",
                               "input", "input", "who"])
            if what == "num":
                f[rnd.choice(["ttl", "keep", "prio", "att"])] = rnd.choice(numbers)
            elif what == "id":
                f["id"] = rnd.choice(names)
            elif what == "queue":
                f["queue"] = rnd.choice(names[:-1])
            elif what == "keys":
                keys_off = rnd.randint(0, 4)
            elif what == "spec":
                f["spec"] = rnd.choice(specs)
            elif what == "input":
                f["input"] = rnd.choice(inputs)
            else:
                f["who"] = rnd.choice(names + ["x" * 5000])
        P = "sandq:{%s}:" % f["queue"]
        keys = [P + "job:" + f["id"], P + "input:" + f["id"], P + "pending:" + f["prio"],
                P + "wake", P + "stats"]
        if keys_off is not None:
            keys[keys_off] = rnd.choice(["sandq:{other}:x", "", keys[keys_off] + "x",
                                         "sandq:{default}:pending:0"])
        rep = r.call("EVALSHA", sha, 5, *keys, f["id"], f["spec"], f["input"], f["ttl"],
                     f["keep"], f["queue"], f["prio"], f["att"], f["who"])
        if isinstance(rep, Exception):
            if str(rep).startswith("ERR sandq submit: ") and " must be " in str(rep):
                refused += 1
            else:
                odd.append("%s: %s" % (f["id"][:40], rep))
        elif isinstance(rep, list) and len(rep) == 2 and rep[0] == 1 and rep[1] == b"queued":
            if lua_number(f["keep"]) < 600:  # the verdict is kept only that long
                short += 1
            else:
                accepted.append(f["id"])
        elif isinstance(rep, list) and len(rep) == 2 and rep[0] == 0:
            refused += 1  # the id exists already: nothing stored
        else:
            odd.append("%s: %r" % (f["id"][:40], rep))
    with open(out, "w") as o:
        for a in accepted:
            o.write(a + "\n")
    print("accepted %d refused %d odd %d short %d" % (len(accepted), refused, len(odd), short))
    for line in odd[:20]:
        print("odd " + line.replace("\n", "\\n"))


if __name__ == "__main__":
    main()
