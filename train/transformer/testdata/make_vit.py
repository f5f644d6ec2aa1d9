"""Goldens for train/transformer's ViT parity test (TestViTParity).

A reference Vision Transformer written from the DINO paper and repository
semantics (vision_transformer.py: PatchEmbed as a strided Conv2d, CLS token,
learnable position embedding interpolated bicubically with scale factors
((h+0.1)/g, (w+0.1)/g) when the patch grid differs, pre-LN blocks with a
fused qkv projection, GELU MLP, LayerNorm eps 1e-6, final norm, output =
CLS token). Its parameters are randomly initialized and perturbed so that
layer norms and biases are not trivial, and the script writes:
  vit_init.safetensors    the weights (DINO state-dict names)
  vit_golden.safetensors  inputs x_<case> and outputs cls_<case> for
                          inputs of 16x16 (the training grid, 4x4), 8x8
                          (local crop: grid 2x2, interpolated), 12x8
                          (rectangular 3x2 grid) and 10x10 (remainder
                          dropped, 2x2); tokens_16 (all tokens of 16x16);
                          grad.<name> = d sum(cls_8 * r) / d param for a
                          fixed random r (checks the interpolation's
                          backward).

Run with Debian's python (torch 1.13.1):
  /usr/bin/python3 train/transformer/testdata/make_vit.py train/transformer/testdata
Tolerance in the Go test: 1e-5 relative (max |a - b| / max |b|) on outputs
and gradients.
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

IMG, PATCH, C, DIM, DEPTH, HEADS, RATIO = 16, 4, 3, 24, 2, 3, 4


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
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # b h n hd
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
    def __init__(self, dim, heads, ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * ratio)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, c, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(c, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        g = IMG // PATCH
        self.patch_embed = PatchEmbed(C, DIM, PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, g * g + 1, DIM))
        self.blocks = nn.ModuleList([Block(DIM, HEADS, RATIO) for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def pos(self, h, w):
        n = self.pos_embed.shape[1] - 1
        g = int(math.sqrt(n))
        if h == g and w == g:
            return self.pos_embed
        grid = self.pos_embed[:, 1:].reshape(1, g, g, DIM).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, scale_factor=((h + 0.1) / g, (w + 0.1) / g), mode="bicubic")
        assert grid.shape[-2:] == (h, w)
        return torch.cat([self.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, h * w, DIM)], dim=1)

    def tokens(self, x):
        b, _, hh, ww = x.shape
        t = self.patch_embed(x)
        t = torch.cat([self.cls_token.expand(b, -1, -1), t], dim=1)
        t = t + self.pos(hh // PATCH, ww // PATCH)
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t)

    def forward(self, x):
        return self.tokens(x)[:, 0]


torch.manual_seed(7)
model = ViT()
with torch.no_grad():
    for p in model.parameters():
        p.add_(0.2 * torch.randn_like(p))
init = {n: p.detach().clone() for n, p in model.state_dict().items()}

gold = {}
for name, (h, w) in {"16": (16, 16), "8": (8, 8), "12x8": (12, 8), "10": (10, 10)}.items():
    x = torch.randn(2, C, h, w)
    gold["x_" + name] = x
    gold["cls_" + name] = model(x).detach()
gold["tokens_16"] = model.tokens(gold["x_16"]).detach()
r = torch.randn(2, DIM)
gold["r"] = r
model.zero_grad()
(model(gold["x_8"]) * r).sum().backward()
for n, p in model.named_parameters():
    gold["grad." + n] = p.grad.detach().clone()


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
save(out + "/vit_init.safetensors", init)
save(out + "/vit_golden.safetensors", gold)
print("wrote", len(init), "weights and", len(gold), "golden tensors")
