#!/usr/bin/env bash
# make demo: sslpipe's main job end to end, on data that ships with Debian
# (Fashion-MNIST, fortunes) or is made here (espeak-ng speech), no network:
#   1. check libtorch and train a tiny MLP (sslpipe doctor --smoke)
#   2. image: BYOL on Fashion-MNIST, kNN probe vs random init and raw pixels
#   3. audio: espeak-ng speech, MFCC k-means targets, HuBERT, spoken-digit probe
#   4. data2vec on text, images and audio, each probed against its baselines
# and writes runs/demo/summary.json, printed as a table at the end. About
# 7-8 minutes on 2 idle CPU cores; a GPU is used when one is present.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUNS=${RUNS:-runs/demo}
export SSLPIPE=${SSLPIPE:-bin/sslpipe}
mkdir -p "$RUNS"
rm -f "$RUNS/summary.json"
t0=$(date +%s)
part() { printf '\n== %s (%ds) ==\n' "$*" $(( $(date +%s) - t0 )); }

part "libtorch"
"$SSLPIPE" doctor --smoke
part "image: BYOL on Fashion-MNIST"
scripts/demo/image.sh
part "audio: HuBERT on espeak-ng speech"
scripts/demo/audio.sh
part "data2vec: text, images, audio"
scripts/demo/data2vec.sh
part "summary"
"$SSLPIPE" summary "$RUNS/summary.json"
echo
echo "make demo: done in $(( $(date +%s) - t0 )) s; runs, metrics and plots under $RUNS/"
