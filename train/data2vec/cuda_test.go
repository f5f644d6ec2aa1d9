package data2vec

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// TestCUDAStep runs the parity batch on CUDA in fp32 and bf16: fp32 must
// match the CPU loss, bf16 stay close, and the EMA update must run on the
// device. Skipped without CUDA.
func TestCUDAStep(t *testing.T) {
	if !gotch.CUDA.IsAvailable() {
		t.Skip("no CUDA device")
	}
	defer op.LockThread()()
	train.SetNumThreads(1)
	cpu, b, gold := parityModel(t, parityConfig())
	cpu.Free()
	want := float64(gold["loss"].F32[0])
	for _, bf16 := range []bool{false, true} {
		init := readST(t, "testdata/parity_init.safetensors")
		m, err := NewModel("text", parityConfig(), 1, gotch.CudaIfAvailable())
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Params.Load("init", init, ""); err != nil {
			t.Fatal(err)
		}
		if err := m.Teacher.Load("init", init, ""); err != nil {
			t.Fatal(err)
		}
		m.BF16 = bf16
		opt, err := NewOptimizer(m, OptimConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, ClipGradNorm: 0.25})
		if err != nil {
			t.Fatal(err)
		}
		r, err := opt.Step(b, 1e-3)
		if err == nil {
			err = m.UpdateTeacher(0.9)
		}
		opt.Free()
		m.Free()
		if err != nil {
			t.Fatal(err)
		}
		tol := 1e-4
		if bf16 {
			tol = 3e-2
		}
		t.Logf("CUDA bf16=%v: loss %.6f, CPU PyTorch %.6f", bf16, r.Loss, want)
		if math.Abs(r.Loss-want) > tol*want || r.Skipped {
			t.Errorf("CUDA bf16=%v: loss %v, want %v (tolerance %v relative)", bf16, r.Loss, want, tol)
		}
	}
}
