#!/bin/sh
# Pipeline figures on the lent 16-core machine (see benchmarks/RESULTS.md (pipeline section)).
# Binaries are built first on the workstation:
#   CGO_ENABLED=0 go test -c -o benchmarks/pipeline/bin/pipeline.test ./pipeline
#   CGO_ENABLED=0 go build -o benchmarks/pipeline/bin/pipelinemem.test ./benchmarks/pipeline
# and this script writes its outputs under $OUT (default ./out).
OUT=${OUT:-out}
mkdir -p "$OUT"
B=benchmarks/pipeline/bin
{ nproc; grep -m1 'model name' /proc/cpuinfo; uptime; } > "$OUT/machine.txt" 2>&1
$B/pipeline.test -test.run XXX -test.bench 'MapOverhead|MapScaling|ShuffledBatches' \
  -test.benchtime 0.5s -test.count 1 -test.cpu 2,16 > "$OUT/bench.txt" 2>&1
$B/pipelinemem.test -scaling 1,2,4,8,16 -n 2000 > "$OUT/scaling.txt" 2>&1
if [ -x /usr/bin/time ]; then T="/usr/bin/time -v"; else T=""; fi
$T $B/pipelinemem.test -n 100000 -workers 8 > "$OUT/mem100k.txt" 2> "$OUT/mem100k.stderr"
