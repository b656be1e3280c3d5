#!/usr/bin/env python3
"""Turn bench/run.sh's measurements into a Markdown table (stdout + --out).

Inputs (tab-separated, written by run.sh):
  rows.tsv     case_key, case label, tool, role (lifeboat|peer), hyperfine JSON, RSS file
  targets.tsv  label, kind (ratio_max | rss_max_mb), case key(s), peer tool, threshold
  meta.tsv     key, value
Every number printed comes from those files.
"""

import argparse
import json
import os


def read_tsv(path, width):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                parts = line.split("\t")
                rows.append(parts + [""] * (width - len(parts)))
    return rows


def median_of(json_path):
    if json_path in ("", "-") or not os.path.exists(json_path):
        return None, 0
    with open(json_path, encoding="utf-8") as f:
        result = json.load(f)["results"][0]
    times = result.get("times") or []
    median = result.get("median")
    if median is None and times:
        s = sorted(times)
        n = len(s)
        median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    return median, len(times)


def max_rss_mb(rss_path):
    """GNU time %M is in KiB; one line per run; the max over runs, in MiB."""
    if rss_path in ("", "-") or not os.path.exists(rss_path):
        return None
    values = []
    with open(rss_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.isdigit():
                values.append(int(line))
    return max(values) / 1024.0 if values else None


def fmt(x, pattern):
    return "—" if x is None else pattern.format(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", required=True)
    ap.add_argument("--targets", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    meta = read_tsv(args.meta, 2)
    rows = []
    for key, label, tool, role, js, rss in read_tsv(args.rows, 6):
        median, runs = median_of(js)
        rows.append({"key": key, "label": label, "tool": tool, "role": role,
                     "median": median, "runs": runs, "rss": max_rss_mb(rss),
                     "failed": js in ("", "-")})

    def lifeboat_row(key):
        for r in rows:
            if r["key"] == key and r["role"] == "lifeboat":
                return r
        return None

    def tool_row(key, tool):
        for r in rows:
            if r["key"] == key and r["tool"] == tool:
                return r
        return None

    out = ["# Lifeboat benchmark results", ""]
    for k, v in meta:
        out.append(f"- {k}: {v}")
    out += [
        "",
        "Lifeboat fsyncs every file it writes, its manifest and its folders; so the",
        "`cp` / `rsync` / `sqlite3` commands are timed with a trailing `sync`",
        "(`+ sync`). restic fsyncs its repository itself. `lifeboat ÷ tool` is",
        "Lifeboat's median divided by that tool's median in the same case",
        "(below 1: Lifeboat is faster). Max RSS: largest process, max over runs.",
        "",
        "| case | tool | median s | lifeboat ÷ tool | max RSS MB |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        if r["failed"]:
            out.append(f"| {r['label']} | {r['tool']} | FAILED | — | — |")
            continue
        lb = lifeboat_row(r["key"])
        ratio = None
        if r["role"] != "lifeboat" and lb and lb["median"] and r["median"]:
            ratio = lb["median"] / r["median"]
        runs = f" ({r['runs']} runs)" if r["runs"] and r["runs"] != 1 else " (1 run)"
        out.append(
            f"| {r['label']} | {r['tool']} | {fmt(r['median'], '{:.3f}')}{runs} "
            f"| {fmt(ratio, '{:.2f}') if r['role'] != 'lifeboat' else '—'} "
            f"| {fmt(r['rss'], '{:.1f}')} |"
        )

    out += ["", "| target (issue 2) | measured | result |", "|---|---|---|"]
    for label, kind, keys, peer, threshold in read_tsv(args.targets, 5):
        limit = float(threshold)
        measured, result = "—", "n/a (not measured)"
        if kind == "ratio_max":
            lb, pr = lifeboat_row(keys), tool_row(keys, peer)
            if lb and pr and lb["median"] and pr["median"]:
                ratio = lb["median"] / pr["median"]
                measured = f"{ratio:.2f}x ({lb['median']:.3f} s vs {pr['median']:.3f} s)"
                result = "PASS" if ratio <= limit else "MISS"
        elif kind == "rss_max_mb":
            values = [r["rss"] for k in keys.split() for r in rows
                      if r["key"] == k and r["role"] == "lifeboat" and r["rss"] is not None]
            if values:
                peak = max(values)
                measured = f"{peak:.1f} MB max RSS"
                result = "PASS" if peak < limit else "MISS"
        out.append(f"| {label} | {measured} | {result} |")

    text = "\n".join(out) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
