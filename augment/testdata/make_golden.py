#!/usr/bin/python3
"""Golden outputs of torchvision 0.14.1 / Pillow 9.4.0 (Debian) for augment's tests.

Run from augment/testdata with Debian's python (it has torch):
    /usr/bin/python3 make_golden.py
It writes golden/*.png, golden/*.f32 (raw little-endian float32) and
golden.json (one case per op with its parameters and the tolerance the Go
test applies, in uint8 levels or absolute float).
Inputs: a 97x73 crop of a photo (gotch's example koala.jpg, via PIL,
stored losslessly as src_rgb.png) and a 29x31 gray crop; JPEG/PNG decoder
fixtures are written by PIL from the same pixels.
"""
import json, os, sys, glob
import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image, ImageEnhance, ImageOps

OUT = "golden"
os.makedirs(OUT, exist_ok=True)
cases = []

def src_photo():
    p = glob.glob(os.path.expanduser("~/go/pkg/mod/github.com/sugarme/gotch@v0.9.1/example/jit/koala.jpg"))
    if os.path.exists("src_rgb.png"):
        return Image.open("src_rgb.png").convert("RGB")
    im = Image.open(p[0]).convert("RGB").crop((200, 150, 297, 223))
    im.save("src_rgb.png")
    return im

rgb = src_photo()
assert rgb.size == (97, 73)
if not os.path.exists("src_gray.png"):
    rgb.convert("L").crop((11, 5, 40, 36)).save("src_gray.png")
gray = Image.open("src_gray.png")

def save(name, im):
    im.save(os.path.join(OUT, name + ".png"))
    return name + ".png"

def case(name, op, img_in, out_img, tol, **params):
    cases.append(dict(name=name, op=op, input=img_in, output=save(name, out_img), tolerance=tol, params=params))

BIL, BIC = T.InterpolationMode.BILINEAR, T.InterpolationMode.BICUBIC
for interp, tag in ((BIL, "bilinear"), (BIC, "bicubic")):
    for (top, left, h, w, oh, ow) in [(7, 5, 43, 61, 32, 32), (10, 10, 15, 20, 40, 48), (0, 0, 73, 97, 37, 50),
                                      (0, 0, 73, 97, 73, 40), (3, 2, 60, 90, 24, 90), (1, 1, 71, 95, 200, 150)]:
        out = F.resized_crop(rgb, top, left, h, w, [oh, ow], interpolation=interp)
        case(f"resized_crop_{tag}_{top}_{left}_{h}_{w}_{oh}_{ow}", "resized_crop", "src_rgb.png", out, 0,
             top=top, left=left, height=h, width=w, out_h=oh, out_w=ow, interp=tag)
    out = F.resized_crop(gray, 2, 3, 20, 25, [13, 11], interpolation=interp)
    case(f"resized_crop_gray_{tag}", "resized_crop", "src_gray.png", out, 0,
         top=2, left=3, height=20, width=25, out_h=13, out_w=11, interp=tag)

for f in (0.0, 0.6, 1.0, 1.4, 2.5):
    case(f"brightness_{f}", "brightness", "src_rgb.png", F.adjust_brightness(rgb, f), 0, factor=f)
    case(f"contrast_{f}", "contrast", "src_rgb.png", F.adjust_contrast(rgb, f), 0, factor=f)
    case(f"saturation_{f}", "saturation", "src_rgb.png", F.adjust_saturation(rgb, f), 0, factor=f)
case("contrast_gray_1.3", "contrast", "src_gray.png", F.adjust_contrast(gray, 1.3), 0, factor=1.3)
case("brightness_gray_0.7", "brightness", "src_gray.png", F.adjust_brightness(gray, 0.7), 0, factor=0.7)
for h in (-0.5, -0.23, -0.1, 0.0, 0.04, 0.1, 0.37, 0.5):
    case(f"hue_{h}", "hue", "src_rgb.png", F.adjust_hue(rgb, h), 0, factor=h)
case("grayscale3", "grayscale", "src_rgb.png", F.rgb_to_grayscale(rgb, num_output_channels=3), 0)
case("grayscale1", "to_gray", "src_rgb.png", F.rgb_to_grayscale(rgb, num_output_channels=1), 0)
case("solarize_128", "solarize", "src_rgb.png", F.solarize(rgb, 128), 0, threshold=128)
case("solarize_gray_200", "solarize", "src_gray.png", F.solarize(gray, 200), 0, threshold=200)
case("hflip", "hflip", "src_rgb.png", F.hflip(rgb), 0)
for (ch, cw) in ((50, 40), (73, 97), (80, 120), (1, 1), (20, 31)):
    case(f"center_crop_{ch}_{cw}", "center_crop", "src_rgb.png", F.center_crop(rgb, [ch, cw]), 0, height=ch, width=cw)
