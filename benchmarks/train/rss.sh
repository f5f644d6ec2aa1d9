#!/usr/bin/env bash
# Peak memory of `sslpipe train` does not grow with the dataset: the same
# BYOL config (fmnist-quick, 300 steps) on a preprocessed dataset of 2,000
# and of 200,000 images; prints both peak RSS figures (GNU time's maximum
# resident set size) and their difference, and the shard files the run held
# open at most (/proc/PID/fd of the training process, sampled every 0.5 s).
#
#   benchmarks/train/rss.sh            # uses bin/sslpipe-torch, data under /tmp/sslpipe-rss
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe-torch}
DATA=${DATA:-/tmp/sslpipe-rss}
STEPS=${STEPS:-300}
mkdir -p "$DATA"
for n in 2000 200000; do
  if [ ! -f "$DATA/ds-$n/manifest.json" ]; then
    go run ./benchmarks/train/rssdata -n "$n" -out "$DATA/raw-$n"
    "$SSLPIPE" preprocess --modality image --in "$DATA/raw-$n/*.tar" --out "$DATA/ds-$n" --format png --quiet
    rm -rf "$DATA/raw-$n"
  fi
done
for n in 2000 200000; do
  rm -rf "$DATA/run-$n"
  /usr/bin/time -f "%M" -o "$DATA/rss-$n.txt" "$SSLPIPE" train --method byol --preset fmnist-quick --data "$DATA/ds-$n" \
    --out "$DATA/run-$n" --steps "$STEPS" --quiet >/dev/null &
  pid=$!
  fds=0
  while kill -0 $pid 2>/dev/null; do
    child=$(pgrep -P $pid || true)
    for p in $child; do
      c=$(ls -l /proc/$p/fd 2>/dev/null | grep -c '\.tar$' || true)
      [ "$c" -gt "$fds" ] && fds=$c
    done
    sleep 0.5
  done
  wait $pid
  echo "images $n: peak RSS $(( $(cat "$DATA/rss-$n.txt") / 1024 )) MiB, shard files open at most $fds, shards $(ls "$DATA/ds-$n"/shard-*.tar | wc -l)"
done
a=$(cat "$DATA/rss-2000.txt"); b=$(cat "$DATA/rss-200000.txt")
echo "difference: $(( (b - a) / 1024 )) MiB"
