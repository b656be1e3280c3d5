#!/usr/bin/env bash
# Offsite benchmark (case 8 of `make bench`; also runs alone: bash bench/offsite.sh).
#
# Starts SeaweedFS (.venv-s3/bin/weed, as the tests do) on free loopback ports and
# measures, on a data set of BENCH_OFFSITE_FILES files (BENCH_OFFSITE_MB MB) plus a
# BENCH_OFFSITE_DB_MB MB SQLite database:
#   6a first push of one local backup vs `restic backup` of the same folder to the same
#      server, paired runs (lifeboat, restic, lifeboat, restic, ...), wall time and peak RSS
#   6b 1% of the database's rows changed at random places: bytes the next push uploads,
#      for several average chunk sizes (LIFEBOAT_OFFSITE_CHUNK_KIB at init)
#   6c restore of the latest snapshot: `lifeboat offsite restore` vs `restic restore`
# and writes bench/out/offsite.md (+ offsite.tsv). Loopback S3, warm page cache: this
# measures CPU and the libraries, not a network.
#
# Environment: LB (the lifeboat binary; default target/release/lifeboat),
#   BENCH_OFFSITE_FILES (2000), BENCH_OFFSITE_MB (100), BENCH_OFFSITE_DB_MB (250),
#   BENCH_OFFSITE_PAIRS (3), BENCH_OFFSITE_CHUNKS_KIB ("1024 256 64 32"),
#   BENCH_QUICK=1 (small sizes, 1 pair).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
GEN="$BENCH_DIR/gen_data.py"
DATA="$BENCH_DIR/data"
OUT="$BENCH_DIR/out"
W="$DATA/work-offsite"
LB=${LB:-${CARGO_TARGET_DIR:-$ROOT/target}/release/lifeboat}
WEED=${LIFEBOAT_WEED:-$ROOT/.venv-s3/bin/weed}
if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
    FILES=${BENCH_OFFSITE_FILES:-300}; MB=${BENCH_OFFSITE_MB:-20}; DB_MB=${BENCH_OFFSITE_DB_MB:-40}
    PAIRS=${BENCH_OFFSITE_PAIRS:-1}
else
    FILES=${BENCH_OFFSITE_FILES:-2000}; MB=${BENCH_OFFSITE_MB:-100}; DB_MB=${BENCH_OFFSITE_DB_MB:-250}
    PAIRS=${BENCH_OFFSITE_PAIRS:-3}
fi
CHUNKS=${BENCH_OFFSITE_CHUNKS_KIB:-1024 256 64 32}

log() { printf '[offsite %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ -x "$LB" ]] || die "$LB not found: build it with cargo build --release --bin lifeboat"
[[ -x "$WEED" ]] || die "$WEED not found: run scripts/deps.sh test"
command -v restic >/dev/null || die "restic not installed (scripts/deps.sh bench)"

rm -rf "$W"
mkdir -p "$W" "$OUT"
TSV="$OUT/offsite.tsv"
: >"$TSV"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }   # case tool run seconds rss_kib extra

# ---------------------------------------------------------------- the S3 server
read -r -a P < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(10)]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
export AWS_ACCESS_KEY_ID=bench-key AWS_SECRET_ACCESS_KEY=bench-secret-0123456789
mkdir -p "$W/s3/data"
"$WEED" mini -dir="$W/s3/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="${P[0]}" -master.port.grpc="${P[1]}" -volume.port="${P[2]}" -volume.port.grpc="${P[3]}" \
    -filer.port="${P[4]}" -filer.port.grpc="${P[5]}" -s3.port="${P[6]}" -s3.port.grpc="${P[7]}" \
    -admin.port="${P[8]}" -admin.port.grpc="${P[9]}" -master.telemetry=false -webdav=false -admin.ui=false \
    -s3.port.iceberg=0 -s3.port.lance=0 -filer.localSocket="$W/s3/filer.sock" -s3.localSocket="$W/s3/s3.sock" \
    -bucket=bench >"$W/s3/weed.log" 2>&1 &
