#!/usr/bin/env python3
"""Generate (or mutate) a benchmark source tree for Lifeboat.

Generate:
    gen_data.py --out DIR [--files N] [--mb M] [--db-mb D] [--seed S]
                [--size-range LO-HI]

    DIR/app.db                 SQLite database in WAL mode, about D MB
    DIR/<folders>/...          N files totalling about M MB of incompressible
                               bytes, in nested folders; some folder and file
                               names contain spaces and accents.

With --size-range LO-HI (bytes, e.g. 512-7168) every file's size is drawn
uniformly from LO..HI and --mb is ignored (the total is about N*(LO+HI)/2);
without it, sizes are mixed (see plan_sizes) and scaled to total exactly M MB.

With --params-file F, the parameters are written to F once generation has
finished (run.sh uses it as the "complete, reuse me" marker).

Defaults come from BENCH_FILES (10000), BENCH_MB (1024) and BENCH_DB_MB (200).
The file list is deterministic for a given seed; the bytes are random.

Mutate:
    gen_data.py --out DIR --mutate-percent P

    rewrites P% of the regular files (never SQLite files) with new random
    content of the same size and a new mtime, so size+mtime change detection
    (rsync, Lifeboat) sees them as changed.

Only the Python standard library is used.
"""

import argparse
import json
import math
import os
import random
import shutil
import sqlite3
import sys
import time

SQLITE_MAGIC = b"SQLite format 3\x00"

# Top-level folders (Lifeboat "include" items), some with spaces / accents.
TOP_DIRS = ["audio_files", "illugen_audio", "Projets été", "Mixes & Stems"]
DIR_WORDS = [
    "Kick Drums", "snares", "Café Sessions", "hats", "Señor Toms", "loops",
    "Überkick", "fills", "Live 2024", "rimshots", "crashes", "Démos",
    "grooves", "takes", "Ñandú", "misc", "bounce", "ride cymbals",
]
FILE_STEMS = [
    "take", "sample", "résumé", "kick", "snare hit", "loop", "Fill à 120",
    "stem", "render", "Grüße",
]
FILE_EXTS = [".wav", ".bin", ".dat", ".aif", ".flac"]

CHUNK = 1 << 20


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        sys.exit(f"gen_data.py: {name}={value!r} is not an integer")


def plan_sizes(rng, n_files, total_bytes):
    """Many small files, some medium, a few multi-MB ones; exactly total_bytes.

    70% small (512 B..32 KiB) and 30% medium (32..512 KiB), log-uniform. If
    that is less than the budget, medium files become large (2..24 MiB) one by
    one until the budget is met; if it is more (many files, few bytes), every
    size is scaled down.
    """
    if n_files <= 0:
        return []

    def log_uniform(lo, hi):
        return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    sizes, medium = [], []
    for i in range(n_files):
        if rng.random() < 0.70:
            sizes.append(log_uniform(512, 32 << 10))
        else:
            sizes.append(log_uniform(32 << 10, 512 << 10))
            medium.append(i)
    total = sum(sizes)
    if total > total_bytes:
        scale = total_bytes / total
        sizes = [int(s * scale) for s in sizes]
    else:
        rng.shuffle(medium)
        for i in medium:
            deficit = total_bytes - sum(sizes)
            if deficit <= 0:
                break
            grow = min(log_uniform(2 << 20, 24 << 20) - sizes[i], deficit)
            sizes[i] += max(0, grow)
    # exact total: put the remainder on (or take it from) the largest file
    biggest = max(range(n_files), key=lambda i: sizes[i])
    sizes[biggest] = max(0, sizes[biggest] + total_bytes - sum(sizes))
    return sizes


def plan_sizes_range(rng, n_files, lo, hi):
    """Every size uniform in lo..hi bytes (the small-file memory set)."""
    return [rng.randint(lo, hi) for _ in range(n_files)]


