#!/usr/bin/env bash
# Lifeboat benchmark harness (`make bench`). See bench/README.md.
#
# Builds target/release/lifeboat, generates data under bench/data (reused when
# the parameters match), times Lifeboat and its peers with hyperfine (medians),
# measures peak memory with /usr/bin/time, and prints a Markdown table that is
# also written to bench/out/results.md.
#
# Environment (all optional):
#   BENCH_QUICK=1          small fast run to check the harness works
#   BENCH_FILES, BENCH_MB, BENCH_DB_MB        main data set (10000, 1024, 200)
#   BENCH_MEM_FILES, BENCH_MEM_MB, BENCH_MEM_DB_MB   memory data set (100000, 400, 0)
#   BENCH_RUNS             hyperfine runs per measurement (5)
#   BENCH_MEM_RUNS         runs per measurement of case 5 (1)
#   BENCH_CASES            which cases to run ("1 2 3 4 5 6"; 6 = offsite, bench/offsite.sh)
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
DATA="$BENCH_DIR/data"
OUT="$BENCH_DIR/out"
WORK="$DATA/work"

if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
    FILES=${BENCH_FILES:-1000}
    MB=${BENCH_MB:-50}
    DB_MB=${BENCH_DB_MB:-20}
    RUNS=${BENCH_RUNS:-2}
    MEM_FILES=${BENCH_MEM_FILES:-10000}
    MEM_MB=${BENCH_MEM_MB:-40}
else
    FILES=${BENCH_FILES:-10000}
    MB=${BENCH_MB:-1024}
    DB_MB=${BENCH_DB_MB:-200}
    RUNS=${BENCH_RUNS:-5}
    MEM_FILES=${BENCH_MEM_FILES:-100000}
    MEM_MB=${BENCH_MEM_MB:-400}
fi
MEM_DB_MB=${BENCH_MEM_DB_MB:-0}
MEM_RUNS=${BENCH_MEM_RUNS:-1}
CASES=${BENCH_CASES:-1 2 3 4 5 6}
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
# rows.tsv:    case_key, case label, tool, role (lifeboat|peer), hyperfine json, rss file
# targets.tsv: label, kind, case_key, peer tool, threshold
# meta.tsv:    key, value (shown above the table)
ROWS="$OUT/rows.tsv"
TARGETS="$OUT/targets.tsv"
META="$OUT/meta.tsv"
FAILED=0

meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
target() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TARGETS"; }
slug() { printf '%s' "$*" | tr -c 'A-Za-z0-9' '_'; }

# measure CASE_KEY CASE_LABEL TOOL ROLE RUNS PREPARE MAIN [SUFFIX]
# MAIN is a quoted command line (the process whose max RSS is recorded);
# SUFFIX is appended after it (e.g. "&& sync").
measure() {
    local key=$1 label=$2 tool=$3 role=$4 runs=$5 prepare=$6 main=$7 suffix=${8:-}
    local base json rss cmd
    base="$key-$(slug "$tool")"
    json="$OUT/json/$base.json"
    rss="$OUT/rss/$base.txt"
    rm -f "$json" "$rss"
    cmd="/usr/bin/time -f %M -a -o $(q "$rss") $main${suffix:+ $suffix}"
    log "measure [$label] $tool ($runs runs)"
    if hyperfine --shell=bash --runs "$runs" --style basic \
        --prepare "$prepare" --command-name "$tool" \
        --export-json "$json" "$cmd" >&2; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$label" "$tool" "$role" "$json" "$rss" >>"$ROWS"
    else
        FAILED=$((FAILED + 1))
        log "FAILED [$label] $tool; one more run to show its output:"
        bash -c "$prepare" >&2 || true
        bash -c "$main" >&2 || true
        printf '%s\t%s\t%s\t%s\t-\t-\n' "$key" "$label" "$tool" "$role" >>"$ROWS"
    fi
}

