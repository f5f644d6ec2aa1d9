package hubert

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// TestCUDAStep runs the parity model's first step on the GPU: fp32 equals
// the CPU (torchaudio) loss, bf16 gives a finite loss within 2%.
func TestCUDAStep(t *testing.T) {
	if !gotch.CUDA.IsAvailable() {
		t.Skip("CUDA not available")
	}
	defer op.LockThread()()
	init := readST(t, "testdata/parity_init.safetensors")
	gold := readST(t, "testdata/parity_golden.safetensors")
	for _, bf16 := range []bool{false, true} {
		m, err := NewModel(toyConfig(), 1, gotch.CudaBuilder(0))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Params.Load("parity_init.safetensors", init, ""); err != nil {
			t.Fatal(err)
		}
		m.BF16 = bf16
		b := &Batch{B: 2, L: 1600, Wave: gold["waves"].F32, Labels: gold["labels"].I64}
		for _, v := range gold["mask"].I64 {
			b.Mask = append(b.Mask, v != 0)
		}
		opt, _ := NewOptimizer(m, train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, ClipGradNorm: 10}, 0)
		r, err := opt.Step(b, 1e-3, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := float64(gold["losses"].F32[0])
		tol := 1e-4
		if bf16 {
			tol = 2e-2
		}
		if rel := math.Abs(r.Loss-want) / want; !(rel <= tol) {
			t.Errorf("bf16=%v: CUDA loss %v, torchaudio CPU %v (rel %.2g > %g)", bf16, r.Loss, want, rel, tol)
		}
		opt.Free()
		m.Free()
	}
}
