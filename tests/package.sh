#!/usr/bin/env bash
# The Debian package, as a user gets it: builds it (scripts/package-deb.sh) unless
# LIFEBOAT_DEB names one, checks its contents and metadata, checks every dependency is an
# installable Debian package, unpacks it into a scratch root (dpkg -x: the machine is left
# as it was) and starts the installed lifeboat-app under Xvfb on a private session bus with
# an empty HOME: its window ("Lifeboat", first-run setup) shows. The installed CLI runs.
# A screenshot goes to $CARGO_TARGET_DIR/package-screenshots/window.png.
#
# Usage: tests/package.sh      (make test runs it; needs xvfb, xdotool, imagemagick, dbus)
# Ends with "N passed, N failed".
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

deb=${LIFEBOAT_DEB:-}
if [ -z "$deb" ]; then
  deb=$("$root/scripts/package-deb.sh" | tail -1)
fi
[ -f "$deb" ] || { echo "package.sh: no package at '$deb'" >&2; exit 1; }
echo "package: $deb ($(du -h "$deb" | cut -f1))"

work=$(mktemp -d)
app_pid=""
bus_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# What is in it.
listing=$(dpkg-deb --contents "$deb")
for path in ./usr/bin/lifeboat-app ./usr/bin/lifeboat ./usr/share/applications/lifeboat-app.desktop \
  ./usr/share/icons/hicolor/32x32/apps/lifeboat-app.png ./usr/share/icons/hicolor/128x128/apps/lifeboat-app.png \
  ./usr/share/icons/hicolor/256x256/apps/lifeboat-app.png; do
  check "the package holds $path" grep -q " $path\$" <<<"$listing"
done
check "files are owned by root" bash -c '! grep -v " root/root " <<<"$1" | grep -q .' _ "$listing"
check "package name is lifeboat" test "$(dpkg-deb --field "$deb" Package)" = lifeboat
depends=$(dpkg-deb --field "$deb" Depends)
echo "Depends: $depends"
check "it depends on WebKitGTK" grep -q "libwebkit2gtk-4.1-0" <<<"$depends"
check "it depends on the tray library loaded at run time" grep -q "libayatana-appindicator3-1" <<<"$depends"
# Each dependency is a package Debian has (installed here, or known to apt).
for dep in $(tr ',' '\n' <<<"$depends" | sed 's/(.*)//; s/|.*//; s/ //g'); do
  if dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "install ok installed" \
    || apt-cache show "$dep" >/dev/null 2>&1; then
    ok "dependency $dep exists"
  else
    bad "dependency $dep is no Debian package"
  fi
done

# Unpack as dpkg would install it, into a scratch root.
inst="$work/root"
dpkg -x "$deb" "$inst"
entry="$inst/usr/share/applications/lifeboat-app.desktop"
if command -v desktop-file-validate >/dev/null; then
  check "the desktop entry is valid" desktop-file-validate "$entry"
fi
check "the desktop entry runs lifeboat-app" grep -qx "Exec=lifeboat-app" "$entry"
check "the desktop entry's icon is installed" grep -qx "Icon=lifeboat-app" "$entry"
version=$(dpkg-deb --field "$deb" Version)
check "the installed CLI runs and says its version" bash -c '"$1" --version | grep -q "$2"' _ "$inst/usr/bin/lifeboat" "$version"

# Start the installed app, as a first run, and see its window.
home="$work/home"
mkdir -p "$home/.config" "$home/.local/share" "$home/runtime"
chmod 700 "$home/runtime"
bus_address=$(dbus-daemon --session --fork --print-address=1 --print-pid=3 3>"$work/bus.pid" | head -1)
bus_pid=$(cat "$work/bus.pid")
HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" XDG_RUNTIME_DIR="$home/runtime" \
  DBUS_SESSION_BUS_ADDRESS="$bus_address" NO_AT_BRIDGE=1 \
  LIFEBOAT_CONFIG="$home/.config/lifeboat/config.toml" LIFEBOAT_DATA_DIR="$work/data" \
  "$inst/usr/bin/lifeboat-app" >"$work/app.out" 2>"$work/app.err" &
app_pid=$!
window=""
for _ in $(seq 1 120); do
  kill -0 "$app_pid" 2>/dev/null || break
  window=$(xdotool search --all --onlyvisible --pid "$app_pid" --name '^Lifeboat$' 2>/dev/null | head -1 || true)
  [ -n "$window" ] && break
  sleep 0.5
done
if [ -n "$window" ]; then
  ok "the installed app's window shows (X window $window)"
  shots="$target/package-screenshots"
  mkdir -p "$shots"
  sleep 2 # let the page paint for the picture
  import -window "$window" "$shots/window.png" && echo "screenshot: $shots/window.png"
else
  bad "the installed app's window did not show"
  cat "$work/app.err" >&2
fi
check "the installed app keeps running" kill -0 "$app_pid"

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
