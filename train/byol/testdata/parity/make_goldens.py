#!/usr/bin/python3
"""Goldens for train/parity_test.go: 20 BYOL steps of a small network in
PyTorch (Debian's python3-torch 1.13, CPU, float32) with SGD, LARS and
AdamW, from the same initial weights and fixed batches the Go test uses.

Run from the repository root:
    /usr/bin/python3 train/testdata/parity/make_goldens.py

Writes train/testdata/parity/{init,batches,sgd,lars,adamw}.safetensors.
The Go test compares losses and final weights within 1e-4 relative

Hyperparameters are chosen so that the 20-step trajectory is well posed:
perturbing PyTorch itself by 1e-7 (torch.norm instead of a sum of squares
in the LARS trust ratio, or 2 threads instead of 1) must move no loss by
more than ~1e-5. LARS at lr 0.5 and AdamW with eps 1e-8 fail that (3e-5
at step 6 and 7e-4 at step 12 for LARS; 1e-4 for AdamW, whose tiny
eps turns the rounding noise of biases that have no true gradient, e.g.
a Linear bias before BatchNorm, into lr-sized steps), so the goldens use
LARS lr 0.2 and AdamW eps 1e-6; sslpipe's defaults stay PyTorch's.
Both sides run libtorch with 2 intra-op threads (reduction order).
Safetensors files are written by hand (the package is not installed).
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.dirname(os.path.abspath(__file__))
STEPS, BATCH, NB = 20, 8, 4
WARMUP = 3
TAU_BASE = 0.99

torch.manual_seed(0)
torch.set_num_threads(2)


def write_st(path, tensors, meta=None):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype == torch.int64:
            dt, b = "I64", t.numpy().astype("<i8").tobytes()
        else:
            dt, b = "F32", t.float().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, o))


class Net(nn.Module):
    def __init__(self, pred):
        super().__init__()
        self.backbone = Backbone()
        self.projector = mlp(16, 32, 16)
        if pred:
            self.predictor = mlp(16, 32, 16)


def state(net, prefix):
    return {prefix + k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def lr_at(k, base, total):
    if k < WARMUP:
        return base * (k + 1) / WARMUP
    f = min(k - WARMUP, total - WARMUP) / (total - WARMUP)
    return base * (1 + math.cos(math.pi * f)) / 2


def tau_at(k, total):
    return 1 - (1 - TAU_BASE) * (math.cos(math.pi * min(k / total, 1)) + 1) / 2


def pair(p, z):
    return (2 - 2 * (F.normalize(p, dim=1) * F.normalize(z, dim=1)).sum(dim=1)).mean()


class LARS(torch.optim.Optimizer):
    """SGD with momentum on the LARS-scaled gradient; 1-d params (bias,
    norm) excluded from weight decay and adaptation (as sslpipe)."""

    def __init__(self, params, lr, momentum, weight_decay, eta):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if p.ndim > 1:
                    d = d.add(p, alpha=g["weight_decay"])
                    # Norms as sslpipe computes them: sqrt of a float32 sum of squares.
                    pn = math.sqrt((p * p).sum().item())
                    dn = math.sqrt((d * d).sum().item())
                    if pn > 0 and dn > 0:
                        d = d.mul(g["eta"] * pn / dn)
                st = self.state[p]
                if "momentum_buffer" not in st:
                    st["momentum_buffer"] = torch.zeros_like(p)
                buf = st["momentum_buffer"]
                buf.mul_(g["momentum"]).add_(d)
                p.add_(buf, alpha=-g["lr"])


def main():
    online, target = Net(True), Net(False)
    target.load_state_dict(online.state_dict(), strict=False)
    init = {**state(online, "online."), **state(target, "target.")}
    batches = {f"b{i}.v{v}": torch.randn(BATCH, 3, 16, 16) for i in range(NB) for v in range(2)}
    write_st(os.path.join(OUT, "init.safetensors"), init)
    write_st(os.path.join(OUT, "batches.safetensors"), batches)

    configs = {
        "sgd": dict(lr=0.05, momentum=0.9, wd=1e-4),
        "lars": dict(lr=0.2, momentum=0.9, wd=1e-4, eta=0.02),
        "adamw": dict(lr=2e-3, wd=0.01, eps=1e-6),
    }
    for name, c in configs.items():
        on, tg = Net(True), Net(False)
        on.load_state_dict({k[len("online."):]: v for k, v in init.items() if k.startswith("online.")}, strict=False)
        tg.load_state_dict({k[len("target."):]: v for k, v in init.items() if k.startswith("target.")}, strict=False)
        on.train()
        tg.train()
        if name == "sgd":
            opt = torch.optim.SGD(on.parameters(), lr=c["lr"], momentum=c["momentum"], weight_decay=c["wd"])
        elif name == "lars":
            opt = LARS(on.parameters(), lr=c["lr"], momentum=c["momentum"], weight_decay=c["wd"], eta=c["eta"])
        else:
            opt = torch.optim.AdamW(on.parameters(), lr=c["lr"], weight_decay=c["wd"], eps=c["eps"])  # betas (0.9, 0.999)
        losses = []
        for k in range(STEPS):
            v1, v2 = batches[f"b{k % NB}.v0"], batches[f"b{k % NB}.v1"]
            for g in opt.param_groups:
                g["lr"] = lr_at(k, c["lr"], STEPS)
            y1, y2 = on.backbone(v1), on.backbone(v2)
            p1 = on.predictor(on.projector(y1))
            p2 = on.predictor(on.projector(y2))
            with torch.no_grad():
                t1 = tg.projector(tg.backbone(v1))
                t2 = tg.projector(tg.backbone(v2))
            loss = pair(p1, t2) + pair(p2, t1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tau = tau_at(k, STEPS)
            with torch.no_grad():
                onp = dict(on.named_parameters())
                for n, pt in tg.named_parameters():
                    pt.mul_(tau).add_(onp[n], alpha=1 - tau)
            losses.append(loss.item())
        out = {**state(on, "online."), **state(tg, "target.")}
        out["loss"] = torch.tensor(losses, dtype=torch.float32)
        write_st(os.path.join(OUT, name + ".safetensors"), out,
                 {"config": json.dumps(c), "torch": torch.__version__})
        print(name, " ".join(f"{l:.5f}" for l in losses))


if __name__ == "__main__":
    main()
