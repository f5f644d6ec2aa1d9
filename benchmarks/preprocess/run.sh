#!/bin/sh
# Throughput of `sslpipe preprocess` per modality on synthetic inputs made by
# gendata (nothing downloaded). Prints one JSON summary per run; the figures
# in benchmarks/RESULTS.md (preprocess section) come from these summaries and from the
# CPU time (user + sys) that /usr/bin/time reports: on a shared machine the
# wall time depends on the load, the CPU time much less.
#
#   sh benchmarks/preprocess/run.sh [WORKDIR]     (default /tmp/ppbench)
#
# Environment: N_IMAGES (200), N_UTTS (40), TEXT_MB (10), WORKERS (nproc).
set -eu
W=${1:-/tmp/ppbench}
N_IMAGES=${N_IMAGES:-200}
N_UTTS=${N_UTTS:-40}
TEXT_MB=${TEXT_MB:-10}
WORKERS=${WORKERS:-$(nproc)}
cd "$(dirname "$0")/../.."
mkdir -p "$W"
CGO_ENABLED=0 go build -o "$W/sslpipe" ./cmd/sslpipe
[ -d "$W/img" ] || go run ./benchmarks/preprocess/gendata -kind image -n "$N_IMAGES" -out "$W/img"
[ -d "$W/wav" ] || go run ./benchmarks/preprocess/gendata -kind audio -n "$N_UTTS" -out "$W/wav"
[ -d "$W/txt" ] || go run ./benchmarks/preprocess/gendata -kind text -mb "$TEXT_MB" -out "$W/txt"
run() {
	name=$1; shift
	rm -rf "$W/out-$name"
	echo "== $name: sslpipe preprocess $* --workers $WORKERS"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	/usr/bin/time -f "time: %e s wall, %U s user, %S s sys" "$W/sslpipe" preprocess "$@" --out "$W/out-$name" --workers "$WORKERS" --quiet --json
}
run img-jpeg --modality image --in "$W/img" --labels-from-dirs --shard-size 100
run img-256 --modality image --in "$W/img" --labels-from-dirs --shard-size 100 --max-side 256
run img-png --modality image --in "$W/img" --shard-size 100 --max-side 256 --format png
run wav --modality audio --in "$W/wav" --shard-size 20
run wav-mfcc --modality audio --in "$W/wav" --shard-size 20 --features mfcc --deltas
run wav-hubert --modality audio --in "$W/wav" --shard-size 20 --features mfcc --deltas --kmeans 100 --kmeans-fraction 0.5
run txt-wordpiece --modality text --in "$W/txt" --train-tokenizer wordpiece --vocab 8000 --seq-len 128 --shard-size 20000
run txt-given --modality text --in "$W/txt" --tokenizer "$W/out-txt-wordpiece/tokenizer.json" --seq-len 128 --shard-size 20000
