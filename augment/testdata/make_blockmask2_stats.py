"""Statistics of data2vec 2.0's block masks for augment's
TestBlockMask2DStatistics (blockmask2_stats.json).

The masks are drawn as fairseq's compute_block_mask_2d draws them
(fairseq/data/data_utils.py; the overlapping-block path with
require_same_masks, mask_dropout 0, as data2vec 2.0's image encoder calls
it), written here from its semantics with torch's generator: q = 1 - p
with inverse_mask, else p; int(L * (q + adjust) / len^2) block centres
uniform with replacement over the L cells; a len x len block around each
centre (offset len // 2, rows and columns clamped to the grid); then the
marked set is brought to int(L * q) cells by unmarking (or marking) cells
chosen uniformly without replacement (torch.multinomial on the 0/1 set);
with inverse_mask the result is complemented (blocks are kept).

For each configuration it records, over N masks, the mean and standard
deviation of per-mask statistics of the marked set (the blocks: kept cells
for inverse masks):
  count            masked cells (must be the same in every mask)
  neighbour        fraction of marked cells with a marked 4-neighbour
  components       number of 4-connected components of the marked set
  corner, centre   whether cell (0, 0) / cell (rows/2, cols/2) is marked
Run with Debian's python (torch 1.13):
  /usr/bin/python3 augment/testdata/make_blockmask2_stats.py > augment/testdata/blockmask2_stats.json
The Go test draws as many masks and requires each mean within 5 standard
errors of the difference (the count exactly).
"""
import json

import torch

N = 4000
CONFIGS = [
    {"rows": 14, "cols": 14, "prob": 0.8, "length": 3, "prob_adjust": 0.07, "inverse": True},
    {"rows": 7, "cols": 7, "prob": 0.8, "length": 2, "prob_adjust": 0.07, "inverse": True},
    {"rows": 14, "cols": 14, "prob": 0.6, "length": 3, "prob_adjust": 0.0, "inverse": False},
]


def draw(c, gen):
    rows, cols, length = c["rows"], c["cols"], c["length"]
    L = rows * cols
    q = 1 - c["prob"] if c["inverse"] else c["prob"]
    n_centres = int(L * ((q + c["prob_adjust"]) / length ** 2) * (1 + 0))
    grid = torch.zeros(rows, cols)
    centres = torch.randint(0, L, (n_centres,), generator=gen)
    off = length // 2
    for ctr in centres.tolist():
        r0, c0 = divmod(ctr, cols)
        rr = [min(max(r0 + i - off, 0), rows - 1) for i in range(length)]
        cc = [min(max(c0 + j - off, 0), cols - 1) for j in range(length)]
        for r in rr:
            for cl in cc:
                grid[r, cl] = 1
    flat = grid.view(-1)
    target = int(L * q)
    n = int(flat.sum())
    if n > target:
        flat[torch.multinomial(flat, n - target, replacement=False, generator=gen)] = 0
    elif n < target:
        flat[torch.multinomial(1 - flat, target - n, replacement=False, generator=gen)] = 1
    marked = flat.bool().view(rows, cols)
    masked = ~marked if c["inverse"] else marked
    return marked, masked


def stats(marked, masked):
    rows, cols = marked.shape
    m = marked.tolist()
    nb, tot = 0, 0
    seen = [[False] * cols for _ in range(rows)]
    comps = 0
    for r in range(rows):
        for c in range(cols):
            if not m[r][c]:
                continue
            tot += 1
            if any(0 <= r + dr < rows and 0 <= c + dc < cols and m[r + dr][c + dc]
                   for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))):
                nb += 1
            if not seen[r][c]:
                comps += 1
                stack = [(r, c)]
                seen[r][c] = True
                while stack:
                    a, b = stack.pop()
                    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                        x, y = a + dr, b + dc
                        if 0 <= x < rows and 0 <= y < cols and m[x][y] and not seen[x][y]:
                            seen[x][y] = True
                            stack.append((x, y))
    return {
        "count": int(masked.sum()),
        "neighbour": nb / tot if tot else 0.0,
        "components": comps,
        "corner": float(m[0][0]),
        "centre": float(m[rows // 2][cols // 2]),
    }


gen = torch.Generator().manual_seed(20221207)
out = []
for c in CONFIGS:
    vals = {}
    for _ in range(N):
        for k, v in stats(*draw(c, gen)).items():
            vals.setdefault(k, []).append(float(v))
    entry = dict(c)
    entry["n"] = N
    for k, v in vals.items():
        t = torch.tensor(v, dtype=torch.float64)
        entry[k] = {"mean": t.mean().item(), "std": t.std().item(), "min": t.min().item(), "max": t.max().item()}
    out.append(entry)
print(json.dumps(out, indent=1))
