#!/usr/bin/python3
"""Pillow's 8-bit HSV conversions over every input, for augment's HSV tests.

Run from augment/testdata with Debian's python (Pillow 9.4.0, torchvision
0.14.1):
    /usr/bin/python3 make_hsv_golden.py
It writes hsv_golden.json. Tolerance: none (the Go test requires identical
bytes).

Every 24-bit input (r, g, b), or (h, s, v), is laid out as one pixel of a
4096x4096 image in the order i = x<<16 | y<<8 | z, and converted by PIL:
  rgb2hsv:  Image.convert("HSV") of the RGB cube (Pillow's rgb2hsv);
  hsv2rgb:  the same bytes as an HSV image, .convert("RGB") (hsv2rgb);
  hue_F:    torchvision F.adjust_hue(cube, F) on the RGB cube (the op
            augment.AdjustHue reproduces), for a few factors F.
Each output is stored as 256 digests, one per slice of 65,536 inputs
with the same first byte x: the first 16 hex digits of the SHA-256 of that
slice's output bytes (RGB or HSV, interleaved). For rgb2hsv and hsv2rgb,
"grid" keeps the outputs on the sub-grid LEVELS^3 (base64 of the
interleaved bytes, in the same x, y, z order), so that a failure can show
values.
"""
import base64, hashlib, json
import numpy as np
from PIL import Image
import torchvision
import torchvision.transforms.functional as F

# Edges, near-gray steps and the hue sector boundaries (h*6/255 crosses an
# integer between 42/43, 85, 127/128, 170/171, 212/213).
LEVELS = [0, 1, 2, 5, 21, 42, 43, 85, 127, 128, 170, 171, 212, 213, 254, 255]

i = np.arange(1 << 24, dtype=np.uint32)
cube = np.stack([(i >> 16) & 255, (i >> 8) & 255, i & 255], axis=1).astype(np.uint8)
cube_img = Image.frombytes("RGB", (4096, 4096), cube.tobytes())


def digests(out):
    a = np.asarray(out, dtype=np.uint8).reshape(256, 1 << 16, 3)
    return [hashlib.sha256(a[x].tobytes()).hexdigest()[:16] for x in range(256)]


def grid(out):
    a = np.asarray(out, dtype=np.uint8).reshape(256, 256, 256, 3)
    L = np.array(LEVELS)
    return base64.b64encode(a[L][:, L][:, :, L].tobytes()).decode()


outs = {
    "rgb2hsv": cube_img.convert("HSV"),
    "hsv2rgb": Image.frombytes("HSV", (4096, 4096), cube.tobytes()).convert("RGB"),
}
hue_factors = [-0.5, -0.23, 0.0, 0.1, 0.37, 0.5]
for f in hue_factors:
    outs[f"hue_{f}"] = F.adjust_hue(cube_img, f)

res = dict(pillow=Image.__version__, torchvision=torchvision.__version__, levels=LEVELS,
           hue_factors=hue_factors, ops={})
for name, out in outs.items():
    res["ops"][name] = dict(digests=digests(out))
    if not name.startswith("hue_"):  # the hue ops compose these two
        res["ops"][name]["grid"] = grid(out)
with open("hsv_golden.json", "w") as f:
    json.dump(res, f, separators=(",", ":"))
print("wrote hsv_golden.json:", ", ".join(outs))
