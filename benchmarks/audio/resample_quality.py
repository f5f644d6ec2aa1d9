"""Stop-band and pass-band of torchaudio.functional.resample, measured the way
audio/resample_test.go measures sslpipe's resampler (44.1 kHz -> 16 kHz):
worst output level of tones from 8 kHz (the output Nyquist) to 22 kHz every
50 Hz, relative to the input tone, and the largest gain error of tones from
100 Hz to 6.4 kHz (0.8 x the output Nyquist) every 100 Hz. Run: /usr/bin/python3 benchmarks/audio/resample_quality.py
"""
import math
import torch
import torchaudio.functional as F

torch.set_num_threads(1)
SR_IN, SR_OUT = 44100, 16000
configs = {
    "torchaudio default (hann, width 6, rolloff 0.99)": {},
    "torchaudio kaiser_best (width 64, rolloff 0.9476, beta 14.77)": dict(
        lowpass_filter_width=64, rolloff=0.9475937167399596, resampling_method="kaiser_window", beta=14.769656459379492),
}


def tone(f, n):
    t = torch.arange(n, dtype=torch.float64) / SR_IN
    return 0.5 * torch.sin(2 * math.pi * f * t)


for name, kw in configs.items():
    worst = -1e9
    f = 8000.0
    while f < 22050:
        y = F.resample(tone(f, SR_IN // 2).unsqueeze(0), SR_IN, SR_OUT, **kw)[0]
        y = y[1600:-1600]
        level = 20 * math.log10(y.pow(2).mean().sqrt().item() / (0.5 / math.sqrt(2)) + 1e-30)
        worst = max(worst, level)
        f += 50
    ripple = 0.0
    f = 100.0
    while f <= 6400:
        y = F.resample(tone(f, SR_IN).unsqueeze(0), SR_IN, SR_OUT, **kw)[0][1600:-1600]
        n = torch.arange(1600, 1600 + len(y), dtype=torch.float64)
        w = 2 * math.pi * f * n / SR_OUT
        a = 2 * (y * torch.sin(w)).mean().item()
        b = 2 * (y * torch.cos(w)).mean().item()
        ripple = max(ripple, abs(20 * math.log10(math.hypot(a, b) / 0.5)))
        f += 100
    print(f"{name}: worst stop-band level {worst:.1f} dB; largest pass-band gain error to 6.4 kHz {ripple:.4f} dB")