WEED_PID=$!
stop_weed() {
    kill -TERM "$WEED_PID" 2>/dev/null || true
    wait "$WEED_PID" 2>/dev/null || true
    for p in "${P[@]}"; do rm -f /tmp/seaweedfs-*-"$p".sock; done
    [[ "${BENCH_KEEP_WORK:-0}" == 1 ]] || rm -rf "$W"
}
trap stop_weed EXIT
for _ in $(seq 1 300); do
    if curl -sf -o /dev/null "http://127.0.0.1:${P[6]}/status" \
        && curl -sf -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:${P[4]}/buckets/bench/"; then
        break
    fi
    sleep 0.2
done
S3="s3:http://127.0.0.1:${P[6]}/bench"
log "SeaweedFS on 127.0.0.1:${P[6]}"

export LIFEBOAT_DATA_DIR="$W/lifeboat-data" LIFEBOAT_OFFSITE_PASSWORD=bench LIFEBOAT_OFFSITE_KEYCHAIN=none
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$W/restic-cache"

# ---------------------------------------------------------------- data: one local backup
set_dir="$DATA/offsite-${FILES}f-${MB}mb-${DB_MB}db"
mkdir -p "$set_dir"
python3 "$GEN" --out "$set_dir/App Data" --files "$FILES" --mb "$MB" --db-mb "$DB_MB" \
    --params-file "$set_dir/params.json" --reuse --seed 11 -v
SRC="$W/source"
cp -a "$set_dir/App Data" "$SRC"
CFG="$W/lifeboat.toml"
"$LB" --config "$CFG" init --source "$SRC" --dest "$W/backups" --keep 100 --name bench >/dev/null
"$LB" --config "$CFG" backup >/dev/null
B0=$(ls "$W/backups" | grep '^backup_' | sort | head -n1)
log "local backup $B0: $(du -sh "$W/backups/$B0" | cut -f1)"

timed() { # timed OUTFILE CMD...: runs CMD, stdout to OUTFILE; prints "seconds rss_kib"
    local out=$1
    shift
    /usr/bin/time -f '%e %M' -o "$W/time.txt" "$@" >"$out"
    cat "$W/time.txt"
}

# point the config's offsite table at REPO (init, untimed); $1 repo, $2 chunk KiB
lb_init() {
    LIFEBOAT_OFFSITE_CHUNK_KIB=$2 "$LB" --config "$CFG" offsite init --repo "$1" --keep 100 >/dev/null
}

# ---------------------------------------------------------------- 6a first push vs restic
n=0
for pair in $(seq 1 "$PAIRS"); do
    n=$((n + 1))
    lb_init "$S3/first-lb-$n" 64
    read -r secs rss < <(timed "$W/push.json" "$LB" --config "$CFG" offsite push "$B0" --json)
    up=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["uploaded_bytes"], d["puts"])' "$W/push.json")
    row 6a "lifeboat offsite push" "$pair" "$secs" "$rss" "$up"
    log "6a pair $pair: lifeboat ${secs}s ${rss}KiB (bytes, puts: $up)"
    restic -r "$S3/first-restic-$n" init -q >/dev/null
    read -r secs rss < <(timed /dev/null restic -r "$S3/first-restic-$n" backup -q --host bench "$W/backups/$B0")
    row 6a "restic backup" "$pair" "$secs" "$rss" "-"
    log "6a pair $pair: restic ${secs}s ${rss}KiB"
done

