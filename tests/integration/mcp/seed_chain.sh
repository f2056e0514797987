#!/usr/bin/env bash
# The seed's analysis as a chain of three MCP calls from a stock client
# (the MCP project's inspector CLI): load a messy CSV, fix its dates and
# amounts, plot the trend; the plot comes back as an image.
# usage: seed_chain.sh INSPECTOR_BUILD_DIR SANDQ OUTDIR
set -eu
I=$1 SANDQ=$2 OUT=$3
here=$(cd "$(dirname "$0")" && pwd)
call() { # TOOL ARGS... : the inspector's JSON answer
  # The inspector finds its package.json from its build directory.
  (cd "$I" && node index.js "$SANDQ" mcp --method tools/call --tool-name "$@")
}
job_id() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["structuredContent"]["job_id"])'; }
csv=$(/usr/bin/python3 -c 'import json,sys; print(json.dumps([{"path": "sales.csv", "text": open(sys.argv[1]).read()}]))' "$here/messy_sales.csv")

load='import pandas as pd
df = pd.read_csv("sales.csv", dtype=str, skip_blank_lines=True)
print(len(df), "rows")
import os; os.makedirs("out", exist_ok=True)
df.to_csv("out/raw.csv", index=False)'
call run_python --tool-arg "code=$load" --tool-arg "files=$csv" > "$OUT/1.json"
j1=$(job_id < "$OUT/1.json")

clean='import pandas as pd
df = pd.read_csv("raw.csv", dtype=str)
def day(s):
    for f in ("%Y-%m-%d", "%m/%d/%Y", "%b %d %Y", "%Y/%m/%d", "%d.%m.%Y"):
        try:
            return pd.to_datetime(s, format=f)
        except ValueError:
            pass
    return pd.NaT
df["date"] = df["date"].map(day)
df["amount"] = pd.to_numeric(df["amount"].str.strip().str.lstrip("$"), errors="coerce")
df = df.dropna().sort_values("date")
import os; os.makedirs("out", exist_ok=True)
df.to_csv("out/clean.csv", index=False)
print(len(df), "clean rows")'
call run_python --tool-arg "code=$clean" --tool-arg "inputs=[\"$j1\"]" > "$OUT/2.json"
j2=$(job_id < "$OUT/2.json")

plot='import pandas as pd, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
df = pd.read_csv("clean.csv", parse_dates=["date"])
daily = df.groupby("date")["amount"].sum()
ax = daily.plot(marker="o", title="Sales trend")
import os; os.makedirs("out", exist_ok=True)
plt.savefig("out/trend.png", dpi=60)
print("trend over", len(daily), "days")'
call run_python --tool-arg "code=$plot" --tool-arg "inputs=[\"$j2\"]" > "$OUT/3.json"
