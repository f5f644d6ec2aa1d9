#!/usr/bin/env bash
# The Fashion-MNIST comparison of the image methods: SimCLR, SimSiam, DINO
# and MoCo v3 (and BYOL, whose fmnist-reproduce figure is in
# benchmarks/RESULTS.md) trained on the preprocessed 60,000 training images
# with the same CPU budget, then probed with the same protocol by
# `sslpipe eval`: weighted kNN (k=200, T=0.1) on all 60,000 / 10,000 images
# and the linear probe, each against the method's network randomly
# initialized and raw pixels, one row per method and probe in
# $RUNS/summary.json.
#
# Each method runs its fmnist-reproduce preset (BYOL's fmnist ConvNet with
# a 4x4 pooled grid, crops 0.4-1, the method's loss and optimizer; the
# config of benchmarks/imgmethods/configs/<method>-p1.yaml with pool 4)
# on one libtorch thread, JOBS runs at a time, for the number of steps that
# fits BUDGET CPU seconds at its measured CPU cost per step (the table
# below: `/usr/bin/time` of `sslpipe train --method M --preset
# fmnist-reproduce --steps 40 --threads 1 --workers 1`, user + system / 40,
# 2-core VM, 2026-12-06, revision e696bad, with train.TuneAllocator's
# malloc settings; before them the same runs cost 1.03, 0.75, 1.32 and
# 2.64 s). The train time in the
# summary is the run's process CPU time (user + system): on a shared
# machine it is the idle-equivalent cost.
#
#   scripts/demo/imgmethods.sh                          # all four, ~45 min on 2 idle cores
#   METHODS="simclr dino" scripts/demo/imgmethods.sh    # some of them
#   BUDGET=60 PROBES=knn scripts/demo/imgmethods.sh     # a smoke run
#
# Environment: SSLPIPE (default bin/sslpipe), RUNS (default
# runs/reproduce), DATA (preprocessed datasets, default data), METHODS
# (default "simclr simsiam mocov3 dino"), BUDGET (CPU seconds per method,
# default 1200), JOBS (default 2), TRAIN_FLAGS (extra flags for `sslpipe
# train`), PROBES (default "knn linear").
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
RUNS=${RUNS:-runs/reproduce}
DATA=${DATA:-data}
METHODS=${METHODS:-simclr simsiam mocov3 dino}
BUDGET=${BUDGET:-1200}
JOBS=${JOBS:-2}
PROBES=${PROBES:-knn linear}
# CPU seconds per step, one thread (see above).
cost() {
  case $1 in
    simclr) echo 0.55 ;;
    simsiam) echo 0.60 ;;
    mocov3) echo 0.91 ;;
    dino) echo 1.56 ;;
    *) echo "imgmethods: unknown method $1" >&2; return 2 ;;
  esac
}
for split in train test; do
  "$SSLPIPE" preprocess --modality image --in "fashion-mnist:$split" --out "$DATA/fmnist-$split" --format png --quiet
done
mkdir -p "$RUNS"
train() { # method
  local m=$1 steps run="$RUNS/img-$1"
  steps=$(awk -v b="$BUDGET" -v c="$(cost "$m")" 'BEGIN { printf "%d", b / c }')
  # A re-run starts afresh: train refuses a folder that holds checkpoints.
  rm -rf -- "$run"
  # shellcheck disable=SC2086
  "$SSLPIPE" train --method "$m" --preset fmnist-reproduce --data "$DATA/fmnist-train" --out "$run" \
    --steps "$steps" --threads 1 --workers 1 --monitor-every 0 --quiet ${TRAIN_FLAGS:-} > "$run.log" 2>&1 ||
    { echo "imgmethods: $m failed; see $run.log" >&2; return 1; }
  # times in a pipeline or $(...) would run in a subshell without children.
  times > "$run.times"
  awk 'function sec(s, a) { split(s, a, /[ms]/); return a[1] * 60 + a[2] } NR == 2 { print sec($1) + sec($2) }' "$run.times" > "$run.cpu"
}
pids=()
for m in $METHODS; do
  cost "$m" > /dev/null
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  train "$m" &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ $fail = 0 ]
for m in $METHODS; do
  for probe in $PROBES; do
    "$SSLPIPE" eval --run "$RUNS/img-$m" --train "$DATA/fmnist-train" --test "$DATA/fmnist-test" \
      --probe "$probe" --summary "$RUNS/summary.json" --method "$m" --train-seconds "$(cat "$RUNS/img-$m.cpu")" \
      --train-device "cpu, 1 thread (train time = CPU time)" --quiet
  done
done
echo
echo "Summary ($RUNS/summary.json):"
"$SSLPIPE" summary "$RUNS/summary.json"
