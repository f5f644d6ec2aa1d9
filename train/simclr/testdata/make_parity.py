"""Goldens for train/simclr's parity test (TestParity).

A reference SimCLR written from the paper (Chen et al. 2020, Algorithm 1:
s_ij = cosine similarity, l(i, j) = -log exp(s_ij/T) / sum_{k != i}
exp(s_ik/T), loss = mean over the 2N anchors) with sslpipe's small ConvNet
as backbone (widths 4, 8: conv3x3-BN-ReLU, max-pool 2, conv3x3-BN-ReLU,
global average pool; torchvision-style names features.N) on 3x8x8 images,
the projector Linear 32 -> BatchNorm1d -> ReLU -> Linear 8, each view
through backbone and projector separately (train-mode BatchNorm), and LARS
as sslpipe defines it (BYOL's rule, SimCLR's exclusions):
  d = g + wd p; d *= eta ||p|| / ||d||; buf = m buf + d; p -= lr buf
with biases and BatchNorm parameters (1-D tensors) excluded from weight
decay and adaptation. Three steps on one batch with learning rates
0.3, 0.5, 0.4 (eta 0.02, momentum 0.9, weight decay 1e-4, temperature 0.2).

Writes parity_init.safetensors (weights and BatchNorm buffers, state-dict
names) and parity_golden.safetensors (views x1, x2; losses and accs of the
3 steps; after.<name>: every tensor after the 3 steps).

Multi-crop (TestParityMultiCrop): from the same initial weights, views x1,
x2 (8x8) and two local crops l1, l2 (4x4), each through the network in
turn; NT-Xent over V = 4 views per image with every other view of the
image a positive (SupCon's L_out, Khosla et al. 2020 eq. 2, the image as
its class): loss_a = -1/(V-1) sum_{p in P(a)} log exp(s_ap/T) / sum_{k !=
a} exp(s_ak/T), mean over the V N anchors; acc: the most similar other row
is a view of the anchor's image. Same three LARS steps. Writes
parity_multicrop_golden.safetensors (x1, x2, l1, l2, losses, accs,
after.<name>).

Run with Debian's python (torch 1.13.1):
  /usr/bin/python3 train/simclr/testdata/make_parity.py train/simclr/testdata
Tolerance in the Go test: 1e-4 relative (max |a - b| / max |b| per tensor,
and on each loss).
"""
import json
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

N, T, ETA, MOM, WD, LRS = 6, 0.2, 0.02, 0.9, 1e-4, [0.3, 0.5, 0.4]


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())

    def forward(self, x):
        return self.features(x).mean((2, 3))


class SimCLR(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = ConvNet()
        self.projector = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 8))

    def forward(self, x):
        return self.projector(self.backbone(x))


def loss_fn(z1, z2):
    """Algorithm 1 of the paper, written out."""
    z = torch.cat([z1, z2])
    m = z.shape[0]
    zn = z / z.norm(dim=1, keepdim=True)
    s = zn @ zn.t()
    total, hits = 0.0, 0
    for i in range(m):
        j = (i + N) % m  # the other view of the same image
        others = torch.cat([s[i, :i], s[i, i + 1:]]) / T
        total = total - (s[i, j] / T - torch.logsumexp(others, 0))
        row = s[i].clone()
        row[i] = -2
        hits += int(row.argmax().item() == j)
    return total / m, hits / m


def lars_step(model, lr, bufs):
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.grad is None:
                continue
            d = p.grad
            if p.ndim > 1:
                d = d + WD * p
                pn, dn = p.norm(), d.norm()
                if pn > 0 and dn > 0:
                    d = d * (ETA * pn / dn)
            if n not in bufs:
                bufs[n] = torch.zeros_like(p)
            bufs[n].mul_(MOM).add_(d)
            p.add_(bufs[n], alpha=-lr)


def state(model):
    return {n: t.detach().clone() for n, t in model.state_dict().items() if not n.endswith("num_batches_tracked")}


torch.manual_seed(11)
model = SimCLR()
with torch.no_grad():
    for n, p in model.named_parameters():
        if p.ndim == 1:
            p.add_(0.1 * torch.randn_like(p))
model.train()
init = state(model)
x1, x2 = torch.randn(N, 3, 8, 8), torch.randn(N, 3, 8, 8)


def three_steps(loss, views, gold):
    """Three LARS steps of loss over the model's embeddings of views; the
    losses, accuracies and every tensor afterwards go into gold."""
    losses, accs, bufs = [], [], {}
    for lr in LRS:
        model.zero_grad(set_to_none=True)
        value, acc = loss([model(x) for x in views])
        value.backward()
        lars_step(model, lr, bufs)
        losses.append(value.item())
        accs.append(acc)
    gold["losses"] = torch.tensor(losses)
    gold["accs"] = torch.tensor(accs)
    for n, t in state(model).items():
        gold["after." + n] = t
    return losses, accs


gold = {"x1": x1, "x2": x2}
print("losses %s accs %s" % three_steps(lambda zs: loss_fn(*zs), (x1, x2), gold))


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


def loss_views(zs):
    """Multi-crop NT-Xent, written out."""
    z = torch.cat(zs)
    m, v = z.shape[0], len(zs)
    zn = z / z.norm(dim=1, keepdim=True)
    s = zn @ zn.t()
    total, hits = 0.0, 0
    for a in range(m):
        others = torch.cat([s[a, :a], s[a, a + 1:]]) / T
        lse = torch.logsumexp(others, 0)
        for j in range(m):
            if j != a and j % N == a % N:
                total = total - (s[a, j] / T - lse) / (v - 1)
        row = s[a].clone()
        row[a] = -2
        hits += int(row.argmax().item() % N == a % N)
    return total / m, hits / m


l1, l2 = torch.randn(N, 3, 4, 4), torch.randn(N, 3, 4, 4)
model.load_state_dict(init, strict=False)
mc = {"x1": x1, "x2": x2, "l1": l1, "l2": l2}
print("multi-crop losses %s accs %s" % three_steps(loss_views, (x1, x2, l1, l2), mc))

out = sys.argv[1] if len(sys.argv) > 1 else "."
save(out + "/parity_init.safetensors", init)
save(out + "/parity_golden.safetensors", gold)
save(out + "/parity_multicrop_golden.safetensors", mc)
