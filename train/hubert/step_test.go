package hubert

import (
	"errors"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// TestStepReduce: a data-parallel step hands the gradients to Reduce
// between backward and the update: an identity reduce changes nothing, a
// reduce that doubles them doubles the reported norm (read after it) and
// changes the update, and a reduce error stops the step.
func TestStepReduce(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	init := readST(t, "testdata/parity_init.safetensors")
	gold := readST(t, "testdata/parity_golden.safetensors")
	b := &Batch{B: 2, L: 1600, Wave: gold["waves"].F32, Labels: gold["labels"].I64}
	for _, v := range gold["mask"].I64 {
		b.Mask = append(b.Mask, v != 0)
	}
	oc := train.OptimConfig{Name: "sgd", LR: 1e-3, Momentum: 0.9} // updates proportional to the gradients
	step := func(reduce func([]op.Tensor) error) (StepResult, map[string]train.STensor, error) {
		m, err := NewModel(toyConfig(), 1, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Free()
		if err := m.Params.Load("parity_init.safetensors", init, ""); err != nil {
			t.Fatal(err)
		}
		opt, err := NewOptimizer(m, oc, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer opt.Free()
		r, err := opt.Step(b, 1e-3, reduce)
		w, _ := m.Params.Tensors("")
		return r, w, err
	}
	plain, wPlain, err := step(nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	same, wSame, err := step(func(g []op.Tensor) error { calls++; return nil })
	if err != nil || calls != 1 || same.Loss != plain.Loss || same.GradNorm != plain.GradNorm {
		t.Fatalf("identity reduce: %d calls, %+v vs %+v, %v", calls, same, plain, err)
	}
	double, wDouble, err := step(func(g []op.Tensor) error {
		for _, x := range g {
			if x != nil {
				op.MulScalarInPlace(x, 2)
			}
		}
		return nil
	})
	if err != nil || double.Loss != plain.Loss || !(abs(double.GradNorm-2*plain.GradNorm) < 1e-5*plain.GradNorm) {
		t.Fatalf("doubling reduce: norm %v, plain %v (%v)", double.GradNorm, plain.GradNorm, err)
	}
	changed := 0
	for k, x := range wPlain {
		if !slices.Equal(x.F32, wSame[k].F32) {
			t.Fatalf("%s differs after an identity reduce", k)
		}
		if !slices.Equal(x.F32, wDouble[k].F32) {
			changed++
		}
	}
	if changed == 0 {
		t.Error("doubled gradients left every weight as without reduce: the update ignores Reduce")
	}
	boom := errors.New("allreduce failed")
	if _, _, err := step(func([]op.Tensor) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("reduce error: %v", err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
