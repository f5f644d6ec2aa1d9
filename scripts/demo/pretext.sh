#!/usr/bin/env bash
# The pretext-task comparison of issue 20: rotation, jigsaw, inpainting and
# colorization on images, sentence-order prediction on text, each trained
# for at most 10 CPU minutes (the step budgets of benchmarks/pretext/
# timing.sh, fixed in the methods' CPU presets) and probed like the other
# methods: images by weighted kNN (k=200, T=0.1) on Fashion-MNIST (60,000
# train / 10,000 test) against the same ConvNet randomly initialized and
# raw pixels; text by fortune category (10 categories, 70/30 split) against
# the same encoder randomly initialized and tf-idf, kNN and linear. BYOL's
# fmnist-reproduce preset cut to the same CPU budget gives the reference
# row. Rows go to $RUNS/summary.json; benchmarks/RESULTS.md ("Pretext
# tasks") holds the figures.
#
#   scripts/demo/pretext.sh                         # everything (~70 CPU minutes)
#   METHODS="rotation sop" scripts/demo/pretext.sh  # some of them
#   TRAIN_FLAGS="--steps 20" scripts/demo/pretext.sh  # a smoke run
#
# Colorization cannot learn from gray Fashion-MNIST (every pixel's ab is
# 0): it trains on the colour photos of Debian's python3-skimage
# (benchmarks/pretext/photos.sh) and is probed on Fashion-MNIST's lightness.
# SOP trains on the fortunes (one fortune per 128-token sequence,
# `--pack one`), pretraining on all 43 categories without labels as the
# data2vec text demo does; sop-mlm adds ALBERT's MLM loss. Their step
# counts include the empty steps of the sequences without a pair (see
# train/sop); benchmarks/text/EXPERIMENTS.md has the CPU times and probes.
#
# Environment: SSLPIPE (default bin/sslpipe), RUNS (runs/pretext), DATA
# (data), METHODS (default "rotation jigsaw inpainting colorization sop
# sop-mlm byol"; sop-mlm is sop with ALBERT's MLM loss beside it),
# TRAIN_FLAGS (extra flags for every `sslpipe train`), JOBS (runs trained
# at once, default 2: each uses one libtorch thread), BYOL_STEPS (330: BYOL
# fmnist-reproduce steps in 10 CPU minutes by timing.sh), FORTUNES
# (/usr/share/games/fortunes), TOKENIZER
# (text/testdata/wordpiece-fortunes.json).
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
RUNS=${RUNS:-runs/pretext}
DATA=${DATA:-data}
METHODS=${METHODS:-rotation jigsaw inpainting colorization sop sop-mlm byol}
JOBS=${JOBS:-2}
BYOL_STEPS=${BYOL_STEPS:-330}
FORTUNES=${FORTUNES:-/usr/share/games/fortunes}
TOKENIZER=${TOKENIZER:-text/testdata/wordpiece-fortunes.json}
S="$RUNS/summary.json"
mkdir -p "$RUNS" "$DATA"

# Data. Fashion-MNIST as PNG shards (as scripts/demo/image.sh).
for split in train test; do
  "$SSLPIPE" preprocess --modality image --in "fashion-mnist:$split" --out "$DATA/fmnist-$split" --format png --quiet
done
case " $METHODS " in *" colorization "*)
  [ -f "$DATA/photos/manifest.json" ] || benchmarks/pretext/photos.sh "$DATA/photos" ;;
