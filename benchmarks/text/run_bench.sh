#!/bin/sh
# run_bench.sh: sslpipe vs Hugging Face tokenizers (npm 0.23.2), side by side
# and interleaved, on the short lines of Debian's fortunes corpus, with the
# tokenizer.json files HF trained (text/testdata/*-fortunes.json).
#
#   (cd benchmarks/text && npm install)
#   sh benchmarks/text/run_bench.sh [ROUNDS] [SECONDS]      # from the repository root
#
# Output: one line per measurement (sslpipe: text; HF: JSON).
set -eu
ROUNDS=${1:-3}
SECONDS_PER=${2:-5}
NCPU=$(nproc)
CORPUS_DIR=${TMPDIR:-/tmp}/sslpipe-tokbench
mkdir -p "$CORPUS_DIR"
# Every non-empty line of every fortune category file, "%" separators dropped.
for f in /usr/share/games/fortunes/*; do
  case "$f" in *.*) continue ;; esac
  [ -f "$f" ] && [ ! -L "$f" ] && cat "$f"
done | grep -v '^%$' | grep -v '^[[:space:]]*$' > "$CORPUS_DIR/fortunes-lines.txt"
wc -lc "$CORPUS_DIR/fortunes-lines.txt"
CGO_ENABLED=0 go build -o "$CORPUS_DIR/sslpipe" ./cmd/sslpipe
for tok in text/testdata/wordpiece-fortunes.json text/testdata/bpe-fortunes.json; do
  for r in $(seq "$ROUNDS"); do
    echo "== $tok round $r: one thread"
    RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false node benchmarks/text/bench_hf.js "$tok" "$CORPUS_DIR/fortunes-lines.txt" "$SECONDS_PER"
    GOMAXPROCS=1 "$CORPUS_DIR/sslpipe" bench tokenize --tokenizer "$tok" --in "$CORPUS_DIR/fortunes-lines.txt" --workers 1 --seconds "$SECONDS_PER"
    echo "== $tok round $r: $NCPU threads"
    RAYON_NUM_THREADS=$NCPU TOKENIZERS_PARALLELISM=true node benchmarks/text/bench_hf.js "$tok" "$CORPUS_DIR/fortunes-lines.txt" "$SECONDS_PER"
    "$CORPUS_DIR/sslpipe" bench tokenize --tokenizer "$tok" --in "$CORPUS_DIR/fortunes-lines.txt" --workers "$NCPU" --seconds "$SECONDS_PER"
  done
done