# a row that could not be measured because its setup failed
failed_row() {
    FAILED=$((FAILED + 1))
    log "FAILED [$2] $3: $4"
    printf '%s\t%s\t%s\t%s\t-\t-\n' "$1" "$2" "$3" "$4" >>"$ROWS"
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
    if (cd "$ROOT" && cargo build --release --bin lifeboat >&2); then
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
# ensure_data NAME FILES MB DB_MB -> prints the source directory
ensure_data() {
    local dir="$DATA/$1"
    mkdir -p "$dir"
    python3 "$GEN" --out "$dir/App Data" --files "$2" --mb "$3" --db-mb "$4" \
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

case_first() { # 1: first backup into an empty destination
    local src=$1 scope=$2 w="$WORK/c1-$2" key="1-$2" label
    label="1 first backup, $(scope_label "$scope")"
    local -a paths incs
    scope_items "$src" "$scope"
    mkdir -p "$w"
    if [[ "$LB_OK" == 1 ]]; then
        local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest"
        if lb_profile "$cfg" "bench first $scope" "$src" "$dest" "${incs[@]}"; then
            measure "$key" "$label" "lifeboat backup" lifeboat "$RUNS" \
                "rm -rf $(q "$dest") && mkdir $(q "$dest") && sync" \
                "$(q "$LB" --config "$cfg" backup)"
        else failed_row "$key" "$label" "lifeboat backup" "lifeboat init failed"; fi
        rm -rf "$dest"
    fi
    local cpd="$w/cp dest" rsd="$w/rsync dest"
    if [[ "$scope" == all ]]; then
        measure "$key" "$label" "cp -a + sync" peer "$RUNS" "rm -rf $(q "$cpd") && sync" \
            "$(q cp -a "$src" "$cpd")" "&& sync"
        measure "$key" "$label" "rsync -a + sync" peer "$RUNS" "rm -rf $(q "$rsd") && sync" \
            "$(q rsync -a "$src/" "$rsd/")" "&& sync"
    else
        measure "$key" "$label" "cp -a + sync" peer "$RUNS" \
            "rm -rf $(q "$cpd") && mkdir $(q "$cpd") && sync" \
            "$(q cp -a "${paths[@]}" "$cpd/")" "&& sync"
        measure "$key" "$label" "rsync -a + sync" peer "$RUNS" \
            "rm -rf $(q "$rsd") && mkdir $(q "$rsd") && sync" \
            "$(q rsync -a "${paths[@]}" "$rsd/")" "&& sync"
    fi
    target "first backup ($(scope_label "$scope")) within 1.1x of cp -a" ratio_max "$key" "cp -a + sync" 1.1
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

case_unchanged() { # 2: second backup, nothing changed since the first
    local src=$1 scope=$2 w="$WORK/c2-$2" key="2-$2" label
    label="2 unchanged 2nd backup, $(scope_label "$scope")"
    local -a paths incs
    scope_items "$src" "$scope"
    mkdir -p "$w"
    if [[ "$LB_OK" == 1 ]]; then
        local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest"
        if lb_profile "$cfg" "bench unchanged $scope" "$src" "$dest" "${incs[@]}" && lb_backup "$cfg"; then
            measure "$key" "$label" "lifeboat backup" lifeboat "$RUNS" "sync" \
                "$(q "$LB" --config "$cfg" backup)"
        else failed_row "$key" "$label" "lifeboat backup" "lifeboat init or first backup failed"; fi
        rm -rf "$dest"
    fi
    local prev="$w/rsync prev" new="$w/rsync new"
    if [[ "$scope" == all ]]; then
        rsync -a "$src/" "$prev/"
        measure "$key" "$label" "rsync --link-dest + sync" peer "$RUNS" "rm -rf $(q "$new") && sync" \
            "$(q rsync -a "--link-dest=$prev" "$src/" "$new/")" "&& sync"
    else
        mkdir -p "$prev"
        rsync -a "${paths[@]}" "$prev/"
        measure "$key" "$label" "rsync --link-dest + sync" peer "$RUNS" "rm -rf $(q "$new") && sync" \
            "$(q rsync -a "--link-dest=$prev" "${paths[@]}" "$new/")" "&& sync"
    fi
    rm -rf "$prev" "$new"
    local repo="$w/restic repo"
    restic -r "$repo" init -q >/dev/null
    restic -r "$repo" backup -q --host bench "${restic_noscan[@]}" "${paths[@]}" >/dev/null
    measure "$key" "$label" "restic backup (2nd+ run)" peer "$RUNS" "sync" \
        "$(q restic -r "$repo" backup -q --host bench "${restic_noscan[@]}" "${paths[@]}")"
    target "unchanged backup ($(scope_label "$scope")) no slower than rsync --link-dest" \
        ratio_max "$key" "rsync --link-dest + sync" 1.0
    rm -rf "$w"
}

case_changed() { # 3: MUTATE% of the files rewritten before every timed run
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
        local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest"
        if lb_profile "$cfg" "bench db" "$src" "$dest" app.db; then
            measure "$key" "$label" "lifeboat backup" lifeboat "$RUNS" \
                "rm -rf $(q "$dest") && mkdir $(q "$dest") && sync" \
                "$(q "$LB" --config "$cfg" backup)"
        else failed_row "$key" "$label" "lifeboat backup" "lifeboat init failed"; fi
        rm -rf "$dest"
    fi
    local copy="$w/sqlite copy.db"
    measure "$key" "$label" "sqlite3 .backup + sync" peer "$RUNS" "rm -f $(q "$copy") && sync" \
        "$(q sqlite3 "$src/app.db" ".backup '$copy'")" "&& sync"
    target "database copy within 1.2x of sqlite3 .backup" ratio_max "$key" "sqlite3 .backup + sync" 1.2
    rm -rf "$w"
}

case_memory() { # 5: peak memory on many files
    local src=$1 w="$WORK/c5" key1="5-first" key2="5-unchanged"
    local l1="5 memory: first backup, $MEM_FILES files" l2="5 memory: unchanged 2nd backup, $MEM_FILES files"
    mkdir -p "$w"
    if [[ "$LB_OK" == 1 ]]; then
        local cfg="$w/lifeboat.toml" dest="$w/lifeboat dest"
        if lb_profile "$cfg" "bench memory" "$src" "$dest"; then
            measure "$key1" "$l1" "lifeboat backup" lifeboat "$MEM_RUNS" \
                "rm -rf $(q "$dest") && mkdir $(q "$dest") && sync" \
                "$(q "$LB" --config "$cfg" backup)"
            # the destination now holds one backup of the unchanged source
            if compgen -G "$dest/backup_*" >/dev/null || lb_backup "$cfg"; then
                measure "$key2" "$l2" "lifeboat backup" lifeboat "$MEM_RUNS" "sync" \
                    "$(q "$LB" --config "$cfg" backup)"
            else failed_row "$key2" "$l2" "lifeboat backup" "lifeboat first backup failed"; fi
        else failed_row "$key1" "$l1" "lifeboat backup" "lifeboat init failed"; fi
        rm -rf "$dest"
    fi
    local cpd="$w/cp dest" rsd="$w/rsync dest" new="$w/rsync new"
    measure "$key1" "$l1" "cp -a + sync" peer "$MEM_RUNS" "rm -rf $(q "$cpd") && sync" \
        "$(q cp -a "$src" "$cpd")" "&& sync"
    rm -rf "$cpd"
    measure "$key1" "$l1" "rsync -a + sync" peer "$MEM_RUNS" "rm -rf $(q "$rsd") && sync" \
        "$(q rsync -a "$src/" "$rsd/")" "&& sync"
    [[ -d "$rsd" ]] || rsync -a "$src/" "$rsd/"
    measure "$key2" "$l2" "rsync --link-dest + sync" peer "$MEM_RUNS" "rm -rf $(q "$new") && sync" \
        "$(q rsync -a "--link-dest=$rsd" "$src/" "$new/")" "&& sync"
    target "peak memory under 100 MB at $MEM_FILES files" rss_max_mb "$key1 $key2" "" 100
    rm -rf "$w"
}

# ---------------------------------------------------------------- main
main() {
    install_missing
    mkdir -p "$OUT/json" "$OUT/rss" "$DATA"
    rm -f "$ROWS" "$TARGETS" "$META" "$OUT"/json/*.json "$OUT"/rss/*.txt
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
    meta "data" "$FILES files, $MB MB of files, app.db $DB_MB MB (WAL); memory set $MEM_FILES files, $MEM_MB MB"
    meta "runs" "$RUNS per measurement (case 5: $MEM_RUNS); warm page cache, nothing dropped"
    meta "tools" "$(hyperfine --version); $(rsync --version | head -n1 | awk '{print $1, $3}'); $(cp --version | head -n1); sqlite3 $(sqlite3 --version | awk '{print $1}')"

    build_lifeboat
    if has_case 2; then restic_setup; fi

    local src
    if has_case 1 || has_case 2 || has_case 3 || has_case 4; then
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
    fi
    if has_case 5; then
        log "memory data set: $MEM_FILES files, $MEM_MB MB, db $MEM_DB_MB MB"
        src=$(ensure_data "mem-${MEM_FILES}f-${MEM_MB}mb-${MEM_DB_MB}db" "$MEM_FILES" "$MEM_MB" "$MEM_DB_MB")
        case_memory "$src"
    fi

    python3 "$REPORT" --rows "$ROWS" --targets "$TARGETS" --meta "$META" --out "$OUT/results.md"
    log "table written to $OUT/results.md"
    if has_case 6; then
        if [[ "$LB_OK" == 1 ]]; then
            LB="$LB" bash "$BENCH_DIR/offsite.sh" || { FAILED=$((FAILED + 1)); log "FAILED: offsite case (bench/offsite.sh)"; }
        else
            log "case 6 (offsite) needs lifeboat: skipped"
        fi
    fi
    if ((FAILED > 0)); then
        die "$FAILED measurement(s) failed; see the log above"
    fi
}

main "$@"
