#!/usr/bin/env bash
# Builds Lifeboat's Debian package with dpkg-deb over a staged tree (no bundler to fetch):
# the release binaries `lifeboat-app` (the tray app) and `lifeboat` (the CLI), the desktop
# entry and the hicolor icons. Dependencies come from dpkg-shlibdeps, plus the tray library
# the app loads at run time (libayatana-appindicator3-1, dlopen'ed, so not seen in ELF).
#
# Usage: scripts/package-deb.sh [OUT_DIR]   (default: $CARGO_TARGET_DIR or target/, then deb/)
#   LIFEBOAT_DEB_NO_BUILD=1  package the release binaries already built, build nothing
# Prints the path of the .deb on its last line.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
out=${1:-$target/deb}
cargo=${CARGO:-cargo}

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$root/Cargo.toml")
arch=$(dpkg --print-architecture)
[ -n "$version" ] || { echo "package-deb: no version in Cargo.toml" >&2; exit 1; }

if [ "${LIFEBOAT_DEB_NO_BUILD:-0}" != 1 ]; then
  (cd "$root" && $cargo build --release -p lifeboat-app -p lifeboat --bins)
fi
for bin in lifeboat-app lifeboat; do
  [ -x "$target/release/$bin" ] || { echo "package-deb: $target/release/$bin not built" >&2; exit 1; }
done

stage="$out/stage/lifeboat_${version}_${arch}"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"
install -Dm755 "$target/release/lifeboat-app" "$stage/usr/bin/lifeboat-app"
install -Dm755 "$target/release/lifeboat" "$stage/usr/bin/lifeboat"
strip --strip-unneeded "$stage/usr/bin/lifeboat-app" "$stage/usr/bin/lifeboat"
install -Dm644 "$root/packaging/linux/lifeboat-app.desktop" "$stage/usr/share/applications/lifeboat-app.desktop"
install -Dm644 "$root/icons/32x32.png" "$stage/usr/share/icons/hicolor/32x32/apps/lifeboat-app.png"
install -Dm644 "$root/icons/128x128.png" "$stage/usr/share/icons/hicolor/128x128/apps/lifeboat-app.png"
install -Dm644 "$root/icons/256x256.png" "$stage/usr/share/icons/hicolor/256x256/apps/lifeboat-app.png"
install -Dm644 /dev/stdin "$stage/usr/share/doc/lifeboat/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Lifeboat
License: MIT
COPYRIGHT

# dpkg-shlibdeps wants a debian/control beside it; give it one in a scratch folder.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/debian"
printf 'Source: lifeboat\n\nPackage: lifeboat\nArchitecture: any\n' > "$scratch/debian/control"
shlibs=$(cd "$scratch" && dpkg-shlibdeps -O "$stage/usr/bin/lifeboat-app" "$stage/usr/bin/lifeboat" 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: lifeboat
Version: $version
Architecture: $arch
Maintainer: Lifeboat developers <lifeboat@localhost>
Installed-Size: $size
Depends: $shlibs, libayatana-appindicator3-1
Section: utils
Priority: optional
Description: rolling, restorable backups of an app's database and folders
 Lifeboat backs up an application's SQLite database and asset folders to a
 drive on a schedule, from a tray app (lifeboat-app) or the command line
 (lifeboat), and restores a whole backup or single files with a preview.
CONTROL

deb="$out/lifeboat_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "$deb"
