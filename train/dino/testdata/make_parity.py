"""Goldens for train/dino's parity test (TestParity).

A reference DINO written from the paper (Caron et al. 2021, Algorithm 1
and section 3.1: H(t, s) = -sum t log s; multi-crop loss over every pair of
a global crop for the teacher and a different crop for the student;
teacher output centred and sharpened, center EMA with momentum 0.9;
teacher = EMA of the student) and the official repository's semantics
(MultiCropWrapper: one backbone call per run of same-size crops, head on
all; DINOHead: Linear-GELU MLP to the bottleneck, F.normalize, weight_norm
last layer without bias, g filled with 1 and frozen (norm_last_layer);
per-parameter gradient clipping clip/(norm+1e-6); last layer's gradients
dropped during the first epoch; AdamW with two groups, weight decay only
on weights (not biases or 1-D tensors), lr and wd set per step; EMA after
the update). Backbone: a tiny ViT (as testdata/make_vit.py of
train/transformer: 16 px, patch 4, width 24, 2 pre-LN blocks, 3 heads,
LayerNorm eps 1e-6, CLS output; position embedding interpolated
bicubically for the 8 px local crops).

Head: hidden 32, bottleneck 16, 64 prototypes, 3 layers. Batch 4, two 16 px
global crops and two 8 px local crops. Three steps with
  lr            1e-3, 2e-3, 1.5e-3
  weight decay  0.04, 0.1, 0.2
  momentum      0.9, 0.95, 0.99
  teacher temp  0.04, 0.055, 0.07 (student 0.1)
  last layer    frozen at step 1 only
  clip          0.3 (so that some parameters are clipped; printed)

Writes parity_init.safetensors (student weights; the teacher starts equal)
and parity_golden.safetensors (views v0..v3; losses and teacher entropies
of the 3 steps; student.<name>, teacher.<name> and center after the 3
steps).

Run with Debian's python (torch 1.13.1):
  /usr/bin/python3 train/dino/testdata/make_parity.py train/dino/testdata
Tolerance in the Go test: 1e-4 relative (max |a - b| / max(max |b|, 1e-3)
per tensor, and on each loss).
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

IMG, PATCH, C, DIM, DEPTH, HEADS = 16, 4, 3, 24, 2, 3
HID, BOT, K, B = 32, 16, 64, 4
LRS = [1e-3, 2e-3, 1.5e-3]
WDS = [0.04, 0.1, 0.2]
MOMS = [0.9, 0.95, 0.99]
TTEMPS = [0.04, 0.055, 0.07]
STEMP, CENTER_M, CLIP = 0.1, 0.9, 0.3


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


class DINOHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(DIM, HID), nn.GELU(), nn.Linear(HID, HID), nn.GELU(), nn.Linear(HID, BOT))
        self.last_layer = nn.utils.weight_norm(nn.Linear(BOT, K, bias=False))
        self.last_layer.weight_g.data.fill_(1)
        self.last_layer.weight_g.requires_grad = False

    def forward(self, x):
        return self.last_layer(F.normalize(self.mlp(x), dim=-1))


class MultiCrop(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = ViT()
        self.head = DINOHead()

    def forward(self, crops):
        feats, i = [], 0
        while i < len(crops):
            j = i
            while j < len(crops) and crops[j].shape[-2:] == crops[i].shape[-2:]:
                j += 1
            feats.append(self.backbone(torch.cat(crops[i:j])))
            i = j
        return self.head(torch.cat(feats))


def dino_loss(student_out, teacher_out, center, ttemp):
    s = (student_out / STEMP).chunk(len(crops))
    t = F.softmax((teacher_out - center) / ttemp, dim=-1).detach().chunk(2)
    total, n = 0, 0
    for iq, q in enumerate(t):
        for v in range(len(s)):
            if v == iq:
                continue
            total = total + torch.sum(-q * F.log_softmax(s[v], dim=-1), dim=-1).mean()
            n += 1
    tp = F.softmax((teacher_out - center) / ttemp, dim=-1)
    ent = -(tp * F.log_softmax((teacher_out - center) / ttemp, dim=-1)).sum(-1).mean()
    return total / n, ent


torch.manual_seed(3)
student = MultiCrop()
with torch.no_grad():
    for n, p in student.named_parameters():
        if p.requires_grad:
            p.add_(0.1 * torch.randn_like(p))
teacher = MultiCrop()
teacher.load_state_dict(student.state_dict())
for p in teacher.parameters():
    p.requires_grad = False
init = {n: t.detach().clone() for n, t in student.state_dict().items()}

crops = [torch.randn(B, C, 16, 16), torch.randn(B, C, 16, 16), torch.randn(B, C, 8, 8), torch.randn(B, C, 8, 8)]
gold = {"v%d" % i: x for i, x in enumerate(crops)}
regularized = [p for n, p in student.named_parameters() if p.requires_grad and not (n.endswith(".bias") or p.ndim == 1)]
not_regularized = [p for n, p in student.named_parameters() if p.requires_grad and (n.endswith(".bias") or p.ndim == 1)]
opt = torch.optim.AdamW([{"params": regularized}, {"params": not_regularized, "weight_decay": 0.0}])
center = torch.zeros(1, K)
losses, ents = [], []
for it in range(3):
    opt.param_groups[0]["lr"] = LRS[it]
    opt.param_groups[0]["weight_decay"] = WDS[it]
    opt.param_groups[1]["lr"] = LRS[it]
    with torch.no_grad():
        t_out = teacher(crops[:2])
    s_out = student(crops)
    loss, ent = dino_loss(s_out, t_out, center, TTEMPS[it])
    with torch.no_grad():
        center = center * CENTER_M + t_out.sum(0, keepdim=True) / len(t_out) * (1 - CENTER_M)
    opt.zero_grad()
    loss.backward()
    clipped = 0
    for n, p in student.named_parameters():
        if p.grad is not None:
            norm = p.grad.data.norm(2)
            coef = CLIP / (norm + 1e-6)
            if coef < 1:
                p.grad.data.mul_(coef)
                clipped += 1
    if it == 0:
        for n, p in student.named_parameters():
            if "last_layer" in n:
                p.grad = None
    opt.step()
    with torch.no_grad():
        for ps, pt in zip(student.parameters(), teacher.parameters()):
            pt.data.mul_(MOMS[it]).add_((1 - MOMS[it]) * ps.detach().data)
    losses.append(loss.item())
    ents.append(ent.item())
    print("step", it + 1, "loss", loss.item(), "teacher entropy", ent.item(), "clipped", clipped, "of",
          sum(1 for p in student.parameters() if p.grad is not None))
gold["losses"] = torch.tensor(losses)
gold["entropies"] = torch.tensor(ents)
gold["center"] = center
for n, t in student.state_dict().items():
    gold["student." + n] = t.detach().clone()
for n, t in teacher.state_dict().items():
    gold["teacher." + n] = t.detach().clone()


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
