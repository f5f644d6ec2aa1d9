"""torchaudio side of the HuBERT step benchmark (issue 9's GPU goal).

Times one training step of torchaudio's hubert_pretrain_base (95M
parameters, 100 classes) at batch 8 x 4 s of 16 kHz audio: forward under
bf16 autocast, HuBERT loss (mean CE on masked frames + 10 x feature
penalty), backward, clip_grad_norm_(10), AdamW(5e-4, (0.9, 0.98), 1e-6,
wd 0.01): the same work as `sslpipe hubert bench --preset hubert-base`.

  python3 benchmarks/hubert/bench_torchaudio.py [--steps 20] [--warmup 5] [--no-bf16] [--device cuda]

Run it with the machine's torch/torchaudio (GPU bundle: run-on-gpu.sh runs
benchmarks/hubert/run_gpu.sh, which runs both sides in the same session).
Reference: about 74 ms/step on an H100 (issue 9).
"""
import argparse
import time

import torch
import torch.nn.functional as F
import torchaudio

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--seconds", type=float, default=4.0)
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
p.add_argument("--no-bf16", action="store_true")
a = p.parse_args()

dev = torch.device(a.device)
torch.manual_seed(0)
model = torchaudio.models.hubert_pretrain_base(num_classes=100).to(dev)
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
L = int(a.seconds * 16000)
waves = torch.randn(a.batch, L, device=dev) * 0.1
with torch.no_grad():
    T = model.wav2vec2.feature_extractor(waves[:1], None)[0].shape[1]
labels = torch.randint(0, 100, (a.batch, T), device=dev)
bf16 = (not a.no_bf16) and dev.type == "cuda"


def step():
    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16):
        logit_m, logit_u, pen = model(waves, labels)
        target = torch.zeros(logit_m.shape[0], dtype=torch.long, device=dev)
        loss = F.cross_entropy(logit_m.float(), target) + 10.0 * pen.float()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


for _ in range(a.warmup):
    step()
if dev.type == "cuda":
    torch.cuda.synchronize()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
if dev.type == "cuda":
    torch.cuda.synchronize()
ms = (time.perf_counter() - t0) * 1000 / a.steps
name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
print(f"torchaudio {torchaudio.__version__} / torch {torch.__version__} hubert_pretrain_base step: batch {a.batch} x {a.seconds:.1f} s "
      f"({T} frames), {name}, bf16 {bf16}: {ms:.1f} ms/step")
