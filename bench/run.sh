#!/usr/bin/env bash
# Lifeboat benchmark harness (`make bench`). See bench/README.md.
#
# Builds target/release/lifeboat, generates data under bench/data (reused when
# the parameters match), and times Lifeboat against its peers. Every comparison
# that carries a target is timed in PAIRS with bench/paired.py (Lifeboat and the
# peer in turn, random order each round; median of the paired ratios); the
# other tools are timed with hyperfine. Peak memory comes from /usr/bin/time.
# Prints a Markdown table that is also written to bench/out/results.md.
#
# Environment (all optional):
#   BENCH_QUICK=1          small fast run to check the harness works
#   BENCH_FILES, BENCH_MB, BENCH_DB_MB        main data set (10000, 1024, 200)
#   BENCH_MEM_FILES, BENCH_MEM_SIZES, BENCH_MEM_DB_MB   memory data set
#                          (100000 files of 512-7168 bytes each, no database)
#   BENCH_RUNS             runs (hyperfine) or paired rounds per measurement (5)
#   BENCH_MEM_RUNS         paired rounds of cases 5 and 7 (5); hyperfine: 1 run
#   BENCH_WARMUP           untimed paired rounds before the timed ones (1)
#   BENCH_CASES            which cases to run ("1 2 3 4 5 6 7 8 9"; 8 = offsite, bench/offsite.sh;
#                          9 = the tray app's idle cost, bench/idle.sh: BENCH_IDLE_WAIT_SECS)
#   BENCH_SCOPES           source scopes for cases 1-3: "all" (whole source,
#                          app.db included) and/or "files" (the folders only)
#   BENCH_MUTATE_PERCENT   share of files changed in case 3 (1)
#   BENCH_NO_LIFEBOAT=1    measure the peers only (harness development)
#   BENCH_KEEP_WORK=1      keep bench/data/work (destinations) afterwards
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
GEN="$BENCH_DIR/gen_data.py"
REPORT="$BENCH_DIR/report.py"
PAIRED="$BENCH_DIR/paired.py"
DATA="$BENCH_DIR/data"
OUT="$BENCH_DIR/out"
WORK="$DATA/work"

if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
    FILES=${BENCH_FILES:-1000}
    MB=${BENCH_MB:-50}
    DB_MB=${BENCH_DB_MB:-20}
    RUNS=${BENCH_RUNS:-2}
    MEM_FILES=${BENCH_MEM_FILES:-10000}
    MEM_RUNS=${BENCH_MEM_RUNS:-2}
else
    FILES=${BENCH_FILES:-10000}
    MB=${BENCH_MB:-1024}
    DB_MB=${BENCH_DB_MB:-200}
    RUNS=${BENCH_RUNS:-5}
    MEM_FILES=${BENCH_MEM_FILES:-100000}
    MEM_RUNS=${BENCH_MEM_RUNS:-5}
