#!/usr/bin/env python3
"""PyTorch eager reference for `sslpipe bench train`: one BYOL training
step of ResNet-18 with the CIFAR stem (3x3 stride-1 conv, no max-pool),
batch 256 of 32x32 images, two views, projector/predictor
Linear(512->4096)-BN-ReLU-Linear(->256), symmetric 2-2cos loss, SGD
(momentum 0.9, weight decay 1e-5 on weights only, as sslpipe's cifar
preset), EMA target update, loss read back each step (as sslpipe does).
Same structure as sslpipe's step: each view is its own forward pass.

Usage (on the GPU machine, with the machine's torch):
    python3 benchmarks/train/byol_step.py --device cuda [--bf16] [--steps 50] [--warmup 10]
Prints one JSON line: {"impl": "pytorch-eager", "median_ms": ..., ...}.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18Cifar(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, c = [], 64
        for i, w in enumerate([64, 128, 256, 512]):
            for b in range(2):
                s = 2 if i > 0 and b == 0 else 1
                layers.append(Block(c, w, s))
                c = w
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(F.relu(self.bn1(self.conv1(x)))).mean(dim=(2, 3))


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, o))


def pair(p, z):
    return (2 - 2 * (F.normalize(p.float(), dim=1) * F.normalize(z.float(), dim=1)).sum(dim=1)).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.backends.cudnn.benchmark = False  # sslpipe does not enable it either
    torch.manual_seed(0)
    ob, op, oq = ResNet18Cifar().to(dev), mlp(512, 4096, 256).to(dev), mlp(256, 4096, 256).to(dev)
    tb, tp = ResNet18Cifar().to(dev), mlp(512, 4096, 256).to(dev)
    tb.load_state_dict(ob.state_dict())
    tp.load_state_dict(op.state_dict())
    for p in list(tb.parameters()) + list(tp.parameters()):
        p.requires_grad_(False)
    params = list(ob.parameters()) + list(op.parameters()) + list(oq.parameters())
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    lr = 0.4 * a.batch / 256
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 1e-5}, {"params": no_decay, "weight_decay": 0}], lr=lr, momentum=0.9)
    online_p = list(ob.parameters()) + list(op.parameters())
    target_p = list(tb.parameters()) + list(tp.parameters())
    x1 = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    x2 = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    tau = 0.99
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=a.bf16):
            y1, y2 = ob(x1), ob(x2)
            p1, p2 = oq(op(y1)), oq(op(y2))
            with torch.no_grad():
                t1, t2 = tp(tb(x1)), tp(tb(x2))
            loss = pair(p1, t2) + pair(p2, t1)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pt, po in zip(target_p, online_p):
                pt.mul_(tau).add_(po, alpha=1 - tau)
        loss.item()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    med = statistics.median(times)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(json.dumps({"impl": "pytorch-eager", "torch": torch.__version__, "device": name, "batch": a.batch, "size": a.size,
                      "bf16": a.bf16, "steps": a.steps, "median_ms": round(med, 3),
                      "mean_ms": round(statistics.mean(times), 3), "images_per_sec": round(a.batch / med * 1000, 1)}))


if __name__ == "__main__":
    main()
