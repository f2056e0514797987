#!/usr/bin/env python3
"""An LLM gateway's tool loop over sandq, end to end, with a scripted model.

A real gateway sends the conversation and the tool definitions to a model,
runs the tool calls the model answers with, and sends the results back,
until the model answers in text. Here the "model" is a script of three
calls, each built from the previous result, so that the loop runs without
one: load the messy CSV, fix its dates and amounts, plot the trend. The
tools come from `sandq mcp` (MCP over stdio); their JSON Schemas are what
a function-calling API takes as `parameters`.

    examples/mcp-gateway/gateway.py [--sandq PATH] [--out DIR] [sandq mcp args...]

Needs a worker serving the queue (sandq mcp --queue, default "default").
Writes the images the tools return into DIR (default ./gateway-out).
"""
import argparse, base64, json, os, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))


class Mcp:
    """A minimal MCP client: JSON-RPC over a child's stdin and stdout."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.n = 0

    def call(self, method, params=None):
        self.n += 1
        msg = {"jsonrpc": "2.0", "id": self.n, "method": method}
        if params is not None:
            msg["params"] = params
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()
        for line in self.p.stdout:
            m = json.loads(line)
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]["message"]))
                return m["result"]
            # notifications (progress) are shown, not answered
            if m.get("method") == "notifications/progress":
                print("  ...", m["params"].get("message", ""), file=sys.stderr)
        raise EOFError("sandq mcp exited")

    def notify(self, method):
        self.p.stdin.write(json.dumps({"jsonrpc": "2.0", "method": method}) + "\n")
        self.p.stdin.flush()

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def scripted_model(turn, last):
    """What a model would answer at each turn: a tool call, or final text."""
    if turn == 0:
        return {"tool": "run_python", "arguments": {
            "files": [{"path": "sales.csv", "text": open(os.path.join(here, "sales.csv")).read()}],
            "code": "import pandas as pd, os\n"
                    "df = pd.read_csv('sales.csv', dtype=str)\n"
                    "os.makedirs('out', exist_ok=True)\n"
                    "df.to_csv('out/raw.csv', index=False)\n"
                    "print(df.head(10).to_string())\n"}}
    if turn == 1:
        return {"tool": "run_python", "arguments": {
            "inputs": [last["structuredContent"]["job_id"]],
            "code": "import pandas as pd, os\n"
                    "df = pd.read_csv('raw.csv', dtype=str)\n"
                    "fmts = ('%Y-%m-%d', '%m/%d/%Y', '%b %d %Y', '%Y/%m/%d', '%d.%m.%Y')\n"
                    "def day(s):\n"
                    "    for f in fmts:\n"
                    "        try: return pd.to_datetime(s, format=f)\n"
                    "        except ValueError: pass\n"
                    "    return pd.NaT\n"
                    "df['date'] = df['date'].map(day)\n"
                    "df['amount'] = pd.to_numeric(df['amount'].str.strip().str.lstrip('$'), errors='coerce')\n"
                    "df = df.dropna().sort_values('date')\n"
                    "os.makedirs('out', exist_ok=True)\n"
                    "df.to_csv('out/clean.csv', index=False)\n"
                    "print(len(df), 'rows after fixing dates and amounts')\n"}}
    if turn == 2:
        return {"tool": "run_python", "arguments": {
            "inputs": [last["structuredContent"]["job_id"]],
            "code": "import pandas as pd, matplotlib, os\n"
                    "matplotlib.use('Agg')\n"
                    "import matplotlib.pyplot as plt\n"
                    "df = pd.read_csv('clean.csv', parse_dates=['date'])\n"
                    "df.groupby('date')['amount'].sum().plot(marker='o', title='Sales trend')\n"
                    "os.makedirs('out', exist_ok=True)\n"
                    "plt.savefig('out/trend.png', dpi=80)\n"
                    "print('saved out/trend.png')\n"}}
    return {"text": "The trend is plotted in trend.png."}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sandq", default="sandq")
    ap.add_argument("--out", default="gateway-out")
    args, rest = ap.parse_known_args()
    os.makedirs(args.out, exist_ok=True)
    mcp = Mcp([args.sandq, "mcp"] + rest)
    init = mcp.call("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                   "clientInfo": {"name": "example-gateway", "version": "1"}})
    mcp.notify("notifications/initialized")
    print("sandq speaks MCP", init["protocolVersion"])
    # What a function-calling API is given: name, description, parameters.
    functions = [{"name": t["name"], "description": t["description"], "parameters": t["inputSchema"]}
                 for t in mcp.call("tools/list")["tools"]]
    print("tools for the model:", ", ".join(f["name"] for f in functions))
    last = None
    for turn in range(10):
        answer = scripted_model(turn, last)
        if "text" in answer:
            print("model:", answer["text"])
            break
        print("model calls %s (turn %d)" % (answer["tool"], turn + 1))
        last = mcp.call("tools/call", {"name": answer["tool"], "arguments": answer["arguments"],
                                       "_meta": {"progressToken": "turn-%d" % turn}})
        for c in last["content"]:
            if c["type"] == "text":
                print("  " + c["text"].replace("\n", "\n  ").rstrip())
            elif c["type"] == "image":
                path = os.path.join(args.out, "image-%d.png" % turn)
                with open(path, "wb") as f:
                    f.write(base64.b64decode(c["data"]))
                print("  image (%s) saved to %s" % (c["mimeType"], path))
        if last.get("isError"):
            print("model: the tool failed; a real model would read the error and retry")
            break
    mcp.close()
    return 1 if last is None or last.get("isError") else 0


if __name__ == "__main__":
    sys.exit(main())
