"""PyTorch eager reference for `sslpipe data2vec bench` (issue 10's GPU goal).

The same training step as sslpipe's data2vec.BenchStep: a text data2vec with
token + position embeddings and a layer norm, the encoder's layer norm, 6
post-LN Transformer blocks (d=512, 8 heads, FFN 2048, dropout 0.1, exact
GELU, attention written with matmul + softmax as sslpipe does: libtorch 1.13
has no scaled_dot_product_attention; --sdpa uses it when this torch has it),
a 2-layer regression head (512 -> 1024 -> 512); an EMA teacher (copy of
the encoder) run without gradients on the unmasked tokens; targets = mean
of the top-3 blocks' FFN outputs (before the last residual), each
layer-normalized; Smooth L1 (beta 4) on the masked positions (~33%, spans
of 4), summed over dims, / sqrt(512) / masked count; AdamW (lr 2e-4,
betas 0.9/0.98, eps 1e-6, wd 0.01) after clip_grad_norm_(1.0); EMA update
with decay 0.999. Batch 32 x 128 tokens, vocabulary 30522.
bf16: torch.autocast("cuda", torch.bfloat16) around the forward passes.

Usage (on the GPU machine, next to `sslpipe data2vec bench`):
  python3 benchmarks/data2vec/pytorch_data2vec.py --device cuda --bf16 --steps 50 --warmup 10
Prints one JSON line: impl, bf16, median_ms, mean_ms, tokens_per_sec, loss.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--device", default="cuda")
ap.add_argument("--bf16", action="store_true")
ap.add_argument("--steps", type=int, default=50)
ap.add_argument("--warmup", type=int, default=10)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--layers", type=int, default=6)
ap.add_argument("--dim", type=int, default=512)
ap.add_argument("--top-k", type=int, default=3)
ap.add_argument("--sdpa", action="store_true", help="use F.scaled_dot_product_attention (torch >= 2.0)")
args = ap.parse_args()
dev = torch.device(args.device)
V, D, H, FF, K = 30522, args.dim, 8, 4 * args.dim, args.top_k
B, T = args.batch, args.seq
torch.manual_seed(1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.ff1, self.ff2 = nn.Linear(D, FF), nn.Linear(FF, D)
        self.drop = nn.Dropout(0.1)

    def attention(self, x):
        b, t, d = x.shape
        hd = d // H
        q = self.q(x).view(b, t, H, hd).transpose(1, 2)
        k = self.k(x).view(b, t, H, hd).transpose(1, 2)
        v = self.v(x).view(b, t, H, hd).transpose(1, 2)
        if args.sdpa:
            o = F.scaled_dot_product_attention(q, k, v, dropout_p=0.1 if self.training else 0.0)
        else:
            w = torch.matmul(q * (1 / math.sqrt(hd)), k.transpose(-2, -1)).softmax(-1)
            o = torch.matmul(self.drop(w), v)
        return self.o(o.transpose(1, 2).reshape(b, t, d))

    def forward(self, x):
        x = self.ln1(x + self.drop(self.attention(x)))
        f = self.drop(self.ff2(F.gelu(self.ff1(x))))
        return self.ln2(x + f), f


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(D)
        self.blocks = nn.ModuleList(Block() for _ in range(args.layers))
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        x = self.drop(self.ln(x))
        ffn = []
        for b in self.blocks:
            x, f = b(x)
            ffn.append(f)
        return x, ffn


class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(V, D)
        self.pos = nn.Parameter(torch.randn(T, D) * 0.02)
        self.eln = nn.LayerNorm(D)
        self.encoder = Encoder()
        self.head = nn.Sequential(nn.Linear(D, 2 * D), nn.GELU(), nn.Linear(2 * D, D))

    def front(self, ids):
        return self.eln(self.tok(ids) + self.pos[: ids.shape[1]])


model = Student().to(dev)
teacher = Encoder().to(dev)
teacher.load_state_dict(model.encoder.state_dict())
teacher.eval()
for p in teacher.parameters():
    p.requires_grad_(False)
opt = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)

g = torch.Generator().manual_seed(7)
ids = torch.randint(5, V, (B, T), generator=g)
mask = torch.zeros(B, T, dtype=torch.bool)
for s in range(0, T, 12):
    mask[:, s:s + 4] = True
inp = ids.clone()
inp[mask] = 4
ids, inp, mask = ids.to(dev), inp.to(dev), mask.to(dev)
teacher_params = list(teacher.parameters())
student_enc_params = list(model.encoder.parameters())


def autocast():
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=args.bf16)


def step():
    with torch.no_grad(), autocast():
        _, ffn = teacher(model.front(ids))
        y = sum(F.layer_norm(f.float(), f.shape[-1:]) for f in ffn[-K:]) / K
    with autocast():
        x, _ = model.encoder(model.front(inp))
        p = model.head(x[mask])
    t = y[mask]
    loss = F.smooth_l1_loss(p.float(), t, reduction="none", beta=4.0).sum(-1).sum() / math.sqrt(D) / p.shape[0]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    with torch.no_grad():
        torch._foreach_mul_(teacher_params, 0.999)
        torch._foreach_add_(teacher_params, student_enc_params, alpha=0.001)
    return loss


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


times = []
loss = None
for i in range(args.warmup + args.steps):
    sync()
    t0 = time.perf_counter()
    loss = step()
    sync()
    if i >= args.warmup:
        times.append(1000 * (time.perf_counter() - t0))
med = statistics.median(times)
print(json.dumps({"impl": "pytorch-eager", "torch": torch.__version__, "device": str(dev), "bf16": args.bf16, "sdpa": args.sdpa,
                  "layers": args.layers, "dim": D, "batch": B, "seq": T, "top_k": K, "steps": args.steps,
                  "median_ms": round(med, 3), "mean_ms": round(statistics.mean(times), 3),
                  "tokens_per_sec": round(B * T / (med / 1000)), "loss": float(loss)}))
