package nn

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
)

// Each parameter counts its own AdamW updates, as PyTorch's state["step"]:
// a parameter first updated at the third step moves by lr·sign(g) (its
// bias-corrected first step) whatever the others' counts, and State and
// SetState carry the counts, with a never-updated parameter staying fresh
// across a resume.
func TestAdamWPerParameterSteps(t *testing.T) {
	defer op.LockThread()()
	for _, foreach := range []bool{true, false} {
		op.DisableForeach(!foreach)
		run := func(resumeAt int) (a, b []float32) {
			p := NewParams(1, gotch.CPU)
			defer p.Free()
			p.New("a", false, []float32{1, -2, 3}, 3)
			p.New("b", false, []float32{0.5, 0.5}, 2)
			o := NewAdamW(AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
			defer func() { o.Free() }()
			var err error
			func() {
				defer op.Catch(&err)
				for step := range 4 {
					if step == resumeAt {
						st, err := o.State(p, "optim.")
						if err != nil {
							t.Fatal(err)
						}
						o.Free()
						o = NewAdamW(AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
						if err := o.SetState("ckpt", p, st, "optim.", int64(step)); err != nil {
							t.Fatal(err)
						}
					}
					var tp op.Tape
					ga := tp.Float32([]float32{0.1, 0.2, -0.3}, gotch.CPU, 3)
					var gb op.Tensor
					if step >= 2 { // b is frozen for two steps
						gb = tp.Float32([]float32{-4, 0.01}, gotch.CPU, 2)
					}
					restore := op.NoGrad()
					o.Step(&tp, p.List(), []op.Tensor{ga, gb}, 0.1)
					restore()
					if step == 2 {
						// b's first update: m/√v = sign(g) after bias correction.
						got := op.ToFloat32(p.Get("b").T)
						for i, want := range []float64{0.5 + 0.1, 0.5 - 0.1} {
							if math.Abs(float64(got[i])-want) > 1e-6 {
								t.Errorf("foreach %v: b[%d] after its first update %v, want %v", foreach, i, got[i], want)
							}
						}
					}
					tp.Drop()
				}
				a, b = op.ToFloat32(p.Get("a").T), op.ToFloat32(p.Get("b").T)
			}()
			if err != nil {
				t.Fatal(err)
			}
			return a, b
		}
		a0, b0 := run(-1)
		for _, at := range []int{1, 3} { // before and after b's first update
			a1, b1 := run(at)
			for i := range a0 {
				if a0[i] != a1[i] {
					t.Errorf("foreach %v, resumed at %d: a %v, uninterrupted %v", foreach, at, a1, a0)
					break
				}
			}
			for i := range b0 {
				if b0[i] != b1[i] {
					t.Errorf("foreach %v, resumed at %d: b %v, uninterrupted %v", foreach, at, b1, b0)
					break
				}
			}
		}
	}
	op.DisableForeach(false)
}
