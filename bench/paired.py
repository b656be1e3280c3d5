#!/usr/bin/env python3
"""Paired timing of two commands, run in turn (Python standard library only).

    paired.py --name NAME --rounds N --out FILE.json \\
        --label-a LABEL --prepare-a CMD --cmd-a CMD \\
        --label-b LABEL --prepare-b CMD --cmd-b CMD \\
        [--warmup K] [--seed S] [--no-settle]

Every round runs both sides once, in a random order (A B or B A):
prepare the side (not timed), `sync` (not timed, unless --no-settle), then
time the side's command. So both sides see the same machine at nearly the
same moment, and a slow minute (another build, a flush) hits both, or one
side's ratio of one round only; drift cannot favour the side run first.

Commands are bash strings (`bash -c`). The timed command runs as
`/usr/bin/time -f '%M %U %S' -o F bash -c CMD`: wall time is measured around
it, and F gives the peak RSS (KiB, the largest process of the tree, since
GNU time reports the child's rusage, which covers the children it waited
for) and user/system CPU seconds. A `&& sync` inside CMD is timed, as it
should be for tools that do not make their writes durable themselves.

--warmup K runs K untimed rounds first (same order rule). A prepare or
command that fails stops the run with exit status 1 (the JSON is still
written, with "error" set), so a broken case is never reported as fast.

JSON written to --out:
    name, rounds, order ["AB", "BA", ...], a / b: {label, prepare, cmd,
    times_s [...], rss_kib [...], user_s [...], sys_s [...], median_s,
    min_s, max_s, mean_s, max_rss_kib, median_rss_kib}, ratios [a/b per
    round], ratio_median, ratio_min, ratio_max, error.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

TIME_BIN = "/usr/bin/time"


def log(msg):
    print(f"[paired {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class StepFailed(Exception):
    pass


def run_untimed(what, cmd):
    r = subprocess.run(["bash", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise StepFailed(f"{what} failed (exit {r.returncode}): {cmd}\n{r.stderr.decode(errors='replace')[-2000:]}")


def settle():
    subprocess.run(["sync"], check=False)


def run_timed(what, cmd):
    """Wall seconds, peak RSS KiB, user s, sys s of `bash -c cmd`."""
    fd, stats = tempfile.mkstemp(prefix="paired-time-")
    os.close(fd)
    try:
        argv = [TIME_BIN, "-f", "%M %U %S", "-o", stats, "bash", "-c", cmd]
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            raise StepFailed(
                f"{what} failed (exit {r.returncode}): {cmd}\n{r.stderr.decode(errors='replace')[-2000:]}")
        with open(stats, encoding="utf-8") as f:
            # GNU time may write "Command exited with non-zero status" first; the
            # figures are on the last line.
            fields = f.read().strip().splitlines()[-1].split()
        rss, user, sys_s = int(fields[0]), float(fields[1]), float(fields[2])
        return wall, rss, user, sys_s
    finally:
        os.unlink(stats)


def summary(side):
    t = side["times_s"]
    if t:
        side["median_s"] = statistics.median(t)
        side["min_s"] = min(t)
        side["max_s"] = max(t)
        side["mean_s"] = statistics.fmean(t)
    if side["rss_kib"]:
        side["max_rss_kib"] = max(side["rss_kib"])
        side["median_rss_kib"] = statistics.median(side["rss_kib"])
    return side


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--out", required=True, help="JSON file to write")
    for s in ("a", "b"):
        ap.add_argument(f"--label-{s}", required=True)
        ap.add_argument(f"--prepare-{s}", default="true", help="bash command run (untimed) before each timed run")
        ap.add_argument(f"--cmd-{s}", required=True, help="bash command timed")
    ap.add_argument("--warmup", type=int, default=0, help="untimed rounds first")
    ap.add_argument("--seed", type=int, default=None, help="seed of the order of each round")
    ap.add_argument("--no-settle", action="store_true", help="no `sync` between a prepare and its timed run")
    args = ap.parse_args()
    if args.rounds < 1:
        sys.exit("paired.py: --rounds must be at least 1")
    if not os.access(TIME_BIN, os.X_OK):
        sys.exit(f"paired.py: {TIME_BIN} not found (Debian: apt-get install time)")

    rng = random.Random(args.seed)
    sides = {
        s: {"label": getattr(args, f"label_{s}"), "prepare": getattr(args, f"prepare_{s}"),
            "cmd": getattr(args, f"cmd_{s}"), "times_s": [], "rss_kib": [], "user_s": [], "sys_s": []}
        for s in ("a", "b")
    }
    result = {"name": args.name, "rounds": args.rounds, "warmup": args.warmup, "order": [],
              "a": sides["a"], "b": sides["b"], "ratios": [], "error": None}

    def one(s, timed):
        side = sides[s]
        run_untimed(f"prepare {s.upper()} ({side['label']})", side["prepare"])
        if not args.no_settle:
            settle()
        wall, rss, user, sys_s = run_timed(f"{s.upper()} ({side['label']})", side["cmd"])
        if timed:
            side["times_s"].append(wall)
            side["rss_kib"].append(rss)
            side["user_s"].append(user)
            side["sys_s"].append(sys_s)
        return wall, rss

    status = 0
    try:
        for w in range(args.warmup):
            order = rng.choice(["ab", "ba"])
            for s in order:
                one(s, timed=False)
            log(f"{args.name}: warm-up {w + 1}/{args.warmup} done")
        for r in range(args.rounds):
            order = rng.choice(["ab", "ba"])
            got = {}
            for s in order:
                got[s] = one(s, timed=True)
            result["order"].append(order.upper())
            ratio = got["a"][0] / got["b"][0] if got["b"][0] > 0 else None
            result["ratios"].append(ratio)
            log(f"{args.name}: round {r + 1}/{args.rounds} ({order.upper()}): "
                f"{sides['a']['label']} {got['a'][0]:.3f} s {got['a'][1] / 1024:.1f} MB, "
                f"{sides['b']['label']} {got['b'][0]:.3f} s {got['b'][1] / 1024:.1f} MB, "
                f"ratio {ratio:.2f}")
    except StepFailed as e:
        result["error"] = str(e)
        log(f"{args.name}: {e}")
        status = 1
    except KeyboardInterrupt:
        result["error"] = "interrupted"
        status = 130

    summary(sides["a"])
    summary(sides["b"])
    ratios = [x for x in result["ratios"] if x is not None]
    if ratios:
        result["ratio_median"] = statistics.median(ratios)
        result["ratio_min"] = min(ratios)
        result["ratio_max"] = max(ratios)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    if ratios and status == 0:
        log(f"{args.name}: median {sides['a']['label']} {sides['a']['median_s']:.3f} s, "
            f"{sides['b']['label']} {sides['b']['median_s']:.3f} s, "
            f"paired ratio median {result['ratio_median']:.2f} "
            f"(min {result['ratio_min']:.2f}, max {result['ratio_max']:.2f})")
    sys.exit(status)


if __name__ == "__main__":
    main()
