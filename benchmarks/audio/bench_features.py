"""Side-by-side throughput of WAV decode + Kaldi MFCC + deltas: torchaudio vs sslpipe.

Run from the repository root with Debian's python (torch 1.13, torchaudio 0.13):

    CGO_ENABLED=0 go build -o /tmp/sslpipe ./cmd/sslpipe
    /usr/bin/python3 benchmarks/audio/bench_features.py --sslpipe /tmp/sslpipe \
        --in audio/testdata --rounds 5 --seconds 3

Both sides run on one core: torch.set_num_threads(1) (and
set_num_interop_threads(1)); sslpipe with GOMAXPROCS=1 and --workers 1.
Rounds alternate torchaudio and sslpipe so that load from other processes
hits both alike; the script prints every round and the medians, both as
audio seconds per wall-clock second and per CPU second of the process
(time.process_time / getrusage), which is steadier on a shared machine.

torchaudio pipeline per file, as HuBERT's dump_mfcc_feature.py does it:
torchaudio.load -> compliance.kaldi.mfcc(use_energy=False) ->
functional.compute_deltas twice -> concatenate to (frames, 39).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import time

import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi
from torchaudio.functional import compute_deltas


def torch_pass(files, kind, deltas):
    secs = 0.0
    frames = 0
    for p in files:
        w, sr = torchaudio.load(p)
        if kind == "mfcc":
            f = kaldi.mfcc(w, sample_frequency=sr, use_energy=False)
        else:
            f = kaldi.fbank(w, sample_frequency=sr)
        if deltas:
            t = f.transpose(0, 1)
            d = compute_deltas(t)
            dd = compute_deltas(d)
            f = torch.cat([t, d, dd], dim=0).transpose(0, 1)
        secs += w.shape[1] / sr
        frames += f.shape[0]
    return secs, frames


def torch_round(files, kind, deltas, seconds):
    torch_pass(files, kind, deltas)  # warm-up
    audio = 0.0
    frames = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s, f = torch_pass(files, kind, deltas)
        audio += s
        frames += f
    el = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return audio / el, el * 1e6 / frames, audio / cpu


def go_round(binary, indir, kind, deltas, seconds):
    cmd = [binary, "bench", "features", "--kind", kind, "--in", indir, "--workers", "1",
           "--seconds", str(seconds), "--json"]
    if deltas:
        cmd.append("--deltas")
    env = dict(os.environ, GOMAXPROCS="1")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out)
    return r["audio_seconds_per_s"], r["us_per_frame_per_worker"], r["audio_seconds_per_cpu_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sslpipe", required=True)
    ap.add_argument("--in", dest="indir", default="audio/testdata")
    ap.add_argument("--kind", default="mfcc")
    ap.add_argument("--no-deltas", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    files = sorted(glob.glob(os.path.join(a.indir, "**", "*.wav"), recursive=True))
    deltas = not a.no_deltas
    print(f"torch {torch.__version__}, torchaudio {torchaudio.__version__}; {len(files)} files; kind={a.kind} deltas={deltas}")
    tr, gr = [], []
    for i in range(a.rounds):
        t = torch_round(files, a.kind, deltas, a.seconds)
        g = go_round(a.sslpipe, a.indir, a.kind, deltas, a.seconds)
        tr.append(t)
        gr.append(g)
        print(f"round {i}: torchaudio {t[0]:6.0f} audio s/s wall ({t[1]:5.2f} us/frame), {t[2]:6.0f} per CPU s | "
              f"sslpipe {g[0]:6.0f} audio s/s wall ({g[1]:5.2f} us/frame), {g[2]:6.0f} per CPU s | "
              f"ratio wall {g[0] / t[0]:.2f}x, CPU {g[2] / t[2]:.2f}x")
    tm = statistics.median(x[0] for x in tr)
    gm = statistics.median(x[0] for x in gr)
    ratios = [g[0] / t[0] for t, g in zip(tr, gr)]
    cratios = [g[2] / t[2] for t, g in zip(tr, gr)]
    print(f"median per CPU second: torchaudio {statistics.median(x[2] for x in tr):.0f}, "
          f"sslpipe {statistics.median(x[2] for x in gr):.0f} audio s; median per-round CPU ratio "
          f"{statistics.median(cratios):.2f}x (min {min(cratios):.2f}x, max {max(cratios):.2f}x)")
    print(f"median: torchaudio {tm:.0f} audio s/s ({statistics.median(x[1] for x in tr):.2f} us/frame), "
          f"sslpipe {gm:.0f} audio s/s ({statistics.median(x[1] for x in gr):.2f} us/frame); "
          f"ratio of medians {gm / tm:.2f}x, median per-round ratio {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")


if __name__ == "__main__":
    main()
