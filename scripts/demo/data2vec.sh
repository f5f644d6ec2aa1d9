#!/usr/bin/env bash
# data2vec part of `make demo` (issue 10): one objective, three modalities.
# Text on Debian's fortunes (probe: fortune category, vs random init and a
# tf-idf bag of words), images on Fashion-MNIST (kNN vs random init and raw
# pixels), audio on the espeak-ng speech of scripts/demo/audio.sh (spoken
# digits with held-out voices, vs random init, mean MFCC and HuBERT).
# The CPU presets use one libtorch thread each, so two of them train side by
# side on a 2-core machine.
#
# Environment: SSLPIPE (default bin/sslpipe), RUNS (runs/demo), DATA
# (data/speech, made by scripts/demo/audio.sh or `sslpipe speechdata`),
# TRAIN_FLAGS (extra flags for every `sslpipe data2vec train`), PRESETS
# (cpu: the demo's "<modality>-cpu" presets; reproduce: the 3x longer
# "<modality>-reproduce" ones of `make reproduce`).
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
RUNS=${RUNS:-runs/demo}
DATA=${DATA:-data/speech}
PRESETS=${PRESETS:-cpu}
S="$RUNS/summary.json"
mkdir -p "$RUNS"
[ -f "$DATA/speechdata.json" ] || "$SSLPIPE" speechdata --out "$DATA"
rm -rf -- "$RUNS/data2vec-text" "$RUNS/data2vec-image" "$RUNS/data2vec-audio"

# Two single-threaded streams: images on one core, text then audio on the
# other (about 5.5 min each on 2 idle cores).
# shellcheck disable=SC2086
"$SSLPIPE" data2vec train --modality image --preset "image-$PRESETS" --dir "$RUNS/data2vec-image" ${TRAIN_FLAGS:-} > "$RUNS/data2vec-image.log" 2>&1 &
image=$!
# shellcheck disable=SC2086
{ "$SSLPIPE" data2vec train --modality text --preset "text-$PRESETS" --dir "$RUNS/data2vec-text" ${TRAIN_FLAGS:-} > "$RUNS/data2vec-text.log" 2>&1 &&
  "$SSLPIPE" data2vec train --modality audio --preset "audio-$PRESETS" --data "$DATA/pretrain" --dir "$RUNS/data2vec-audio" ${TRAIN_FLAGS:-} > "$RUNS/data2vec-audio.log" 2>&1; } &
textaudio=$!
fail=0
wait $image || { echo "data2vec image training failed; see $RUNS/data2vec-image.log" >&2; fail=1; }
wait $textaudio || { echo "data2vec text/audio training failed; see $RUNS/data2vec-text.log and $RUNS/data2vec-audio.log" >&2; fail=1; }
tail -n 1 "$RUNS/data2vec-text.log" "$RUNS/data2vec-audio.log" "$RUNS/data2vec-image.log"
[ $fail = 0 ]

"$SSLPIPE" data2vec probe --run "$RUNS/data2vec-text" --summary "$S"
"$SSLPIPE" data2vec probe --run "$RUNS/data2vec-image" --summary "$S"
hubert=()
[ -d "$RUNS/hubert" ] && hubert=(--hubert "$RUNS/hubert")
"$SSLPIPE" data2vec probe --run "$RUNS/data2vec-audio" --data "$DATA/digits" "${hubert[@]}" --summary "$S"
