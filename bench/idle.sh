#!/usr/bin/env bash
# Idle cost of the tray app (case 9 of `make bench`; also alone: bash bench/idle.sh).
#
# Starts the configured release app hidden (as at login: `lifeboat-app --hidden`) under its
# own Xvfb, on a private session bus with a real tray panel (gtk-sni-tray-standalone
# --watcher) so the icon is shown as on a desktop, lets it settle, then over one window of
# time measures:
#   wakeups/min  voluntary + involuntary context switches of the app's threads
#                (/proc/PID/task/*/status, per thread, so a thread that ends does not
#                count negative; one that ends within the minute is not counted), per
#                minute: how often it takes the CPU out of idle
#   CPU          utime + stime of the process (/proc/PID/stat), as a share of one core
#   PSS          /proc/PID/smaps_rollup of the app and of its WebKit children
#                (WebKitWebProcess, WebKitNetworkProcess): memory charged to Lifeboat,
#                shared library pages split among the processes that map them; and USS
#                (private pages only), which other processes on the machine do not move
# in two states: "never opened" (hidden start) and "window closed" (the window opened by a
# second launch, as from the app menu, then closed with the window manager's close
# message, bench/xclose.py; the app then relaunches itself hidden, which this waits
# for), and also "window open" (PSS only, for scale).
# Writes bench/out/idle.md and idle.tsv, with pass or miss against the goal for the
# closed window (BENCH_IDLE_GOAL_MB, 60 MB PSS); exits 1 only when a measurement fails.
#
# Environment: APP (default $CARGO_TARGET_DIR or target, then release/lifeboat-app),
#   BENCH_IDLE_WAIT_SECS (600: settle time before each measurement),
#   BENCH_IDLE_MEASURE_SECS (60), BENCH_IDLE_GOAL_MB (60), BENCH_QUICK=1 (30 s settle,
#   20 s measure).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT="$BENCH_DIR/out"
APP=${APP:-${CARGO_TARGET_DIR:-$ROOT/target}/release/lifeboat-app}
if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
    WAIT=${BENCH_IDLE_WAIT_SECS:-30}; MEASURE=${BENCH_IDLE_MEASURE_SECS:-20}
else
    WAIT=${BENCH_IDLE_WAIT_SECS:-600}; MEASURE=${BENCH_IDLE_MEASURE_SECS:-60}
fi
GOAL_MB=${BENCH_IDLE_GOAL_MB:-60}
HZ=$(getconf CLK_TCK)

