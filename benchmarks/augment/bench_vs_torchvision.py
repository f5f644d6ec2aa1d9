#!/usr/bin/python3
"""sslpipe augment vs torchvision, side by side, interleaved, one core each.

    /usr/bin/python3 benchmarks/augment/bench_vs_torchvision.py \
        --sslpipe bin/sslpipe --sslpipe bin/sslpipe-torch --image-jpeg \
        --in /tmp/sslpipe-augment-images --size 224 --seconds 8 --rounds 4 --no-tensor-blur

Each round runs, one after the other on the same in-memory JPEGs:
  * torchvision 0.14 BYOL two views, PIL blur (ImageFilter.GaussianBlur, as
    solo-learn and DINO use) -- the faster torchvision variant;
  * torchvision BYOL two views with transforms.GaussianBlur(23) (tensor blur),
    unless --no-tensor-blur (it is ~5x slower, so it runs a third of the time);
  * `sslpipe bench augment --workers 1` under GOMAXPROCS=1 (one core), for
    each --sslpipe binary (repeatable; default ./sslpipe), each reporting
    the JPEG decoder it ran; with --image-jpeg the first binary runs once
    more with SSLPIPE_JPEG_DECODER=image/jpeg (the pure-Go fallback).
Every engine decodes each JPEG once (PIL: Image.open(...).convert("RGB")),
makes both views and normalizes them to float32 CHW; file reading is excluded
for all. torch.set_num_threads(1). With --size <= 64 the blur is omitted
(solo-learn's CIFAR setting, recipe byol-noblur). Prints a Markdown table
(medians over rounds, and each engine's per-round ratio to the torchvision
run of the same round, min-max) and, with --json, the raw numbers.
"""
import argparse, glob, io, json, os, random, subprocess, sys, time
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image, ImageFilter, ImageOps

p = argparse.ArgumentParser()
p.add_argument("--sslpipe", action="append", help="sslpipe binary (repeatable; default ./sslpipe)")
p.add_argument("--image-jpeg", action="store_true",
               help="also run the first binary with SSLPIPE_JPEG_DECODER=image/jpeg")
p.add_argument("--in", dest="indir", default="/tmp/sslpipe-augment-images")
p.add_argument("--size", type=int, default=224)
p.add_argument("--seconds", type=float, default=8)
p.add_argument("--rounds", type=int, default=3)
p.add_argument("--no-tensor-blur", action="store_true")
p.add_argument("--json", action="store_true")
a = p.parse_args()
a.sslpipe = a.sslpipe or ["./sslpipe"]
engines = [(b, {}) for b in a.sslpipe]
if a.image_jpeg:
    engines.append((a.sslpipe[0], {"SSLPIPE_JPEG_DECODER": "image/jpeg"}))
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


def run_sslpipe(binary, extra_env, seconds):
    recipe = "byol" if blur else "byol-noblur"
    env = dict(os.environ, GOMAXPROCS="1", **extra_env)
    out = subprocess.run([binary, "bench", "augment", "--recipe", recipe, "--size", str(a.size), "--in", a.indir,
                          "--workers", "1", "--seconds", str(seconds), "--json"],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def label(k):
    binary, extra_env = engines[k]
    return f"sslpipe {binary}" + "".join(f" {e}={v}" for e, v in extra_env.items())


rounds = []
for r in range(a.rounds):
    row = dict(round=r + 1)
    row["torchvision_pil_blur"] = run_torchvision(False, a.seconds)
    for k, (binary, extra_env) in enumerate(engines):
        row[f"sslpipe_{k}"] = run_sslpipe(binary, extra_env, a.seconds)
    if blur and not a.no_tensor_blur:
        row["torchvision_tensor_blur"] = run_torchvision(True, a.seconds / 3)
    rounds.append(row)
    print(f"round {r+1}: torchvision(PIL blur) {row['torchvision_pil_blur']['views_per_cpu_s']:.1f} views/CPU-s"
          + "".join(f", {label(k)} {row[f'sslpipe_{k}']['views_per_cpu_s']:.1f} ({row[f'sslpipe_{k}']['jpeg_decoder']})"
                    for k in range(len(engines)))
          + (f", torchvision(tensor blur) {row['torchvision_tensor_blur']['views_per_cpu_s']:.1f}" if 'torchvision_tensor_blur' in row else ""),
          file=sys.stderr, flush=True)


def med(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def col(k, f):
    return med([r[k][f] for r in rounds])


def spread(k, f):
    rs = [r[k][f] / r["torchvision_pil_blur"][f] for r in rounds]
    return f"{min(rs):.2f}-{max(rs):.2f}x"


tv, tvc = col("torchvision_pil_blur", "views_per_s"), col("torchvision_pil_blur", "views_per_cpu_s")
print(f"\n{len(data)} JPEGs 500x375, size {a.size}, BYOL 2 views{'' if blur else ', no blur'}, one core each, "
      f"{a.rounds} rounds of {a.seconds:g} s; medians over rounds; ratios to the same round's torchvision run (min-max)\n")
print("| engine | views/s wall | views per CPU-second | ratio wall | ratio CPU |")
print("|---|---|---|---|---|")
print(f"| torchvision {torchvision.__version__} + PIL {Image.__version__} (PIL blur) | {tv:.1f} | {tvc:.1f} | 1.00x | 1.00x |")
if "torchvision_tensor_blur" in rounds[0]:
    tb, tbc = col("torchvision_tensor_blur", "views_per_s"), col("torchvision_tensor_blur", "views_per_cpu_s")
    print(f"| torchvision {torchvision.__version__} (transforms.GaussianBlur, tensor) | {tb:.1f} | {tbc:.1f} | "
          f"{spread('torchvision_tensor_blur', 'views_per_s')} | {spread('torchvision_tensor_blur', 'views_per_cpu_s')} |")
for k in range(len(engines)):
    key = f"sslpipe_{k}"
    dec = sorted({r[key]["jpeg_decoder"] for r in rounds})
    print(f"| {label(k)} ({', '.join(dec)}) | {col(key, 'views_per_s'):.1f} | {col(key, 'views_per_cpu_s'):.1f} | "
          f"{spread(key, 'views_per_s')} | {spread(key, 'views_per_cpu_s')} |")
if a.json:
    print(json.dumps(dict(rounds=rounds, engines=[label(k) for k in range(len(engines))], args=vars(a)), indent=1))