# Blur: torchvision's float 2-D convolution vs our separable float32 passes;
# rounding of values within float error of .5 may differ by one level.
for (k, s) in ((23, 0.1), (23, 0.73), (23, 1.0), (23, 2.0), (9, 1.5), (3, 0.5), (41, 5.0)):
    case(f"blur_{k}_{s}", "blur", "src_rgb.png", F.gaussian_blur(rgb, [k, k], [s, s]), 1, kernel=k, sigma=s)
case("blur_gray_7_1.2", "blur", "src_gray.png", F.gaussian_blur(gray, [7, 7], [1.2, 1.2]), 1, kernel=7, sigma=1.2)
# A fixed ColorJitter chain (order hue, saturation, brightness, contrast).
j = F.adjust_hue(rgb, 0.07)
j = F.adjust_saturation(j, 0.83)
j = F.adjust_brightness(j, 1.21)
j = F.adjust_contrast(j, 0.66)
case("jitter_chain", "jitter", "src_rgb.png", j, 0, order=[3, 2, 0, 1], brightness=1.21, contrast=0.66, saturation=0.83, hue=0.07)

# Normalize: ToTensor + Normalize(ImageNet), raw float32 CHW.
t = F.normalize(F.to_tensor(rgb), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
t.numpy().astype("<f4").tofile(os.path.join(OUT, "normalize_imagenet.f32"))
cases.append(dict(name="normalize_imagenet", op="normalize", input="src_rgb.png", output="normalize_imagenet.f32",
                  tolerance=0.0, params=dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])))

# RandomResizedCrop fallback (scale > 1 never fits, so all 10 attempts fail).
fb = []
for (w, h) in ((97, 73), (1000, 100), (100, 1000), (640, 480), (33, 44), (1, 1), (7, 200), (301, 299)):
    img = Image.new("L", (w, h))
    for ratio in ((3 / 4, 4 / 3), (0.5, 2.0), (1.0, 1.0)):
        i, jj, hh, ww = T.RandomResizedCrop.get_params(img, scale=[2.0, 3.0], ratio=list(ratio))
        fb.append(dict(w=w, h=h, ratio=list(ratio), top=i, left=jj, height=hh, width=ww))
# Center crop boxes.
cc = []
for (w, h, cw, ch) in ((97, 73, 50, 40), (10, 10, 3, 3), (11, 10, 4, 5), (5, 5, 8, 9), (100, 51, 7, 2), (6, 9, 9, 4)):
    # Pixel (x, y) holds (x+1, y+1, 7): find where torchvision's center_crop puts it.
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.arange(w)[None, :] + 1
    a[..., 1] = np.arange(h)[:, None] + 1
    a[..., 2] = 7
    o = np.asarray(F.center_crop(Image.fromarray(a), [ch, cw]))
    ys, xs = np.nonzero(o[..., 2])
    y, x = ys[0], xs[0]
    cc.append(dict(w=w, h=h, cw=cw, ch=ch, top=int(o[y, x, 1]) - 1 - int(y), left=int(o[y, x, 0]) - 1 - int(x)))
kernels = {}
for (k, s) in ((23, 0.1), (23, 1.0), (23, 2.0), (9, 1.5), (3, 0.5)):
    from torchvision.transforms.functional_tensor import _get_gaussian_kernel1d
    kernels[f"{k}_{s}"] = [float(x) for x in _get_gaussian_kernel1d(k, s)]

# Decoder fixtures. JPEG tolerances are those of Go's image/jpeg path (the
# fallback; mean and max |diff| in levels, IDCT rounding only); the
# libjpeg-turbo path must equal PIL exactly.
JPEG_MEAN, JPEG_MAX = 0.1, 3
dec = []
base = rgb.crop((0, 0, 40, 24))
for o in range(1, 9):
    ex = Image.Exif()
    ex[0x0112] = o
    name = f"orient_{o}.jpg"
    base.save(name, quality=95, subsampling=0, exif=ex.tobytes())
    up = ImageOps.exif_transpose(Image.open(name)).convert("RGB")
    dec.append(dict(file=name, expect=save(f"orient_{o}_pil", up), tolerance_mean=JPEG_MEAN, tolerance_max=JPEG_MAX))