log() { printf '[idle %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ -x "$APP" ]] || die "$APP not found: build it with cargo build --release -p lifeboat-app"
for tool in Xvfb xdotool dbus-daemon python3; do command -v "$tool" >/dev/null || die "$tool is needed"; done

W=$(mktemp -d /tmp/lifeboat-idle.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    rm -rf "$W"
}
trap cleanup EXIT

# ------------------------------------------------------------- the session
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$W/display" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 1 50); do [[ -s "$W/display" ]] && break; sleep 0.1; done
export DISPLAY=":$(cat "$W/display")"
BUS=$(dbus-daemon --session --fork --print-address=1 --print-pid=3 3>"$W/bus.pid" | head -1)
PIDS+=("$(cat "$W/bus.pid")")
export DBUS_SESSION_BUS_ADDRESS=$BUS NO_AT_BRIDGE=1
if command -v gtk-sni-tray-standalone >/dev/null; then
    gtk-sni-tray-standalone --watcher --bottom >/dev/null 2>&1 &
    PIDS+=($!)
    panel="gtk-sni-tray-standalone"
else
    panel="none (the no-tray notice marked as shown)"
fi

# A small configured source: a SQLite database and a folder of files.
src="$W/App Data"; dest="$W/drive/backups"
mkdir -p "$src/files" "$dest" "$W/home/.config" "$W/home/runtime" "$W/data"
chmod 700 "$W/home/runtime"
python3 - "$src" <<'PY'
import os, sqlite3, sys
src = sys.argv[1]
db = sqlite3.connect(os.path.join(src, "app.db"))
db.execute("create table t (id integer primary key, body blob)")
db.executemany("insert into t (body) values (?)", [(os.urandom(2000),) for _ in range(2000)])
db.commit()
for i in range(200):
    with open(os.path.join(src, "files", f"f{i}.bin"), "wb") as f:
        f.write(os.urandom(20000))
PY
printf 'shown\n' > "$W/data/background-notice-shown"
cat > "$W/config.toml" <<TOML
[[profile]]
name = "Idle"
source = "$src"
include = ["app.db", "files"]
destination = "$dest"
every_hours = 12
keep = 2
TOML
export HOME="$W/home" XDG_CONFIG_HOME="$W/home/.config" XDG_RUNTIME_DIR="$W/home/runtime" \
    LIFEBOAT_CONFIG="$W/config.toml" LIFEBOAT_DATA_DIR="$W/data"
unset LIFEBOAT_TICK_SECS

# ------------------------------------------------------------- measuring
children() { # WebKit processes whose parent is $1
    local p comm ppid
    for p in /proc/[0-9]*; do
        comm=$(cat "$p/comm" 2>/dev/null) || continue
        [[ "$comm" == WebKit* ]] || continue
        ppid=$(awk '{print $4}' "$p/stat" 2>/dev/null) || continue
        [[ "$ppid" == "$1" ]] && echo "${p#/proc/}"
    done
    return 0
}
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
# USS: pages only this process maps (private); unlike PSS it does not move when other
# processes that map the same libraries (another WebKit app, a test run) come and go.
uss_kib() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
switches() { # "TID COUNT" per thread: its voluntary + involuntary context switches
    local t
    for t in /proc/"$1"/task/*; do
        awk -v tid="${t##*/}" '/^(voluntary|nonvoluntary)_ctxt_switches:/ {s += $2} END {print tid, s + 0}' \
            "$t/status" 2>/dev/null || true
    done
}
switch_delta() { # switches between two samples: threads seen in the second, from 0 if new
    awk 'NR == FNR {before[$1] = $2; next} {d += $2 - (($1 in before) ? before[$1] : 0)} END {print d + 0}' "$1" "$2"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

ROWS=()
measure() { # measure STATE PID SETTLE
    local state=$1 pid=$2 settle=$3
    log "$state: settling for $settle s"
    sleep "$settle"
    kill -0 "$pid" || die "the app exited"
    local c0 c1
    switches "$pid" > "$W/switches.0"; c0=$(cpu_ticks "$pid")
    log "$state: measuring for $MEASURE s"
    sleep "$MEASURE"
    switches "$pid" > "$W/switches.1"; c1=$(cpu_ticks "$pid")
    local app_pss app_uss kids="" kid_pss=0 kid_uss=0 k name
    app_pss=$(pss_kib "$pid"); app_uss=$(uss_kib "$pid")
    for k in $(children "$pid"); do
        name=$(cat "/proc/$k/comm"); kids+="$name $(mb "$(pss_kib "$k")") MB; "
        kid_pss=$((kid_pss + $(pss_kib "$k"))); kid_uss=$((kid_uss + $(uss_kib "$k")))
    done
    local wake cpu total
    wake=$(awk -v d="$(switch_delta "$W/switches.0" "$W/switches.1")" -v t="$MEASURE" 'BEGIN {printf "%.0f", d * 60 / t}')
    cpu=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v t="$MEASURE" 'BEGIN {printf "%.3f", d / hz / t * 100}')
    total=$((app_pss + kid_pss))
    # Where the app's PSS is: the largest mappings (anonymous ones as [anon]).
    mkdir -p "$OUT"
    awk '/^[0-9a-f]+-[0-9a-f]+ / {name = $6; if (name == "") name = "[anon]"} /^Pss:/ {pss[name] += $2}
         END {for (n in pss) printf "%8d kB  %s\n", pss[n], n}' "/proc/$pid/smaps" | sort -rn | awk 'NR <= 15' \
        > "$OUT/idle-maps-${state// /-}.txt"
    log "$state: $wake wakeups/min, CPU $cpu %, PSS app $(mb "$app_pss") MB + children $(mb "$kid_pss") MB = $(mb "$total") MB (${kids:-no WebKit process}); USS $(mb $((app_uss + kid_uss))) MB"
    ROWS+=("$state	$wake	$cpu	$(mb "$app_pss")	$(mb "$kid_pss")	$(mb "$total")	$(mb $((app_uss + kid_uss)))	${kids:-none}")
}

