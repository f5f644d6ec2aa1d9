#!/bin/sh
# HuBERT base training step, sslpipe vs torchaudio, same machine, same run
# (issue 9's GPU goal: sslpipe within 1.1x of torchaudio; reference
# torchaudio ~74 ms/step on an H100). Run from the repository root after
# `make build` (bin/sslpipe-torch or bin/sslpipe built with cgo).
set -eu
SSLPIPE=${SSLPIPE:-bin/sslpipe-torch}
[ -x "$SSLPIPE" ] || SSLPIPE=bin/sslpipe
PY=${PYTHON:-python3}
STEPS=${STEPS:-20}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || true
"$SSLPIPE" hubert bench --preset hubert-base --batch 8 --seconds 4 --steps "$STEPS" --warmup 5 --device cuda --bf16
"$PY" benchmarks/hubert/bench_torchaudio.py --steps "$STEPS" --warmup 5 --batch 8 --seconds 4
# fp32 for reference
"$SSLPIPE" hubert bench --preset hubert-base --batch 8 --seconds 4 --steps "$STEPS" --warmup 5 --device cuda --bf16=false
"$PY" benchmarks/hubert/bench_torchaudio.py --steps "$STEPS" --warmup 5 --batch 8 --seconds 4 --no-bf16
