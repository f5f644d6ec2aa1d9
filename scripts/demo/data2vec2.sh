#!/usr/bin/env bash
# data2vec 2.0 against data2vec (v1) at equal CPU budgets, per modality
# (text, image, audio): the same encoder size, data and probe; each
# method's "<modality>-cpu" preset, trained single-threaded (--threads 1
# --workers 1) side by side with its v1 counterpart, and the process CPU
# time (user + system) of each run as its budget: on a shared machine wall
# time depends on the load, the CPU time of a one-thread run hardly (it is
# the idle-equivalent time). data2vec2's CPU presets take v1's encoder
# sizes, data and steps.
#
# Each run checkpoints POINTS times; every checkpoint is probed, which
# gives accuracy against CPU seconds (benchmarks/data2vec2/cputrace.sh,
# ckptcpu.sh, curve.sh) and the CPU time 2.0 needs to reach v1's final
# accuracy (the first checkpoint at or above it: a conservative figure).
#
# Probes: text, the fortune categories (linear, encoder output: --layer
# = the encoder's depth; each fortune whole, pooled over windows of
# seq_len tokens by both methods); images, Fashion-MNIST kNN k=20 T=0.07 on a
# 10,000 / 2,000 subset (and k=200 T=0.1 on the full sets at the end);
# audio, spoken digits with held-out voices (linear, encoder output).
#
# Writes, under RUNS: data2vec2-vs-v1/ (runs, CPU traces, curves),
# data2vec2-vs-v1.md (the comparison table) and three rows per modality
# in summary.json: "data2vec v1 (equal CPU)", "data2vec2 (equal CPU)" and
# "data2vec2 (v1's score)", the first 2.0 checkpoint at or above v1's final
# accuracy; their train time is CPU time.
#
# Environment: SSLPIPE (default bin/sslpipe), RUNS (runs/demo), DATA
# (data), SPEECH (data/speech), FORTUNES (/usr/share/games/fortunes),
# MODALITIES ("text image audio"; empty: none), POINTS (8), TEXT_PRESET (data2vec2's
# text preset, default text-cpu; text-cpu-ln: layer-normalized targets for
# 4,000 steps, see benchmarks/text/EXPERIMENTS.md), TEXT_LONG (1: also the
# text-cpu-64 run and its k-fold probe against random init, below).
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
RUNS=${RUNS:-runs/demo}
DATA=${DATA:-data}
SPEECH=${SPEECH:-data/speech}
FORTUNES=${FORTUNES:-/usr/share/games/fortunes}
MODALITIES=${MODALITIES-text image audio}
POINTS=${POINTS:-8}
TEXT_PRESET=${TEXT_PRESET:-text-cpu}
B=benchmarks/data2vec2
OUT="$RUNS/data2vec2-vs-v1"
S="$RUNS/summary.json"
MD="$RUNS/data2vec2-vs-v1.md"
export SSLPIPE
mkdir -p "$OUT"

# fortunes: the fortunes in 32-token rows with their own tokenizer (data2vec
# v1 and 2.0's text-cpu presets; the text probe's tokenizer).
fortunes() {
  [ -f "$DATA/fortunes/manifest.json" ] || "$SSLPIPE" preprocess --modality text --in "$FORTUNES" --split fortune --invalid-utf8 replace \
    --train-tokenizer wordpiece --vocab 4000 --seq-len 32 --out "$DATA/fortunes" --quiet
}

for m in $MODALITIES; do
  case $m in
    image)
      for split in train test; do
        "$SSLPIPE" preprocess --modality image --in "fashion-mnist:$split" --out "$DATA/fmnist-$split" --format png --quiet
      done ;;
    audio)
      [ -f "$SPEECH/speechdata.json" ] || "$SSLPIPE" speechdata --out "$SPEECH"
      [ -f "$SPEECH/shards-train/manifest.json" ] || "$SSLPIPE" preprocess --modality audio --in "$SPEECH/pretrain/train" \
        --out "$SPEECH/shards-train" --features mfcc --deltas --kmeans 100 --kmeans-fraction 0.5 --quiet ;;
    text) fortunes ;;
    *) echo "data2vec2.sh: modality $m (text, image, audio)" >&2; exit 2 ;;
  esac
done

cats="art|computers|education|food|law|love|medicine|politics|science|sports"
sel="per-class=150,seed=0,classes=$cats"

