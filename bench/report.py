#!/usr/bin/env python3
"""Turn bench/run.sh's measurements into Markdown tables (stdout + --out).

Inputs (tab-separated, written by run.sh):
  rows.tsv     case_key, case label, tool, role (lifeboat|peer), json, rss, timer
               timer: hyperfine (json: hyperfine export; rss: KiB per run),
               paired (json: bench/paired.py output; lifeboat = side A, peer =
               side B), na (not measured; rss column: why), failed (setup failed)
  targets.tsv  label, kind, case key(s), peer tool, threshold
               kind: paired_ratio_max, paired_rss_max_mb, paired_info,
               ratio_max, rss_max_mb (the last two: hyperfine medians)
  meta.tsv     key, value
Every number printed comes from those files.
"""

import argparse
import json
import os
import statistics


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


def load_json(path):
    if path in ("", "-") or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def hyperfine_stats(json_path):
    data = load_json(json_path)
    if not data:
        return None, 0
    result = data["results"][0]
    times = result.get("times") or []
    median = result.get("median")
    if median is None and times:
        median = statistics.median(times)
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


def load_rows(path):
    rows = []
    for key, label, tool, role, js, rss, timer in read_tsv(path, 7):
        r = {"key": key, "label": label, "tool": tool, "role": role, "timer": timer or "hyperfine",
             "median": None, "runs": 0, "rss": None, "pair": None, "note": None, "failed": False}
        if r["timer"] == "na":
            r["note"] = rss or "not measured"
        elif r["timer"] == "failed" or js in ("", "-"):
            r["failed"] = True
            r["note"] = rss if rss not in ("", "-") else None
        elif r["timer"] == "paired":
            data = load_json(js)
            side = (data or {}).get("a" if role == "lifeboat" else "b") or {}
            r["pair"] = data
            r["median"] = side.get("median_s")
            r["runs"] = len(side.get("times_s") or [])
            rss_kib = side.get("max_rss_kib")
            r["rss"] = rss_kib / 1024.0 if rss_kib is not None else None
            r["failed"] = data is None or bool(data.get("error")) or r["median"] is None
            if data and data.get("error"):
                r["note"] = data["error"].splitlines()[0]
        else:
            r["median"], r["runs"] = hyperfine_stats(js)
            r["rss"] = max_rss_mb(rss)
            r["failed"] = r["median"] is None
        rows.append(r)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", required=True)
    ap.add_argument("--targets", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    meta = read_tsv(args.meta, 2)
    rows = load_rows(args.rows)
    # rows of one case together, cases in the order they were first measured
    first_seen = {}
    for i, r in enumerate(rows):
        first_seen.setdefault(r["key"], i)
    rows.sort(key=lambda r: first_seen[r["key"]])

    def lifeboat_row(key):
        return next((r for r in rows if r["key"] == key and r["role"] == "lifeboat"), None)

    def tool_row(key, tool):
        return next((r for r in rows if r["key"] == key and r["tool"] == tool), None)

    out = ["# Lifeboat benchmark results", ""]
    for k, v in meta:
        out.append(f"- {k}: {v}")
    out += [
        "",
        "Lifeboat fsyncs every file it writes, its manifest and its folders (one",
        "`syncfs`); so `cp` / `rsync` / `sqlite3` are timed with a trailing `sync`",
        "(`+ sync`). restic fsyncs its repository itself. Rows marked *paired* were",
        "timed in turn with Lifeboat (bench/paired.py): their ratio is the median",
        "of the per-round ratios Lifeboat ÷ tool. Other ratios divide Lifeboat's",
        "median by the tool's median from separate blocks (hyperfine), which on a",
        "noisy machine is only indicative. Below 1: Lifeboat is faster. Max RSS:",
        "largest process, max over runs.",
        "",
        "| case | tool | median s | lifeboat ÷ tool | max RSS MB |",
        "|---|---|---:|---:|---:|",
    ]
    last_label = None
    for r in rows:
        label = r["label"] if r["label"] != last_label else ""
        last_label = r["label"]
        tool = f"**{r['tool']}**" if r["role"] == "lifeboat" else r["tool"]
        if r["note"] and not r["failed"]:
            out.append(f"| {label} | {tool} | {r['note']} | — | — |")
            continue
        if r["failed"]:
            note = f" ({r['note']})" if r["note"] else ""
            out.append(f"| {label} | {tool} | FAILED{note} | — | — |")
            continue
        ratio = "—"
        if r["role"] != "lifeboat":
            if r["timer"] == "paired" and r["pair"] and r["pair"].get("ratio_median") is not None:
                ratio = f"{r['pair']['ratio_median']:.2f} (paired)"
            else:
                lb = lifeboat_row(r["key"])
                if lb and lb["median"] and r["median"]:
                    ratio = f"{lb['median'] / r['median']:.2f}"
        runs = f"{r['runs']} pairs" if r["timer"] == "paired" else f"{r['runs']} runs" if r["runs"] != 1 else "1 run"
        out.append(f"| {label} | {tool} | {fmt(r['median'], '{:.3f}')} ({runs}) | {ratio} | {fmt(r['rss'], '{:.1f}')} |")

    out += [
        "",
        "| target | Lifeboat median | peer median | paired ratio (median) | pass/miss |",
        "|---|---:|---:|---:|---|",
    ]
    for label, kind, keys, peer, threshold in read_tsv(args.targets, 5):
        lb_cell, peer_cell, ratio_cell, result = "—", "—", "—", "n/a (not measured)"
        if kind in ("paired_ratio_max", "paired_info", "ratio_max"):
            lb, pr = lifeboat_row(keys), tool_row(keys, peer)
            if lb and lb["note"] and not lb["failed"]:
                result = lb["note"]
            elif (lb and lb["failed"]) or (pr and pr["failed"]):
                result = "FAILED"
            elif lb and pr and lb["median"] and pr["median"]:
                lb_cell = f"{lb['median']:.3f} s"
                peer_cell = f"{pr['median']:.3f} s ({peer})"
                if lb["timer"] == "paired" and lb["pair"] and lb["pair"].get("ratio_median") is not None:
                    p = lb["pair"]
                    ratio = p["ratio_median"]
                    ratio_cell = (f"**{ratio:.2f}x** ({p['ratio_min']:.2f}–{p['ratio_max']:.2f}, "
                                  f"{len(p['ratios'])} pairs)")
                else:
                    ratio = lb["median"] / pr["median"]
                    ratio_cell = f"{ratio:.2f}x (unpaired)"
                if kind == "paired_info":
                    result = "timing only"
                else:
                    limit = float(threshold)
                    result = "PASS" if ratio <= limit else "**MISS**"
        elif kind in ("paired_rss_max_mb", "rss_max_mb"):
            lbs = [r for k in keys.split() for r in rows
                   if r["key"] == k and r["role"] == "lifeboat" and r["rss"] is not None]
            peers = [r for k in keys.split() for r in rows
                     if r["key"] == k and r["role"] == "peer" and r["rss"] is not None]
            if lbs:
                limit = float(threshold)
                peak = max(r["rss"] for r in lbs)
                lb_cell = f"{peak:.1f} MB max RSS"
                if peers:
                    peer_cell = ", ".join(f"{r['rss']:.1f} MB ({r['tool']})" for r in peers)
                result = "PASS" if peak < limit else "**MISS**"
        out.append(f"| {label} | {lb_cell} | {peer_cell} | {ratio_cell} | {result} |")

    text = "\n".join(out) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
