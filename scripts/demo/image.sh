#!/usr/bin/env bash
# Image part of `make demo`: the product flow on Fashion-MNIST. `sslpipe
# preprocess` writes the 60,000 training and 10,000 test images as PNG
# shards (labels as .cls members; a rerun keeps finished shards), `sslpipe
# train` pretrains BYOL on the training shards without their labels, and
# `sslpipe eval` probes the test shards with weighted kNN (k=200, T=0.1)
# against the same ConvNet randomly initialized and raw pixels, adds the row
# to $RUNS/summary.json and prints the table and where the plots are.
#
#   scripts/demo/image.sh                       # preset fmnist-quick into runs/demo/byol
#   PRESET=fmnist-reproduce RUNS=runs/reproduce scripts/demo/image.sh
#   TRAIN_FLAGS="--steps 20" scripts/demo/image.sh   # a smoke run
#
# Environment: SSLPIPE (binary, default bin/sslpipe), RUNS (default
# runs/demo), DATA (preprocessed datasets, default data), PRESET (default fmnist-quick), TRAIN_FLAGS (extra flags for
# `sslpipe train`), PROBES (default "knn"; "knn linear" adds the linear
# probe, minutes more on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
RUNS=${RUNS:-runs/demo}
PRESET=${PRESET:-fmnist-quick}
PROBES=${PROBES:-knn}
DATA=${DATA:-data}
run="$RUNS/byol"
for split in train test; do
  "$SSLPIPE" preprocess --modality image --in "fashion-mnist:$split" --out "$DATA/fmnist-$split" --format png --quiet
done

# A re-run starts afresh: train refuses a folder that holds checkpoints.
rm -rf -- "$run"
mkdir -p "$RUNS"
start=$(date +%s)
# shellcheck disable=SC2086
"$SSLPIPE" train --method byol --preset "$PRESET" --data "$DATA/fmnist-train" --out "$run" ${TRAIN_FLAGS:-}
secs=$(( $(date +%s) - start ))

for probe in $PROBES; do
  "$SSLPIPE" eval --run "$run" --train "$DATA/fmnist-train" --test "$DATA/fmnist-test" \
    --probe "$probe" --summary "$RUNS/summary.json" --train-seconds "$secs" --quiet
done
echo
echo "Summary ($RUNS/summary.json):"
"$SSLPIPE" summary "$RUNS/summary.json"
echo
echo "Plots: $(ls "$run"/plots/*.png 2>/dev/null | tr '\n' ' ')"