"$APP" --hidden >"$W/app.out" 2>"$W/app.err" &
APP_PID=$!
PIDS+=("$APP_PID")
log "app $APP_PID started hidden; panel: $panel; display $DISPLAY"
for _ in $(seq 1 600); do
    compgen -G "$dest/backup_*" >/dev/null && break
    kill -0 "$APP_PID" || die "the app exited: $(cat "$W/app.err")"
    sleep 0.1
done
compgen -G "$dest/backup_*" >/dev/null || die "no startup backup after 60 s"
[[ -z "$(children "$APP_PID")" ]] || die "a hidden start has a WebKit process"

measure "never opened" "$APP_PID" "$WAIT"

# Open the window as from the app menu (a second launch), then close it.
"$APP" >/dev/null 2>&1
win=""
for _ in $(seq 1 300); do
    win=$(xdotool search --all --onlyvisible --pid "$APP_PID" --name '^Lifeboat$' 2>/dev/null | head -1 || true)
    [[ -n "$win" ]] && break
    sleep 0.1
done
[[ -n "$win" ]] || die "a second launch showed no window"
sleep 10 # the page loads and asks for its data
open_pss=$(pss_kib "$APP_PID"); for k in $(children "$APP_PID"); do open_pss=$((open_pss + $(pss_kib "$k"))); done
log "window open: PSS $(mb "$open_pss") MB (app and WebKit children)"
open_uss=$(uss_kib "$APP_PID"); for k in $(children "$APP_PID"); do open_uss=$((open_uss + $(uss_kib "$k"))); done
ROWS+=("window open	-	-	-	-	$(mb "$open_pss")	$(mb "$open_uss")	-")
python3 "$BENCH_DIR/xclose.py" "$win"
for _ in $(seq 1 100); do
    [[ -z "$(xdotool search --all --onlyvisible --pid "$APP_PID" --name '^Lifeboat$' 2>/dev/null || true)" ]] && break
    sleep 0.1
done
kill -0 "$APP_PID" || die "closing the window ended the app"
# Once closed for LIFEBOAT_RELAUNCH_AFTER_SECS (30 s) with nothing running, the app
# re-executes itself hidden (src-tauri/src/relaunch.rs): same pid, WebKit's memory gone.
relaunched=no
for _ in $(seq 1 1200); do
    if grep -qs "relaunching hidden" "$W"/data/logs/*; then relaunched=yes; break; fi
    sleep 0.1
done
kill -0 "$APP_PID" || die "the relaunch ended the app"
log "relaunched hidden after the close: $relaunched"

measure "window closed" "$APP_PID" "$WAIT"

mkdir -p "$OUT"
{
    printf 'state\twakeups_per_min\tcpu_percent\tapp_pss_mb\twebkit_pss_mb\ttotal_pss_mb\ttotal_uss_mb\twebkit\n'
    printf '%s\n' "${ROWS[@]}"
} > "$OUT/idle.tsv"
{
    echo "### Idle cost of the tray app ($(date -u +%Y-%m-%d), settle ${WAIT} s, measured over ${MEASURE} s)"
    echo
    echo "Release \`lifeboat-app --hidden\`, Xvfb, panel: $panel, scheduler tick 60 s."
    echo "After the window closed, the app relaunched itself hidden: $relaunched."
    echo
    echo "| state | wakeups/min | CPU | PSS app | PSS WebKit | PSS total | USS total |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for r in "${ROWS[@]}"; do
        IFS=$'\t' read -r st wk cpu app kid tot uss _ <<<"$r"
        if [[ "$wk" == - ]]; then echo "| $st | | | | | $tot MB | $uss MB |"; else echo "| $st | $wk | $cpu % | $app MB | $kid MB | **$tot MB** | $uss MB |"; fi
    done
} > "$OUT/idle.md"
cat "$OUT/idle.md"
closed=$(awk -F'\t' '$1 == "window closed" {print $6}' "$OUT/idle.tsv")
if awk -v c="$closed" -v g="$GOAL_MB" 'BEGIN {exit !(c > g)}'; then verdict=miss; else verdict=pass; fi
printf '\nGoal: under %s MB PSS with the window closed: %s MB, **%s**.\n' "$GOAL_MB" "$closed" "$verdict" | tee -a "$OUT/idle.md"
