#!/usr/bin/env python3
"""The after/before table of a bench/before-after.sh run directory.

For each backend, operation and concurrency: operations per second of the storage
("ours") before and after (median of the rounds), the ratio after/before of each round
pair (median, and min-max as the spread), and the same ratio normalised by the floor
measured in the same run ((ours/floor) after / (ours/floor) before), which cancels
what the machine's load did to both.
"""
import json
import statistics
import sys
from pathlib import Path


def load(out: Path, side: str):
    runs = sorted(out.glob(f"{side}-*/latest.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    per = []
    for p in runs:
        d = json.loads(p.read_text())
        per.append({(r["backend"], r["operation"], r["concurrency"]): r for r in d["results"]})
    return per


def main() -> None:
    out = Path(sys.argv[1])
    before, after = load(out, "before"), load(out, "after")
    n = min(len(before), len(after))
    keys = sorted(set().union(*[set(b) for b in before[:n]]) & set().union(*[set(a) for a in after[:n]]))
    lines = [
        "| backend | operation | c | before ops/s | after ops/s | after/before (median) | spread (min-max) | vs floor: after/before (median) | spread |",
        "|---|---|---:|---:|---:|---:|---|---:|---|",
    ]
    allr, allf = [], []
    for k in keys:
        pairs = [(b[k], a[k]) for b, a in zip(before[:n], after[:n]) if k in b and k in a]
        if not pairs:
            continue
        r = [a["ours_ops"] / b["ours_ops"] for b, a in pairs if b["ours_ops"]]
        f = [
            (a["ours_ops"] / a["floor_ops"]) / (b["ours_ops"] / b["floor_ops"])
            for b, a in pairs
            if b["ours_ops"] and a["floor_ops"] and b["floor_ops"]
        ]
        allr.append(statistics.median(r))
        if f:
            allf.append(statistics.median(f))
        lines.append(
            f"| {k[0]} | {k[1]} | {k[2]} "
            f"| {statistics.median(b['ours_ops'] for b, _ in pairs):,.0f} "
            f"| {statistics.median(a['ours_ops'] for _, a in pairs):,.0f} "
            f"| {statistics.median(r):.2f} | {min(r):.2f}-{max(r):.2f} "
            + (f"| {statistics.median(f):.2f} | {min(f):.2f}-{max(f):.2f} |" if f else "| - | - |")
        )
    geo = lambda xs: statistics.geometric_mean(xs) if xs else float("nan")
    lines.append("")
    lines.append(
        f"{n} rounds; {len(allr)} cells; geometric mean of the median ratios: "
        f"after/before {geo(allr):.3f}, normalised by the floor {geo(allf):.3f}."
    )
    text = "\n".join(lines)
    (out / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