# ---------------------------------------------------------------- 6b 1% of rows changed
python3 - "$SRC/app.db" <<'PY'
import random, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
ids = [r[0] for r in con.execute("SELECT id FROM test_results")]
rng = random.Random(1)
pick = rng.sample(ids, max(1, len(ids) // 100))
con.executemany("UPDATE test_results SET score = score + 1, payload = randomblob(length(payload)) WHERE id = ?",
                [(i,) for i in pick])
con.commit()
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(f"changed {len(pick)} of {len(ids)} rows", file=sys.stderr)
PY
sleep 1
"$LB" --config "$CFG" backup >/dev/null
B1=$(ls "$W/backups" | grep '^backup_' | sort | tail -n1)
db_bytes=$(stat -c %s "$W/backups/$B1/app.db")
for kib in $CHUNKS; do
    lb_init "$S3/chunk-$kib" "$kib"
    "$LB" --config "$CFG" offsite push "$B0" --json >"$W/first.json"
    read -r secs rss < <(timed "$W/second.json" "$LB" --config "$CFG" offsite push "$B1" --json)
    stats=$(python3 - "$W/first.json" "$W/second.json" "$db_bytes" <<'PY'
import json, sys
first, second = (json.load(open(p)) for p in sys.argv[1:3])
db = int(sys.argv[3])
p1, p2 = first["pushed"][0], second["pushed"][0]
print(f'{p2["uploaded_bytes"]} {100.0 * p2["uploaded_bytes"] / db:.1f} {p1["uploaded_bytes"]} {p2["puts"]}')
PY
)
    row 6b "chunks ${kib} KiB" 1 "$secs" "$rss" "$stats"
    log "6b ${kib} KiB chunks: second push ${secs}s ${rss}KiB; uploaded, % of db, first push bytes, puts: $stats"
done

# ---------------------------------------------------------------- 6c restore
lb_init "$S3/chunk-64" 64
rm -rf "$W/restored"
read -r secs rss < <(timed /dev/null "$LB" --config "$CFG" offsite restore "$B1" --to "$W/restored")
row 6c "lifeboat offsite restore" 1 "$secs" "$rss" "-"
log "6c lifeboat restore ${secs}s ${rss}KiB"
rm -rf "$W/restored-restic"
read -r secs rss < <(timed /dev/null restic -r "$S3/first-restic-1" restore latest --target "$W/restored-restic")
row 6c "restic restore" 1 "$secs" "$rss" "-"
log "6c restic restore ${secs}s ${rss}KiB"

# ---------------------------------------------------------------- table
python3 - "$TSV" "$OUT/offsite.md" "$FILES" "$MB" "$DB_MB" "$db_bytes" <<'PY'
import statistics, sys
tsv, out, files, mb, db_mb, db_bytes = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
def med(case, tool, i):
    v = [float(r[i]) for r in rows if r[0] == case and r[1] == tool]
    return statistics.median(v) if v else None
L = [f"Offsite (loopback SeaweedFS, warm cache): {files} files, {mb} MB + app.db {db_mb} MB", ""]
L += ["| case | tool | median s | max RSS MB | notes |", "|---|---|---|---|---|"]
for case, tool in [("6a", "lifeboat offsite push"), ("6a", "restic backup"),
                   ("6c", "lifeboat offsite restore"), ("6c", "restic restore")]:
    s = med(case, tool, 3)
    rss = max((float(r[4]) for r in rows if r[0] == case and r[1] == tool), default=0) / 1024
    runs = sum(1 for r in rows if r[0] == case and r[1] == tool)
    label = {"6a": "first push", "6c": "restore"}[case]
    L.append(f"| {label} | {tool} | {s:.2f} | {rss:.0f} | {runs} run(s), paired |" if s is not None else f"| {label} | {tool} | — | — | |")
L += ["", f"1% of the rows changed at random places; the database copy is {int(db_bytes)/1e6:.1f} MB:", "",
      "| average chunk | second push uploads | % of database | first push uploaded | second push s | max RSS MB |",
      "|---|---|---|---|---|---|"]
for r in rows:
    if r[0] == "6b":
        up, pct, first, puts = r[5].split()
        L.append(f"| {r[1].removeprefix('chunks ')} | {int(up)/1e6:.1f} MB | {pct}% | {int(first)/1e6:.1f} MB | {float(r[3]):.2f} | {float(r[4])/1024:.0f} |")
text = "\n".join(L) + "\n"
open(out, "w").write(text)
print(text)
PY
log "table written to $OUT/offsite.md"
