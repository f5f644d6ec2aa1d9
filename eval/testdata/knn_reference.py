"""Reference weighted-kNN predictions on raw Fashion-MNIST pixels (numpy, float64).

Run with Debian's python3 (numpy) from eval/testdata:

    /usr/bin/python3 knn_reference.py 10000 2000 > fmnist_knn_10k_2k.json   # golden for TestKNNFashionMNISTReference
    /usr/bin/python3 knn_reference.py 60000 10000 --acc-only                 # full-set accuracies for benchmarks/RESULTS.md (eval section)

Protocol: pixels / 255, rows L2-normalized, cosine similarity, the k most
similar train rows (ties: lower index) vote exp(sim / T) for their label,
argmax (ties: lower class).
"""
import gzip, json, sys
import numpy as np

D = "/usr/share/datasets/fashion-mnist/"

def load(prefix):
    x = np.frombuffer(gzip.open(D + prefix + "-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 784)
    y = np.frombuffer(gzip.open(D + prefix + "-labels-idx1-ubyte.gz").read()[8:], np.uint8)
    return x.astype(np.float64) / 255, y.astype(np.int64)

ntr, nte = int(sys.argv[1]), int(sys.argv[2])
xtr, ytr = load("train")
xte, yte = load("t10k")
xtr, ytr, xte, yte = xtr[:ntr], ytr[:ntr], xte[:nte], yte[:nte]
xtr /= np.linalg.norm(xtr, axis=1, keepdims=True)
xte /= np.linalg.norm(xte, axis=1, keepdims=True)
settings = [(200, 0.1), (20, 0.07)]
preds = {f"k={k} T={t}": [] for k, t in settings}
for lo in range(0, nte, 500):
    s = xte[lo:lo + 500] @ xtr.T
    for row in s:
        order = np.lexsort((np.arange(len(row)), -row))  # by -sim, then index
        for k, t in settings:
            nb = order[:k]
            votes = np.bincount(ytr[nb], weights=np.exp(row[nb] / t), minlength=10)
            preds[f"k={k} T={t}"].append(int(np.argmax(votes)))
out = {"train": ntr, "test": nte, "settings": {}}
for name, p in preds.items():
    p = np.array(p)
    out["settings"][name] = {"accuracy": float((p == yte).mean())}
    if "--acc-only" not in sys.argv:
        out["settings"][name]["predictions"] = p.tolist()
json.dump(out, sys.stdout)
print()
