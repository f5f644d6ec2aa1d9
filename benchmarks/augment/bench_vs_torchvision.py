#!/usr/bin/python3
"""sslpipe augment vs torchvision, side by side, interleaved, one core each.

    /usr/bin/python3 benchmarks/augment/bench_vs_torchvision.py \
        --sslpipe ./sslpipe --in /tmp/sslpipe-augment-images --size 224 --seconds 8 --rounds 3

Each round runs, one after the other on the same in-memory JPEGs:
  * torchvision 0.14 BYOL two views, PIL blur (ImageFilter.GaussianBlur, as
    solo-learn and DINO use) -- the faster torchvision variant;
  * torchvision BYOL two views with transforms.GaussianBlur(23) (tensor blur),
    unless --no-tensor-blur (it is ~5x slower, so it runs a third of the time);
  * `sslpipe bench augment --workers 1` under GOMAXPROCS=1 (one core).
Every engine decodes each JPEG once (PIL: Image.open(...).convert("RGB")),
makes both views and normalizes them to float32 CHW; file reading is excluded
for all. torch.set_num_threads(1). With --size <= 64 the blur is omitted
(solo-learn's CIFAR setting, recipe byol-noblur). Prints a Markdown table
and, with --json, the raw numbers.
"""
import argparse, glob, io, json, os, random, subprocess, sys, time
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image, ImageFilter, ImageOps

p = argparse.ArgumentParser()
p.add_argument("--sslpipe", default="./sslpipe")
p.add_argument("--in", dest="indir", default="/tmp/sslpipe-augment-images")
p.add_argument("--size", type=int, default=224)
p.add_argument("--seconds", type=float, default=8)
p.add_argument("--rounds", type=int, default=3)
p.add_argument("--no-tensor-blur", action="store_true")
p.add_argument("--json", action="store_true")
a = p.parse_args()
torch.set_num_threads(1)
files = sorted(glob.glob(os.path.join(a.indir, "*.jpg")))[:256]
data = [open(f, "rb").read() for f in files]
blur = a.size > 64


class PILBlur:  # solo-learn / DINO: PIL's GaussianBlur with sigma ~ U(0.1, 2)
    def __call__(self, img):
        return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(0.1, 2.0)))


class Solarize:
    def __call__(self, img):
        return ImageOps.solarize(img)


def view(blur_p, sol_p, tensor_blur):
    bl = T.GaussianBlur(23 if a.size == 224 else (int(0.1 * a.size) // 2 * 2 + 1), (0.1, 2.0)) if tensor_blur else PILBlur()
    ops = [T.RandomResizedCrop(a.size, scale=(0.08, 1.0), interpolation=T.InterpolationMode.BICUBIC),
           T.RandomHorizontalFlip(),
           T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
           T.RandomGrayscale(p=0.2)]
    if blur and blur_p > 0:
        ops.append(T.RandomApply([bl], p=blur_p))
    if sol_p > 0:
        ops.append(T.RandomApply([Solarize()], p=sol_p))
    ops += [T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))]
    return T.Compose(ops)


def run_torchvision(tensor_blur, seconds):
    v1, v2 = view(1.0, 0.0, tensor_blur), view(0.1, 0.2, tensor_blur)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        img = Image.open(io.BytesIO(data[n % len(data)])).convert("RGB")
        x1, x2 = v1(img), v2(img)
        n += 1
    el, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dict(images_per_s=n / el, views_per_s=2 * n / el, seconds=el, images=n, cpu_seconds=cpu,
                views_per_cpu_s=2 * n / cpu)


def run_sslpipe(seconds):
    recipe = "byol" if blur else "byol-noblur"
    env = dict(os.environ, GOMAXPROCS="1")
    out = subprocess.run([a.sslpipe, "bench", "augment", "--recipe", recipe, "--size", str(a.size), "--in", a.indir,
                          "--workers", "1", "--seconds", str(seconds), "--json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


rounds = []
for r in range(a.rounds):
    row = dict(round=r + 1)
    row["torchvision_pil_blur"] = run_torchvision(False, a.seconds)
    row["sslpipe"] = run_sslpipe(a.seconds)
    if blur and not a.no_tensor_blur:
        row["torchvision_tensor_blur"] = run_torchvision(True, a.seconds / 3)
    rounds.append(row)
    print(f"round {r+1}: torchvision(PIL blur) {row['torchvision_pil_blur']['views_per_s']:.1f} views/s, "
          f"sslpipe {row['sslpipe']['views_per_s']:.1f} views/s ({row['sslpipe']['jpeg_decoder']})"
          + (f", torchvision(tensor blur) {row['torchvision_tensor_blur']['views_per_s']:.1f} views/s" if 'torchvision_tensor_blur' in row else ""),
          file=sys.stderr, flush=True)


def med(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def col(k, f):
    return med([r[k][f] for r in rounds])


tv, tvc = col("torchvision_pil_blur", "views_per_s"), col("torchvision_pil_blur", "views_per_cpu_s")
sp, spc = col("sslpipe", "views_per_s"), col("sslpipe", "views_per_cpu_s")
ratios = [r["sslpipe"]["views_per_s"] / r["torchvision_pil_blur"]["views_per_s"] for r in rounds]
cratios = [r["sslpipe"]["views_per_cpu_s"] / r["torchvision_pil_blur"]["views_per_cpu_s"] for r in rounds]
print(f"\n| engine (1 core, {len(data)} JPEGs 500x375, size {a.size}, BYOL 2 views{'' if blur else ', no blur'}) | views/s wall (median of {a.rounds}) | views per CPU-second | ratio wall | ratio CPU |")
print("|---|---|---|---|---|")
print(f"| torchvision {torchvision.__version__} + PIL {Image.__version__} (PIL blur) | {tv:.1f} | {tvc:.1f} | 1.00x | 1.00x |")
if "torchvision_tensor_blur" in rounds[0]:
    tb, tbc = col("torchvision_tensor_blur", "views_per_s"), col("torchvision_tensor_blur", "views_per_cpu_s")
    print(f"| torchvision {torchvision.__version__} (transforms.GaussianBlur, tensor) | {tb:.1f} | {tbc:.1f} | {tb/tv:.2f}x | {tbc/tvc:.2f}x |")
print(f"| sslpipe ({rounds[0]['sslpipe']['jpeg_decoder']}) | {sp:.1f} | {spc:.1f} | {sp/tv:.2f}x | {spc/tvc:.2f}x |")
print(f"\nper-round sslpipe/torchvision ratios: wall {', '.join(f'{x:.2f}' for x in ratios)}; CPU {', '.join(f'{x:.2f}' for x in cratios)}")
if a.json:
    print(json.dumps(dict(rounds=rounds, args=vars(a)), indent=1))
