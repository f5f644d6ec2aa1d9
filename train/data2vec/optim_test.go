package data2vec

import (
	"math"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// TestStepReduce: the data-parallel path (backward, reduce, norm, clip,
// update) with an identity reduce gives the one-process step bit for bit
// and hands every gradient to reduce once; a reduce that halves the
// gradients changes the update and the reported norm.
func TestStepReduce(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	step := func(reduce func([]op.Tensor) error) (StepResult, map[string]train.STensor) {
		m, b, _ := parityModel(t, parityConfig())
		defer m.Free()
		opt, err := NewOptimizer(m, OptimConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, ClipGradNorm: 0.25})
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Free()
		r, err := opt.StepReduce(b, 1e-3, reduce)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := m.Params.Tensors("")
		if err != nil {
			t.Fatal(err)
		}
		return r, ts
	}
	want, wts := step(nil)
	calls, n := 0, 0
	got, gts := step(func(g []op.Tensor) error { calls++; n = len(g); return nil })
	if calls != 1 || n == 0 || got != want {
		t.Fatalf("identity reduce: %d calls with %d gradients, result %+v, want %+v", calls, n, got, want)
	}
	for k, v := range wts {
		if !slices.Equal(v.F32, gts[k].F32) {
			t.Fatalf("%s differs after an identity reduce", k)
		}
	}
	half, hts := step(func(g []op.Tensor) error { op.ForeachMulScalar(g, 0.5); return nil })
	if math.Abs(half.GradNorm-want.GradNorm/2) > 1e-6*want.GradNorm || half.Loss != want.Loss {
		t.Errorf("halved gradients: norm %v (want %v), loss %v (want %v)", half.GradNorm, want.GradNorm/2, half.Loss, want.Loss)
	}
	same := true
	for k, v := range wts {
		same = same && slices.Equal(v.F32, hts[k].F32)
	}
	if same {
		t.Error("halving the gradients changed no weight")
	}
}
