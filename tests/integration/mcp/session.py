# Drives `sandq mcp` through one session and prints TAP-style lines
# "ok NAME" / "not ok NAME # detail" for t0018 to count.
# usage: session.py SANDQ [args...]
import base64, hashlib, json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(__file__))
from client import Client

argv = sys.argv[1:]
failed = 0


def check(name, cond, detail=""):
    global failed
    print(("ok " if cond else "not ok ") + name + ("" if cond else " # " + str(detail)[:1500]))
    sys.stdout.flush()
    if not cond:
        failed += 1


def text_of(res):
    return "".join(x.get("text", "") for x in res["content"] if x["type"] == "text")


c = Client(argv + ["mcp"])
r = c.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                             "clientInfo": {"name": "t0018", "version": "1"}})
check("initialize: the current revision is spoken", r["result"]["protocolVersion"] == "2025-11-25", r)
check("initialize: tools and resources are offered",
      "tools" in r["result"]["capabilities"] and "resources" in r["result"]["capabilities"], r)
c.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
check("ping answers an empty result", c.request("ping")["result"] == {})

tools = c.request("tools/list")["result"]["tools"]
names = sorted(t["name"] for t in tools)
check("tools/list: run_python and run_shell", names == ["run_python", "run_shell"], names)
strict = all(t["inputSchema"].get("additionalProperties") is False and
             t["inputSchema"]["properties"]["files"]["items"].get("additionalProperties") is False
             for t in tools)
check("tools/list: the schemas allow no other properties", strict)
printed = json.loads(subprocess.run(argv + ["mcp", "--print-tools"], capture_output=True,
                                    text=True).stdout)
check("--print-tools prints the same definitions", printed["tools"] == tools)

# A call with files in, an image and a large file out.
png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
code = """import os, shutil
os.makedirs('out', exist_ok=True)
shutil.copy('in/dot.png', 'out/dot.png')
open('out/table.csv', 'w').write('a,b\\n1,2\\n')
open('out/big.txt', 'w').write(''.join('line %06d\\n' % i for i in range(60000)))
print(open('data/note.txt').read().upper())
"""
r = c.request("tools/call", {"name": "run_python", "_meta": {"progressToken": "tok-1"},
                             "arguments": {"code": code, "files": [
                                 {"path": "data/note.txt", "text": "hello from mcp"},
                                 {"path": "in/dot.png", "base64": base64.b64encode(png).decode()}]}})
res = r.get("result", {})
check("run_python: ok, not an error", res.get("isError") is False, r)
check("run_python: the text has the verdict and stdout",
      "ok: the program finished successfully" in text_of(res) and "HELLO FROM MCP" in text_of(res), res)
imgs = [x for x in res.get("content", []) if x["type"] == "image"]
check("run_python: the PNG in out/ comes back as an image",
      len(imgs) == 1 and base64.b64decode(imgs[0]["data"]) == png and imgs[0]["mimeType"] == "image/png", imgs)
links = {x["name"]: x for x in res.get("content", []) if x["type"] == "resource_link"}
check("run_python: other files come back as resource links",
      sorted(links) == ["big.txt", "table.csv"] and links["table.csv"]["mimeType"] == "text/csv", links)
sc = res.get("structuredContent", {})
files = {f["path"]: f for f in sc.get("files", [])}
want = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
check("run_python: structuredContent has the job, verdict and files with sha256",
      sc.get("status") == "ok" and sc.get("exit_code") == 0 and len(sc.get("job_id", "")) == 26
      and files.get("table.csv", {}).get("sha256") == want and files["table.csv"]["size"] == 8, sc)
progress = [n for n in c.notes if n.get("method") == "notifications/progress"
            and n["params"]["progressToken"] == "tok-1"]
check("run_python: progress notifications while it ran",
      len(progress) >= 1 and all(b["params"]["progress"] > a["params"]["progress"]
                                 for a, b in zip(progress, progress[1:])), c.notes)

# resources/read, in pieces.
rr = c.request("resources/read", {"uri": links["table.csv"]["uri"]})
check("resources/read: a small text file whole", rr["result"]["contents"][0]["text"] == "a,b\n1,2\n", rr)
big = ''.join('line %06d\n' % i for i in range(60000))
got, uri, reads = "", links["big.txt"]["uri"], 0
while uri and reads < 20:
    part = c.request("resources/read", {"uri": uri})["result"]["contents"][0]
    got += part["text"]
    uri = part["_meta"].get("sandq/next")
    reads += 1
check("resources/read: a large file in bounded pieces, whole when joined",
      got == big and reads == 3, (len(got), reads))
