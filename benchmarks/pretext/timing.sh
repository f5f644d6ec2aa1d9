#!/usr/bin/env bash
# CPU seconds per training step of each method in the pretext comparison,
# from the process's user+system time (GNU time) of a 10-step and a 40-step
# run: (cpu40 - cpu10) / 30 excludes start-up (data opening, the jigsaw
# permutations, colorization's rebalancing pass). CPU time, not wall time,
# because the machine may be shared: the presets use one libtorch thread and
# one decoding worker, so on 2 idle cores the wall time is about the CPU
# time. Prints "method preset cpu_s_per_step steps_in_600s".
#
# sop: the first 40 steps all have pairs, so its figure is per real step;
# the presets count the empty steps of the sequences without a pair too
# (about 57% of the fortunes steps), and were sized from whole runs
# (train/sop/config.go, benchmarks/text/EXPERIMENTS.md).
#
# Environment: SSLPIPE_TORCH (bin/sslpipe-torch), DATA (data: fmnist-train
# and photos from benchmarks/pretext/photos.sh), TEXT (the fortunes text
# shards of scripts/demo/pretext.sh, for sop; skipped when absent), OUT
# (scratch folder), BUDGET (CPU seconds, 600).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${SSLPIPE_TORCH:-bin/sslpipe-torch}
DATA=${DATA:-data}
OUT=${OUT:-/tmp/pretext-timing}
BUDGET=${BUDGET:-600}
TEXT=${TEXT:-}
mkdir -p "$OUT"
cpu() { # method preset data steps -> CPU seconds
  local d="$OUT/$1-$4"
  rm -rf -- "$d"
  /usr/bin/time -f "%U %S" -o "$d.time" "$BIN" train --method "$1" --preset "$2" --data "$3" --out "$d" --steps "$4" --quiet --checkpoint-every 0 >/dev/null
  awk '{print $1 + $2}' "$d.time"
}
runs=(
  "rotation fmnist $DATA/fmnist-train"
  "jigsaw fmnist $DATA/fmnist-train"
  "inpainting fmnist $DATA/fmnist-train"
  "colorization photos28 $DATA/photos"
  "byol fmnist-reproduce $DATA/fmnist-train"
)
[ -n "$TEXT" ] && runs+=("sop fortunes $TEXT")
for r in "${runs[@]}"; do
  read -r m p d <<<"$r"
  a=$(cpu "$m" "$p" "$d" 10)
  b=$(cpu "$m" "$p" "$d" 40)
  awk -v m="$m" -v p="$p" -v a="$a" -v b="$b" -v B="$BUDGET" 'BEGIN { s = (b - a) / 30; printf "%s %s %.3f %d\n", m, p, s, int(B / s) }'
done
