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

func mustRead(t *testing.T, path string) map[string]train.STensor {
	t.Helper()
	ts, err := sslkit.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestParity runs three LARS steps from the weights and batch of
// testdata/make_parity.py and compares the losses, the positive-pair
// accuracies and every tensor afterwards (weights and BatchNorm running
// statistics) with PyTorch.
func TestParity(t *testing.T) {
	parity(t, "testdata/parity_golden.safetensors", "x1", "x2")
}

// TestParityMultiCrop is TestParity with two 8x8 views and two 4x4 local
// crops: NT-Xent over four views per image (NTXentViews).
func TestParityMultiCrop(t *testing.T) {
	parity(t, "testdata/parity_multicrop_golden.safetensors", "x1", "x2", "l1", "l2")
}

func parity(t *testing.T, golden string, viewKeys ...string) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	init := mustRead(t, "testdata/parity_init.safetensors")
	gold := mustRead(t, golden)
	p := nn.NewParams(1, gotch.CPU)
	defer p.Free()
	bb, err := nn.NewBackbone(p, "backbone.", nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{4, 8}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(p, bb, Config{ProjHidden: 32, ProjOut: 8, Temperature: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.List()); n != len(init) {
		t.Fatalf("%d tensors, PyTorch %d", n, len(init))
	}
	if err := p.Load("parity_init.safetensors", init, ""); err != nil {
		t.Fatal(err)
	}
	var views []op.Tensor
	for _, k := range viewKeys {
		v, err := op.FromFloat32(gold[k].F32, gotch.CPU, gold[k].Shape...)
		if err != nil {
			t.Fatal(err)
		}
		defer op.Free(v)
		views = append(views, v)
	}
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "lars", LR: 0.3, Momentum: 0.9, WeightDecay: 1e-4, Eta: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	const tol = 1e-4
	for i, lr := range []float64{0.3, 0.5, 0.4} {
		st, err := m.Step(opt, views, lr)
		if err != nil {
			t.Fatal(err)
		}
		want := float64(gold["losses"].F32[i])
		rel := math.Abs(st.Loss-want) / want
		t.Logf("step %d: loss %.6f PyTorch %.6f (rel %.1e), acc %.3f PyTorch %.3f", i+1, st.Loss, want, rel, st.Acc, gold["accs"].F32[i])
		if rel > tol {
			t.Errorf("step %d: loss %v, PyTorch %v", i+1, st.Loss, want)
		}
		if math.Abs(st.Acc-float64(gold["accs"].F32[i])) > 1e-6 {
			t.Errorf("step %d: acc %v, PyTorch %v", i+1, st.Acc, gold["accs"].F32[i])
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

// With data-parallel training each rank holds the two views of its n
// samples and gathers every rank's; the mean over ranks of NTXent is the
// loss of the whole batch on one process (the same anchors, positives and
// negatives, in another column order).
func TestNTXentGathered(t *testing.T) {
	defer op.LockThread()()
	const n, d, world = 3, 5, 2
	emb := make([]float32, 2*world*n*d) // view 1 of all 6 samples, then view 2
	for i := range emb {
		emb[i] = float32(math.Sin(float64(i)*0.71 + 0.3))
	}
	var err error
	func() {
		defer op.Catch(&err)
		var tp op.Tape
		defer tp.Drop()
		whole := tp.Float32(emb, gotch.CPU, 2*world*n, d)
		ref, _ := NTXent(&tp, whole, whole, 0, 0.5)
		// Rank r holds samples r·n .. r·n+n-1: rows [view1 of them; view2 of them].
		var locals []op.Tensor
		for r := range int64(world) {
			v1 := tp.Narrow(whole, 0, r*n, n)
			v2 := tp.Narrow(whole, 0, world*n+r*n, n)
			locals = append(locals, tp.Cat([]op.Tensor{v1, v2}, 0))
		}
		all := tp.Cat(locals, 0)
		var sum float64
		for r := range world {
			l, _ := NTXent(&tp, locals[r], all, r, 0.5)
			sum += op.Scalar(l)
		}
		want := op.Scalar(ref)
		if got := sum / world; math.Abs(got-want) > 1e-6*want {
			t.Errorf("mean over ranks %v, whole batch %v", got, want)
		}
		// The positive pair scores highest when two views are equal.
		same := tp.Cat([]op.Tensor{tp.Narrow(whole, 0, 0, 2*n), tp.Narrow(whole, 0, 0, 2*n)}, 0)
		_, acc := NTXent(&tp, same, same, 0, 0.5)
		if a := op.Scalar(acc); a != 1 {
			t.Errorf("identical views: accuracy %v, want 1", a)
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
	if err := opErr(func(tp *op.Tape) {
		x := tp.Float32(emb[:3*d], gotch.CPU, 3, d)
		NTXent(tp, x, x, 0, 0.5)
	}); err == nil {
		t.Error("odd number of rows accepted")
	}
}

// TestNTXentViews: multi-crop NT-Xent against its definition written out
// in float64 (V = 3 views, 4 samples), against NTXent at V = 2, and, with
// the rows split over two ranks, the mean over ranks equals the whole
// batch on one process.
func TestNTXentViews(t *testing.T) {
	defer op.LockThread()()
	const n, d, v, temp = 4, 5, 3, 0.3
	emb := make([]float32, v*n*d)
	for i := range emb {
		emb[i] = float32(math.Sin(float64(i)*0.53 + 0.2))
	}
	// The definition: rows view by view; anchor a = (view a/n, sample a%n).
	norm := func(a int) []float64 {
		x := make([]float64, d)
		var s float64
		for k := range d {
			x[k] = float64(emb[a*d+k])
			s += x[k] * x[k]
		}
		for k := range x {
			x[k] /= math.Sqrt(s)
		}
		return x
	}
	var want float64
	wantHits := 0
	for a := range v * n {
		za := norm(a)
		sim := make([]float64, v*n)
		var denom float64
		best, bestJ := math.Inf(-1), -1
		for j := range v * n {
			zj := norm(j)
			for k := range d {
				sim[j] += za[k] * zj[k]
			}
			sim[j] /= temp
			if j != a {
				denom += math.Exp(sim[j])
				if sim[j] > best {
					best, bestJ = sim[j], j
				}
			}
		}
		for j := range v * n {
			if j != a && j%n == a%n {
				want -= (sim[j] - math.Log(denom)) / (v - 1)
			}
		}
		if bestJ%n == a%n {
			wantHits++
		}
	}
	want /= v * n
	var err error
	func() {
		defer op.Catch(&err)
		var tp op.Tape
		defer tp.Drop()
		whole := tp.Float32(emb, gotch.CPU, v*n, d)
		l, acc := NTXentViews(&tp, whole, whole, 0, v, temp)
		if got := op.Scalar(l); math.Abs(got-want) > 1e-5*want {
			t.Errorf("loss %v, definition %v", got, want)
		}
		if got, w := op.Scalar(acc), float64(wantHits)/(v*n); math.Abs(got-w) > 1e-7 {
			t.Errorf("acc %v, definition %v", got, w)
		}
		// Two views: NTXent.
		two := tp.Narrow(whole, 0, 0, 2*n)
		l2, a2 := NTXentViews(&tp, two, two, 0, 2, temp)
		r2, ra2 := NTXent(&tp, two, two, 0, temp)
		if a, b := op.Scalar(l2), op.Scalar(r2); math.Abs(a-b) > 1e-6*b || op.Scalar(a2) != op.Scalar(ra2) {
			t.Errorf("two views: loss %v acc %v, NTXent %v %v", a, op.Scalar(a2), b, op.Scalar(ra2))
		}
		// Rank r holds samples 2r, 2r+1: its rows view by view.
		var locals []op.Tensor
		for r := range int64(2) {
			var parts []op.Tensor
			for u := range int64(v) {
				parts = append(parts, tp.Narrow(whole, 0, u*n+2*r, 2))
			}
			locals = append(locals, tp.Cat(parts, 0))
		}
		all := tp.Cat(locals, 0)
		var sum float64
		for r := range 2 {
			lr, _ := NTXentViews(&tp, locals[r], all, r, v, temp)
			sum += op.Scalar(lr)
		}
		if got := sum / 2; math.Abs(got-want) > 1e-5*want {
			t.Errorf("mean over 2 ranks %v, whole batch %v", got, want)
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
	if err := opErr(func(tp *op.Tape) {
		x := tp.Float32(emb[:4*d], gotch.CPU, 4, d)
		NTXentViews(tp, x, x, 0, 3, temp)
	}); err == nil {
		t.Error("4 rows accepted as 3 views")
	}
}

// opErr runs f on a fresh tape and returns the error an op raised in it.
func opErr(f func(tp *op.Tape)) (err error) {
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	f(&tp)
	return nil
}
