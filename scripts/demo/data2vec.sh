#!/usr/bin/env bash
# data2vec part of `make demo`: one objective, three modalities, through
# the product flow. Text: Debian's fortunes preprocessed into token-id
# shards (a WordPiece tokenizer trained by preprocess), probed on ten
# fortune categories (70/30 per category, 150 each) against random init and
# tf-idf; images: the Fashion-MNIST shards of scripts/demo/image.sh, kNN
# against random init and raw pixels; audio: the speech shards of
# scripts/demo/audio.sh, spoken digits with held-out voices against random
# init and the mean MFCC. The CPU presets use one libtorch thread each, so
# two of them train side by side on a 2-core machine.
#
# Environment: SSLPIPE (default bin/sslpipe), RUNS (runs/demo), DATA
# (data), SPEECH (data/speech), TRAIN_FLAGS (extra flags for every
# `sslpipe train`), PRESETS (cpu: the "<modality>-cpu" presets; reproduce:
# the 3x longer "<modality>-reproduce" ones of `make reproduce`).
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
RUNS=${RUNS:-runs/demo}
DATA=${DATA:-data}
SPEECH=${SPEECH:-data/speech}
PRESETS=${PRESETS:-cpu}
FORTUNES=${FORTUNES:-/usr/share/games/fortunes}
S="$RUNS/summary.json"
mkdir -p "$RUNS"
for split in train test; do
  "$SSLPIPE" preprocess --modality image --in "fashion-mnist:$split" --out "$DATA/fmnist-$split" --format png --quiet
done
[ -f "$SPEECH/speechdata.json" ] || "$SSLPIPE" speechdata --out "$SPEECH"
[ -f "$SPEECH/shards-train/manifest.json" ] || "$SSLPIPE" preprocess --modality audio --in "$SPEECH/pretrain/train" \
  --out "$SPEECH/shards-train" --features mfcc --deltas --kmeans 100 --kmeans-fraction 0.5 --quiet
"$SSLPIPE" preprocess --modality text --in "$FORTUNES" --split fortune --invalid-utf8 replace \
  --train-tokenizer wordpiece --vocab 4000 --seq-len 32 --out "$DATA/fortunes" --quiet
rm -rf -- "$RUNS/data2vec-text" "$RUNS/data2vec-image" "$RUNS/data2vec-audio"

# Two single-threaded streams: images on one core, text then audio on the
# other.
# shellcheck disable=SC2086
"$SSLPIPE" train --method data2vec --preset "image-$PRESETS" --data "$DATA/fmnist-train" --out "$RUNS/data2vec-image" ${TRAIN_FLAGS:-} > "$RUNS/data2vec-image.log" 2>&1 &
image=$!
# shellcheck disable=SC2086
{ "$SSLPIPE" train --method data2vec --preset "text-$PRESETS" --data "$DATA/fortunes" --out "$RUNS/data2vec-text" ${TRAIN_FLAGS:-} > "$RUNS/data2vec-text.log" 2>&1 &&
  "$SSLPIPE" train --method data2vec --preset "audio-$PRESETS" --data "$SPEECH/shards-train" --out "$RUNS/data2vec-audio" ${TRAIN_FLAGS:-} > "$RUNS/data2vec-audio.log" 2>&1; } &
textaudio=$!
fail=0
wait $image || { echo "data2vec image training failed; see $RUNS/data2vec-image.log" >&2; fail=1; }
wait $textaudio || { echo "data2vec text/audio training failed; see $RUNS/data2vec-text.log and $RUNS/data2vec-audio.log" >&2; fail=1; }
tail -n 1 "$RUNS/data2vec-text.log" "$RUNS/data2vec-audio.log" "$RUNS/data2vec-image.log"
[ $fail = 0 ]

cats="art|computers|education|food|law|love|medicine|politics|science|sports"
sel="per-class=150,seed=0,classes=$cats"
"$SSLPIPE" eval --run "$RUNS/data2vec-text" --train "$FORTUNES#part=train,$sel" --test "$FORTUNES#part=test,$sel" \
  --tokenizer "$DATA/fortunes/tokenizer.json" --probe linear --summary "$S" --quiet
"$SSLPIPE" eval --run "$RUNS/data2vec-image" --train "$DATA/fmnist-train" --test "$DATA/fmnist-test" --max-train 10000 --max-test 2000 \
  --probe knn --k 20 --t 0.07 --summary "$S" --quiet
"$SSLPIPE" eval --run "$RUNS/data2vec-audio" --train "$SPEECH/digits/train" --test "$SPEECH/digits/test" --probe linear --summary "$S" --quiet
