#!/usr/bin/env bash
# Audio part of `make demo`: HuBERT through the product flow. espeak-ng
# speech (sslpipe speechdata), `sslpipe preprocess` of the pretraining
# utterances into shards with MFCC k-means labels (k=100, the HuBERT
# iteration-1 targets) and of the held-out utterances with the same
# codebook, `sslpipe train --method hubert` on the shards, then `sslpipe
# eval` of spoken digits (held-out voices) against the same model randomly
# initialized and the mean MFCC, adding the row to $RUNS/summary.json.
#
#   scripts/demo/audio.sh                                   # cpu-small into runs/demo/hubert
#   PRESET=cpu-reproduce RUNS=runs/reproduce scripts/demo/audio.sh
#   ITER2=1 scripts/demo/audio.sh                           # also iteration 2 (k=100 on the last block)
#
# Environment: SSLPIPE (default bin/sslpipe), RUNS (runs/demo), DATA
# (data/speech), PRESET (cpu-small), TRAIN_FLAGS (extra flags for
# `sslpipe train`).
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
RUNS=${RUNS:-runs/demo}
DATA=${DATA:-data/speech}
PRESET=${PRESET:-cpu-small}
run="$RUNS/hubert"
mkdir -p "$RUNS"

# Same seed, same files: regenerate only when missing; preprocess keeps
# finished shards on a rerun.
[ -f "$DATA/speechdata.json" ] || "$SSLPIPE" speechdata --out "$DATA"
"$SSLPIPE" preprocess --modality audio --in "$DATA/pretrain/train" --out "$DATA/shards-train" \
  --features mfcc --deltas --kmeans 100 --kmeans-fraction 0.5 --quiet
"$SSLPIPE" preprocess --modality audio --in "$DATA/pretrain/valid" --out "$DATA/shards-valid" \
  --features mfcc --deltas --kmeans-from "$DATA/shards-train/kmeans.model" --quiet
rm -rf -- "$run"
# shellcheck disable=SC2086
"$SSLPIPE" train --method hubert --preset "$PRESET" --data "$DATA/shards-train" --valid "$DATA/shards-valid" --out "$run" ${TRAIN_FLAGS:-}
if [ "${ITER2:-0}" = 1 ]; then
  layers=$("$SSLPIPE" train --resume "$run" --print-config | awk '/^    layers:/ {print $2; exit}')
  rm -rf -- "$DATA/labels-it2" "$DATA/labels-valid-it2" "$run-it2"
  "$SSLPIPE" hubert labels --data "$DATA/shards-train" --from-run "$run" --layer "$layers" --kmeans 100 --fraction 0.5 --out "$DATA/labels-it2"
  "$SSLPIPE" hubert labels --data "$DATA/shards-valid" --from-run "$run" --layer "$layers" --codebook "$DATA/labels-it2/kmeans.model" --out "$DATA/labels-valid-it2"
  # shellcheck disable=SC2086
  "$SSLPIPE" train --method hubert --preset "$PRESET" --data "$DATA/shards-train" --labels "$DATA/labels-it2" \
    --valid "$DATA/shards-valid" --valid-labels "$DATA/labels-valid-it2" --out "$run-it2" ${TRAIN_FLAGS:-}
  run="$run-it2"
fi
for probe in linear knn; do
  "$SSLPIPE" eval --run "$run" --train "$DATA/digits/train" --test "$DATA/digits/test" --probe "$probe" --k 20 --t 0.07 \
    --summary "$RUNS/summary.json" --quiet
done
echo "masked-prediction accuracy on held-out speech ($run/metrics.jsonl; chance 0.01):"
grep val_acc_m "$run/metrics.jsonl" | sed -E 's/.*"step":([0-9]+).*/\0/' | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    print("  step %d: %.3f" % (m["step"], m["val_acc_m"]))' || true
