#!/usr/bin/env bash
# gpu-checks.sh: every GPU measurement of the training issues in one call,
# for a session that is lent a GPU machine for a few minutes. Run from the
# repository root on the GPU machine after `make gpu-bundle` here:
#
#   OUT=/some/dir FORTUNES=.gpudata/fortunes scripts/gpu-checks.sh
#
# In order, each with its own time limit, so one failure does not take the
# rest with it:
#   1. machine facts; shim build against the machine's PyTorch (timed) and
#      `sslpipe doctor --smoke --json` on CUDA;
#   2. data2vec text step vs PyTorch eager (issue 10), bf16 and fp32;
#   3. hubert-base step vs torchaudio (issue 9), bf16 and fp32;
#   4. BYOL ResNet-18 step vs PyTorch eager (issue 8), fp32 and bf16;
#   5. if time is left and FORTUNES is set: a data2vec text run of
#      benchmarks/data2vec/text-gpu.yaml and its category probe.
# Everything is logged to $OUT/log.txt; JSON lines and the text run's files
# are copied to $OUT. DEADLINE (seconds, default 540) bounds the whole.
# QUICK=1 (a re-check in a short lease): the shim, then the bf16 pairs of
# 2-4 (sslpipe and the reference, alternating), then the fp32 pairs while
# time is left; no text run.
set -u
OUT=${OUT:-/tmp/sslpipe-gpu-checks}
mkdir -p "$OUT"
B=${SSLPIPE:-dist/gpu-bundle/run-on-gpu.sh}
DEADLINE=${DEADLINE:-540}
exec > >(tee -a "$OUT/log.txt") 2>&1
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
left() { echo $((DEADLINE - $(elapsed))); }
section() { echo; echo "=== $1 (t=$(elapsed) s, $(left) s left)"; }
# run LIMIT CMD...: CMD with at most LIMIT seconds (and never past DEADLINE).
run() {
	local lim=$1; shift
	local l; l=$(left)
	((lim > l)) && lim=$l
	if ((lim < 10)); then echo "skipped (no time left): $*"; return 1; fi
	timeout -k 5 "$lim" "$@"
	local rc=$?
	((rc == 124)) && echo "TIMED OUT after ${lim} s: $*"
	((rc != 0)) && echo "exit $rc: $*"
	return $rc
}

section "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch, torchaudio; print("torch", torch.__version__, "torchaudio", torchaudio.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
echo "cores $(nproc); g++ $(g++ -dumpfullversion 2>/dev/null)"

section "shim build + doctor --smoke"
s=$(date +%s)
run 300 "$B" doctor --smoke --json >"$OUT/doctor.json"
rc=$?
echo "shim build + doctor: $(($(date +%s) - s)) s"
cat "$OUT/doctor.json"
cp "${SSLPIPE_CACHE:-$HOME/.cache/sslpipe/shim}"/*/stubbed.txt "$OUT/stubbed.txt" 2>/dev/null
# Without a working shim nothing below can run: stop, and keep the lease short.
((rc == 0)) || { echo "doctor failed (exit $rc): stopping"; exit 1; }

export SSLPIPE="$B"
if [[ -n "${QUICK:-}" ]]; then
	for bf in true false; do
		section "quick: bf16=$bf pairs"
		pyflag=""
		[[ $bf == true ]] && pyflag="--bf16"
		run 40 "$B" data2vec bench --device cuda --bf16="$bf" --steps 30 --warmup 10 --json
		run 40 python3 benchmarks/data2vec/pytorch_data2vec.py --device cuda $pyflag --steps 30 --warmup 10
		run 40 "$B" hubert bench --preset hubert-base --batch 8 --seconds 4 --steps 15 --warmup 5 --device cuda --bf16="$bf"
		if [[ $bf == true ]]; then
			run 40 python3 benchmarks/hubert/bench_torchaudio.py --steps 15 --warmup 5 --batch 8 --seconds 4
		else
			run 40 python3 benchmarks/hubert/bench_torchaudio.py --steps 15 --warmup 5 --batch 8 --seconds 4 --no-bf16
		fi
		bflag=""
		[[ $bf == true ]] && bflag="--bf16"
		run 40 "$B" bench train --preset cifar --device cuda --batch 256 --steps 30 --warmup 10 $bflag --json
		run 40 python3 benchmarks/train/byol_step.py --device cuda --batch 256 --steps 30 --warmup 10 $bflag
	done
	section "done"
	exit 0
fi
section "data2vec text step vs PyTorch (issue 10)"
run 150 benchmarks/data2vec/gpu_compare.sh
cp /tmp/sslpipe-data2vec-gpu.jsonl "$OUT/data2vec-gpu.jsonl" 2>/dev/null
run 40 python3 benchmarks/data2vec/pytorch_data2vec.py --device cuda --bf16 --sdpa --steps 50 --warmup 10

section "hubert-base step vs torchaudio (issue 9)"
run 150 benchmarks/hubert/run_gpu.sh

section "BYOL ResNet-18 step vs PyTorch (issue 8)"
rm -f /tmp/sslpipe-gpu-compare.jsonl
run 150 benchmarks/train/gpu_compare.sh
cp /tmp/sslpipe-gpu-compare.jsonl "$OUT/byol-gpu.jsonl" 2>/dev/null

if [[ -n "${FORTUNES:-}" ]] && (($(left) > 120)); then
	section "data2vec text training on the GPU"
	rm -rf /tmp/d2v-text-gpu
	# As many steps (at most the config's 3,000) as the time left holds, from
	# the sslpipe bf16 step time measured above (same model, 1.5x margin for
	# data, logging and checkpoints), so the run ends by itself and writes
	# model.safetensors.
	steps=$(python3 - "$OUT/data2vec-gpu.jsonl" "$(left)" <<'PY'
import json, sys
ms = [r["median_ms"] for r in map(json.loads, filter(str.strip, open(sys.argv[1]))) if r.get("impl") == "sslpipe" and r.get("bf16")]
budget = int(sys.argv[2]) - 110  # tokenizer, start-up, probes
print(max(0, min(3000, int(budget * 1000 / (1.5 * ms[0])))) if ms else 0)
PY
)
	echo "text run: $steps steps"
	if ((steps >= 200)); then
		run 60 "$B" preprocess --modality text --in "$FORTUNES" --split fortune --invalid-utf8 replace \
			--train-tokenizer wordpiece --vocab 8000 --seq-len 128 --out /tmp/d2v-fortunes --quiet
		run $(($(left) - 60)) "$B" train --config benchmarks/data2vec/text-gpu.yaml --data /tmp/d2v-fortunes --out /tmp/d2v-text-gpu --steps "$steps"
	fi
	if [[ -f /tmp/d2v-text-gpu/model.safetensors ]]; then
		sel="per-class=150,seed=0,classes=art|computers|education|food|law|love|medicine|politics|science|sports"
		for layer in 0 -1; do
			run 40 "$B" eval --run /tmp/d2v-text-gpu --train "$FORTUNES#part=train,$sel" --test "$FORTUNES#part=test,$sel" \
				--tokenizer /tmp/d2v-fortunes/tokenizer.json --probe linear --layer "$layer" --json >"/tmp/d2v-text-gpu/probe-layer$layer.json"
		done
		grep -h '"label"\|"top1"' /tmp/d2v-text-gpu/probe*.json
	fi
	tar -C /tmp -czf "$OUT/d2v-text-gpu.tar.gz" --exclude checkpoints --exclude model.safetensors d2v-text-gpu 2>/dev/null
fi
section "done"
