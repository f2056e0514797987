"""Example analysis: summarise a messy CSV of daily sales into out/."""
import json
import pandas as pd

df = pd.read_csv("sales.csv")
df["amount"] = pd.to_numeric(df["amount"], errors="coerce")
clean = df.dropna(subset=["amount"])
by_region = clean.groupby("region")["amount"].agg(["count", "sum", "mean"]).round(2)
summary = {
    "rows_in": int(len(df)),
    "rows_dropped": int(len(df) - len(clean)),
    "total": round(float(clean["amount"].sum()), 2),
    "by_region": by_region.reset_index().to_dict(orient="records"),
}
with open("out/summary.json", "w") as f:
    json.dump(summary, f, indent=2)
by_region.to_csv("out/by_region.csv")
print(f"summarised {len(clean)} of {len(df)} rows into out/summary.json")
