#!/usr/bin/env bash
# make reproduce: the longer CPU presets behind the quality figures in
# benchmarks/RESULTS.md, written to runs/reproduce/ with summary.json.
# Roughly 30 min (BYOL fmnist-reproduce) + 10 min (HuBERT cpu-reproduce)
# + the data2vec runs + the image-method comparison (~35 min) + the
# pretext tasks (~40 min) + data2vec 2.0 against v1 and data2vec2's
# text-cpu-64 (~50 min), on 2 idle CPU cores.
# The pretext and data2vec 2.0 rows go to their own summary.json under
# runs/reproduce/pretext and runs/reproduce/data2vec2.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUNS=${RUNS:-runs/reproduce}
export SSLPIPE=${SSLPIPE:-bin/sslpipe}
mkdir -p "$RUNS"
t0=$(date +%s)
PRESET=fmnist-reproduce PROBES="knn linear" scripts/demo/image.sh
PRESET=cpu-reproduce ITER2=1 scripts/demo/audio.sh
PRESETS=reproduce scripts/demo/data2vec.sh
BUDGET=900 scripts/demo/imgmethods.sh
RUNS="$RUNS/pretext" scripts/demo/pretext.sh
TEXT_LONG=1 RUNS="$RUNS/data2vec2" scripts/demo/data2vec2.sh
"$SSLPIPE" summary "$RUNS/summary.json"
echo "make reproduce: done in $(( $(date +%s) - t0 )) s"
