#!/bin/sh
# Dev only: screenshots of the preview in each state, at the window's default size.
# Usage: [HEIGHT=1600] ui/dev/shoot.sh [OUT_DIR]  (default /tmp/lifeboat-shots; a tall
# HEIGHT shows whole pages). Needs Debian's chromium.
set -eu
out=${1:-/tmp/lifeboat-shots}
mkdir -p "$out"
page="file://$(cd "$(dirname "$0")" && pwd)/preview.html"
shot() { # NAME QUERY [extra chromium flags...]
  name=$1 query=$2
  shift 2
  profile=$(mktemp -d)
  # --allow-file-access-from-files: ES modules do not load from file:// otherwise.
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --allow-file-access-from-files --user-data-dir="$profile" --window-size=420,"${HEIGHT:-640}" \
    --hide-scrollbars --virtual-time-budget=6000 "$@" \
    --screenshot="$out/$name.png" "$page?$query" >/dev/null 2>&1
  rm -rf "$profile"
  echo "$out/$name.png"
}
shot protected "state=protected"
shot dark "state=protected" --force-dark-mode
shot setup "state=setup"
shot backing-up "state=backing_up"
shot needs-attention "state=needs_attention"
shot paused "state=paused"
shot verified "do=verify"
shot restore-confirm "do=restore"
shot restore-done "do=restored"
shot browse "do=browse"
shot restore-selected "do=restore-selected"
shot restoring "do=restored&slow"
shot backup-clicked "do=backup&slow"
shot pause-menu "do=pause-menu"
shot activity "tab=activity"
shot settings "tab=settings"
shot settings-error "do=save-error"
shot setup-dark "state=setup" --force-dark-mode
shot setup-error "state=setup&do=setup-error"
shot setup-done "state=setup&do=setup" --virtual-time-budget=10000
shot advanced "do=advanced"
