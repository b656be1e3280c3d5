#!/usr/bin/env bash
# Draws Lifeboat's icons with ImageMagick: a lifebuoy ring, coloured per tray state,
# with a centre mark so the state reads without colour too. Run from icons/.
set -euo pipefail
S=256            # drawn at 256 px, scaled down
ring() {         # ring <colour> <stripe colour> <out>
  local colour=$1 stripe=$2 out=$3
  convert -size ${S}x${S} xc:"$colour" -stroke "$stripe" -strokewidth 52 \
    -draw "line 0,0 $S,$S" -draw "line $S,0 0,$S" /tmp/lb-pattern.png
  convert -size ${S}x${S} xc:black -fill white -draw "circle 128,128 128,6" \
    -fill black -draw "circle 128,128 128,70" /tmp/lb-mask.png
  convert /tmp/lb-pattern.png /tmp/lb-mask.png -alpha off -compose CopyOpacity -composite \
    -fill none -stroke '#1d2733' -strokewidth 6 -draw "circle 128,128 128,6" -draw "circle 128,128 128,70" "$out"
}
mark() {         # mark <in> <out> <draw commands...>
  local in=$1 out=$2; shift 2
  convert "$in" -stroke none "$@" "$out"
}
ring '#2e9d5b' white /tmp/lb-ok.png
mark /tmp/lb-ok.png /tmp/lb-ok.png -fill '#2e9d5b' -draw "circle 128,128 128,108"
ring '#2f7fd6' white /tmp/lb-running.png
mark /tmp/lb-running.png /tmp/lb-running.png -fill '#2f7fd6' -draw "polygon 106,98 160,128 106,158"
ring '#d9412b' white /tmp/lb-attention.png
mark /tmp/lb-attention.png /tmp/lb-attention.png -fill '#d9412b' -draw "roundrectangle 118,84 138,140 6,6" \
  -draw "circle 128,160 128,171"
ring '#8a8f98' white /tmp/lb-paused.png
mark /tmp/lb-paused.png /tmp/lb-paused.png -fill '#5b616b' -draw "roundrectangle 104,94 122,162 4,4" \
  -draw "roundrectangle 134,94 152,162 4,4"
for state in ok running attention paused; do
  convert /tmp/lb-$state.png -resize 32x32 PNG32:tray-$state.png
  convert /tmp/lb-$state.png -resize 64x64 PNG32:tray-$state@2x.png
done
# The app icon: the classic red and white buoy on a rounded navy tile.
ring '#e8442f' white /tmp/lb-buoy.png
convert -size ${S}x${S} xc:none -fill '#1f3a5f' -draw "roundrectangle 8,8 248,248 48,48" \
  \( /tmp/lb-buoy.png -resize 200x200 \) -gravity center -composite PNG32:icon.png
convert icon.png -resize 32x32 PNG32:32x32.png
convert icon.png -resize 128x128 PNG32:128x128.png
convert icon.png -resize 256x256 PNG32:128x128@2x.png
cp icon.png 256x256.png
rm -f /tmp/lb-*.png
