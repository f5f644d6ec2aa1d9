package simsiam

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func mustRead(t *testing.T, path string) map[string]train.STensor {
	t.Helper()
	ts, err := sslkit.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func views(t *testing.T, gold map[string]train.STensor, keys ...string) []op.Tensor {
	t.Helper()
	var vs []op.Tensor
	for _, k := range keys {
		v, err := op.FromFloat32(gold[k].F32, gotch.CPU, gold[k].Shape...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { op.Free(v) })
		vs = append(vs, v)
	}
	return vs
}

// TestParity runs three SGD steps (scheduled encoder learning rate, fixed
// predictor learning rate) from the weights and batch of
// testdata/make_parity.py and compares the losses, the collapse monitor
// and every tensor afterwards with PyTorch.
func TestParity(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	init := mustRead(t, "testdata/parity_init.safetensors")
	gold := mustRead(t, "testdata/parity_golden.safetensors")
	p := nn.NewParams(1, gotch.CPU)
	defer p.Free()
	bb, err := nn.NewBackbone(p, "backbone.", nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{4, 8}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(p, bb, Config{ProjHidden: 32, ProjOut: 24, PredHidden: 8, FixPredictorLR: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.List()); n != len(init) {
		t.Fatalf("%d tensors, PyTorch %d", n, len(init))
	}
	if err := p.Load("parity_init.safetensors", init, ""); err != nil {
		t.Fatal(err)
	}
	vs := views(t, gold, "x1", "x2")
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	const tol = 1e-4
	for i, lr := range []float64{0.05, 0.04, 0.03} {
		st, err := m.Step(opt, vs, lr, 0.05)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			got  float64
			want float32
		}{{"loss", st.Loss, gold["losses"].F32[i]}, {"z_std", st.ZStd, gold["z_stds"].F32[i]}} {
			rel := math.Abs(c.got-float64(c.want)) / math.Abs(float64(c.want))
			t.Logf("step %d: %s %.7f PyTorch %.7f (rel %.1e)", i+1, c.name, c.got, c.want, rel)
			if rel > tol {
				t.Errorf("step %d: %s %v, PyTorch %v", i+1, c.name, c.got, c.want)
			}
		}
	}
	after, err := p.Tensors("")
	if err != nil {
		t.Fatal(err)
	}
	worst, wname := 0.0, ""
	for name, got := range after {
		if d := sslkit.RelDiff(got.F32, gold["after."+name].F32); d > worst {
			worst, wname = d, name
		}
	}
	t.Logf("after 3 steps: max relative difference %.1e (%s)", worst, wname)
	if worst > tol {
		t.Errorf("tensor %s differs from PyTorch by %.2e relative", wname, worst)
	}
}

// The loss reaches -1 exactly when predictions equal the other view's
// projections, and no gradient reaches the projections (stop-gradient).
func TestLossStopGradient(t *testing.T) {
	defer op.LockThread()()
	var err error
	func() {
		defer op.Catch(&err)
		var tp op.Tape
		defer tp.Drop()
		v := make([]float32, 4*6)
		for i := range v {
			v[i] = float32(math.Cos(float64(i) * 1.3))
		}
		z1 := tp.Float32(v, gotch.CPU, 4, 6)
		z2 := tp.MulScalar(z1, 2) // same directions
		op.RequiresGrad(z1, true)
		p1 := tp.Float32(v, gotch.CPU, 4, 6)
		op.RequiresGrad(p1, true)
		loss := Loss(&tp, p1, p1, z1, z2)
		if l := op.Scalar(loss); math.Abs(l+1) > 1e-6 {
			t.Errorf("aligned predictions: loss %v, want -1", l)
		}
		op.Backward(loss)
		if g := tp.Grad(z1); g != nil {
			t.Errorf("gradient reached a projection through the stop-gradient: %v", op.ToFloat32(g))
		}
		if g := tp.Grad(p1); g == nil {
			t.Error("no gradient reached the predictions")
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
}
