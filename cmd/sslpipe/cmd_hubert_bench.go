//go:build cgo

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/hubert"
	"github.com/sslpipe/sslpipe/train/op"
)

func init() {
	registerBench(&benchTarget{Name: "hubert", Summary: "time one HuBERT training step (forward, backward, clip, AdamW) on random audio: the sslpipe side of benchmarks/hubert/bench_torchaudio.py", Run: runHubertBench})
}

// runHubertBench times the HuBERT training step (forward, backward, clip,
// AdamW) on random audio and labels: the sslpipe side of
// benchmarks/hubert/bench_torchaudio.py (`sslpipe bench hubert` and
// `sslpipe hubert bench`).
func runHubertBench(ctx context.Context, env *cmdEnv, args []string) error {
	var preset, device string
	var batch, steps, warm, threads int
	var secs float64
	var bf16 bool
	fs := newFlagSet("hubert bench", env.Stderr)
	fs.StringVar(&preset, "preset", "hubert-base", "preset of the model and optimizer (sslpipe train --method hubert -h lists them)")
	fs.StringVar(&device, "device", "auto", "auto, cpu, cuda or cuda:N")
	intVar(fs, &batch, "batch", 8, 1, 1<<20, "utterances per step")
	floatVar(fs, &secs, "seconds", 4, span{Lo: 0, Hi: 3600, LoOpen: true}, "seconds of audio per utterance")
	intVar(fs, &steps, "steps", 20, 1, 1<<30, "timed steps")
	intVar(fs, &warm, "warmup", 5, 0, 1<<30, "untimed warm-up steps")
	fs.BoolVar(&bf16, "bf16", true, "bfloat16 matmuls and convolutions (CUDA only)")
	intVar(fs, &threads, "threads", 0, 0, 4096, "libtorch CPU threads (0: all cores)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := train.PresetConfig("hubert", preset)
	if err != nil {
		return usagef("hubert bench: %v", err)
	}
	mc := *cfg.Model.(*hubert.ModelConfig)
	defer op.LockThread()()
	dev, err := train.ParseDevice(device)
	if err != nil {
		return err
	}
	train.SetNumThreads(threads)
	m, err := hubert.NewModel(mc, 1, dev)
	if err != nil {
		return err
	}
	defer m.Free()
	m.BF16 = bf16 && dev.IsCuda()
	opt, err := hubert.NewOptimizer(m, cfg.Optim, cfg.Settings.(*hubert.Settings).CNNLRScale)
	if err != nil {
		return err
	}
	defer opt.Free()
	L := int(secs * hubert.SampleRate)
	T := m.T(L)
	if T < 1 {
		return usagef("hubert bench: --seconds %g gives no CNN frames", secs)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	utts := make([]hubert.Utterance, batch)
	for i := range utts {
		w := make([]float32, L)
		for j := range w {
			w[j] = float32(rng.NormFloat64() * 0.1)
		}
		l := make([]int32, T)
		for j := range l {
			l[j] = int32(rng.IntN(mc.NumClasses))
		}
		if utts[i], err = hubert.Check(data.Example{Key: fmt.Sprint(i), Wave: w, Rate: hubert.SampleRate, Labels: l}, mc); err != nil {
			return err
		}
	}
	var total time.Duration
	for s := 0; s < warm+steps; s++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rngs := make([]*rand.Rand, batch)
		for i := range rngs {
			rngs[i] = rand.New(rand.NewPCG(uint64(s), uint64(i)))
		}
		b, err := hubert.Collate(utts, rngs, L, mc)
		if err != nil {
			return err
		}
		b.Rng = rand.New(rand.NewPCG(1, uint64(s)))
		t0 := time.Now()
		if _, err := opt.Step(b, 1e-5, nil); err != nil {
			return err
		}
		if err := hubert.Sync(dev); err != nil {
			return err
		}
		if s >= warm {
			total += time.Since(t0)
		}
	}
	ms := total.Seconds() * 1000 / float64(steps)
	fmt.Fprintf(env.Stdout, "sslpipe hubert %s step: batch %d x %.1f s (%d frames), device %s, bf16 %v: %.1f ms/step, %.1f audio s/s (%d params)\n",
		preset, batch, secs, T, train.DeviceName(dev), m.BF16, ms, float64(batch)*secs/(ms/1000), m.Params.Count())
	return nil
}
