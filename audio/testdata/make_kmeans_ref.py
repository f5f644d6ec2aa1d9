# Reference inertia of scikit-learn's MiniBatchKMeans on HuBERT MFCC features of
# the test utterances, for TestKMeansMatchesSklearn (kmeans_ref_test.go).
# Run from audio/testdata with Debian's python (torch 1.13, torchaudio 0.13,
# python3-sklearn 1.2.1 from apt):
#   /usr/bin/python3 make_kmeans_ref.py
# Features: torchaudio.compliance.kaldi.mfcc(use_energy=False) + compute_deltas x2
# (39 dims) of utt1..utt4, 805 frames; MiniBatchKMeans as fairseq's
# learn_kmeans.py calls it (k-means++, tol 0, max_no_improvement 100,
# reassignment_ratio 0) with a batch and n_init scaled to the small data.
# The Go test requires sslpipe's mean inertia over its seeds to be at most
# 1.05 x scikit-learn's mean over these seeds.
import json
import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as K
from torchaudio.functional import compute_deltas
from sklearn.cluster import MiniBatchKMeans

feats = []
for u in ["utt1", "utt2", "utt3", "utt4"]:
    w, sr = torchaudio.load(u + ".wav")
    m = K.mfcc(w, sample_frequency=sr, use_energy=False).T
    d = compute_deltas(m)
    dd = compute_deltas(d)
    feats.append(torch.cat([m, d, dd]).T.numpy())
x = np.concatenate(feats).astype(np.float32)
cfg = dict(n_clusters=20, init="k-means++", max_iter=100, batch_size=256, tol=0.0,
           max_no_improvement=100, n_init=3, reassignment_ratio=0.0, compute_labels=True)
inertias = []
for seed in range(10):
    km = MiniBatchKMeans(random_state=seed, **cfg).fit(x)
    inertias.append(float(km.inertia_) / len(x))
out = dict(frames=len(x), dim=x.shape[1], config=cfg, seeds=list(range(10)),
           inertia_per_frame=inertias, mean=float(np.mean(inertias)),
           min=float(np.min(inertias)), max=float(np.max(inertias)))
with open("kmeans_ref.json", "w") as f:
    json.dump(out, f, indent=1)
print(json.dumps({k: out[k] for k in ("frames", "dim", "mean", "min", "max")}))
