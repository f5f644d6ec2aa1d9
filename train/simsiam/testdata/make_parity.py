"""Goldens for train/simsiam's parity test (TestParity).

A reference SimSiam written from the paper's Algorithm 1 (Chen and He
2021: D(p, z) = -cos(p, z.detach()); L = D(p1, z2)/2 + D(p2, z1)/2) and the
official repository's architecture: projector Linear-BN-ReLU, Linear-BN-
ReLU, Linear-BN(affine=False) (linear layers without bias here: a bias
before BatchNorm has no effect), predictor Linear(no bias)-BN-ReLU-Linear,
on sslpipe's small ConvNet (widths 4, 8: conv3x3-BN-ReLU, max-pool 2,
conv3x3-BN-ReLU, global average pool) on 3x8x8 images; projector 8 -> 32
-> 32 -> 24, predictor 24 -> 8 ->
24. torch.optim.SGD (momentum 0.9, weight decay 1e-4 on every parameter)
with two parameter groups: encoder learning rates 0.05, 0.04, 0.03 over
three steps, predictor fixed at 0.05 (fix_lr).

Writes parity_init.safetensors (weights and BatchNorm buffers) and
parity_golden.safetensors (views x1, x2; losses and z_stds of the 3 steps,
z_std = std over the batch of F.normalize(z1) averaged over channels;
after.<name>: every tensor after the 3 steps).

Run with Debian's python (torch 1.13.1):
  /usr/bin/python3 train/simsiam/testdata/make_parity.py train/simsiam/testdata
Tolerance in the Go test: 1e-4 relative (per tensor, max |a - b| / max |b|,
and on each loss).
"""
import json
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

N, LRS, PRED_LR = 8, [0.05, 0.04, 0.03], 0.05


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())

    def forward(self, x):
        return self.features(x).mean((2, 3))


class SimSiam(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = ConvNet()
        self.projector = nn.Sequential(
            nn.Linear(8, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(),
            nn.Linear(32, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(),
            nn.Linear(32, 24, bias=False), nn.BatchNorm1d(24, affine=False))
        self.predictor = nn.Sequential(nn.Linear(24, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 24))

    def forward(self, x1, x2):
        z1 = self.projector(self.backbone(x1))
        z2 = self.projector(self.backbone(x2))
        return self.predictor(z1), self.predictor(z2), z1.detach(), z2.detach()


def state(model):
    return {n: t.detach().clone() for n, t in model.state_dict().items() if not n.endswith("num_batches_tracked")}


torch.manual_seed(5)
model = SimSiam()
with torch.no_grad():
    for n, p in model.named_parameters():
        if p.ndim == 1:
            p.add_(0.1 * torch.randn_like(p))
model.train()
init = state(model)
enc = [p for n, p in model.named_parameters() if not n.startswith("predictor.")]
pred = [p for n, p in model.named_parameters() if n.startswith("predictor.")]
opt = torch.optim.SGD([{"params": enc, "fix_lr": False}, {"params": pred, "fix_lr": True}],
                      lr=PRED_LR, momentum=0.9, weight_decay=1e-4)
x1, x2 = torch.randn(N, 3, 8, 8), torch.randn(N, 3, 8, 8)
gold = {"x1": x1, "x2": x2}
cos = nn.CosineSimilarity(dim=1)
losses, stds = [], []
for lr in LRS:
    for g in opt.param_groups:
        g["lr"] = PRED_LR if g["fix_lr"] else lr
    opt.zero_grad(set_to_none=True)
    p1, p2, z1, z2 = model(x1, x2)
    loss = -(cos(p1, z2).mean() + cos(p2, z1).mean()) * 0.5
    loss.backward()
    opt.step()
    losses.append(loss.item())
    stds.append(F.normalize(z1, dim=1).std(dim=0).mean().item())
gold["losses"] = torch.tensor(losses)
gold["z_stds"] = torch.tensor(stds)
for n, t in state(model).items():
    gold["after." + n] = t
print("losses", losses, "z_std", stds)


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
