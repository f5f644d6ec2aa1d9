"""Goldens for train/data2vec2's parity tests (TestParity*).

A tiny data2vec 2.0 per modality, written in PyTorch from the paper and
fairseq's data2vec_multi model (examples/data2vec/models/data2vec2.py,
modalities/{base,modules,images,audio,text}.py) with torchaudio 0.13's
post-LN wav2vec 2.0 encoder blocks (the encoder's layer norm before the
first block, as sslpipe's train/transformer):

  text   tokens + learned positions, layer norm; random masks (6 of 12
         tokens masked in each of 2 clones of 2 samples); 1-D decoder
         (24 channels, kernel 4: "same" padding drops the last position,
         2 blocks, no residual, projection Linear 24->48, GELU, Linear
         48->32); loss scale 1; the teacher (encoder only) reads the
         student's embeddings.
  image  16 x 16 x 2 images, 4 x 4 patches, fixed 2-D sin-cos positions
         (MAE's table), a CLS token; 13 of 16 patches masked per clone;
         2-D decoder (32 channels, kernel 3, 4 groups, 2 residual blocks);
         final layer norm of the targets; CLS loss weight 0.5; the teacher
         has its own patch embedding and CLS token.
  audio  400-sample waves, a 3-layer wav2vec 2.0 CNN (layer_norm mode, 16
         channels, 19 frames), layer norm and projection to 32, a 2-layer
         convolutional positional encoder (kernel 4, 4 groups) run on each
         clone with its masked frames zeroed; 8 of 19 frames masked; 1-D
         decoder (16 channels, kernel 3, 4 groups, residual where the
         channels match); the teacher has its own positional encoder and
         reads the student's CNN features.

All: D = 32, 3 blocks, 4 heads, FFN 64, targets = mean of the top-2
blocks' FFN outputs (before the block's last residual), each
instance-normalized over time; no dropout; the decoder gets zeros at the
masked positions (mask noise std 0). The loss is
  s * sum over masked positions and dims (pred - y)^2 / N
  + cls_loss * s * sum over rows and dims (cls - mean_t y)^2   (image)
with s = 1/sqrt(32) (text: 1) and N the batch's masked positions
(fairseq's summed losses over its sample size). The teacher is a
separately perturbed copy so that targets and EMA are tested with
teacher != student. For each modality it writes
  parity_<mod>_init.safetensors    student and teacher weights (sslpipe names)
  parity_<mod>_golden.safetensors  inputs (ids / patches / wave, mask),
      targets (B x T x D), pred and tgt (masked rows), loss, reg, cls,
      target_var, pred_var, grad_norm, grad.<name> (gradients before
      clipping), after.<name> (student after clip_grad_norm_(0.5) and
      torch.optim.AdamW(lr 1e-3, betas (0.9, 0.98), eps 1e-6,
      weight_decay 0.05 on weights with 2+ dimensions and not biases, 0
      on the rest)), ema.teacher.<name> (teacher = 0.9 teacher + 0.1
      updated student).

Run with Debian's python (torch 1.13.1, torchaudio 0.13.1):
  /usr/bin/python3 train/data2vec2/testdata/make_parity.py train/data2vec2/testdata
Tolerances in the Go tests: 1e-4 relative (max abs difference over the
reference's max abs value, per tensor) on targets, predictions, gradients
and weights; 1e-4 relative on the loss, its parts, the variances and the
gradient norm.
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchaudio.models.wav2vec2 import components as C


def gelu_erf(x, approximate="none"):
    return 0.5 * x * (1 + torch.erf(x * (1 / math.sqrt(2))))


# Debian's libtorch 1.13.1 CPU GELU backward bug (see train/data2vec's
# script): the exact erf form, as sslpipe uses on the CPU.
torch.nn.functional.gelu = gelu_erf
F.gelu = gelu_erf

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
D, LAYERS, HEADS, FF, TOPK = 32, 3, 4, 64, 2
B, CLONES = 2, 2


def save(path, tensors):
    header, blobs, off = {}, [], 0
    for n in sorted(tensors):
        t = tensors[n].detach().contiguous()
        if t.dtype in (torch.int64, torch.bool, torch.int32):
            dt, b = "I64", t.to(torch.int64).numpy().tobytes()
        else:
            dt, b = "F32", t.to(torch.float32).numpy().tobytes()
        header[n] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_encoder():
    enc = nn.Module()
    enc.layer_norm = nn.LayerNorm(D)
    enc.layers = nn.ModuleList([
        C.EncoderLayer(C.SelfAttention(D, HEADS, 0.0), 0.0, False, C.FeedForward(D, FF, 0.0, 0.0))
        for _ in range(LAYERS)])
    return enc


def run_blocks(enc, x):
    """Post-LN blocks; returns the output and each block's FFN output
    before the block's last residual (fairseq AltBlock's ffn target)."""
    x = enc.layer_norm(x)
    ffn = []
    for layer in enc.layers:
        ref = layer(x)
        r = x + layer.attention(x)
        r = layer.layer_norm(r)
        f = layer.feed_forward(r)
        x = layer.final_layer_norm(r + f)
        assert torch.allclose(x, ref, atol=1e-6)
        ffn.append(f)
    return x, ffn


def instance_norm(f):  # B x T x C, over T
    return F.instance_norm(f.transpose(1, 2)).transpose(1, 2)


def make_targets(ffn, final_ln):
    top = [instance_norm(f) for f in ffn[-TOPK:]]
    y = sum(top) / len(top)
    if final_ln:
        y = F.layer_norm(y, y.shape[-1:])
    return y


class ConvStack(nn.Module):
    """fairseq's Decoder1d/Decoder2d blocks (and the audio positional
    encoder): conv ("same" padding, an even kernel drops the last position
    per spatial dim), layer norm over channels without affine, GELU,
    residual when enabled and the channels match. Input and output are
    channels-first (N x C x T or N x C x H x W)."""

    def __init__(self, cin, dim, layers, k, groups, residual, two_d):
        super().__init__()
        conv = nn.Conv2d if two_d else nn.Conv1d
        self.blocks = nn.ModuleList([
            nn.Sequential(conv(cin if i == 0 else dim, dim, k, padding=k // 2, groups=groups))
            for i in range(layers)])
        self.k, self.residual, self.two_d = k, residual, two_d

    def forward(self, x):
        for blk in self.blocks:
            y = blk[0](x)
            if self.k % 2 == 0:
                y = y[:, :, :-1, :-1] if self.two_d else y[:, :, :-1]
            y = y.movedim(1, -1)
            y = F.layer_norm(y, y.shape[-1:])
            y = F.gelu(y).movedim(-1, 1)
            if self.residual and y.shape[1] == x.shape[1]:
                y = y + x
            x = y
        return x


def sincos_2d(d, g):
    q = d // 4
    omega = 1.0 / 10000 ** (torch.arange(q, dtype=torch.float64) / q)
    rows, cols = torch.meshgrid(torch.arange(g, dtype=torch.float64), torch.arange(g, dtype=torch.float64), indexing="ij")
    rows, cols = rows.reshape(-1, 1) * omega, cols.reshape(-1, 1) * omega
    return torch.cat([cols.sin(), cols.cos(), rows.sin(), rows.cos()], dim=1).float()


def equal_count_masks(T, M, gen):
    rows = []
    for _ in range(B * CLONES):
        m = torch.zeros(T, dtype=torch.bool)
        m[torch.randperm(T, generator=gen)[:M]] = True
        rows.append(m)
    return torch.stack(rows)


def perturb(params, scale=0.05):
    with torch.no_grad():
        for p in params:
            p.add_(scale * torch.randn_like(p))


class Model(nn.Module):
    def __init__(self, mod):
        super().__init__()
        self.mod = mod
        if mod == "text":
            self.embed = nn.Module()
            self.embed.tokens = nn.Parameter(torch.randn(40, D) * 0.02)
            self.embed.positions = nn.Parameter(torch.randn(16, D) * 0.02)
            self.embed.layer_norm = nn.LayerNorm(D)
            self.dec = ConvStack(D, 24, 2, 4, 1, False, False)
            self.proj = nn.Sequential(nn.Linear(24, 48), nn.GELU(), nn.Linear(48, D))
        elif mod == "image":
            self.patch = nn.Linear(32, D)
            self.cls = nn.Parameter(torch.randn(1, D))
            self.register_buffer("pos", sincos_2d(D, 4))
            self.dec = ConvStack(D, 32, 2, 3, 4, True, True)
            self.proj = nn.Linear(32, D)
        else:
            self.cnn = nn.ModuleList()
            cin = 1
            for k, s in [(10, 5), (3, 2), (3, 2)]:
                layer = nn.Module()
                layer.conv = nn.Conv1d(cin, 16, k, stride=s, bias=False)
                layer.layer_norm = nn.LayerNorm(16)
                layer.stride = s
                self.cnn.append(layer)
                cin = 16
            self.fln = nn.LayerNorm(16)
            self.fproj = nn.Linear(16, D)
            self.pos_conv = ConvStack(D, D, 2, 4, 4, False, False)
            self.dec = ConvStack(D, 16, 2, 3, 4, True, False)
            self.proj = nn.Linear(16, D)
        self.encoder = make_encoder()

    def names(self):
        """sslpipe name -> parameter."""
        n = {}
        if self.mod == "text":
            n["embed.tokens.weight"] = self.embed.tokens
            n["embed.positions.weight"] = self.embed.positions
            n["embed.layer_norm.weight"] = self.embed.layer_norm.weight
            n["embed.layer_norm.bias"] = self.embed.layer_norm.bias
            n["decoder.proj.0.weight"], n["decoder.proj.0.bias"] = self.proj[0].weight, self.proj[0].bias
            n["decoder.proj.2.weight"], n["decoder.proj.2.bias"] = self.proj[2].weight, self.proj[2].bias
        else:
            n["decoder.proj.weight"], n["decoder.proj.bias"] = self.proj.weight, self.proj.bias
        if self.mod == "image":
            n["patch_embed.proj.weight"], n["patch_embed.proj.bias"] = self.patch.weight, self.patch.bias
            n["cls_token"] = self.cls
        if self.mod == "audio":
            for i, l in enumerate(self.cnn):
                n[f"feature_extractor.conv_layers.{i}.conv.weight"] = l.conv.weight
                n[f"feature_extractor.conv_layers.{i}.layer_norm.weight"] = l.layer_norm.weight
                n[f"feature_extractor.conv_layers.{i}.layer_norm.bias"] = l.layer_norm.bias
            n["layer_norm.weight"], n["layer_norm.bias"] = self.fln.weight, self.fln.bias
            n["post_extract_proj.weight"], n["post_extract_proj.bias"] = self.fproj.weight, self.fproj.bias
            for i, blk in enumerate(self.pos_conv.blocks):
                n[f"pos_conv.{i}.0.weight"], n[f"pos_conv.{i}.0.bias"] = blk[0].weight, blk[0].bias
        for i, blk in enumerate(self.dec.blocks):
            n[f"decoder.blocks.{i}.0.weight"], n[f"decoder.blocks.{i}.0.bias"] = blk[0].weight, blk[0].bias
        for k, p in self.encoder.named_parameters():
            n["encoder." + k] = p
        return n

    def teacher_names(self):
        keep = {"text": ("encoder.",), "image": ("encoder.", "patch_embed.", "cls_token"), "audio": ("encoder.", "pos_conv.")}[self.mod]
        return [k for k in self.names() if k.startswith(keep)]

    def local(self, inp):
        if self.mod == "text":
            x = self.embed.tokens[inp] + self.embed.positions[: inp.shape[1]]
            return self.embed.layer_norm(x)
        if self.mod == "image":
            return self.patch(inp) + self.pos
        x = inp.unsqueeze(1)
        for l in self.cnn:
            x = l.conv(x)
            x = l.layer_norm(x.transpose(1, 2)).transpose(1, 2)
            x = F.gelu(x)
        x = x.transpose(1, 2)
        return self.fproj(self.fln(x))


def build(mod, seed):
    torch.manual_seed(seed)
    student = Model(mod)
    perturb(student.parameters())
    teacher = Model(mod)  # only its averaged part is used
    with torch.no_grad():
        sn, tn = student.names(), teacher.names()
        for k in student.teacher_names():
            tn[k].copy_(sn[k] + 0.05 * torch.randn_like(sn[k]))
    return student, teacher


def teacher_targets(student, teacher, local, inp):
    with torch.no_grad():
        if student.mod == "text":
            x = local.detach()
        elif student.mod == "image":
            x = teacher.patch(inp) + teacher.pos
            x = torch.cat([teacher.cls.expand(x.shape[0], 1, D), x], 1)
        else:
            x = local.detach()
            x = x + teacher.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        _, ffn = run_blocks(teacher.encoder, x)
        if student.mod == "image":
            ffn = [f[:, 1:] for f in ffn]
        return make_targets(ffn, student.mod == "image")


def loss_fn(student, teacher, inp, mask, scale, cls_w):
    T = mask.shape[1]
    local = student.local(inp)
    y = teacher_targets(student, teacher, local, inp)
    xr = local.repeat_interleave(CLONES, 0)
    if student.mod == "audio":
        zeroed = xr * (~mask).unsqueeze(-1).float()
        xr = xr + student.pos_conv(zeroed.transpose(1, 2)).transpose(1, 2)
    K = int((~mask[0]).sum())
    xs = xr[~mask].view(B * CLONES, K, D)
    if student.mod == "image":
        xs = torch.cat([student.cls.expand(xs.shape[0], 1, D), xs], 1)
    h, _ = run_blocks(student.encoder, xs)
    hk = h[:, 1:] if student.mod == "image" else h
    full = torch.zeros(B * CLONES, T, D)
    full[~mask] = hk.reshape(-1, D)
    if student.mod == "image":
        g = full.transpose(1, 2).reshape(B * CLONES, D, 4, 4)
        dec = student.dec(g).reshape(B * CLONES, -1, T).transpose(1, 2)
    else:
        dec = student.dec(full.transpose(1, 2)).transpose(1, 2)
    pred = student.proj(dec[mask])
    tgt = y.repeat_interleave(CLONES, 0)[mask]
    reg = ((pred - tgt) ** 2).sum() * scale / pred.shape[0]
    cls = torch.zeros(())
    if cls_w > 0:
        cls_t = y.mean(dim=1).repeat_interleave(CLONES, 0)
        cls = ((h[:, 0] - cls_t) ** 2).sum() * scale * cls_w
    return reg + cls, reg, cls, y, pred, tgt


def compute_var(y):
    y = y.reshape(-1, y.size(-1))
    return torch.sqrt(y.var(dim=0) + 1e-6).mean()


def run(mod, seed):
    student, teacher = build(mod, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    gold = {}
    if mod == "text":
        T, M, scale, cls_w = 12, 6, 1.0, 0.0
        inp = torch.randint(0, 40, (B, T), generator=gen)
        gold["ids"] = inp
    elif mod == "image":
        T, M, scale, cls_w = 16, 13, 1 / math.sqrt(D), 0.5
        inp = torch.randn(B, T, 32, generator=gen)
        gold["patches"] = inp
    else:
        T, M, scale, cls_w = 19, 8, 1 / math.sqrt(D), 0.0
        t = torch.arange(400, dtype=torch.float32)
        inp = torch.stack([0.5 * torch.sin(t * 0.07), 0.4 * torch.sin(t * 0.19 + 1)]) + 0.05 * torch.randn(B, 400, generator=gen)
        gold["wave"] = inp
    mask = equal_count_masks(T, M, gen)
    gold["mask"] = mask.to(torch.int64)

    sn, tn = student.names(), teacher.names()
    init = {k: p.detach().clone() for k, p in sn.items()}
    for k in student.teacher_names():
        init["teacher." + k] = tn[k].detach().clone()

    params = list(sn.values())
    decay = [p for k, p in sn.items() if p.dim() > 1 and not k.endswith(".bias")]
    no_decay = [p for k, p in sn.items() if not (p.dim() > 1 and not k.endswith(".bias"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    opt.zero_grad()
    loss, reg, cls, y, pred, tgt = loss_fn(student, teacher, inp, mask, scale, cls_w)
    loss.backward()
    for k, p in sn.items():
        gold["grad." + k] = p.grad.detach().clone()
    gold["targets"] = y
    gold["pred"], gold["tgt"] = pred.detach(), tgt
    gold["loss"], gold["reg"], gold["cls"] = loss.detach().reshape(1), reg.detach().reshape(1), cls.detach().reshape(1)
    gold["target_var"] = compute_var(tgt).reshape(1)
    gold["pred_var"] = compute_var(pred.detach()).reshape(1)
    gold["grad_norm"] = torch.nn.utils.clip_grad_norm_(params, 0.5).reshape(1)
    opt.step()
    for k, p in sn.items():
        gold["after." + k] = p.detach().clone()
    with torch.no_grad():
        for k in student.teacher_names():
            tn[k].mul_(0.9).add_(sn[k], alpha=0.1)
            gold["ema.teacher." + k] = tn[k].detach().clone()
    print(mod, "loss", loss.item(), "reg", reg.item(), "cls", cls.item(), "target_var", gold["target_var"].item(),
          "pred_var", gold["pred_var"].item(), "grad_norm", gold["grad_norm"].item())
    save(f"{out_dir}/parity_{mod}_init.safetensors", init)
    save(f"{out_dir}/parity_{mod}_golden.safetensors", gold)


for i, mod in enumerate(["text", "image", "audio"]):
    run(mod, 100 + i)