# probe MODALITY RUN FLAGS...: the modality's probe of RUN's encoder
# output; the caller adds --json/--summary etc.
probe() {
  local m=$1 run=$2
  shift 2
  case $m in
    text)
      "$SSLPIPE" eval --run "$run" --train "$FORTUNES#part=train,$sel" --test "$FORTUNES#part=test,$sel" \
        --tokenizer "$DATA/fortunes/tokenizer.json" --probe linear --layer "$(layers "$run")" "$@" ;;
    image)
      "$SSLPIPE" eval --run "$run" --train "$DATA/fmnist-train" --test "$DATA/fmnist-test" --max-train 10000 --max-test 2000 \
        --probe knn --k 20 --t 0.07 "$@" ;;
    audio)
      "$SSLPIPE" eval --run "$run" --train "$SPEECH/digits/train" --test "$SPEECH/digits/test" --probe linear \
        --layer "$(layers "$run")" "$@" ;;
  esac
}

# layers RUN: the encoder depth of RUN (its config's model.encoder.layers).
layers() {
  awk '/^  encoder:/ {e = 1; next} e && /^    layers:/ {print $2; exit}' "$1/config.yaml"
}

data_of() {
  case $1 in
    text) echo "$DATA/fortunes" ;;
    image) echo "$DATA/fmnist-train" ;;
    audio) echo "$SPEECH/shards-train" ;;
  esac
}

# train NAME METHOD MODALITY: one run of METHOD's MODALITY-cpu preset
# (data2vec2 on text: TEXT_PRESET) with its CPU trace, checkpointing POINTS
# times.
train() {
  local name=$1 method=$2 m=$3 steps preset=$3-cpu
  [ "$method/$m" = data2vec2/text ] && preset=$TEXT_PRESET
  steps=$("$SSLPIPE" train --method "$method" --preset "$preset" --data "$(data_of "$m")" --out "$OUT/$name" --print-config |
    awk '/^schedule:/ {s = 1; next} s && /^  steps:/ {print $2; exit}')
  rm -rf -- "${OUT:?}/$name"
  "$B/cputrace.sh" "$OUT/$name.cpu" -- "$SSLPIPE" train --method "$method" --preset "$preset" --data "$(data_of "$m")" \
    --out "$OUT/$name" --threads 1 --workers 1 --checkpoint-every $(( (steps + POINTS - 1) / POINTS )) --keep 1000 --quiet \
    > "$OUT/$name.log" 2>&1
}

printf '| modality | method | CPU s | probe | accuracy | curve (CPU s: accuracy) |\n|---|---|---:|---|---:|---|\n' > "$MD.rows"
printf '| modality | v1 final | 2.0 final | 2.0 reaches v1 at | speed-up |\n|---|---:|---:|---:|---:|\n' > "$MD.speed"
for m in $MODALITIES; do
  # v1 and 2.0 side by side, one core each.
  train "$m-v1" data2vec "$m" & p1=$!
  train "$m-v2" data2vec2 "$m" & p2=$!
  fail=0
  wait $p1 || { echo "data2vec $m training failed; see $OUT/$m-v1.log" >&2; fail=1; }
  wait $p2 || { echo "data2vec2 $m training failed; see $OUT/$m-v2.log" >&2; fail=1; }
  [ $fail = 0 ]
  for v in v1 v2; do
    run="$OUT/$m-$v"
    "$B/ckptcpu.sh" "$run" "$run.cpu" | while read -r step cpu; do
      at="$run/at/step-$step"
      mkdir -p "$at/checkpoints"
      cp "$run/config.yaml" "$at/"
      ck=$(printf 'step-%08d.ckpt' "$step")
      ln -f "$run/checkpoints/$ck" "$at/checkpoints/$ck"
      top1=$(probe "$m" "$at" --json --no-random --no-baseline --quiet | grep -m 1 '"top1"' | sed 's/.*: *//; s/,$//')
      echo "$step $cpu $top1"
    done > "$run.curve"
  done
  read -r _ cpu1 acc1 < <(tail -n 1 "$OUT/$m-v1.curve")
  read -r _ cpu2 acc2 < <(tail -n 1 "$OUT/$m-v2.curve")
  # The first 2.0 checkpoint at or above v1's final accuracy.
  read -r reach_step reach_cpu reach_acc < <(awk -v a="$acc1" '$3 >= a {print; exit}' "$OUT/$m-v2.curve") || true
  dev="cpu, 1 thread (train time = CPU time)"
  probe "$m" "$OUT/$m-v1" --summary "$S" --method "data2vec v1 (equal CPU)" --train-seconds "$cpu1" --train-device "$dev" --quiet
  probe "$m" "$OUT/$m-v2" --summary "$S" --method "data2vec2 (equal CPU)" --train-seconds "$cpu2" --train-device "$dev" --quiet
  if [ -n "${reach_step:-}" ]; then
    probe "$m" "$OUT/$m-v2/at/step-$reach_step" --summary "$S" --method "data2vec2 (v1's score)" \
      --train-seconds "$reach_cpu" --train-device "$dev" --quiet
    speed=$(awk -v a="$cpu1" -v b="$reach_cpu" 'BEGIN {printf "%.1fx", a / b}')
    reach="$reach_cpu s (step $reach_step)"
  else
    speed="not reached"
    reach="not reached"
  fi
  for v in v1 v2; do
    curve=$(awk '{printf "%s%.0f: %.2f%%", (NR > 1 ? ", " : ""), $2, 100 * $3}' "$OUT/$m-$v.curve")
    read -r _ cpu acc < <(tail -n 1 "$OUT/$m-$v.curve")
    printf '| %s | %s | %.0f | %s | %.2f%% | %s |\n' "$m" "$([ $v = v1 ] && echo data2vec || echo data2vec2)" "$cpu" \
      "$([ $m = image ] && echo "knn k=20 (10k/2k)" || echo "linear, encoder output")" "$(awk -v a="$acc" 'BEGIN {print 100 * a}')" "$curve" >> "$MD.rows"
  done
  if [ "$m" = image ]; then
    for v in v1 v2; do
      "$SSLPIPE" eval --run "$OUT/image-$v" --train "$DATA/fmnist-train" --test "$DATA/fmnist-test" --probe knn --k 200 --t 0.1 \
        --no-baseline --no-random --json --quiet | grep -m 1 '"top1"' | sed 's/.*: *//; s/,$//' > "$OUT/image-$v.knn200"
      printf '| image | %s | %.0f | knn k=200 T=0.1 (60k/10k) | %.2f%% | |\n' "$([ $v = v1 ] && echo data2vec || echo data2vec2)" \
        "$(tail -n 1 "$OUT/image-$v.curve" | cut -d' ' -f2)" "$(awk '{print 100 * $1}' "$OUT/image-$v.knn200")" >> "$MD.rows"
    done
  fi
  printf '| %s | %.2f%% at %.0f CPU s | %.2f%% at %.0f CPU s | %s | %s |\n' "$m" "$(awk -v a="$acc1" 'BEGIN {print 100 * a}')" "$cpu1" \
    "$(awk -v a="$acc2" 'BEGIN {print 100 * a}')" "$cpu2" "$reach" "$speed" >> "$MD.speed"
