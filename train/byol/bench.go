package byol

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// BenchResult is the timing of BenchStep.
type BenchResult struct {
	Device    string    `json:"device"`
	Arch      string    `json:"arch"`
	Batch     int       `json:"batch"`
	Size      int       `json:"size"`
	Optim     string    `json:"optim"`
	BF16      bool      `json:"bf16"`
	Steps     int       `json:"steps"`
	MeanMS    float64   `json:"mean_ms"`
	MedianMS  float64   `json:"median_ms"`
	ImagesSec float64   `json:"images_per_sec"` // images (not views) per second
	StepMS    []float64 `json:"step_ms"`
	LastLoss  float64   `json:"last_loss"`
}

// BenchStep times the full BYOL training step of cfg (two views, forward,
// backward, optimizer, EMA update; the loss is read back each step, which
// synchronizes the device) on a fixed random batch already on the device,
// after warmup untimed steps. No data pipeline is involved: this is the
// number to compare with PyTorch eager (benchmarks/train/byol_step.py).
func BenchStep(ctx context.Context, cfg train.Config, warmup, steps int) (res *BenchResult, err error) {
	defer op.LockThread()()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dev, err := train.ParseDevice(cfg.Device)
	if err != nil {
		return nil, err
	}
	train.SetNumThreads(cfg.Threads)
	s := settings(&cfg)
	m, err := newBYOL(model(&cfg), cfg.Optim, cfg.Seed, dev, cfg.BF16, s.SkipNonFinite)
	if err != nil {
		return nil, err
	}
	defer m.free()
	size := s.Augment.Views[0].Size
	ch := model(&cfg).Arch.InChannels
	batch := cfg.Data.Batch
	r := rand.New(rand.NewPCG(cfg.Seed, 1))
	data := make([]float32, batch*ch*size*size)
	var vs [2]op.Tensor
	for i := range vs {
		for j := range data {
			data[j] = float32(r.NormFloat64())
		}
		if vs[i], err = m.toDevice(data, [4]int{batch, ch, size, size}); err != nil {
			return nil, err
		}
		defer op.Free(vs[i])
	}
	res = &BenchResult{Device: train.DeviceName(dev), Arch: model(&cfg).Arch.Name, Batch: batch, Size: size, Optim: cfg.Optim.Name, BF16: m.bf16, Steps: steps}
	lr := cfg.LR()
	for i := 0; i < warmup+steps; i++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		t0 := time.Now()
		sr, err := m.step(vs[0], vs[1], lr, 0.99, cfg.Optim.ClipGradNorm, nil, false)
		if err != nil {
			return res, err
		}
		if i >= warmup {
			res.StepMS = append(res.StepMS, float64(time.Since(t0).Microseconds())/1000)
		}
		res.LastLoss = sr.loss
	}
	if len(res.StepMS) == 0 {
		return res, fmt.Errorf("byol: bench: no timed steps")
	}
	var sum float64
	for _, v := range res.StepMS {
		sum += v
	}
	res.MeanMS = sum / float64(len(res.StepMS))
	sorted := append([]float64(nil), res.StepMS...)
	sort.Float64s(sorted)
	res.MedianMS = sorted[len(sorted)/2]
	res.ImagesSec = float64(batch) / (res.MedianMS / 1000)
	return res, nil
}
