import json
import pandas as pd
df = pd.read_csv("data.csv")
summary = {"rows": int(len(df)), "total": float(df["value"].sum()),
           "mean": float(df["value"].mean())}
with open("out/summary.json", "w") as f:
    json.dump(summary, f)
print(summary)
