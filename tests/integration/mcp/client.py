# A small MCP client for the tests: starts `sandq mcp` (argv[1:]) and
# talks JSON-RPC over its stdin and stdout, one message per line.
import json, select, subprocess, sys, time


class Client:
    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, bufsize=0)
        self.next_id = 1
        self.buf = b""
        self.notes = []

    def send(self, obj):
        line = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        if isinstance(line, str):
            line = line.encode()
        self.p.stdin.write(line + b"\n")

    def read(self, timeout=120):
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no message from sandq mcp")
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = self.p.stdout.read1(65536) if hasattr(self.p.stdout, "read1") else self.p.stdout.read(65536)
                if not chunk:
                    raise EOFError("sandq mcp closed its stdout")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params=None, timeout=120):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.wait(rid, timeout)

    def wait(self, rid, timeout=120):
        while True:
            m = self.read(timeout)
            if m.get("id") == rid and ("result" in m or "error" in m):
                return m
            self.notes.append(m)

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
        return self.p.stderr.read().decode()
