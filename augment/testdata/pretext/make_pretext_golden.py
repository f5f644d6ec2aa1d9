#!/usr/bin/python3
"""Reference values for augment's pretext-task generators (pretext_*_test.go).

Run from augment/testdata/pretext with Debian's python (skimage 0.19.3,
Pillow 9.4.0, numpy 1.24):
    /usr/bin/python3 make_pretext_golden.py
It takes about two minutes (the gamut pass converts all 2^24 colours) and
writes, next to itself:

  lab_rgb.u8, lab_ref.f64   RGB inputs (uint8, N x 3) and skimage.color.rgb2lab
                            of them (little-endian float64, N x 3): a 16-level
                            grid (step 17), the dark cube 0..11 (both sRGB and
                            Lab piecewise thresholds), all grays, the three
                            primary ramps and 1000 seeded random colours.
                            Go tolerance: 1e-10 absolute on L, a and b.
  gamut_bins.json           the in-gamut ab bins of grid 10 by GamutABBins'
                            rule (a grid point is a bin when it is a corner of
                            the 10 x 10 cell holding some 8-bit sRGB colour's
                            ab), over all 2^24 colours with skimage; Go, which
                            converts only the RGB cube's surface, must give the
                            same set.
  rebalance.json            bin histogram of the test images (hard nearest bin
                            = rounding to the grid) and the rebalancing prior
                            and weights (sigma 5, lambda 0.5) computed here
                            with numpy from the documented formula.
                            Go tolerance: histogram exact, prior and weights
                            1e-12 relative.
  superres/*.png, superres.json
                            PIL.Image.resize(..., Image.BICUBIC) down-samplings
                            by integer factors (and up-samplings back) of crops
                            of ../src_rgb.png and ../src_gray.png.
                            Go tolerance: 0 (byte-exact).
  permutations.json         the greedy Hamming permutation selection written
                            independently with numpy/itertools (lexicographic
                            order, argmax = first maximum) from given start
                            indices. Go must give the same lists.
  rotation.json             np.rot90(img, k) for k = 1, 2, 3 of a 5 x 3 RGB crop,
                            checked against PIL's transpose(ROTATE_90/180/270).
                            Go tolerance: exact.
"""
import itertools, json, os
import numpy as np
from PIL import Image
import PIL
import skimage
from skimage.color import rgb2lab

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)

# --- Lab ---------------------------------------------------------------
cols = []
g16 = np.arange(0, 256, 17)
cols += [(r, g, b) for r in g16 for g in g16 for b in g16]
d = np.arange(12)
cols += [(r, g, b) for r in d for g in d for b in d]
cols += [(v, v, v) for v in range(256)]
for c in range(3):
    for v in range(256):
        p = [0, 0, 0]
        p[c] = v
        cols.append(tuple(p))
rng = np.random.default_rng(20)
cols += [tuple(x) for x in rng.integers(0, 256, size=(1000, 3))]
rgb = np.array(cols, dtype=np.uint8)
lab = rgb2lab(rgb.reshape(1, -1, 3)).reshape(-1, 3)
rgb.tofile("lab_rgb.u8")
lab.astype("<f8").tofile("lab_ref.f64")

# --- in-gamut bins -----------------------------------------------------
v = np.arange(256, dtype=np.uint8)
G, B = np.meshgrid(v, v, indexing="ij")
hit = set()
for r in range(256):
    px = np.stack([np.full_like(G, r), G, B], -1).reshape(1, -1, 3)
    ab = rgb2lab(px).reshape(-1, 3)[:, 1:] / 10.0
    for fa in (np.floor, np.ceil):
        for fb in (np.floor, np.ceil):
            q = np.stack([fa(ab[:, 0]), fb(ab[:, 1])], -1).astype(np.int64)
            hit.update(map(tuple, np.unique(q, axis=0).tolist()))
bins = sorted((10 * a, 10 * b) for a, b in hit)
json.dump(dict(grid=10, rule="corner of the 10x10 cell of some 8-bit sRGB colour's ab", bins=bins),
          open("gamut_bins.json", "w"))

# --- rebalancing -------------------------------------------------------
centres = np.array(bins, dtype=np.float64)
index = {tuple(c): i for i, c in enumerate(bins)}
src = np.asarray(Image.open("../src_rgb.png").convert("RGB"))
gray = np.asarray(Image.open("../src_gray.png").convert("RGB"))
counts = np.zeros(len(bins))
for img in (src, gray, src[10:40, 20:77]):
    ab = rgb2lab(img).reshape(-1, 3)[:, 1:]
    q = np.round(ab / 10.0).astype(np.int64) * 10
    for a, b in q:
        counts[index[(a, b)]] += 1
