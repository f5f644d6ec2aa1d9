#!/bin/sh
# GPU step-time comparison of sslpipe's BYOL step with PyTorch eager on the
# same machine, fp32 and bf16 (issue 8's speed goal: within 1.1x).
#
# Usage, on the GPU machine, from the repository root (or the GPU bundle):
#   SSLPIPE="dist/gpu-bundle/run-on-gpu.sh" benchmarks/train/gpu_compare.sh
#   SSLPIPE=bin/sslpipe benchmarks/train/gpu_compare.sh        # a local CUDA build
# PYTHON defaults to python3 (needs CUDA torch). Prints JSON lines and a
# ratio table.
set -eu
SSLPIPE=${SSLPIPE:-bin/sslpipe}
PYTHON=${PYTHON:-python3}
DIR=$(dirname "$0")
STEPS=${STEPS:-50}
for bf in "" "--bf16"; do
	$SSLPIPE bench train --preset cifar --device cuda --batch 256 --steps "$STEPS" --warmup 10 $bf --json | tee -a /tmp/sslpipe-gpu-compare.jsonl
	$PYTHON "$DIR/byol_step.py" --device cuda --batch 256 --steps "$STEPS" --warmup 10 $bf | tee -a /tmp/sslpipe-gpu-compare.jsonl
done
# The same sslpipe step without the pre-update loss check (one device sync
# fewer before the optimizer's kernels are queued).
$SSLPIPE bench train --preset cifar --device cuda --batch 256 --steps "$STEPS" --warmup 10 --skip-nonfinite=false --json
$PYTHON - /tmp/sslpipe-gpu-compare.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for bf in (False, True):
    s = [r for r in rows if r.get("bf16") == bf and "impl" not in r]
    p = [r for r in rows if r.get("bf16") == bf and r.get("impl") == "pytorch-eager"]
    if s and p:
        print(f"bf16={bf}: sslpipe {s[-1]['median_ms']:.2f} ms/step, PyTorch {p[-1]['median_ms']:.2f} ms/step, ratio {s[-1]['median_ms']/p[-1]['median_ms']:.3f}")
PY
