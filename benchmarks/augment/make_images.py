#!/usr/bin/python3
"""Write the benchmark set: 500x375 photo JPEGs (quality 90, 4:2:0, as
PIL saves by default) cut from the photos that ship in this machine's Go
module cache (gotch's example photos and imaging's test photo).

    /usr/bin/python3 benchmarks/augment/make_images.py [OUTDIR] [COUNT]

Defaults: /tmp/sslpipe-augment-images, 32 images. Deterministic.
"""
import glob, os, random, sys
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/sslpipe-augment-images"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 32
mod = os.path.expanduser("~/go/pkg/mod")
srcs = sorted(glob.glob(mod + "/github.com/sugarme/gotch@v0.9.1/example/jit/*.jpg") +
              glob.glob(mod + "/github.com/sugarme/gotch@v0.9.1/example/neural-style-transfer/content.jpg") +
              glob.glob(mod + "/github.com/sugarme/gotch@v0.9.1/example/yolo/bondi.jpg") +
              glob.glob(mod + "/github.com/disintegration/imaging@v1.6.2/testdata/branches.jpg"))
if not srcs:
    sys.exit("no source photos found under " + mod)
os.makedirs(out, exist_ok=True)
rng = random.Random(0)
for i in range(count):
    im = Image.open(srcs[i % len(srcs)]).convert("RGB")
    # Scale so the short side is 375-600 px, then cut a 500x375 window.
    s = rng.uniform(375, 600) / min(im.size)
    s = max(s, 500 / im.size[0], 375 / im.size[1])
    im = im.resize((max(500, round(im.size[0] * s)), max(375, round(im.size[1] * s))), Image.BICUBIC)
    x, y = rng.randint(0, im.size[0] - 500), rng.randint(0, im.size[1] - 375)
    im.crop((x, y, x + 500, y + 375)).save(os.path.join(out, "img%03d.jpg" % i), quality=90)
print("wrote", count, "images to", out, "from", len(srcs), "photos")
