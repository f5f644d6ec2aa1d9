#!/usr/bin/python3
"""Goldens for train/byol/ddp_test.go: BYOL trained data-parallel by PyTorch
DistributedDataParallel on 2 CPU processes (Gloo on 127.0.0.1), the
reference for sslpipe's data-parallel semantics with BatchNorm.

Run from the repository root (Debian's python3-torch 1.13.0a0, CPU, float32):
    /usr/bin/python3 train/byol/testdata/ddp/make_ddp_goldens.py

It reuses ../parity/make_goldens.py: the small network (two conv layers with
BatchNorm, projector and predictor MLPs with BatchNorm), its initial weights
and fixed batches (../parity/{init,batches}.safetensors), the loss, the
learning-rate and tau schedules and the EMA update, unchanged.

Set-up, as solo-learn wraps its whole Lightning module:
- One module holds the online network and the EMA target (target parameters
  with requires_grad False); its forward(v1, v2) computes BYOL's symmetric
  loss (online and target forwards, BatchNorm in training mode). The whole
  module is wrapped in one DistributedDataParallel(broadcast_buffers=True).
- DDP's construction broadcasts every parameter and buffer from rank 0 (rank
  1 starts from its own random weights to show it); every DDP forward first
  broadcasts module.buffers() (both networks' BatchNorm running statistics,
  and num_batches_tracked, unused with momentum 0.1) from rank 0. Batch
  statistics stay per rank (no SyncBatchNorm), so after a step rank 1's
  running statistics are rank 0's from before the step updated with rank 1's
  own batch statistics.
- Rank r takes rows [r*B/2, (r+1)*B/2) of each view of batch k % 4 (B = 8).
- DDP averages the online gradients over the ranks in backward; then the
  optimizer steps, then the EMA target update runs on each rank.
- 5 steps (warm-up 3, then cosine), SGD (lr 0.05, momentum 0.9, wd 1e-4)
  and AdamW (lr 2e-3, wd 0.01, eps 1e-6), the parity goldens' settings;
  1 libtorch thread per process.

Writes train/byol/testdata/ddp/{sgd,adamw}.safetensors, each with
  loss.r0, loss.r1        each rank's own loss per step (float32[5]),
  online.*, target.*      rank 0's final tensors (weights and BatchNorm
                          running statistics; no num_batches_tracked),
  r1.<buffer name>        rank 1's final BatchNorm running statistics.
The script asserts that the two ranks end with bitwise-equal weights and
different running statistics. The Go test compares at 1e-4 relative.

How well posed 5 steps are: with 2 libtorch threads per process instead of
1 (another reduction order, ~1e-7 changes) PyTorch itself moves its losses
by up to 1e-5 relative (SGD, step 4; AdamW 1.5e-6) and its tensors by up to
3.3e-5 relative (SGD; AdamW 8e-6, the biases without a true gradient aside):
the 4-row batches' BatchNorm amplifies rounding, so 1e-4 leaves a margin of
3 over PyTorch's own noise.
"""
import json
import os
import socket
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

HERE = os.path.dirname(os.path.abspath(__file__))
PARITY = os.path.join(HERE, "..", "parity")
sys.path.insert(0, PARITY)
import make_goldens as mg  # noqa: E402  (the parity goldens' model, loss, schedules)

STEPS, BATCH, NB, WORLD = 5, 8, 4, 2
CONFIGS = {
    "sgd": dict(lr=0.05, momentum=0.9, wd=1e-4),
    "adamw": dict(lr=2e-3, wd=0.01, eps=1e-6),
}


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        assert h["dtype"] == "F32", name
        out[name] = torch.from_numpy(np.frombuffer(blob[a:b], dtype="<f4").copy()).reshape(h["shape"])
    return out


class BYOL(nn.Module):
    """Online network and EMA target in one module; forward is the loss."""

    def __init__(self):
        super().__init__()
        self.online, self.target = mg.Net(True), mg.Net(False)
        self.target.requires_grad_(False)

    def forward(self, v1, v2):
        on, tg = self.online, self.target
        y1, y2 = on.backbone(v1), on.backbone(v2)
        p1 = on.predictor(on.projector(y1))
        p2 = on.predictor(on.projector(y2))
        with torch.no_grad():
            t1 = tg.projector(tg.backbone(v1))
            t2 = tg.projector(tg.backbone(v2))
        return mg.pair(p1, t2) + mg.pair(p2, t1)


def worker(rank, port, tmp):
    torch.set_num_threads(1)
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    init = read_st(os.path.join(PARITY, "init.safetensors"))
    batches = read_st(os.path.join(PARITY, "batches.safetensors"))
    lo, hi = rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD
    for name, c in CONFIGS.items():
        torch.manual_seed(100 + rank)  # rank 1's own random weights, replaced by DDP's broadcast
        m = BYOL()
        if rank == 0:
            m.load_state_dict(init, strict=False)  # the num_batches_tracked buffers stay 0
        m.train()
        ddp = DDP(m, broadcast_buffers=True)
        params = list(m.online.parameters())
        if name == "sgd":
            opt = torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"], weight_decay=c["wd"])
        else:
            opt = torch.optim.AdamW(params, lr=c["lr"], weight_decay=c["wd"], eps=c["eps"])  # betas (0.9, 0.999)
        losses = []
        for k in range(STEPS):
            v1 = batches[f"b{k % NB}.v0"][lo:hi]
            v2 = batches[f"b{k % NB}.v1"][lo:hi]
            for g in opt.param_groups:
                g["lr"] = mg.lr_at(k, c["lr"], STEPS)
            loss = ddp(v1, v2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tau = mg.tau_at(k, STEPS)
            with torch.no_grad():
                onp = dict(m.online.named_parameters())
                for n, pt in m.target.named_parameters():
                    pt.mul_(tau).add_(onp[n], alpha=1 - tau)
            losses.append(loss.item())
        st = {**mg.state(m.online, "online."), **mg.state(m.target, "target.")}
        torch.save({"losses": losses, "state": {k: v.clone() for k, v in st.items()}},
                   os.path.join(tmp, f"{name}.r{rank}.pt"))
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(worker, args=(free_port(), tmp), nprocs=WORLD, join=True)
        for name, c in CONFIGS.items():
            r0 = torch.load(os.path.join(tmp, f"{name}.r0.pt"))
            r1 = torch.load(os.path.join(tmp, f"{name}.r1.pt"))
            out = dict(r0["state"])
            differ = []
            for k, v in r1["state"].items():
                if "running_" in k:
                    out["r1." + k] = v
                    if not torch.equal(v, r0["state"][k]):
                        differ.append(k)
                else:
                    assert torch.equal(v, r0["state"][k]), f"{name}: ranks' weights differ at {k}"
            assert differ, f"{name}: the ranks' running statistics are equal"
            out["loss.r0"] = torch.tensor(r0["losses"], dtype=torch.float32)
            out["loss.r1"] = torch.tensor(r1["losses"], dtype=torch.float32)
            mg.write_st(os.path.join(HERE, name + ".safetensors"), out,
                        {"config": json.dumps(c), "torch": torch.__version__, "steps": str(STEPS), "world": str(WORLD)})
            print(name, "r0", " ".join(f"{l:.6f}" for l in r0["losses"]))
            print(name, "r1", " ".join(f"{l:.6f}" for l in r1["losses"]))
            print(name, f"{len(differ)} running-statistics tensors differ between the ranks")


if __name__ == "__main__":
    main()
