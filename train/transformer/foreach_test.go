package transformer

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
)

// toyProblem makes three parameters (one marked NoDecay, freed when the
// test ends) and a loss
// sum((x·W1 + b)²) + sum(e²) whose gradients are all non-zero.
func toyProblem(t *testing.T, tp *op.Tape) ([]*Param, func() op.Tensor) {
	t.Helper()
	mk := func(name string, noDecay bool, shape ...int64) *Param {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(float64(3*i+len(name)))) * 0.5
		}
		x, err := op.FromFloat32(v, gotch.CPU, shape...)
		if err != nil {
			t.Fatal(err)
		}
		op.RequiresGrad(x, true)
		return &Param{Name: name, Shape: shape, NoDecay: noDecay, T: x}
	}
	ps := []*Param{mk("w1", false, 4, 3), mk("b", true, 3), mk("emb", true, 5)}
	t.Cleanup(func() {
		for _, p := range ps {
			op.Free(p.T)
		}
	})
	xs := make([]float32, 2*4)
	for i := range xs {
		xs[i] = float32(i%5) - 1.5
	}
	loss := func() op.Tensor {
		x := tp.Float32(xs, gotch.CPU, 2, 4)
		h := tp.Add(tp.Matmul(x, ps[0].T), ps[1].T)
		return tp.Add(tp.Sum(tp.Mul(h, h)), tp.Sum(tp.Mul(ps[2].T, ps[2].T)))
	}
	return ps, loss
}

// The multi-tensor AdamW, clip and EMA (libtorch's _foreach ops through the
// shim) give the per-tensor results, and they do run on this libtorch.
func TestForeachMatchesPerTensor(t *testing.T) {
	defer op.LockThread()()
	defer op.DisableForeach(false)
	run := func(foreach bool) (weights [][]float32, norms []float64) {
		op.DisableForeach(!foreach)
		var tp op.Tape
		defer tp.Drop()
		var err error
		defer op.Catch(&err)
		ps, loss := toyProblem(t, &tp)
		o := NewAdamW(AdamWConfig{Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.1, ExcludeNoDecay: true,
			LRScale: func(name string) float64 {
				if name == "emb" {
					return 0.5
				}
				return 1
			}})
		defer o.Free()
		for step := 0; step < 3; step++ {
			n, skipped := o.Minimize(&tp, ps, loss(), 1.0, 0.01)
			if skipped {
				t.Fatal("update skipped")
			}
			norms = append(norms, n)
		}
		// EMA of a copy towards the parameters.
		dst := make([]op.Tensor, len(ps))
		src := make([]op.Tensor, len(ps))
		for i, p := range ps {
			dst[i] = tp.MulScalar(tp.Detach(p.T), 2)
			src[i] = p.T
		}
		restore := op.NoGrad()
		op.ForeachEMA(dst, src, 0.9)
		restore()
		for i, p := range ps {
			weights = append(weights, op.ToFloat32(p.T), op.ToFloat32(dst[i]))
		}
		if err != nil {
			t.Fatal(err)
		}
		return weights, norms
	}
	wa, na := run(false)
	wb, nb := run(true)
	if !op.ForeachAvailable() {
		t.Fatal("a foreach op is missing from this shim")
	}
	for i := range na {
		if math.Abs(na[i]-nb[i]) > 1e-5*na[i] {
			t.Errorf("step %d: gradient norm %v per tensor, %v foreach", i, na[i], nb[i])
		}
	}
	if na[0] <= 1 {
		t.Fatalf("gradient norm %v: the test wants clipping at 1 to act", na[0])
	}
	for i := range wa {
		for j := range wa[i] {
			if d := math.Abs(float64(wa[i][j] - wb[i][j])); d > 1e-6 {
				t.Fatalf("tensor %d[%d]: per tensor %v, foreach %v", i, j, wa[i][j], wb[i][j])
			}
		}
	}
}

// BenchmarkAdamWStep times Minimize's update (clip + AdamW) on the CPU for
// a Transformer-sized parameter list (6 blocks of d=128: 98 tensors),
// with the multi-tensor ops and per tensor.
func BenchmarkAdamWStep(b *testing.B) {
	for _, mode := range []string{"foreach", "per-tensor"} {
		b.Run(mode, func(b *testing.B) {
			defer op.LockThread()()
			op.DisableForeach(mode != "foreach")
			defer op.DisableForeach(false)
			var err error
			defer op.Catch(&err)
			var shapes [][]int64
			for l := 0; l < 6; l++ {
				for _, s := range [][]int64{{128, 128}, {128}, {128, 128}, {128}, {128, 128}, {128}, {128, 128}, {128}, {128}, {128}, {512, 128}, {512}, {128, 512}, {128}, {128}, {128}} {
					shapes = append(shapes, s)
				}
			}
			shapes = append(shapes, []int64{128}, []int64{128})
			var params []*Param
			var grads []op.Tensor
			var tp op.Tape
			defer tp.Drop()
			for i, s := range shapes {
				n := int64(1)
				for _, d := range s {
					n *= d
				}
				v := make([]float32, n)
				for j := range v {
					v[j] = float32(math.Sin(float64(i*7 + j)))
				}
				p := tp.Keep(tp.Float32(v, gotch.CPU, s...))
				params = append(params, &Param{Name: fmt.Sprint(i), Shape: s, T: p})
				grads = append(grads, tp.MulScalar(p, 0.01))
			}
			o := NewAdamW(AdamWConfig{Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01})
			defer o.Free()
			restore := op.NoGrad()
			defer restore()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var step op.Tape
				op.ClipGradNorm(&step, grads, 1)
				o.Step(&step, params, grads, 1e-4)
				step.Drop()
			}
			b.StopTimer()
			for _, p := range params {
				op.Free(p.T)
			}
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}

// MinimizeReading returns the stats' values and the gradient norm read in
// one go, and skips the update (parameters unchanged) when the loss is not
// finite.
func TestMinimizeReading(t *testing.T) {
	defer op.LockThread()()
	var tp op.Tape
	defer tp.Drop()
	var err error
	defer op.Catch(&err)
	ps, loss := toyProblem(t, &tp)
	o := NewAdamW(AdamWConfig{Beta1: 0.9, Beta2: 0.98, Eps: 1e-6})
	defer o.Free()
	l := loss()
	want := op.Scalar(l)
	extra := tp.Float32([]float32{2.5}, gotch.CPU, 1)
	before := op.ToFloat32(ps[0].T)
	norm, vals, skipped := o.MinimizeReading(&tp, ps, l, 0, 0.01, l, extra)
	if skipped || len(vals) != 2 || math.Abs(vals[0]-want) > 1e-6*math.Abs(want) || vals[1] != 2.5 || !(norm > 0) {
		t.Fatalf("norm %v, vals %v (want [%v 2.5]), skipped %v", norm, vals, want, skipped)
	}
	if slices.Equal(before, op.ToFloat32(ps[0].T)) {
		t.Fatal("parameters did not change")
	}
	// A NaN loss: NaN gradients, no update.
	bad := tp.MulScalar(loss(), math.NaN())
	before = op.ToFloat32(ps[0].T)
	norm, vals, skipped = o.MinimizeReading(&tp, ps, bad, 1, 0.01, bad)
	if !skipped || !math.IsNaN(vals[0]) || !math.IsNaN(norm) {
		t.Fatalf("NaN loss: norm %v, vals %v, skipped %v", norm, vals, skipped)
	}
	if !slices.Equal(before, op.ToFloat32(ps[0].T)) {
		t.Fatal("parameters changed on a skipped step")
	}
	if err != nil {
		t.Fatal(err)
	}
}