e = c.request("resources/read", {"uri": "sandq://job/default/nosuchjob/out/x.txt"})
check("resources/read: an unknown job is an error naming it", "error" in e and "nosuchjob" in e["error"]["message"], e)
e = c.request("resources/read", {"uri": "file:///etc/passwd"})
check("resources/read: only sandq:// uris", "error" in e and e["error"]["code"] == -32602, e)
e = c.request("resources/read", {"uri": links["table.csv"]["uri"].replace("table.csv", "../result.json")})
check("resources/read: no '..'", "error" in e, e)

# Verdicts that are not ok.
r = c.request("tools/call", {"name": "run_shell", "arguments": {"command": "echo broken >&2; exit 3"}})
res = r["result"]
check("run_shell: a failure is isError, with the exit code and stderr",
      res["isError"] is True and "exit code: 3" in text_of(res) and "broken" in text_of(res), res)
r = c.request("tools/call", {"name": "run_python", "arguments": {
    "code": "x = bytearray(200 << 20)\nprint(len(x))", "limits": {"memory_mb": 32}}})
res = r["result"]
check("run_python: limits apply, and the verdict says which",
      res["isError"] and res["structuredContent"]["status"] == "memory_limit"
      and "32 MiB" in text_of(res), res)
r = c.request("tools/call", {"name": "run_shell", "arguments": {"command": "true", "limits": {"memory_mb": 1048576}}})
res = r["result"]
check("run_shell: a limit over the workers' caps is a tool error naming it",
      res["isError"] and "memory_bytes" in text_of(res) and "maximum" in text_of(res), res)
r = c.request("tools/call", {"name": "run_shell", "arguments": {"command": "true", "network": ["nosuch"]}})
res = r["result"]
check("run_shell: a network profile the queue does not offer is rejected",
      res["isError"] and "offers no network profile 'nosuch'" in text_of(res), res)

# Bad calls: the model gets a message naming the field.
for name, args, want in [
    ("an unknown property", {"command": "true", "bogus": 1}, "arguments.bogus: unknown"),
    ("a missing command", {}, "arguments.command: required"),
    ("a path with ..", {"command": "true", "files": [{"path": "../x", "text": ""}]}, "files[0].path"),
    ("bad base64", {"command": "true", "files": [{"path": "x", "base64": "!!"}]}, "files[0].base64: not valid base64"),
    ("text and base64", {"command": "true", "files": [{"path": "x", "text": "a", "base64": "YQ=="}]}, "not both"),
    ("a limit out of range", {"command": "true", "limits": {"memory_mb": 1}}, "memory_mb: must be a whole number from 4"),
]:
    res = c.request("tools/call", {"name": "run_shell", "arguments": args})["result"]
    check("bad arguments (%s): isError naming it" % name, res["isError"] and want in text_of(res), res)
e = c.request("tools/call", {"name": "rm_rf", "arguments": {}})
check("an unknown tool is a JSON-RPC error", e.get("error", {}).get("code") == -32602, e)
e = c.request("no/such/method")
check("an unknown method is -32601", e.get("error", {}).get("code") == -32601, e)
c.send(b"{not json")
m = c.read()
check("a line that is not JSON is -32700", m.get("error", {}).get("code") == -32700, m)

# Cancellation by the client cancels the job.
rid = c.next_id
c.next_id += 1
c.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
        "params": {"name": "run_shell", "arguments": {"command": "sleep 60"}}})
time.sleep(1.5)
c.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid, "reason": "user"}})
pong = c.request("ping")
check("cancelled: no answer to the cancelled call", all(n.get("id") != rid for n in c.notes) and "result" in pong)
print("cancelled-request", rid)
stderr = c.close()
check("the server logs to stderr", "serving on stdio" in stderr, stderr)

# An older client: no structuredContent, no resource links.
c = Client(argv + ["mcp"])
r = c.request("initialize", {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "0"}})
check("initialize: the 2024-11-05 revision is spoken to an old client", r["result"]["protocolVersion"] == "2024-11-05", r)
res = c.request("tools/call", {"name": "run_shell", "arguments": {"command": "mkdir out; echo x > out/a.txt; echo hi"}})["result"]
check("old client: no structuredContent, no resource_link, files named in the text",
      "structuredContent" not in res and all(x["type"] == "text" for x in res["content"])
      and "out/a.txt" in text_of(res), res)
r = c.request("initialize", {"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}})
check("initialize: an unknown revision gets the newest", r["result"]["protocolVersion"] == "2025-11-25", r)
# The client goes away while a job runs: the job is cancelled.
c.send({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
        "params": {"name": "run_shell", "arguments": {"command": "sleep 60"}}})
time.sleep(1.5)
stderr = c.close()
check("the client went away: its running job is cancelled", "the client went away" in stderr, stderr)
print("done", failed)
