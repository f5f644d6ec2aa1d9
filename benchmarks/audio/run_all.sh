#!/bin/sh
# Reproduces every figure in benchmarks/RESULTS.md (audio section). Run from the
# repository root of a clean checkout of the commit being measured:
#   sh benchmarks/audio/run_all.sh 2>&1 | tee /tmp/audio_bench.txt
set -e
wavs=/tmp/sslpipe_bench_wavs
sh benchmarks/audio/make_bench_wavs.sh $wavs >/dev/null
CGO_ENABLED=0 go build -o /tmp/sslpipe ./cmd/sslpipe
echo "== machine"; nproc; uptime; go version
echo "== torchaudio vs sslpipe, one core each, 8 long utterances (103 s)"
/usr/bin/python3 benchmarks/audio/bench_features.py --sslpipe /tmp/sslpipe --in $wavs --rounds 5 --seconds 3
echo "== torchaudio vs sslpipe, one core each, the 4 short test utterances (8.1 s)"
/usr/bin/python3 benchmarks/audio/bench_features.py --sslpipe /tmp/sslpipe --in audio/testdata --rounds 3 --seconds 3
echo "== fbank (no deltas), long utterances"
/usr/bin/python3 benchmarks/audio/bench_features.py --sslpipe /tmp/sslpipe --in $wavs --kind fbank --no-deltas --rounds 3 --seconds 3
echo "== worker scaling (sslpipe), alternating"
for r in 1 2 3; do
  for w in 1 2; do
    GOMAXPROCS=$w /tmp/sslpipe bench features --kind mfcc --deltas --in $wavs --workers $w --seconds 3
  done
done
echo "== Go benchmarks"
go test ./audio -run XXX -bench 'RealFFT512|GonumFFT512|MFCCFrame|DecodeMFCCDeltas|Resample' -benchtime 2s -count 3
uptime