def parse_size_range(text):
    """"512-7168" -> (512, 7168); "" or None -> None."""
    if not text:
        return None
    try:
        lo, hi = (int(x) for x in text.split("-", 1))
    except ValueError:
        sys.exit(f"gen_data.py: --size-range {text!r}: expected LO-HI in bytes, e.g. 512-7168")
    if not 0 <= lo <= hi:
        sys.exit(f"gen_data.py: --size-range {text!r}: need 0 <= LO <= HI")
    return lo, hi


def plan_dirs(rng, n_files):
    """Nested folder tree: about 30 files per folder, depth up to 4."""
    n_dirs = max(len(TOP_DIRS), n_files // 30)
    dirs = list(TOP_DIRS)
    depth = {d: 1 for d in dirs}
    counter = 0
    while len(dirs) < n_dirs:
        parent = rng.choice(dirs)
        if depth[parent] >= 4:
            parent = rng.choice(TOP_DIRS)
        counter += 1
        word = rng.choice(DIR_WORDS)
        name = f"{word} {counter:04d}" if rng.random() < 0.5 else f"{word.replace(' ', '_')}_{counter:04d}"
        path = os.path.join(parent, name)
        dirs.append(path)
        depth[path] = depth[parent] + 1
    return dirs


def write_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(CHUNK, left)
            f.write(os.urandom(n))
            left -= n


def make_db(path, target_mb, rng):
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.executescript(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE test_results (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            name TEXT NOT NULL,
            score REAL NOT NULL,
            created_at TEXT NOT NULL,
            notes TEXT,
            payload BLOB
        );
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
        CREATE INDEX test_results_user ON test_results(user_id);
        CREATE INDEX test_results_created ON test_results(created_at);
        """
    )
    n_users = 2000
    con.executemany(
        "INSERT INTO users(id, name, email, created_at) VALUES (?, ?, ?, ?)",
        (
            (i, f"Usuário {i} Ærøskøbing", f"user{i}@example.org",
             f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z")
            for i in range(1, n_users + 1)
        ),
    )
    con.executemany(
        "INSERT INTO settings(key, value) VALUES (?, ?)",
        [("theme", "dark"), ("locale", "pt-BR"), ("version", "3")],
    )
    con.commit()
    target = target_mb << 20
    batch = 2000
    while True:
        page_count = con.execute("PRAGMA page_count").fetchone()[0]
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        if page_count * page_size >= target:
            break
        con.execute(
            """
            WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
            INSERT INTO test_results(user_id, name, score, created_at, notes, payload)
            SELECT 1 + abs(random()) % ?,
                   'result ' || hex(randomblob(4)),
                   (abs(random()) % 10000) / 100.0,
                   strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-' || (abs(random()) % 1000000) || ' seconds'),
                   'notes: ' || hex(randomblob(16)),
                   randomblob(1024 + abs(random()) % 4096)
            FROM c
            """,
            (batch, n_users),
        )
        con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def generate(args):
    out = os.path.abspath(args.out)
    rng = random.Random(args.seed)
    os.makedirs(out, exist_ok=True)
    dirs = plan_dirs(rng, args.files)
    for d in dirs:
        os.makedirs(os.path.join(out, d), exist_ok=True)
    if args.size_range:
        sizes = plan_sizes_range(rng, args.files, *args.size_range)
    else:
        sizes = plan_sizes(rng, args.files, args.mb << 20)
    started = time.time()
    for i, size in enumerate(sizes):
        d = rng.choice(dirs)
        stem = rng.choice(FILE_STEMS)
        ext = rng.choice(FILE_EXTS)
        name = f"{stem} {i:06d}{ext}" if rng.random() < 0.3 else f"{stem.replace(' ', '_')}_{i:06d}{ext}"
        write_random(os.path.join(out, d, name), size)
        if args.verbose and (i + 1) % 5000 == 0:
            print(f"  {i + 1}/{len(sizes)} files", file=sys.stderr)
    if args.db_mb > 0:
        make_db(os.path.join(out, "app.db"), args.db_mb, rng)
    return time.time() - started


def is_sqlite(path):
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def mutate(args):
    out = os.path.abspath(args.out)
    if not os.path.isdir(out):
        sys.exit(f"gen_data.py: {out}: no such directory to mutate")
    files = []
    for root, dnames, fnames in os.walk(out):
        dnames.sort()
        for f in sorted(fnames):
            p = os.path.join(root, f)
            if f.endswith(("-wal", "-shm", "-journal")) or os.path.islink(p):
                continue
            if not os.path.isfile(p) or is_sqlite(p):
                continue
            files.append(p)
    if not files:
        sys.exit(f"gen_data.py: {out}: no files to mutate")
    count = max(1, round(len(files) * args.mutate_percent / 100.0))
    # a different 1% every call (seeded from the clock unless --seed is given)
    rng = random.Random(args.seed if args.seed_given else time.time_ns())
    now_ns = time.time_ns()
    total = 0
    for p in rng.sample(files, min(count, len(files))):
        size = os.path.getsize(p)
        old = os.stat(p).st_mtime_ns
        write_random(p, size)
        new_ns = max(now_ns, old + 1_000_000_000)
        os.utime(p, ns=(new_ns, new_ns))
        total += size
    if args.verbose:
        print(f"mutated {count} of {len(files)} files ({total} bytes)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="source directory to create or mutate")
    ap.add_argument("--files", type=int, default=env_int("BENCH_FILES", 10000))
    ap.add_argument("--mb", type=int, default=env_int("BENCH_MB", 1024), help="total MB of plain files")
    ap.add_argument("--db-mb", type=int, default=env_int("BENCH_DB_MB", 200), help="SQLite app.db size (0: none)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--size-range", default=os.environ.get("BENCH_SIZE_RANGE", ""),
                    help="LO-HI: every file LO..HI bytes (uniform); --mb is then ignored")
    ap.add_argument("--mutate-percent", type=float, default=None,
                    help="rewrite this %% of existing files instead of generating")
    ap.add_argument("--params-file", default=None,
                    help="write the parameters here after a successful generation")
    ap.add_argument("--reuse", action="store_true",
                    help="keep --out as is if --params-file holds the same parameters; "
                         "otherwise delete --out and generate it afresh")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    args.seed_given = args.seed is not None
    args.size_range = parse_size_range(args.size_range)
    if args.seed is None:
        args.seed = 1

    if args.mutate_percent is not None:
        if not 0 < args.mutate_percent <= 100:
            sys.exit("gen_data.py: --mutate-percent must be in (0, 100]")
        mutate(args)
        return

    if args.files < 0 or args.mb < 0 or args.db_mb < 0:
        sys.exit("gen_data.py: --files, --mb and --db-mb must not be negative")
    params = {"files": args.files, "mb": args.mb, "db_mb": args.db_mb, "seed": args.seed, "format": 1}
    if args.size_range:
        params["size_range"] = list(args.size_range)
        params["mb"] = None
    if args.reuse:
        if not args.params_file:
            sys.exit("gen_data.py: --reuse needs --params-file")
        try:
            with open(args.params_file) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if old == params and os.path.isdir(args.out):
            if args.verbose:
                print(f"reusing {args.out} ({params})", file=sys.stderr)
            return
        if os.path.exists(args.params_file):
            os.remove(args.params_file)
        if os.path.exists(args.out):
            shutil.rmtree(args.out)
    if os.path.exists(args.out) and os.listdir(args.out):
        sys.exit(f"gen_data.py: {args.out}: exists and is not empty; remove it first")
    secs = generate(args)
    if args.params_file:
        with open(args.params_file, "w") as f:
            json.dump(params, f)
            f.write("\n")
    if args.verbose:
        sizes = f"{args.size_range[0]}-{args.size_range[1]} B each" if args.size_range else f"{args.mb} MB"
        print(f"generated {args.files} files, {sizes}, db {args.db_mb} MB in {secs:.1f}s into {args.out}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
