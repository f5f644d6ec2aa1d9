package byol

import (
	"context"
	"math"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func smallNet(t *testing.T, optim string, clip float64) *byol {
	t.Helper()
	mc := &Model{Arch: nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{4, 8}}, Heads: Heads{Hidden: 16, Out: 8}}
	oc := train.OptimConfig{Name: optim, LR: 0.1, Momentum: 0.9, Eta: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipGradNorm: clip}
	m, err := newBYOL(mc, oc, 0, gotch.CPU, false, true)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func batch(t *testing.T, n int, val func(i int) float32) op.Tensor {
	t.Helper()
	d := make([]float32, n*3*8*8)
	for i := range d {
		d[i] = val(i)
	}
	x, err := op.FromFloat32(d, gotch.CPU, int64(n), 3, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestNaNStepSkipped: a batch with a NaN gives a non-finite loss; the
// step must leave every weight and the optimizer untouched and say so.
func TestNaNStepSkipped(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, clip := range []float64{0, 1} {
		m := smallNet(t, "sgd", clip)
		before := map[string][]float32{}
		for _, v := range m.online.p.List() {
			before[v.Name] = op.ToFloat32(v.T)
		}
		x := batch(t, 4, func(i int) float32 { return float32(i%7) - 3 })
		bad := batch(t, 4, func(i int) float32 {
			if i == 5 {
				return float32(math.NaN())
			}
			return float32(i%5) - 2
		})
		r, err := m.step(x, bad, 0.1, 0.99, clip, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if !r.skipped || !math.IsNaN(r.loss) {
			t.Fatalf("clip %v: loss %v skipped %v", clip, r.loss, r.skipped)
		}
		for _, v := range m.online.p.Trainable() {
			after := op.ToFloat32(v.T)
			for i := range after {
				if after[i] != before[v.Name][i] {
					t.Fatalf("clip %v: %s changed by a skipped step", clip, v.Name)
				}
			}
		}
		if m.opt.Steps() != 0 {
			t.Errorf("optimizer counted a skipped step")
		}
		// The next good step trains normally (gradients were cleared).
		r, err = m.step(x, x, 0.1, 0.99, clip, nil, false)
		if err != nil || r.skipped || math.IsNaN(r.loss) {
			t.Fatalf("good step after a skipped one: %+v %v", r, err)
		}
		op.Free(x)
		op.Free(bad)
		m.free()
	}
}

// TestGradClipBoundsUpdate: with SGD, no momentum history and clipping at
// c, the first update of all parameters together has norm <= lr*c.
func TestGradClipBoundsUpdate(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m := smallNet(t, "sgd", 1e-3)
	defer m.free()
	before := map[string][]float32{}
	for _, v := range m.online.p.Trainable() {
		before[v.Name] = op.ToFloat32(v.T)
	}
	x := batch(t, 4, func(i int) float32 { return float32(i%7) - 3 })
	y := batch(t, 4, func(i int) float32 { return float32(i%5) - 2 })
	defer op.Free(x)
	defer op.Free(y)
	if _, err := m.step(x, y, 0.5, 0.99, 1e-3, nil, false); err != nil {
		t.Fatal(err)
	}
	var sq float64
	for _, v := range m.online.p.Trainable() {
		after := op.ToFloat32(v.T)
		for i := range after {
			d := float64(after[i] - before[v.Name][i])
			sq += d * d
		}
	}
	if n := math.Sqrt(sq); n > 0.5*1e-3*1.001 || n == 0 {
		t.Errorf("update norm %g, want (0, %g]", n, 0.5*1e-3)
	}
}

// TestCUDAStep runs the BYOL step on the GPU in float32 and bfloat16
// (skipped without CUDA).
func TestCUDAStep(t *testing.T) {
	if !gotch.CUDA.IsAvailable() {
		t.Skip("no CUDA device")
	}
	for _, bf16 := range []bool{false, true} {
		cfg, _ := train.PresetConfig("byol", "cifar")
		cfg.Device, cfg.Data.Batch, cfg.BF16 = "cuda", 32, bf16
		res, err := BenchStep(context.Background(), cfg, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(res.LastLoss) || res.LastLoss <= 0 {
			t.Errorf("bf16 %v: loss %v", bf16, res.LastLoss)
		}
		t.Logf("bf16 %v: %.1f ms/step, loss %.4f", bf16, res.MedianMS, res.LastLoss)
	}
}