base.save("plain_420.jpg", quality=90)
dec.append(dict(file="plain_420.jpg", expect=save("plain_420_pil", Image.open("plain_420.jpg").convert("RGB")), tolerance_mean=JPEG_MEAN, tolerance_max=JPEG_MAX))
base.convert("CMYK").save("cmyk.jpg", quality=95)
dec.append(dict(file="cmyk.jpg", expect=save("cmyk_pil", Image.open("cmyk.jpg").convert("RGB")), tolerance_mean=JPEG_MEAN, tolerance_max=JPEG_MAX))
base.convert("L").save("gray.jpg", quality=95)
dec.append(dict(file="gray.jpg", expect=save("gray_jpg_pil", Image.open("gray.jpg").convert("RGB")), tolerance_mean=JPEG_MEAN, tolerance_max=JPEG_MAX))
# Chroma subsampling variants, odd sizes and chroma rows of <= 2 samples
# (where libjpeg replicates instead of smoothing); 4:4:0 is written by
# libjpeg-turbo's cjpeg (Debian libjpeg-turbo-progs), PIL cannot.
import subprocess
for name, box, kw in (("s422_odd.jpg", (3, 5, 40, 28), dict(subsampling="4:2:2")),
                      ("s420_odd_prog.jpg", (7, 2, 44, 25), dict(subsampling="4:2:0", progressive=True)),
                      ("s420_tiny.jpg", (20, 20, 23, 25), dict(subsampling="4:2:0")),
                      ("s422_tiny.jpg", (30, 9, 34, 16), dict(subsampling="4:2:2")),
                      ("s440_odd.jpg", (11, 13, 48, 40), None),
                      ("saturated_420.jpg", (50, 30, 90, 60), dict(subsampling="4:2:0"))):
    im = rgb.crop(box)
    if name.startswith("saturated"):
        # Colors that clip in RGB: libjpeg's gray (Y) output differs from
        # PIL's convert("L") of the RGB decode there.
        im = ImageEnhance.Color(im).enhance(4.0)
    if kw is None:
        im.save("s440_src.ppm")
        with open(name, "wb") as f:
            subprocess.run(["cjpeg", "-quality", "90", "-sample", "1x2,1x1,1x1", "s440_src.ppm"], stdout=f, check=True)
        os.remove("s440_src.ppm")
    else:
        im.save(name, quality=90, **kw)
    dec.append(dict(file=name, expect=save(name[:-4] + "_pil", Image.open(name).convert("RGB")),
                    tolerance_mean=JPEG_MEAN, tolerance_max=JPEG_MAX))
# Lossless PNG variants: exact.
base.quantize(64).save("palette.png")
dec.append(dict(file="palette.png", expect=save("palette_pil", Image.open("palette.png").convert("RGB")), tolerance_mean=0))
rgba = base.copy(); rgba.putalpha(Image.linear_gradient("L").resize(base.size))
rgba.save("rgba.png")
dec.append(dict(file="rgba.png", expect=save("rgba_pil", Image.open("rgba.png").convert("RGB")), tolerance_mean=0))
la = base.convert("LA"); la.save("gray_alpha.png")
dec.append(dict(file="gray_alpha.png", expect=save("gray_alpha_pil", Image.open("gray_alpha.png").convert("RGB")), tolerance_mean=0))
# 16-bit RGB PNG written by numpy->PIL is awkward; write raw with png via a 2-byte array.
a16 = (np.asarray(base).astype(np.uint16) * 257)
import zlib, struct
def png16(path, arr):
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png16("rgb16.png", a16)
dec.append(dict(file="rgb16.png", expect=save("rgb16_pil", Image.open("rgb16.png").convert("RGB")), tolerance_mean=0))

with open("golden.json", "w") as f:
    json.dump(dict(generator="make_golden.py", torch=torch.__version__, torchvision=torchvision.__version__,
                   pillow=Image.__version__, numpy=np.__version__, cases=cases, fallback=fb, center_crop=cc,
                   kernels=kernels, decode=dec), f, indent=1)
print(len(cases), "op cases,", len(fb), "fallback boxes,", len(dec), "decode fixtures")