done
# TEXT_LONG=1: data2vec2's text-cpu-64 preset (64-token rows, batch 32,
# 7,000 steps; about 55 minutes on one idle core) on the fortunes packed at 64 tokens
# with the same tokenizer, probed on all 1,421 probe fortunes (5 folds x 3
# partitions) against 5 random-init networks of its architecture.
# TEXT_LONG_STEPS shortens the run (a check of the script).
long=""
if [ "${TEXT_LONG:-0}" = 1 ]; then
  fortunes
  [ -f "$DATA/fortunes64/manifest.json" ] || "$SSLPIPE" preprocess --modality text --in "$FORTUNES" --split fortune --invalid-utf8 replace \
    --tokenizer "$DATA/fortunes/tokenizer.json" --seq-len 64 --out "$DATA/fortunes64" --quiet
  run="$OUT/text-v2-64"
  rm -rf -- "$run"
  "$B/cputrace.sh" "$run.cpu" -- "$SSLPIPE" train --method data2vec2 --preset text-cpu-64 --data "$DATA/fortunes64" --out "$run" \
    ${TEXT_LONG_STEPS:+--steps "$TEXT_LONG_STEPS"} --threads 1 --workers 1 --quiet > "$run.log" 2>&1 || { echo "data2vec2 text-cpu-64 training failed; see $run.log" >&2; exit 1; }
  cpu=$(awk '$1 == "end" {print $2}' "$run.cpu")
  "$SSLPIPE" eval --run "$run" --train "$FORTUNES#$sel" --tokenizer "$DATA/fortunes/tokenizer.json" --probe linear \
    --layer "$(layers "$run")" --folds 5 --repeats 3 --random-seeds 5 --no-baseline --workers 1 \
    --summary "$S" --method "data2vec2 text-cpu-64" --train-seconds "$cpu" --train-device "cpu, 1 thread (train time = CPU time)" > "$run.probe.txt"
  long=$run.probe.txt
fi

{
  echo "# data2vec 2.0 vs v1 at equal CPU budgets"
  echo
  echo "CPU s: process CPU time (user + system) of one-thread training runs: the idle-equivalent budget."
  echo
  cat "$MD.speed"
  echo
  cat "$MD.rows"
  if [ -n "$long" ]; then
    echo
    echo "## data2vec2 text-cpu-64 ($(awk '$1 == "end" {printf "%.0f", $2}' "$OUT/text-v2-64.cpu") CPU s), encoder output on the 1,421 probe fortunes"
    echo
    echo '```'
    cat "$long"
    echo '```'
  fi
} > "$MD"
rm -f "$MD.rows" "$MD.speed"
cat "$MD"
