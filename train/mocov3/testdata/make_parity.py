"""Goldens for train/mocov3's parity test (TestParity).

A reference MoCo v3 written from the paper (Chen, Xie and He 2021,
Algorithm 1: ctr(q, k) = 2 tau CE(normalize(q) normalize(k)^T / tau,
arange(N)); loss = ctr(q1, k2) + ctr(q2, k1)) and the official repository's
semantics (main_moco.py / moco/builder.py: _build_mlp with bias-free
linear layers, BatchNorm1d + ReLU between them and BatchNorm1d(affine=False)
after the projector's last layer; predictor of 2 layers without the last
BatchNorm; the momentum encoder updated param by param as m*k + (1-m)*q in
the forward pass, before the keys are computed, its BatchNorm in training
mode; torch.optim.AdamW over every parameter of the query encoder, weight
decay 0.1, default betas). Backbone: the tiny ViT of train/dino's parity
script (16 px, patch 4, width 24, 2 pre-LN blocks, 3 heads, CLS output).
Projector 24 -> 32 -> 32 -> 16 (3 layers), predictor 16 -> 32 -> 16, tau
0.2, batch 8, three steps with learning rates 1e-3, 2e-3, 1.5e-3 and
momenta 0.99, 0.995, 0.999.

Writes parity_init.safetensors (query encoder; the momentum encoder starts
as a copy of its backbone and projector) and parity_golden.safetensors
(views x1, x2; losses and accs of the 3 steps; base.<name> and
momentum.<name> after the 3 steps).

Run with Debian's python (torch 1.13.1):
  /usr/bin/python3 train/mocov3/testdata/make_parity.py train/mocov3/testdata
Tolerance in the Go test: 1e-4 relative (max |a - b| / max(max |b|, 1e-3)
per tensor, and on each loss); the ViT attention key biases, whose true
gradient is zero, within the sum of the learning rates.
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

IMG, PATCH, C, DIM, DEPTH, HEADS = 16, 4, 3, 24, 2, 3
HID, OUT, PHID, B, TAU, WD, EPS = 32, 16, 32, 8, 0.2, 0.1, 1e-5
LRS = [1e-3, 2e-3, 1.5e-3]
MOMS = [0.99, 0.995, 0.999]


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, hd).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        return self.proj((w @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(C, DIM, kernel_size=PATCH, stride=PATCH)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        g = IMG // PATCH
        self.patch_embed = PatchEmbed()
        self.cls_token = nn.Parameter(torch.randn(1, 1, DIM) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, g * g + 1, DIM) * 0.02)
        self.blocks = nn.ModuleList([Block(DIM, HEADS) for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def pos(self, h, w):
        g = int(math.sqrt(self.pos_embed.shape[1] - 1))
        if h == g and w == g:
            return self.pos_embed
        grid = self.pos_embed[:, 1:].reshape(1, g, g, DIM).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, scale_factor=((h + 0.1) / g, (w + 0.1) / g), mode="bicubic")
        return torch.cat([self.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, h * w, DIM)], dim=1)

    def forward(self, x):
        b, _, hh, ww = x.shape
        t = torch.cat([self.cls_token.expand(b, -1, -1), self.patch_embed(x)], dim=1)
        t = t + self.pos(hh // PATCH, ww // PATCH)
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t)[:, 0]


def build_mlp(num_layers, input_dim, mlp_dim, output_dim, last_bn):
    layers = []
    for l in range(num_layers):
        d1 = input_dim if l == 0 else mlp_dim
        d2 = output_dim if l == num_layers - 1 else mlp_dim
        layers.append(nn.Linear(d1, d2, bias=False))
        if l < num_layers - 1:
            layers += [nn.BatchNorm1d(d2), nn.ReLU()]
        elif last_bn:
            layers.append(nn.BatchNorm1d(d2, affine=False))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    def __init__(self, predictor):
        super().__init__()
        self.backbone = ViT()
        self.projector = build_mlp(3, DIM, HID, OUT, True)
        if predictor:
            self.predictor = build_mlp(2, OUT, PHID, OUT, False)

    def forward(self, x):
        z = self.projector(self.backbone(x))
        return self.predictor(z) if hasattr(self, "predictor") else z


def ctr(q, k):
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).t() / TAU
    labels = torch.arange(len(q))
    acc = (logits.argmax(1) == labels).float().mean()
    return 2 * TAU * F.cross_entropy(logits, labels), acc


def state(model):
    return {n: t.detach().clone() for n, t in model.state_dict().items() if not n.endswith("num_batches_tracked")}


torch.manual_seed(17)
base = Encoder(True)
with torch.no_grad():
    for p in base.parameters():
        p.add_(0.1 * torch.randn_like(p))
mom = Encoder(False)
mom.load_state_dict(state(base), strict=False)
for p in mom.parameters():
    p.requires_grad = False
base.train()
mom.train()
init = state(base)
x1, x2 = torch.randn(B, C, IMG, IMG), torch.randn(B, C, IMG, IMG)
gold = {"x1": x1, "x2": x2}
opt = torch.optim.AdamW(base.parameters(), lr=LRS[0], weight_decay=WD, eps=EPS)
losses, accs = [], []
for it in range(3):
    for g in opt.param_groups:
        g["lr"] = LRS[it]
    q1, q2 = base(x1), base(x2)
    with torch.no_grad():
        qp = dict(base.named_parameters())
        for n, pm in mom.named_parameters():
            pm.data = pm.data * MOMS[it] + qp[n].data * (1.0 - MOMS[it])
        k1, k2 = mom(x1), mom(x2)
    l1, a1 = ctr(q1, k2)
    l2, a2 = ctr(q2, k1)
    loss = l1 + l2
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
    accs.append(((a1 + a2) / 2).item())
print("losses", losses, "accs", accs)
gold["losses"] = torch.tensor(losses)
gold["accs"] = torch.tensor(accs)
for n, t in state(base).items():
    gold["base." + n] = t
for n, t in state(mom).items():
    gold["momentum." + n] = t


def save(path, tensors):
    header, blobs, off = {}, [], 0
    for n in sorted(tensors):
        b = tensors[n].contiguous().to(torch.float32).numpy().tobytes()
        header[n] = {"dtype": "F32", "shape": list(tensors[n].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


out = sys.argv[1] if len(sys.argv) > 1 else "."
save(out + "/parity_init.safetensors", init)
save(out + "/parity_golden.safetensors", gold)
