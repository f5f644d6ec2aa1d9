"""Goldens for train/data2vec's parity tests (TestParityTargets, TestParityStep).

A toy text data2vec written with torchaudio 0.13's wav2vec 2.0 encoder
blocks (components.EncoderLayer, post-LN, with the encoder's layer norm
before the first block as in torchaudio's Transformer for post-LN blocks):
token + position embeddings and layer norm, 3 blocks of d=32 (4 heads,
FFN 64), a 2-layer regression head (Linear 32->64, GELU, Linear 64->32).
The teacher is a separately perturbed copy of the encoder (so that EMA
and targets are tested with teacher != student). It writes:
  parity_init.safetensors   initial student and teacher weights (sslpipe names)
  parity_golden.safetensors inputs (ids, masked input, mask) and outputs:
      targets_layer     top-2 FFN outputs (before the last residual),
                        layer-normalized, averaged (B x T x D)
      targets_instance  the same with instance norm over time
      loss              Smooth L1 (beta 4) summed over dims on masked
                        positions / sqrt(32) / masked count
      target_var, pred_var  fairseq compute_var of masked targets/predictions
      after.<name>      student weights after clip_grad_norm_(0.25) (the norm is ~0.55, so clipping acts) and
                        torch.optim.AdamW(lr 1e-3, betas (0.9, 0.98),
                        eps 1e-6, weight_decay 0.01)
      ema.<name>        teacher after teacher = 0.9 teacher + 0.1 student
                        (the updated student)
Run with Debian's python (torch 1.13.1, torchaudio 0.13.1):
  /usr/bin/python3 train/data2vec/testdata/make_parity.py train/data2vec/testdata
Tolerances in the Go tests: 1e-5 absolute on targets, 1e-5 relative on
the loss and variances, 1e-5 absolute on weights.
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchaudio.models.wav2vec2 import components as C


def gelu_erf(x, approximate="none"):
    return 0.5 * x * (1 + torch.erf(x * (1 / math.sqrt(2))))


# Same as train/hubert's script: the exact erf GELU (Debian's libtorch
# 1.13.1 CPU GELU backward bug; sslpipe uses the erf form on the CPU).
torch.nn.functional.gelu = gelu_erf

out = sys.argv[1] if len(sys.argv) > 1 else "."
torch.manual_seed(4321)
V, P, D, L, H, FF, K, BETA = 40, 16, 32, 3, 4, 64, 2, 4.0
B, T = 2, 12


def make_encoder():
    enc = nn.Module()
    enc.layer_norm = nn.LayerNorm(D)
    enc.layers = nn.ModuleList([
        C.EncoderLayer(C.SelfAttention(D, H, 0.0), 0.0, False, C.FeedForward(D, FF, 0.0, 0.0))
        for _ in range(L)])
    return enc


class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Module()
        self.embed.tokens = nn.Embedding(V, D)
        self.embed.positions = nn.Embedding(P, D)
        self.embed.layer_norm = nn.LayerNorm(D)
        self.encoder = make_encoder()
        self.regression_head = nn.Sequential(nn.Linear(D, 2 * D), nn.GELU(), nn.Linear(2 * D, D))

    def front(self, ids):
        x = self.embed.tokens(ids) + self.embed.positions.weight[: ids.shape[1]]
        return self.embed.layer_norm(x)


def run_blocks(enc, x):
    """The encoder, returning each block's FFN output before the residual."""
    x = enc.layer_norm(x)
    ffn = []
    for layer in enc.layers:
        ref = layer(x)
        residual = x
        x = layer.attention(x)
        x = layer.dropout(x)
        x = residual + x
        x = layer.layer_norm(x)
        f = layer.feed_forward(x)
        x = layer.final_layer_norm(x + f)
        assert torch.allclose(x, ref, atol=1e-6)
        ffn.append(f)
    return x, ffn


student = Student()
teacher = make_encoder()
with torch.no_grad():
    for p in student.parameters():
        p.add_(0.05 * torch.randn_like(p))
    for (n, p), (_, q) in zip(teacher.named_parameters(), student.encoder.named_parameters()):
        p.copy_(q + 0.05 * torch.randn_like(q))
student.train()

ids = torch.randint(5, V, (B, T))
mask = torch.zeros(B, T, dtype=torch.bool)
mask[0, 2:6] = True
mask[0, 9:11] = True
mask[1, 0:4] = True
mask[1, 7:12] = True
inp = ids.clone()
inp[mask] = 4
inp[0, 3] = 17  # a "random" replacement
inp[1, 8] = ids[1, 8]  # an "unchanged" one

init = {"embed.tokens.weight": student.embed.tokens.weight, "embed.positions.weight": student.embed.positions.weight}
for n, p in student.state_dict().items():
    if not n.startswith("embed.tokens") and not n.startswith("embed.positions"):
        init[n] = p
for n, p in teacher.state_dict().items():
    init["teacher.encoder." + n] = p
init = {n: p.detach().clone() for n, p in init.items()}


def instance_norm(f):
    return F.instance_norm(f.transpose(1, 2)).transpose(1, 2)


def compute_var(y):
    y = y.reshape(-1, y.size(-1))
    return torch.sqrt(y.var(dim=0) + 1e-6).mean()


gold = {"ids": ids, "input": inp, "mask": mask.to(torch.int64)}
with torch.no_grad():
    _, ffn = run_blocks(teacher, student.front(ids))
    top = ffn[-K:]
    y_layer = sum(F.layer_norm(f, f.shape[-1:]) for f in top) / K
    y_inst = sum(instance_norm(f) for f in top) / K
gold["targets_layer"] = y_layer
gold["targets_instance"] = y_inst

opt = torch.optim.AdamW(student.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
opt.zero_grad()
x, _ = run_blocks(student.encoder, student.front(inp))
pred = student.regression_head(x[mask])
tgt = y_layer[mask]
loss = F.smooth_l1_loss(pred, tgt, reduction="none", beta=BETA).sum(dim=-1).sum() / math.sqrt(D) / pred.shape[0]
loss.backward()
gold["loss"] = loss.detach().reshape(1)
gold["target_var"] = compute_var(tgt).reshape(1)
gold["pred_var"] = compute_var(pred.detach()).reshape(1)
gold["grad_norm"] = torch.nn.utils.clip_grad_norm_(student.parameters(), 0.25).reshape(1)
opt.step()
names = {"embed.tokens.weight": student.embed.tokens.weight, "embed.positions.weight": student.embed.positions.weight}
for n, p in student.state_dict().items():
    names.setdefault(n, p)
for n, p in names.items():
    gold["after." + n] = p.detach().clone()
with torch.no_grad():
    for (n, p), (_, q) in zip(teacher.named_parameters(), student.encoder.named_parameters()):
        p.mul_(0.9).add_(q, alpha=0.1)
for n, p in teacher.state_dict().items():
    gold["ema.teacher.encoder." + n] = p.detach().clone()
print("loss", loss.item(), "target_var", gold["target_var"].item(), "pred_var", gold["pred_var"].item(),
      "grad_norm", gold["grad_norm"].item(), "masked", int(mask.sum()))


def save(path, tensors):
    header, blobs, off = {}, [], 0
    for n in sorted(tensors):
        t = tensors[n].contiguous()
        if t.dtype in (torch.int64, torch.bool):
            dt, b = "I64", t.to(torch.int64).numpy().tobytes()
        else:
            dt, b = "F32", t.to(torch.float32).numpy().tobytes()
        header[n] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


save(out + "/parity_init.safetensors", init)
save(out + "/parity_golden.safetensors", gold)
