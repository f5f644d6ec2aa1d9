"""Weighted kNN with PyTorch, the way solo-learn / DINO evaluate (torch.mm
against the train bank in chunks, torch.topk, exp(sim/T) votes), for a
speed and accuracy reference next to `sslpipe bench knn`.

    /usr/bin/python3 scripts/demo/knn_torch_speed.py synthetic   # 60k x 10k x 512 Gaussian features
    /usr/bin/python3 scripts/demo/knn_torch_speed.py fmnist      # raw Fashion-MNIST pixels, with top-1

Prints wall and process CPU seconds of the kNN itself (features already in
memory). Debian's torch starts with one thread; THREADS (default: all
cores) sets torch.set_num_threads.
"""
import gzip, os, sys, time
import numpy as np
import torch

torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))

def fmnist():
    D = "/usr/share/datasets/fashion-mnist/"
    def load(p):
        x = np.frombuffer(gzip.open(D + p + "-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 784)
        y = np.frombuffer(gzip.open(D + p + "-labels-idx1-ubyte.gz").read()[8:], np.uint8)
        return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))
    return load("train") + load("t10k")

def synthetic():
    g = torch.Generator().manual_seed(1)
    xtr = torch.randn(60000, 512, generator=g)
    xte = torch.randn(10000, 512, generator=g)
    return xtr, torch.randint(0, 10, (60000,), generator=g), xte, torch.randint(0, 10, (10000,), generator=g)

xtr, ytr, xte, yte = (fmnist if sys.argv[1:] == ["fmnist"] else synthetic)()
settings = [(200, 0.1), (20, 0.07)]
t0, c0 = time.perf_counter(), time.process_time()
xtr = torch.nn.functional.normalize(xtr, dim=1)
xte = torch.nn.functional.normalize(xte, dim=1)
preds = {s: [] for s in settings}
with torch.no_grad():
    for lo in range(0, xte.shape[0], 500):
        sim = xte[lo:lo + 500] @ xtr.T
        top, idx = sim.topk(max(k for k, _ in settings), dim=1)
        for k, t in settings:
            w = (top[:, :k] / t).exp()
            votes = torch.zeros(sim.shape[0], 10).scatter_add_(1, ytr[idx[:, :k]], w)
            preds[(k, t)].append(votes.argmax(1))
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
acc = {f"k={k} T={t}": float((torch.cat(p) == yte).float().mean()) for (k, t), p in preds.items()}
print(f"torch {torch.__version__} threads={torch.get_num_threads()} train={xtr.shape[0]} test={xte.shape[0]} dim={xtr.shape[1]} "
      f"seconds={wall:.2f} cpu_seconds={cpu:.2f} top1={acc}")
