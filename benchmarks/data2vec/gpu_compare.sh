#!/bin/sh
# GPU step-time comparison of sslpipe's data2vec text step with the PyTorch
# eager script on the same machine (issue 10's goal: within 1.1x; reference
# ~28 ms/step on an H100): 6 layers, d=512, batch 32 x 128 tokens, top-3
# layer-normalized targets, bf16 (and fp32 for information).
#
# Usage, on the GPU machine, from the repository root (or the GPU bundle):
#   SSLPIPE="dist/gpu-bundle/run-on-gpu.sh" benchmarks/data2vec/gpu_compare.sh
#   SSLPIPE=bin/sslpipe benchmarks/data2vec/gpu_compare.sh     # a local CUDA build
# PYTHON defaults to python3 (needs CUDA torch). Prints JSON lines and a
# ratio table; the lines are also appended to /tmp/sslpipe-data2vec-gpu.jsonl.
set -eu
SSLPIPE=${SSLPIPE:-bin/sslpipe}
PYTHON=${PYTHON:-python3}
DIR=$(dirname "$0")
STEPS=${STEPS:-50}
OUT=/tmp/sslpipe-data2vec-gpu.jsonl
: > "$OUT"
for bf in true false; do
	pyflag=""
	[ "$bf" = true ] && pyflag="--bf16"
	$SSLPIPE data2vec bench --device cuda --bf16="$bf" --steps "$STEPS" --warmup 10 --json | tee -a "$OUT"
	$PYTHON "$DIR/pytorch_data2vec.py" --device cuda $pyflag --steps "$STEPS" --warmup 10 | tee -a "$OUT"
done
$PYTHON - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
for bf in (True, False):
    s = [r for r in rows if r.get("bf16") == bf and r.get("impl") == "sslpipe"]
    p = [r for r in rows if r.get("bf16") == bf and r.get("impl") == "pytorch-eager"]
    if s and p:
        print(f"bf16={bf}: sslpipe {s[-1]['median_ms']:.2f} ms/step, PyTorch {p[-1]['median_ms']:.2f} ms/step, ratio {s[-1]['median_ms']/p[-1]['median_ms']:.3f}")
PY