esac
case " $METHODS " in *" sop "* | *" sop-mlm "*)
  # Pretraining text: every fortune of every category, fortunes separated
  # by blank lines (a fortune with a blank line inside becomes two
  # documents), one per 128-token sequence.
  if [ ! -f "$DATA/fortunes-text/manifest.json" ]; then
    mkdir -p "$DATA/fortunes-corpus"
    for f in "$FORTUNES"/*; do
      case "$(basename "$f")" in *.*) continue ;; esac
      [ -f "$f" ] || continue
      awk '{ if ($0 == "%") print ""; else print }' "$f"
      echo
    done > "$DATA/fortunes-corpus/fortunes.txt"
    "$SSLPIPE" preprocess --modality text --in "$DATA/fortunes-corpus" --out "$DATA/fortunes-text" \
      --split blank --pack one --seq-len 128 --tokenizer "$TOKENIZER" --quiet
  fi
  # Labelled probe sets: the first 150 fortunes (file order) of the 10
  # categories of the data2vec text probe, fortune k to test when k mod 10
  # >= 7 (30%), else to train; written as fortune files (one per category,
  # "%" separators), which `sslpipe eval --tokenizer` reads labelled by
  # file name.
  if [ ! -d "$DATA/fortunes-probe/test" ]; then
    for split in train test; do mkdir -p "$DATA/fortunes-probe/$split"; done
    for c in art computers education food law love medicine politics science sports; do
      awk -v tr="$DATA/fortunes-probe/train/$c" -v te="$DATA/fortunes-probe/test/$c" '
        function flush() { if (n > 0 && k < 150) { f = (k % 10 >= 7) ? te : tr; if (cnt[f]++) print "%" > f; printf "%s", buf > f; k++ } n = 0; buf = "" }
        $0 == "%" { flush(); next }
        { buf = buf $0 "\n"; if ($0 ~ /[^ \t]/) n++ }
        END { flush() }' "$FORTUNES/$c"
    done
  fi ;;
esac

# Training: JOBS runs at a time, each into a fresh folder; RUN.time gets
# the wall, user and system seconds of the run (bash's times for the
# subshell's children).
train() { # name method preset data [flags...]
  local name=$1 method=$2 preset=$3 data=$4 t0
  shift 4
  rm -rf -- "${RUNS:?}/$name"
  t0=$(date +%s)
  # shellcheck disable=SC2086
  "$SSLPIPE" train --method "$method" --preset "$preset" --data "$data" --out "$RUNS/$name" --quiet "$@" ${TRAIN_FLAGS:-} \
    > "$RUNS/$name.log" 2>&1 || { echo "pretext: $name failed; see $RUNS/$name.log" >&2; return 1; }
  # times in a pipeline or $(...) would run in a subshell without children.
  times > "$RUNS/$name.times"
  awk -v w=$(($(date +%s) - t0)) 'function sec(s, a) { split(s, a, /[ms]/); return a[1] * 60 + a[2] }
    NR == 2 { print w, sec($1), sec($2) }' "$RUNS/$name.times" > "$RUNS/$name.time"
}
pids=()
launch() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  train "$@" &
  pids+=($!)
}
for m in $METHODS; do
  case $m in
  rotation | jigsaw | inpainting) launch "$m" "$m" fmnist "$DATA/fmnist-train" ;;
  colorization) launch colorization colorization photos28 "$DATA/photos" ;;
  sop) launch sop sop fortunes "$DATA/fortunes-text" ;;
  sop-mlm) launch sop-mlm sop fortunes-mlm "$DATA/fortunes-text" ;;
  byol) launch byol byol fmnist-reproduce "$DATA/fmnist-train" --steps "$BYOL_STEPS" --monitor-every 0 ;;
  *) echo "pretext: unknown method $m" >&2; exit 2 ;;
  esac
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ $fail = 0 ]

# Probes: training time is the process's CPU time (user + system).
cpu() { awk '{print $2 + $3}' "$RUNS/$1.time"; }
for m in $METHODS; do
  case $m in
  sop | sop-mlm)
    # kNN twice: on the features as they are, and standardized per
    # dimension on probe-train (every row alike: trained, random init and
    # tf-idf); the mean-pooled encoder outputs are anisotropic, which the
    # cosine kNN suffers from and the linear probe (standardizing anyway)
    # does not.
    for probe in knn "knn --standardize" linear; do
      # shellcheck disable=SC2086
      "$SSLPIPE" eval --run "$RUNS/$m" --train "$DATA/fortunes-probe/train" --test "$DATA/fortunes-probe/test" \
        --tokenizer "$TOKENIZER" --probe $probe --summary "$S" --method "$m" --train-seconds "$(cpu "$m")" --quiet
    done ;;
  *)
    "$SSLPIPE" eval --run "$RUNS/$m" --train "$DATA/fmnist-train" --test "$DATA/fmnist-test" \
      --probe knn --summary "$S" --method "$m" --train-seconds "$(cpu "$m")" --quiet ;;
  esac
done
echo
echo "Summary ($S):"
"$SSLPIPE" summary "$S"
