#!/usr/bin/env bash
# Audio part of `make demo` (issue 9):
# generate the espeak-ng speech sets, MFCC k-means labels (k=100), pretrain
# HuBERT, probe spoken digits with held-out voices against the same model
# randomly initialized and mean MFCC, add the row to $RUNS/summary.json and
# print the table and the masked-accuracy curve.
#
#   scripts/demo/audio.sh                                   # cpu-small into runs/demo/hubert (~2 min on 2 idle cores)
#   PRESET=cpu-reproduce RUNS=runs/reproduce scripts/demo/audio.sh
#   ITER2=1 scripts/demo/audio.sh                           # also iteration 2 (k=100 on the last block)
#
# Environment: SSLPIPE (default bin/sslpipe; the cgo build or the pure-Go
# one with sslpipe-torch beside it), RUNS (runs/demo), DATA (data/speech),
# PRESET (cpu-small), TRAIN_FLAGS (extra flags for `sslpipe hubert train`).
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
RUNS=${RUNS:-runs/demo}
DATA=${DATA:-data/speech}
PRESET=${PRESET:-cpu-small}
run="$RUNS/hubert"
mkdir -p "$RUNS"

# Same seed, same files: regenerate only when missing.
[ -f "$DATA/speechdata.json" ] || "$SSLPIPE" speechdata --out "$DATA"
"$SSLPIPE" hubert labels --data "$DATA/pretrain" --out "$RUNS/hubert-labels" --kmeans 100 --fraction 0.5
rm -rf -- "$run"
# shellcheck disable=SC2086
"$SSLPIPE" hubert train --preset "$PRESET" --data "$DATA/pretrain" --labels "$RUNS/hubert-labels" --dir "$run" ${TRAIN_FLAGS:-}
layers=$("$SSLPIPE" hubert train --preset "$PRESET" --print-config | awk '/^    layers:/ {print $2; exit}')
if [ "${ITER2:-0}" = 1 ]; then
	"$SSLPIPE" hubert labels --data "$DATA/pretrain" --out "$RUNS/hubert-labels-it2" --kmeans-features-from "$run" --layer "$layers" --kmeans 100 --fraction 0.5
	rm -rf -- "$run-it2"
	# shellcheck disable=SC2086
	"$SSLPIPE" hubert train --preset "$PRESET" --data "$DATA/pretrain" --labels "$RUNS/hubert-labels-it2" --dir "$run-it2" ${TRAIN_FLAGS:-}
	run="$run-it2"
fi
"$SSLPIPE" hubert probe --run "$run" --train "$DATA/digits/train" --test "$DATA/digits/test" --summary "$RUNS/summary.json"
echo "masked-prediction accuracy on held-out speech ($run/metrics.jsonl; chance 0.01):"
grep val_acc_m "$run/metrics.jsonl" | sed -E 's/.*"step":([0-9]+),.*"val_acc_m":([0-9.]+),.*/  step \1: \2/' 
