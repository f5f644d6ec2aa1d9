#!/usr/bin/env bash
# make reproduce: the longer CPU presets behind the quality figures in
# benchmarks/RESULTS.md, written to runs/reproduce/ with summary.json.
# Roughly 30 min (BYOL fmnist-reproduce) + 10 min (HuBERT cpu-reproduce)
# + the data2vec runs on 2 idle CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUNS=${RUNS:-runs/reproduce}
export SSLPIPE=${SSLPIPE:-bin/sslpipe}
mkdir -p "$RUNS"
t0=$(date +%s)
PRESET=fmnist-reproduce PROBES="knn linear" scripts/demo/image.sh
PRESET=cpu-reproduce ITER2=1 scripts/demo/audio.sh
PRESETS=reproduce scripts/demo/data2vec.sh
"$SSLPIPE" summary "$RUNS/summary.json"
echo "make reproduce: done in $(( $(date +%s) - t0 )) s"
