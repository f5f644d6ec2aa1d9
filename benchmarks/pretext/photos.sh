#!/usr/bin/env bash
# Colour training images for the colorization comparison: Fashion-MNIST is
# gray (every pixel's ab is 0, one bin: nothing to predict), so colorization
# trains on the nine natural colour photos that Debian's python3-skimage
# ships (skimage.data: astronaut, chelsea, coffee, hubble_deep_field, ihc,
# motorcycle_left/right, retina, rocket), each listed COPIES times in a
# manifest and shrunk to a shorter side of 96 px by `sslpipe preprocess`;
# the method's random crops (scale 0.1-0.6, resized to 28 px) make the
# samples differ. Usage: benchmarks/pretext/photos.sh OUT [COPIES]
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
out=${1:?usage: photos.sh OUT [COPIES]}
copies=${2:-120}
src=${SKIMAGE_DATA:-/usr/lib/python3/dist-packages/skimage/data}
photos="astronaut.png chelsea.png coffee.png hubble_deep_field.jpg ihc.png motorcycle_left.png motorcycle_right.png retina.jpg rocket.jpg"
for f in $photos; do
  [ -f "$src/$f" ] || { echo "photos.sh: $src/$f missing (install python3-skimage or set SKIMAGE_DATA)" >&2; exit 1; }
done
mkdir -p "$out.list"
list="$out.list/photos.csv"
{ echo path; for _ in $(seq "$copies"); do for f in $photos; do echo "$src/$f"; done; done; } > "$list"
"$SSLPIPE" preprocess --modality image --in "$list" --out "$out" --format png --max-side 96 --quiet
