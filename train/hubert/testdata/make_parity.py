"""Goldens for train/hubert's parity test (TestParityTorchaudio).

Builds a toy HuBERT with torchaudio 0.13's hubert_pretrain_model, perturbs
its weights, and writes:
  parity_init.safetensors   initial weights (torchaudio state-dict names)
  parity_golden.safetensors inputs (waves, labels, mask) and outputs:
                            losses and feature penalties of 2 steps, the
                            masked/unmasked logits of step 1 and the
                            weights after the first AdamW update.
The mask is fixed (drawn here) and injected in place of torchaudio's random
mask generator; the HuBERT loss is mean CE over masked frames (torchaudio's
logits put the positive at index 0) + 10 * feature penalty; the update is
clip_grad_norm_(10) then torch.optim.AdamW(lr 1e-3, betas (0.9, 0.98),
eps 1e-6, weight_decay 0.01) (fairseq's Adam with decoupled decay).

Run with Debian's python (torch 1.13.1, torchaudio 0.13.1):
  /usr/bin/python3 train/hubert/testdata/make_parity.py train/hubert/testdata
GELU is computed as 0.5 x (1 + erf(x / sqrt 2)) (see gelu_erf below).
Tolerance used by the Go test: 1e-5 relative on losses and penalties, 1e-5 absolute on weights (observed: 0 and 6e-7).
"""
import json
import struct
import sys

import math

import torch
import torch.nn.functional as F
import torchaudio


def gelu_erf(x, approximate="none"):
    return 0.5 * x * (1 + torch.erf(x * (1 / math.sqrt(2))))


# Debian's libtorch 1.13.1 computes a wrong, run-dependent GELU gradient on
# the CPU when the incoming gradient is not contiguous (the CNN's output is
# transposed), so the exact erf form replaces it (same values to 5e-7).
# sslpipe detects the bug at run time (transformer.NativeGELUBackwardOK)
# and does the same.
torch.nn.functional.gelu = gelu_erf

out = sys.argv[1] if len(sys.argv) > 1 else "."
torch.manual_seed(1234)
model = torchaudio.models.hubert_pretrain_model(
    extractor_mode="group_norm",
    extractor_conv_layer_config=[(16, 10, 5), (16, 3, 2), (16, 2, 2)],
    extractor_conv_bias=False,
    encoder_embed_dim=32,
    encoder_projection_dropout=0.0,
    encoder_pos_conv_kernel=8,
    encoder_pos_conv_groups=4,
    encoder_num_layers=2,
    encoder_num_heads=4,
    encoder_attention_dropout=0.0,
    encoder_ff_interm_features=64,
    encoder_ff_interm_dropout=0.0,
    encoder_dropout=0.0,
    encoder_layer_norm_first=False,
    encoder_layer_drop=0.0,
    mask_prob=0.8,
    mask_selection="static",
    mask_other=0.0,
    mask_length=10,
    no_mask_overlap=False,
    mask_min_space=1,
    mask_channel_prob=0.0,
    mask_channel_selection="static",
    mask_channel_other=0.0,
    mask_channel_length=10,
    no_mask_channel_overlap=False,
    mask_channel_min_space=1,
    skip_masked=False,
    skip_nomask=False,
    num_classes=10,
    final_dim=16,
    feature_grad_mult=0.1,
)
with torch.no_grad():
    for n, p in model.named_parameters():
        p.add_(0.05 * torch.randn_like(p))
model.train()

B, L, K = 2, 1600, 10
waves = torch.randn(B, L) * 0.3
T = 79
labels = torch.randint(0, K, (B, T))
mask = torch.zeros(B, T, dtype=torch.bool)
for b, starts in enumerate([[3, 20, 41, 60], [0, 15, 30, 52, 66]]):
    for s in starts:
        mask[b, s:s + 10] = True


def fixed_mask(x, padding_mask):
    x = x.clone()
    x[mask] = model.mask_generator.mask_embedding.to(x.dtype)
    return x, mask


model.mask_generator.forward = fixed_mask

init = {n: p.detach().clone() for n, p in model.state_dict().items()}
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
gold = {"waves": waves, "labels": labels.to(torch.int64), "mask": mask.to(torch.int64)}
losses, pens, accm = [], [], []
for step in range(2):
    opt.zero_grad()
    logit_m, logit_u, pen = model(waves, labels)
    target = torch.zeros(logit_m.shape[0], dtype=torch.long)
    loss = F.cross_entropy(logit_m, target) + 10.0 * pen
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    if step == 0:
        gold["logit_m"] = logit_m.detach()[:, 1:].contiguous()  # drop the positive column
        gold["logit_u"] = logit_u.detach()[:, 1:].contiguous()
        for n, p in model.named_parameters():
            gold["grad." + n] = p.grad.detach().clone()
    losses.append(loss.item())
    pens.append(pen.item())
    accm.append((logit_m.argmax(-1) == 0).float().mean().item())
    opt.step()
    if step == 0:
        for n, p in model.state_dict().items():
            gold["after1." + n] = p.detach().clone()
gold["losses"] = torch.tensor(losses)
gold["pens"] = torch.tensor(pens)
gold["acc_m"] = torch.tensor(accm)
print("losses", losses, "pens", pens, "acc_m", accm)


def save(path, tensors):
    header, blobs, off = {}, [], 0
    for n in sorted(tensors):
        t = tensors[n].contiguous()
        if t.dtype == torch.int64:
            dt, b = "I64", t.numpy().tobytes()
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


save(out + "/parity_init.safetensors", init)
save(out + "/parity_golden.safetensors", gold)
