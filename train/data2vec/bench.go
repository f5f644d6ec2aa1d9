package data2vec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/op"
)

// BenchOptions are the model, optimizer and run settings BenchStep times.
type BenchOptions struct {
	Model   ModelConfig
	Optim   OptimConfig
	Batch   int
	Device  string // auto, cpu, cuda, cuda:N
	BF16    bool   // bfloat16 matrix products on CUDA
	Threads int    // libtorch intra-op threads (0: libtorch's default)
	Seed    uint64
}

// BenchConfig is the GPU comparison model of benchmarks/data2vec: a
// text data2vec with a 6-layer d=512 post-LN encoder (8 heads, FFN 2048),
// vocabulary 30522, top-3 layer-normalized targets, Smooth L1 beta 4,
// span masking, batch 32 x 128 tokens (pytorch_data2vec.py builds the
// same model), with text-base's optimizer.
func BenchConfig() BenchOptions {
	c, _ := train.PresetConfig("data2vec", "text-base")
	m := *model(&c)
	m.Encoder = encoderCfg(512, 6, 8, false, 0)
	m.Encoder.Dropout, m.Encoder.AttnDropout = 0.1, 0.1
	m.TopK, m.SeqLen, m.Vocab = 3, 128, 30522
	return BenchOptions{Model: m, Optim: c.Optim, Batch: 32, Device: c.Device, BF16: c.BF16, Seed: c.Seed}
}

// BenchPreset is the model and optimizer of a data2vec text preset with a
// vocabulary of vocab tokens, for BenchStep.
func BenchPreset(name string, vocab int) (BenchOptions, error) {
	c, err := train.PresetConfig("data2vec", name)
	if err != nil {
		return BenchOptions{}, err
	}
	if c.Data.Modality != data.Text {
		return BenchOptions{}, fmt.Errorf("data2vec: bench: preset %s is for %s; BenchStep times text models", name, c.Data.Modality)
	}
	m := *model(&c)
	m.Vocab = vocab
	return BenchOptions{Model: m, Optim: c.Optim, Batch: c.Data.Batch, Device: c.Device, BF16: c.BF16, Threads: c.Threads, Seed: c.Seed}, nil
}

// BenchResult is the timing of BenchStep.
type BenchResult struct {
	Steps        int
	MSPerStep    float64 // median over the timed steps (device synchronized around each)
	MeanMS       float64
	TokensPerSec float64
	Loss         float64
}

// BenchStep times full training steps (student forward and backward,
// teacher forward, AdamW update, EMA update) of cfg's text model on random
// tokens with fixed span masks, after warmup untimed steps, on cfg.Device
// (bf16 when cfg.BF16 and CUDA). The device is synchronized before and
// after each step; the median step time is reported.
func BenchStep(cfg BenchOptions, warmup, steps int) (res BenchResult, err error) {
	if steps < 1 || warmup < 0 {
		return res, fmt.Errorf("data2vec: bench: %d timed steps (want >= 1) and %d warm-up steps (want >= 0)", steps, warmup)
	}
	if cfg.Model.Vocab <= 5 {
		return res, fmt.Errorf("data2vec: bench: vocabulary %d must exceed the 5 special tokens", cfg.Model.Vocab)
	}
	defer op.LockThread()()
	dev, err := train.ParseDevice(cfg.Device)
	if err != nil {
		return res, err
	}
	train.SetNumThreads(cfg.Threads)
	m, err := NewModel(data.Text, cfg.Model, cfg.Seed, dev)
	if err != nil {
		return res, err
	}
	defer m.Free()
	m.BF16 = cfg.BF16 && dev.IsCuda()
	opt, err := NewOptimizer(m, cfg.Optim)
	if err != nil {
		return res, err
	}
	defer opt.Free()
	r := rand.New(rand.NewPCG(cfg.Seed, 7))
	B, T := cfg.Batch, cfg.Model.SeqLen
	b := &Batch{B: B, T: T, Train: true}
	for i := 0; i < B*T; i++ {
		id := int64(5 + r.IntN(cfg.Model.Vocab-5))
		b.IDs = append(b.IDs, id)
	}
	b.Input = append([]int64(nil), b.IDs...)
	b.Mask = make([]bool, B*T)
	for i := 0; i < B; i++ {
		for s := 0; s < T; s += 12 { // spans of 4 every 12 tokens: ~33% masked
			for j := s; j < min(s+4, T); j++ {
				b.Mask[i*T+j] = true
				b.Input[i*T+j] = 4 // [MASK] in the BERT layout
			}
		}
	}
	var times []float64
	for i := 0; i < warmup+steps; i++ {
		if err := syncDevice(dev); err != nil {
			return res, err
		}
		t0 := time.Now()
		sr, err := opt.Step(b, cfg.Optim.LR)
		if err != nil {
			return res, err
		}
		if err := m.UpdateTeacher(0.999); err != nil {
			return res, err
		}
		if err := syncDevice(dev); err != nil {
			return res, err
		}
		if i >= warmup {
			times = append(times, 1000*time.Since(t0).Seconds())
		}
		res.Loss = sr.Loss
	}
	res.Steps = steps
	var sum float64
	for _, t := range times {
		sum += t
	}
	res.MeanMS = sum / float64(steps)
	slices.Sort(times)
	res.MSPerStep = times[steps/2]
	if steps%2 == 0 {
		res.MSPerStep = (times[steps/2-1] + times[steps/2]) / 2
	}
	res.TokensPerSec = float64(B*T) / (res.MSPerStep / 1000)
	return res, nil
}

// syncDevice waits for the device's queued work (CUDA); a no-op on the CPU.
func syncDevice(dev gotch.Device) (err error) {
	if !dev.IsCuda() {
		return nil
	}
	defer op.Catch(&err)
	lib.AtcSynchronize(int64(dev.Value))
	op.Check()
	return nil
}