sigma, lam = 5.0, 0.5
p = counts / counts.sum()
d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
prior = (np.exp(-d2 / (2 * sigma ** 2)) * p[None, :]).sum(1)
prior /= prior.sum()
w = 1.0 / ((1 - lam) * prior + lam / len(bins))
w /= (prior * w).sum()
json.dump({"images": ["src_rgb.png", "src_gray.png (as RGB)", "src_rgb.png[10:40, 20:77]"],
           "sigma": sigma, "lambda": lam, "counts": counts.tolist(), "prior": prior.tolist(), "weights": w.tolist()},
          open("rebalance.json", "w"))

# --- super-resolution: Pillow bicubic ----------------------------------
os.makedirs("superres", exist_ok=True)
rgb_im = Image.open("../src_rgb.png").convert("RGB")
gray_im = Image.open("../src_gray.png")
cases = []
for name, im, box, factors in [
    ("rgb97x73", rgb_im, None, (2, 3, 4, 8)),
    ("rgb64x48", rgb_im, (5, 7, 69, 55), (2, 4)),
    ("rgb33x71", rgb_im, (40, 1, 73, 72), (3, 5)),
    ("rgb17x13", rgb_im, (60, 30, 77, 43), (2, 4)),
    ("gray29x31", gray_im, None, (2, 3)),
]:
    src_im = im if box is None else im.crop(box)
    src_name = f"{name}.png"
    src_im.save(os.path.join("superres", src_name))
    for f in factors:
        w, h = max(src_im.width // f, 1), max(src_im.height // f, 1)
        lo = src_im.resize((w, h), Image.BICUBIC)
        lo_name = f"{name}_x{f}_down.png"
        lo.save(os.path.join("superres", lo_name))
        up = lo.resize(src_im.size, Image.BICUBIC)
        up_name = f"{name}_x{f}_up.png"
        up.save(os.path.join("superres", up_name))
        cases.append(dict(input=src_name, factor=f, down=lo_name, up=up_name))
json.dump(dict(pillow=PIL.__version__, call="img.resize((w // f, h // f), Image.BICUBIC); up: low.resize(img.size, Image.BICUBIC)",
               tolerance=0, cases=cases), open("superres.json", "w"), indent=1)

# --- permutation sets ----------------------------------------------------
def greedy(size, n, start, criterion):
    allp = np.array(list(itertools.permutations(range(size))), dtype=np.int8)  # lexicographic
    taken = np.zeros(len(allp), dtype=bool)
    chosen = [start]
    taken[start] = True
    dist = (allp != allp[start]).sum(1).astype(np.int64)
    score = dist.copy()
    while len(chosen) < n:
        s = np.where(taken, -1, score)
        j = int(np.argmax(s))
        chosen.append(j)
        taken[j] = True
        dj = (allp != allp[j]).sum(1)
        score = np.minimum(score, dj) if criterion == "maxmin" else score + dj
    perms = allp[chosen]
    dm = (perms[:, None, :] != perms[None, :, :]).sum(-1)
    iu = np.triu_indices(n, 1)
    return dict(size=size, n=n, start=start, criterion=criterion, perms=perms.tolist(),
                min_hamming=int(dm[iu].min()), mean_hamming=float(dm[iu].mean()))

sets = [greedy(9, 100, 12345, "maxmin"), greedy(9, 100, 12345, "mean"),
        greedy(9, 30, 0, "maxmin"), greedy(4, 10, 7, "maxmin"), greedy(4, 24, 3, "mean")]
json.dump(dict(sets=sets), open("permutations.json", "w"))

# --- rotation ------------------------------------------------------------
crop = rgb_im.crop((10, 20, 15, 23))  # 5 wide, 3 high
a = np.asarray(crop)
rot = {}
for k, tr in ((1, Image.ROTATE_90), (2, Image.ROTATE_180), (3, Image.ROTATE_270)):
    r = np.rot90(a, k)
    assert (np.asarray(crop.transpose(tr)) == r).all()
    rot[str(k)] = dict(shape=list(r.shape), pixels=r.reshape(-1).tolist())
json.dump(dict(input=dict(shape=list(a.shape), pixels=a.reshape(-1).tolist()), rotations=rot),
          open("rotation.json", "w"))

print("skimage", skimage.__version__, "Pillow", PIL.__version__, "numpy", np.__version__,
      "colours", len(rgb), "bins", len(bins))
