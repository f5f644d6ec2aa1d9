#!/usr/bin/env bash
# Data-parallel throughput on one machine: for each method's smoke preset,
# 1 process x 2 libtorch threads against 2 Gloo processes x 1 thread
# (`--nproc-per-node 2`), the same global batch and steps; prints the median
# samples_per_s of the metrics lines after the first quarter of the run
# (rank 0's metrics count every rank's samples). Run on an idle machine.
#
#   benchmarks/train/ddp_throughput.sh [METHOD...]   # default: byol hubert data2vec simclr
#   PRESET=fmnist-reproduce DATA=data/fmnist-train benchmarks/train/ddp_throughput.sh simclr
#
# Environment: SSLPIPE (default bin/sslpipe), STEPS (200), OUT (a temp dir),
# PRESET (default smoke; smoke-audio for data2vec), DATA (--data for the
# image methods; default the preset's), EXTRA (more train flags, e.g.
# "--config benchmarks/imgmethods/configs/simclr-p10.yaml" with the same
# method and preset).
set -euo pipefail
cd "$(dirname "$0")/../.."
SSLPIPE=${SSLPIPE:-bin/sslpipe}
STEPS=${STEPS:-200}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
methods=${*:-byol hubert data2vec simclr}
median() { # metrics.jsonl: median samples_per_s after the first quarter
  awk -v s="$STEPS" 'match($0, /"samples_per_s":[0-9.e+-]+/) { v = substr($0, RSTART + 16, RLENGTH - 16)
      if (match($0, /"step":[0-9]+/) && substr($0, RSTART + 7, RLENGTH - 7) + 0 > s / 4) print v }' "$1" |
    sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
printf '| method | data | 1 process x 2 threads | 2 processes x 1 thread | ratio |\n|---|---|---:|---:|---:|\n'
for m in $methods; do
  data=()
  [ -n "${DATA:-}" ] && data=(--data "$DATA")
  case $m in
    hubert | data2vec) data=(--data "${AUDIO:?set AUDIO to audio shards with km labels (scripts/demo/audio.sh makes data/speech/shards-train)}") ;;
  esac
  preset=${PRESET:-smoke}
  [ "$m" = data2vec ] && [ "$preset" = smoke ] && preset=smoke-audio
  # shellcheck disable=SC2086 # EXTRA is a list of flags
  "$SSLPIPE" train --method "$m" --preset "$preset" "${data[@]}" --steps "$STEPS" --threads 2 --workers 1 --log-every 5 \
    --monitor-every 0 --quiet ${EXTRA:-} --out "$OUT/$m-1x2" > "$OUT/$m-1x2.log" 2>&1
  # shellcheck disable=SC2086
  "$SSLPIPE" train --method "$m" --preset "$preset" "${data[@]}" --steps "$STEPS" --threads 1 --workers 1 --log-every 5 \
    --monitor-every 0 --quiet --nproc-per-node 2 ${EXTRA:-} --out "$OUT/$m-2x1" > "$OUT/$m-2x1.log" 2>&1
  a=$(median "$OUT/$m-1x2/metrics.jsonl")
  b=$(median "$OUT/$m-2x1/metrics.jsonl")
  printf '| %s | %s | %s | %s | %sx |\n' "$m" "${data[1]:-preset}" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')"
done
