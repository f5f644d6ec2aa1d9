#!/usr/bin/env bash
# The Fashion-MNIST comparison of the image methods (issue 18): every
# method trained with the same CPU budget (preset fmnist-reproduce: at most
# 30 minutes of training on 2 idle cores each; step counts and the timing
# they come from in benchmarks/imgmethods/EXPERIMENTS.md) and probed with
# the same protocol by `sslpipe eval` on the preprocessed 60,000 training /
# 10,000 test images: weighted kNN (k=200, T=0.1) and the linear probe,
# each against the method's network randomly initialized and raw pixels,
# one row per method and probe in $RUNS/summary.json.
#
#   scripts/demo/imgmethods.sh                          # all five, ~3 h on 2 idle cores
#   METHODS="simclr dino" scripts/demo/imgmethods.sh    # some of them
#   TRAIN_FLAGS="--steps 20" PROBES=knn scripts/demo/imgmethods.sh   # a smoke run
#
# Environment: SSLPIPE (default bin/sslpipe), RUNS (default
# runs/reproduce), DATA (preprocessed datasets, default data), METHODS
# (default "byol simclr simsiam dino mocov3"), PRESET (default
# fmnist-reproduce), TRAIN_FLAGS (extra flags for `sslpipe train`),
# PROBES (default "knn linear").
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
RUNS=${RUNS:-runs/reproduce}
DATA=${DATA:-data}
METHODS=${METHODS:-byol simclr simsiam dino mocov3}
PRESET=${PRESET:-fmnist-reproduce}
PROBES=${PROBES:-knn linear}
for split in train test; do
  "$SSLPIPE" preprocess --modality image --in "fashion-mnist:$split" --out "$DATA/fmnist-$split" --format png --quiet
done
mkdir -p "$RUNS"
for m in $METHODS; do
  run="$RUNS/img-$m"
  # A re-run starts afresh: train refuses a folder that holds checkpoints.
  rm -rf -- "$run"
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$SSLPIPE" train --method "$m" --preset "$PRESET" --data "$DATA/fmnist-train" --out "$run" ${TRAIN_FLAGS:-}
  secs=$(( $(date +%s) - start ))
  for probe in $PROBES; do
    "$SSLPIPE" eval --run "$run" --train "$DATA/fmnist-train" --test "$DATA/fmnist-test" \
      --probe "$probe" --summary "$RUNS/summary.json" --train-seconds "$secs" --quiet
  done
done
echo
echo "Summary ($RUNS/summary.json):"
"$SSLPIPE" summary "$RUNS/summary.json"
