# Golden features for audio/features_test.go, computed with torchaudio.compliance.kaldi.
# Run from audio/testdata with Debian's python (torch 1.13, torchaudio 0.13):
#   /usr/bin/python3 make_golden.py
# Tolerance used by the Go tests (features_test.go): max |go - torchaudio| <= 1e-3 on every value.
#  - float32 goldens (torchaudio's default dtype, what HuBERT runs) are compared with
#    audio.DefaultOptions (Float32Window true: window coefficients rounded as torch computes them);
#  - *_f64 goldens (torchaudio run on float64 input) with Float32Window false.
# torchaudio float32 and float64 differ from each other by up to 1.7e-3 (utt4, MFCC c11, a fricative
# frame), mostly through the float32 rounding of the Povey window's coefficients.
# Inputs are the utt*.wav files made by make_wavs.sh, loaded by torchaudio.load
# (int16 / 32768, as soundfile does for HuBERT's dump_mfcc_feature.py).
import json
import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as K
from torchaudio.functional import compute_deltas

cases = []


def save(name, feats):
    arr = feats.numpy().astype("<f4")
    np.save(name + ".npy", arr)
    return name + ".npy", list(arr.shape)


def add(name, wav, kind, opts, deltas=False, start=0, end=None, f64=False):
    w, sr = torchaudio.load(wav)
    assert sr == 16000
    w = w[:, start:end]
    if f64:  # same algorithm in float64: torchaudio without its float32 rounding
        w = w.double()
    fn = K.mfcc if kind == "mfcc" else K.fbank
    f = fn(w, **opts)
    if deltas:  # HuBERT: concat(mfcc, delta, delta-delta) with compute_deltas (window 5, replicate)
        t = f.transpose(0, 1)
        d = compute_deltas(t)
        dd = compute_deltas(d)
        f = torch.cat([t, d, dd], dim=0).transpose(0, 1).contiguous()
    file, shape = save(name, f)
    cases.append(dict(name=name, wav=wav, start=start, end=end if end is not None else -1,
                      kind=kind, opts=opts, deltas=deltas, file=file, shape=shape, f64=f64))


for u in ["utt1", "utt2", "utt3", "utt4"]:
    add(u + "_mfcc_hubert", u + ".wav", "mfcc", dict(sample_frequency=16000, use_energy=False), deltas=True)
    add(u + "_fbank", u + ".wav", "fbank", {})
    if u in ("utt3", "utt4"):  # float64 twins for two utterances keep testdata small
        add(u + "_mfcc_hubert_f64", u + ".wav", "mfcc", dict(sample_frequency=16000, use_energy=False), deltas=True, f64=True)
    if u == "utt3":
        add(u + "_fbank_f64", u + ".wav", "fbank", {}, f64=True)

# Every documented option, on a 0.5 s excerpt of utt3 (keeps the goldens small).
S, E = 3000, 11000
variants = [
    ("fbank", dict(window_type="hamming")),
    ("fbank", dict(window_type="hanning", snip_edges=False)),
    ("fbank", dict(window_type="rectangular", remove_dc_offset=False)),
    ("fbank", dict(window_type="blackman", blackman_coeff=0.40)),
    ("fbank", dict(use_energy=True, energy_floor=0.0)),
    ("fbank", dict(use_energy=True, htk_compat=True, raw_energy=False)),
    ("fbank", dict(num_mel_bins=80, low_freq=60.0, high_freq=-400.0)),
    ("fbank", dict(use_power=False, use_log_fbank=False)),
    ("fbank", dict(frame_length=20.0, frame_shift=12.5, round_to_power_of_two=False)),
    ("fbank", dict(preemphasis_coefficient=0.0, subtract_mean=True)),
    ("fbank", dict(vtln_warp=0.9, vtln_low=120.0, vtln_high=-600.0)),
    ("fbank", dict(vtln_warp=1.1)),
    ("fbank", dict(sample_frequency=8000.0, high_freq=3800.0)),
    ("mfcc", {}),
    ("mfcc", dict(use_energy=True, energy_floor=0.0)),
    ("mfcc", dict(use_energy=True, htk_compat=True)),
    ("mfcc", dict(htk_compat=True)),
    ("mfcc", dict(num_ceps=20, num_mel_bins=40, cepstral_lifter=0.0)),
    ("mfcc", dict(snip_edges=False, subtract_mean=True, frame_shift=5.0)),
    ("mfcc", dict(window_type="hamming", preemphasis_coefficient=0.5, low_freq=100.0, high_freq=7000.0)),
]
for i, (kind, opts) in enumerate(variants):
    add("opt%02d_%s" % (i, kind), "utt3.wav", kind, opts, start=S, end=E)

with open("golden.json", "w") as f:
    json.dump(cases, f, indent=1)
print("wrote", len(cases), "cases")
