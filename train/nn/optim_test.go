package nn

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// SetWeightDecay changes the decay of the next updates for every
// optimizer: with zero gradients (and no momentum history) an update
// multiplies a decayed weight by exactly 1 - lr·wd and leaves a NoDecay
// bias alone; before the call (weight_decay 0) nothing moves.
func TestSetWeightDecay(t *testing.T) {
	defer op.LockThread()()
	for _, name := range []string{"sgd", "adamw", "lars"} {
		cfg := train.OptimConfig{Name: name, LR: 0.5, Momentum: 0.9, Eta: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true}
		o, err := NewOptimizer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p := NewParams(1, gotch.CPU)
		w0, b0 := []float32{1, -2, 4}, []float32{3}
		p.New("w", false, w0, 3)
		p.New("b", true, b0, 1)
		step := func() (w, b []float32) {
			var err error
			func() {
				defer op.Catch(&err)
				var tp op.Tape
				defer tp.Drop()
				restore := op.NoGrad()
				defer restore()
				grads := []op.Tensor{tp.Float32(make([]float32, 3), gotch.CPU, 3), tp.Float32(make([]float32, 1), gotch.CPU, 1)}
				o.Step(&tp, p.List(), grads, cfg.LR)
				w, b = op.ToFloat32(p.Get("w").T), op.ToFloat32(p.Get("b").T)
			}()
			if err != nil {
				t.Fatal(err)
			}
			return w, b
		}
		w, b := step()
		if w[0] != w0[0] || w[2] != w0[2] || b[0] != b0[0] {
			t.Errorf("%s: weight decay 0 moved the weights: %v %v", name, w, b)
		}
		o.SetWeightDecay(0.1)
		if o.Cfg.WeightDecay != 0.1 {
			t.Errorf("%s: Cfg.WeightDecay %v after SetWeightDecay(0.1)", name, o.Cfg.WeightDecay)
		}
		w, b = step()
		f := 1 - cfg.LR*0.1
		if name == "lars" { // the trust ratio rescales the decay term to eta·||p||
			n := math.Sqrt(1 + 4 + 16)
			f = 1 - cfg.LR*cfg.Eta*n/n
		}
		for i := range w {
			if math.Abs(float64(w[i])-f*float64(w0[i])) > 1e-6 {
				t.Errorf("%s: w[%d] %v after decay, want %v", name, i, w[i], f*float64(w0[i]))
			}
		}
		if b[0] != b0[0] {
			t.Errorf("%s: the NoDecay bias moved: %v", name, b[0])
		}
		o.Free()
		p.Free()
	}
}