fi
MEM_SIZES=${BENCH_MEM_SIZES:-512-7168}
MEM_DB_MB=${BENCH_MEM_DB_MB:-0}
WARMUP=${BENCH_WARMUP:-1}
CASES=${BENCH_CASES:-1 2 3 4 5 6 7 8 9}
SCOPES=${BENCH_SCOPES:-all files}
MUTATE=${BENCH_MUTATE_PERCENT:-1}
NO_LIFEBOAT=${BENCH_NO_LIFEBOAT:-0}
KEEP=1000   # large: rotation must never delete what a later run links from

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shell-quote each argument (the commands hyperfine runs go through bash)
q() {
    local out=() a
    for a in "$@"; do out+=("$(printf '%q' "$a")"); done
    printf '%s' "${out[*]}"
}
has_case() { [[ " $CASES " == *" $1 "* ]]; }
# 100000 -> 100,000
thousands() { printf '%s' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

# ---------------------------------------------------------------- tools
install_missing() {
    local need=()
    command -v hyperfine >/dev/null || need+=(hyperfine)
    command -v rsync >/dev/null || need+=(rsync)
    command -v restic >/dev/null || need+=(restic)
    command -v sqlite3 >/dev/null || need+=(sqlite3)
    command -v python3 >/dev/null || need+=(python3)
    [[ -x /usr/bin/time ]] || need+=(time)
    ((${#need[@]} == 0)) && return 0
    if [[ $(id -u) -ne 0 ]]; then
        die "missing: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}"
    fi
    log "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# ---------------------------------------------------------------- results
# rows.tsv:    case_key, case label, tool, role, json, rss file, timer
#              role: lifeboat | peer; timer: hyperfine (json = hyperfine export,
#              rss = one KiB figure per run) or paired (json = paired.py output,
#              lifeboat = its side A, peer = side B; rss unused) or na (not
#              measured: json = "-", rss = why)
# targets.tsv: label, kind, case_key(s), peer tool, threshold
#              kind: paired_ratio_max | paired_rss_max_mb | paired_info | ratio_max | rss_max_mb
# meta.tsv:    key, value (shown above the table)
ROWS="$OUT/rows.tsv"
TARGETS="$OUT/targets.tsv"
META="$OUT/meta.tsv"
FAILED=0

meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
target() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TARGETS"; }
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; }
slug() { printf '%s' "$*" | tr -c 'A-Za-z0-9' '_'; }

# measure CASE_KEY CASE_LABEL TOOL ROLE RUNS PREPARE MAIN [SUFFIX]
# hyperfine, for the tools no target depends on. MAIN is a quoted command line
# (the process whose max RSS is recorded); SUFFIX is appended after it (e.g.
# "&& sync").
measure() {
    local key=$1 label=$2 tool=$3 role=$4 runs=$5 prepare=$6 main=$7 suffix=${8:-}
    local base json rss cmd
    base="$key-$(slug "$tool")"
    json="$OUT/json/$base.json"
    rss="$OUT/rss/$base.txt"
    rm -f "$json" "$rss"
    cmd="/usr/bin/time -f %M -a -o $(q "$rss") $main${suffix:+ $suffix}"
    log "measure [$label] $tool ($runs runs, hyperfine)"
    if hyperfine --shell=bash --runs "$runs" --style basic \
        --prepare "$prepare" --command-name "$tool" \
        --export-json "$json" "$cmd" >&2; then
        row "$key" "$label" "$tool" "$role" "$json" "$rss" hyperfine
    else
        FAILED=$((FAILED + 1))
        log "FAILED [$label] $tool; one more run to show its output:"
        bash -c "$prepare" >&2 || true
        bash -c "$main" >&2 || true
        row "$key" "$label" "$tool" "$role" - - hyperfine
    fi
}

# paired CASE_KEY CASE_LABEL PEER_TOOL ROUNDS PREP_LB CMD_LB PREP_PEER CMD_PEER
# Lifeboat (side A) and a peer (side B) timed in turn by paired.py: one run of
# each per round, random order, BENCH_WARMUP untimed rounds first, `sync`
# after every prepare. Commands are bash strings; the peer's carries its own
# "&& sync".
paired() {
    local key=$1 label=$2 tool=$3 rounds=$4 prep_a=$5 cmd_a=$6 prep_b=$7 cmd_b=$8
    local json="$OUT/paired/$key.json"
    rm -f "$json"
    log "paired [$label] lifeboat vs $tool ($rounds rounds + $WARMUP warm-up)"
    if python3 "$PAIRED" --name "$key" --rounds "$rounds" --warmup "$WARMUP" --out "$json" \
        --label-a "lifeboat" --prepare-a "$prep_a" --cmd-a "$cmd_a" \
        --label-b "$tool" --prepare-b "$prep_b" --cmd-b "$cmd_b"; then
        :
    else
        FAILED=$((FAILED + 1))
        log "FAILED [$label] lifeboat vs $tool (see the error above and in $json)"
    fi
    row "$key" "$label" "${LB_TOOL:-lifeboat backup}" lifeboat "$json" - paired
    row "$key" "$label" "$tool" peer "$json" - paired
}

# a row that could not be measured because its setup failed
failed_row() {
    FAILED=$((FAILED + 1))
    log "FAILED [$2] $3: $4"
    row "$1" "$2" "$3" lifeboat - "$4" failed
}

# a case this build cannot run (not a failure): KEY LABEL TOOL WHY
na_row() {
    log "[$2] $3: $4"
    row "$1" "$2" "$3" lifeboat - "$4" na
}

# ---------------------------------------------------------------- lifeboat
LB=""
LB_OK=0
build_lifeboat() {
    if [[ "$NO_LIFEBOAT" == 1 ]]; then
        log "BENCH_NO_LIFEBOAT=1: peers only"
        return 0
    fi
    log "building lifeboat (cargo build --release --bin lifeboat)"
    if (cd "$ROOT" && nice -n 10 cargo build --release --bin lifeboat >&2); then
        LB="${CARGO_TARGET_DIR:-$ROOT/target}/release/lifeboat"
        [[ -x "$LB" ]] || die "$LB: not found after cargo build"
        LB_OK=1
        meta "lifeboat" "$("$LB" --version 2>/dev/null || echo "$LB")"
    else
        die "cargo build --release --bin lifeboat failed"
    fi
}

# lb_profile CFG NAME SRC DEST [INCLUDE...]: write a one-profile config
lb_profile() {
    local cfg=$1 name=$2 src=$3 dest=$4 inc
    shift 4
    local args=()
    for inc in "$@"; do args+=(--include "$inc"); done
    rm -f "$cfg"
    mkdir -p "$dest"
    "$LB" --config "$cfg" init --source "$src" --dest "$dest" "${args[@]}" \
        --keep "$KEEP" --name "$name" >/dev/null
}

lb_backup() { "$LB" --config "$1" backup >/dev/null; }

# ---------------------------------------------------------------- data
# ensure_data NAME FILES MB DB_MB [SIZE_RANGE] -> prints the source directory
ensure_data() {
    local dir="$DATA/$1"
    mkdir -p "$dir"
    python3 "$GEN" --out "$dir/App Data" --files "$2" --mb "$3" --db-mb "$4" --size-range "${5:-}" \
        --params-file "$dir/params.json" --reuse -v
    printf '%s' "$dir/App Data"
}

# ---------------------------------------------------------------- cases
# Sources of a scope, as absolute paths: "all" = the source folder itself,
# "files" = its top-level folders (no app.db).
scope_paths() {
    local src=$1 scope=$2
    if [[ "$scope" == all ]]; then
        printf '%s\0' "$src"
    else
        find "$src" -mindepth 1 -maxdepth 1 -type d -print0 | sort -z
    fi
}

scope_label() { [[ "$1" == all ]] && echo "whole source" || echo "folders only"; }

# Sets the caller's `paths` (the scope's top-level items) and `incs` (their names as
# Lifeboat `include` items; none for the whole source).
scope_items() {
    local src=$1 scope=$2 p
    mapfile -d '' paths < <(scope_paths "$src" "$scope")
    incs=()
    if [[ "$scope" == files ]]; then
        for p in "${paths[@]}"; do incs+=("$(basename "$p")"); done
    fi
}

# The one backup in DEST (after a first backup), by name.
only_backup() {
    local d
    d=$(find "$1" -mindepth 1 -maxdepth 1 -name 'backup_*' -printf '%f\n' | sort | head -n1)
    [[ -n "$d" ]] || return 1
    printf '%s' "$d"
}

# A command that removes every backup in DEST but KEEP (untimed, in a prepare):
# each timed run then finds exactly one backup, like rsync's one PREV.
prune_cmd() {
    printf 'find %s -mindepth 1 -maxdepth 1 \\( -name %s -o -name %s \\) ! -name %s -exec rm -rf {} +' \
        "$(q "$1")" "'backup_*'" "'pre-restore_*'" "$(q "$2")"
}

case_first() { # 1: first backup into an empty destination
    local src=$1 scope=$2 w="$WORK/c1-$2" key="1-$2" label
    label="1 first backup, $(scope_label "$scope")"
    local -a paths incs
    scope_items "$src" "$scope"
    mkdir -p "$w"
    local cpd="$w/cp dest" rsd="$w/rsync dest" cp_cmd rs_cmd mk=""
    if [[ "$scope" == all ]]; then
        cp_cmd="$(q cp -a "$src" "$cpd")"
        rs_cmd="$(q rsync -a "$src/" "$rsd/")"
    else
        cp_cmd="$(q cp -a "${paths[@]}" "$cpd/")"
        rs_cmd="$(q rsync -a "${paths[@]}" "$rsd/")"
        mk=1
    fi
    if [[ "$LB_OK" == 1 ]]; then
        local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest"
        if lb_profile "$cfg" "bench first $scope" "$src" "$dest" "${incs[@]}"; then
            paired "$key" "$label" "cp -a + sync" "$RUNS" \
                "rm -rf $(q "$dest") && mkdir $(q "$dest")" "$(q "$LB" --config "$cfg" backup)" \
                "rm -rf $(q "$cpd")${mk:+ && mkdir $(q "$cpd")}" "$cp_cmd && sync"
        else failed_row "$key" "$label" "lifeboat backup" "lifeboat init failed"; fi
        rm -rf "$dest" "$cpd"
    fi
    measure "$key" "$label" "rsync -a + sync" peer "$RUNS" \
        "rm -rf $(q "$rsd")${mk:+ && mkdir $(q "$rsd")} && sync" "$rs_cmd" "&& sync"
    target "first backup ($(scope_label "$scope")) within 1.1x of cp -a (issue 2)" \
        paired_ratio_max "$key" "cp -a + sync" 1.1
    rm -rf "$w"
}

restic_noscan=()
restic_setup() {
    if restic backup --help 2>/dev/null | grep -q -- '--no-scan'; then
        restic_noscan=(--no-scan)
    fi
    export RESTIC_PASSWORD="lifeboat-bench"
    export RESTIC_CACHE_DIR="$WORK/restic-cache"
    meta "restic" "$(restic version | head -n1)${restic_noscan[*]:+ (with --no-scan)}"
}

# unchanged_pair KEY LABEL SRC SCOPE WORKDIR: Lifeboat's second backup of an
# unchanged source (the destination holds exactly one backup of it) paired
# with rsync --link-dest against one previous copy.
unchanged_pair() {
    local key=$1 label=$2 src=$3 scope=$4 w=$5
    local -a paths incs
    scope_items "$src" "$scope"
    local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest" prev="$w/rsync prev" new="$w/rsync new"
    local first rs_cmd
    if [[ "$scope" == all ]]; then
        rsync -a "$src/" "$prev/"
        rs_cmd="$(q rsync -a "--link-dest=$prev" "$src/" "$new/") && sync"
    else
        mkdir -p "$prev"
        rsync -a "${paths[@]}" "$prev/"
        rs_cmd="$(q rsync -a "--link-dest=$prev" "${paths[@]}" "$new/") && sync"
    fi
    if lb_profile "$cfg" "bench unchanged $scope" "$src" "$dest" "${incs[@]}" && lb_backup "$cfg" \
        && first=$(only_backup "$dest"); then
        paired "$key" "$label" "rsync --link-dest + sync" "$RUNS" \
            "$(prune_cmd "$dest" "$first")" "$(q "$LB" --config "$cfg" backup)" \
            "rm -rf $(q "$new")" "$rs_cmd"
    else failed_row "$key" "$label" "lifeboat backup" "lifeboat init or first backup failed"; fi
    rm -rf "$new" "$prev"
}

case_unchanged() { # 2: second backup, nothing changed since the first
    local src=$1 scope=$2 w="$WORK/c2-$2" key="2-$2" label
    label="2 unchanged 2nd backup, $(scope_label "$scope")"
    local -a paths incs
    scope_items "$src" "$scope"
    mkdir -p "$w"
    if [[ "$LB_OK" == 1 ]]; then
        unchanged_pair "$key" "$label" "$src" "$scope" "$w"
        rm -rf "$w/lifeboat dest"
    fi
    local repo="$w/restic repo"
    restic -r "$repo" init -q >/dev/null
    restic -r "$repo" backup -q --host bench "${restic_noscan[@]}" "${paths[@]}" >/dev/null
    measure "$key" "$label" "restic backup (2nd+ run)" peer "$RUNS" "sync" \
        "$(q restic -r "$repo" backup -q --host bench "${restic_noscan[@]}" "${paths[@]}")"
    target "unchanged 2nd backup ($(scope_label "$scope")) at most 0.6x rsync --link-dest (issue 9)" \
        paired_ratio_max "$key" "rsync --link-dest + sync" 0.6
    rm -rf "$w"
}

case_changed() { # 3: MUTATE% of the files rewritten before every timed run (no target: hyperfine)
    local src=$1 scope=$2 w="$WORK/c3-$2" key="3-$2" label
    label="3 ${MUTATE}% files changed, $(scope_label "$scope")"
    local -a paths incs
    scope_items "$src" "$scope"
    local mutate
    mutate="python3 $(q "$GEN") --out $(q "$src") --mutate-percent $(q "$MUTATE")"
    mkdir -p "$w"
    # Each tool's series starts from a baseline of the current source; every
    # run then sees exactly MUTATE% changed since the previous run's backup.
    if [[ "$LB_OK" == 1 ]]; then
        local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest"
        if lb_profile "$cfg" "bench changed $scope" "$src" "$dest" "${incs[@]}" && lb_backup "$cfg"; then
            measure "$key" "$label" "lifeboat backup" lifeboat "$RUNS" "$mutate && sync" \
                "$(q "$LB" --config "$cfg" backup)"
        else failed_row "$key" "$label" "lifeboat backup" "lifeboat init or first backup failed"; fi
        rm -rf "$dest"
    fi
    local cur="$w/rsync cur" next="$w/rsync next" rot
    # promote the previous run's snapshot to be the link-dest of this run
    rot="if [ -d $(q "$next") ]; then rm -rf $(q "$cur") && mv $(q "$next") $(q "$cur"); fi"
    if [[ "$scope" == all ]]; then
        rsync -a "$src/" "$cur/"
        measure "$key" "$label" "rsync --link-dest + sync" peer "$RUNS" "$rot && $mutate && sync" \
            "$(q rsync -a "--link-dest=$cur" "$src/" "$next/")" "&& sync"
    else
        mkdir -p "$cur"
        rsync -a "${paths[@]}" "$cur/"
        measure "$key" "$label" "rsync --link-dest + sync" peer "$RUNS" "$rot && $mutate && sync" \
            "$(q rsync -a "--link-dest=$cur" "${paths[@]}" "$next/")" "&& sync"
    fi
    rm -rf "$w"
}

case_db() { # 4: the SQLite database alone
    local src=$1 w="$WORK/c4" key="4" label="4 database copy (app.db)"
    [[ -f "$src/app.db" ]] || { log "no app.db (BENCH_DB_MB=0): case 4 skipped"; return 0; }
    mkdir -p "$w"
    if [[ "$LB_OK" == 1 ]]; then
        local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest" copy="$w/sqlite copy.db"
        if lb_profile "$cfg" "bench db" "$src" "$dest" app.db; then
            paired "$key" "$label" "sqlite3 .backup + sync" "$RUNS" \
                "rm -rf $(q "$dest") && mkdir $(q "$dest")" "$(q "$LB" --config "$cfg" backup)" \
                "rm -f $(q "$copy")" "$(q sqlite3 "$src/app.db" ".backup '$copy'") && sync"
        else failed_row "$key" "$label" "lifeboat backup" "lifeboat init failed"; fi
        rm -rf "$dest"
    fi
    target "database copy within 1.2x of sqlite3 .backup (issue 2)" \
        paired_ratio_max "$key" "sqlite3 .backup + sync" 1.2
    rm -rf "$w"
}

case_memory() { # 5: the 100,000-file set: first and unchanged backup, time and peak memory
    local src=$1 w="$WORK/c5" key1="5-first" key2="5-unchanged" n
    n=$(thousands "$MEM_FILES")
    local l1="5 first backup, $n files of $MEM_SIZES B" l2="5 unchanged 2nd backup, $n files"
    mkdir -p "$w"
    local cpd="$w/cp dest" rsd="$w/rsync dest"
    if [[ "$LB_OK" == 1 ]]; then
        local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest"
        if lb_profile "$cfg" "bench memory" "$src" "$dest"; then
            paired "$key1" "$l1" "cp -a + sync" "$MEM_RUNS" \
                "rm -rf $(q "$dest") && mkdir $(q "$dest")" "$(q "$LB" --config "$cfg" backup)" \
                "rm -rf $(q "$cpd")" "$(q cp -a "$src" "$cpd") && sync"
        else failed_row "$key1" "$l1" "lifeboat backup" "lifeboat init failed"; fi
        rm -rf "$dest" "$cpd"
        unchanged_pair "$key2" "$l2" "$src" all "$w"
        rm -rf "$dest"
    fi
    measure "$key1" "$l1" "rsync -a + sync" peer 1 "rm -rf $(q "$rsd") && sync" \
        "$(q rsync -a "$src/" "$rsd/")" "&& sync"
    rm -rf "$rsd"
    target "first backup, $n files, at most 1.0x cp -a (issue 9)" paired_ratio_max "$key1" "cp -a + sync" 1.0
    target "unchanged 2nd backup, $n files, at most 0.6x rsync --link-dest (issue 9)" \
        paired_ratio_max "$key2" "rsync --link-dest + sync" 0.6
    target "peak memory (max RSS) under 100 MB, $n files, first backup (issue 9)" paired_rss_max_mb "$key1" "" 100
    target "peak memory (max RSS) under 100 MB, $n files, unchanged backup (issue 9)" paired_rss_max_mb "$key2" "" 100
    rm -rf "$w"
}

# The top-level entries of a backup folder that are backed-up items (not
# Lifeboat's own manifest.json / backup_info.txt), as absolute paths, NUL-separated.
backup_items() {
    find "$1" -mindepth 1 -maxdepth 1 ! -name manifest.json ! -name backup_info.txt -print0 | sort -z
}

case_restore() { # 6: restore after MUTATE% of the files changed (issue 10)
    local src=$1 scope=$2 w="$WORK/c6-$2" key="6-$2" label
    label="6 restore after ${MUTATE}% files changed, $(scope_label "$scope")"
    [[ "$LB_OK" == 1 ]] || return 0
    local -a paths incs items
    scope_items "$src" "$scope"
    mkdir -p "$w"
    local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest" cpd="$w/cp dest" name mutate
    mutate="python3 $(q "$GEN") --out $(q "$src") --mutate-percent $(q "$MUTATE")"
    if lb_profile "$cfg" "bench restore $scope" "$src" "$dest" "${incs[@]}" && lb_backup "$cfg" \
        && name=$(only_backup "$dest"); then
        mapfile -d '' items < <(backup_items "$dest/$name")
        LB_TOOL="lifeboat restore" paired "$key" "$label" "cp -a from the backup + sync" "$RUNS" \
            "$mutate" "$(q "$LB" --config "$cfg" restore "$name" --yes)" \
            "rm -rf $(q "$cpd") && mkdir $(q "$cpd")" "$(q cp -a "${items[@]}" "$cpd/") && sync"
    else failed_row "$key" "$label" "lifeboat restore" "lifeboat init or first backup failed"; fi
    target "restore after ${MUTATE}% changed ($(scope_label "$scope")) at most 0.3x cp -a (issue 10)" \
        paired_ratio_max "$key" "cp -a from the backup + sync" 0.3
    rm -rf "$w"
}

# Whether this build's `lifeboat restore` takes a PATH after the backup's name.
restore_takes_path() {
    "$LB" restore --help 2>/dev/null | grep -Eq '^Usage:.*<NAME> +[[<]'
}

case_restore_one() { # 7: restore one deleted file from the 100,000-file backup (issue 10)
    local src=$1 w="$WORK/c7" key="7" n
    n=$(thousands "$MEM_FILES")
    local label="7 restore one deleted file, $n-file backup"
    [[ "$LB_OK" == 1 ]] || return 0
    target "restore one deleted file from a $n-file backup (issue 10, timing only)" paired_info "$key" \
        "cp -a from the backup + sync" ""
    if ! restore_takes_path; then
        na_row "$key" "$label" "lifeboat restore NAME PATH" "not available in this build"
        return 0
    fi
    mkdir -p "$w"
    local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest" name rel
    # a file deep in the tree, the same on every run
    rel=$(cd "$src" && find . -type f -path './*/*/*' -printf '%P\n' | LC_ALL=C sort | sed -n 1p)
    if lb_profile "$cfg" "bench restore one" "$src" "$dest" && lb_backup "$cfg" \
        && name=$(only_backup "$dest"); then
        LB_TOOL="lifeboat restore NAME PATH" paired "$key" "$label" "cp -a from the backup + sync" "$MEM_RUNS" \
            "rm -f $(q "$src/$rel")" "$(q "$LB" --config "$cfg" restore "$name" "$rel" --yes)" \
            "rm -f $(q "$src/$rel")" "$(q cp -a "$dest/$name/$rel" "$src/$rel") && sync"
        [[ -f "$src/$rel" ]] || cp -a "$dest/$name/$rel" "$src/$rel"
    else failed_row "$key" "$label" "lifeboat restore" "lifeboat init or first backup failed"; fi
    rm -rf "$w"
}

# ---------------------------------------------------------------- main
main() {
    install_missing
    mkdir -p "$OUT/json" "$OUT/rss" "$OUT/paired" "$DATA"
    rm -f "$ROWS" "$TARGETS" "$META" "$OUT"/json/*.json "$OUT"/rss/*.txt "$OUT"/paired/*.json
    rm -rf "$WORK"
    mkdir -p "$WORK"
    if [[ "${BENCH_KEEP_WORK:-0}" != 1 ]]; then
        trap 'rm -rf "$WORK"' EXIT
    fi
    export LIFEBOAT_DATA_DIR="$WORK/lifeboat-data"
    mkdir -p "$LIFEBOAT_DATA_DIR"

    meta "date" "$(date '+%Y-%m-%d %H:%M %Z')"
    meta "machine" "$(uname -sm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), filesystem $(findmnt -n -o FSTYPE -T "$DATA" 2>/dev/null || stat -f -c %T "$DATA")"
    meta "mode" "$([[ "${BENCH_QUICK:-0}" == 1 ]] && echo "BENCH_QUICK=1 (small sizes: the targets assume the full sizes)" || echo full)"
    meta "data" "$FILES files, $MB MB of files, app.db $DB_MB MB (WAL); small-file set $MEM_FILES files of $MEM_SIZES bytes"
    meta "runs" "paired: $RUNS rounds (cases 5, 7: $MEM_RUNS) after $WARMUP warm-up round(s), Lifeboat and peer in turn, random order; hyperfine: $RUNS runs (case 5: 1); warm page cache, nothing dropped"
    meta "tools" "$(hyperfine --version); $(rsync --version | head -n1 | awk '{print $1, $3}'); $(cp --version | head -n1); sqlite3 $(sqlite3 --version | awk '{print $1}')"

    build_lifeboat
    if has_case 2; then restic_setup; fi

    local src
    if has_case 1 || has_case 2 || has_case 3 || has_case 4 || has_case 6; then
        log "data set: $FILES files, $MB MB, db $DB_MB MB"
        src=$(ensure_data "set-${FILES}f-${MB}mb-${DB_MB}db" "$FILES" "$MB" "$DB_MB")
        local scope
        for scope in $SCOPES; do
            [[ "$scope" == all || "$scope" == files ]] || die "BENCH_SCOPES: unknown scope '$scope'"
            if has_case 1; then case_first "$src" "$scope"; fi
        done
        for scope in $SCOPES; do
            if has_case 2; then case_unchanged "$src" "$scope"; fi
        done
        # case 3 after 1 and 2: it changes the source (case 4 reads only app.db)
        for scope in $SCOPES; do
            if has_case 3; then case_changed "$src" "$scope"; fi
        done
        if has_case 4; then case_db "$src"; fi
        # case 6 changes the source too, then restores it
        for scope in $SCOPES; do
            if has_case 6; then case_restore "$src" "$scope"; fi
        done
    fi
    if has_case 5 || has_case 7; then
        log "small-file data set: $MEM_FILES files of $MEM_SIZES bytes, db $MEM_DB_MB MB"
        src=$(ensure_data "mem-${MEM_FILES}f-${MEM_SIZES}b-${MEM_DB_MB}db" "$MEM_FILES" 0 "$MEM_DB_MB" "$MEM_SIZES")
        if has_case 5; then case_memory "$src"; fi
        if has_case 7; then case_restore_one "$src"; fi
    fi

    python3 "$REPORT" --rows "$ROWS" --targets "$TARGETS" --meta "$META" --out "$OUT/results.md"
    log "table written to $OUT/results.md"
    if has_case 8; then
        if [[ "$LB_OK" == 1 ]]; then
            LB="$LB" bash "$BENCH_DIR/offsite.sh" || { FAILED=$((FAILED + 1)); log "FAILED: offsite case (bench/offsite.sh)"; }
        else
            log "case 8 (offsite) needs lifeboat: skipped"
        fi
    fi
    if has_case 9; then
        log "case 9 (idle tray app): building lifeboat-app"
        if (cd "$ROOT" && cargo build --release -p lifeboat-app); then
            APP="${CARGO_TARGET_DIR:-$ROOT/target}/release/lifeboat-app" bash "$BENCH_DIR/idle.sh" \
                || { FAILED=$((FAILED + 1)); log "FAILED: idle case (bench/idle.sh)"; }
        else
            FAILED=$((FAILED + 1)); log "FAILED: case 9 cannot build lifeboat-app"
        fi
    fi
    if ((FAILED > 0)); then
        die "$FAILED measurement(s) failed; see the log above"
    fi
}

main "$@"
