package simclr

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// A data-parallel step calls Reduce on the gradients between backward and
// the update and decides from the reduced gradients: zeroed ones leave the
// weights as they were (SGD without decay) with norm 0; NaN ones skip the
// step.
func TestReduceHook(t *testing.T) {
	defer op.LockThread()()
	p := nn.NewParams(1, gotch.CPU)
	defer p.Free()
	bb, err := nn.NewBackbone(p, "backbone.", nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{4}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(p, bb, Config{ProjHidden: 8, ProjOut: 4, Temperature: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	v1, v2, err := sslkit.NoisyPair(1, 4, 3, 8, 8, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Free(v1)
	defer op.Free(v2)
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "sgd", LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	w := func() []float32 {
		ts, err := p.Tensors("projector.0.weight")
		if err != nil {
			t.Fatal(err)
		}
		return ts["projector.0.weight"].F32
	}
	for _, c := range []struct {
		fill float64
		skip bool
	}{{0, false}, {math.NaN(), true}} {
		calls := 0
		m.Reduce = func(grads []op.Tensor) error {
			calls++
			for _, g := range grads {
				if g != nil {
					op.MulScalarInPlace(g, 0)
					op.AddScalarInPlace(g, c.fill)
				}
			}
			return nil
		}
		before := w()
		st, err := m.Step(opt, []op.Tensor{v1, v2}, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		if calls != 1 || st.Skipped != c.skip || (!c.skip && st.GradNorm != 0) {
			t.Errorf("gradients set to %v: %d reduce calls, skipped %v, norm %v", c.fill, calls, st.Skipped, st.GradNorm)
		}
		if d := sslkit.RelDiff(w(), before); d != 0 {
			t.Errorf("gradients set to %v: weights moved by %v", c.fill, d)
		}
	}
}
