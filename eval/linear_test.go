package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refObjective is the probe objective written directly in float64:
// mean cross-entropy of softmax(W z + b) + l2/2 ||W||², z standardized.
func refObjective(x *Matrix, labels []int, mean, std []float64, classes int, l2 float64, params []float64) (float64, []float64) {
	D := x.Cols
	grad := make([]float64, len(params))
	var loss float64
	z := make([]float64, D)
	p := make([]float64, classes)
	for i := range x.Rows {
		for j, v := range x.Row(i) {
			z[j] = (float64(v) - mean[j]) / std[j]
		}
		m := math.Inf(-1)
		for c := range classes {
			s := params[c*(D+1)+D]
			for j := range D {
				s += params[c*(D+1)+j] * z[j]
			}
			p[c] = s
			m = math.Max(m, s)
		}
		var sum float64
		for c := range p {
			p[c] = math.Exp(p[c] - m)
			sum += p[c]
		}
		loss -= math.Log(p[labels[i]] / sum)
		for c := range classes {
			r := p[c] / sum
			if c == labels[i] {
				r--
			}
			r /= float64(x.Rows)
			for j := range D {
				grad[c*(D+1)+j] += r * z[j]
			}
			grad[c*(D+1)+D] += r
		}
	}
	loss /= float64(x.Rows)
	for c := range classes {
		for j := range D {
			w := params[c*(D+1)+j]
			loss += 0.5 * l2 * w * w
			grad[c*(D+1)+j] += l2 * w
		}
	}
	return loss, grad
}

func blobs(r *rand.Rand, n, dim, classes int, spread float64) (*Matrix, []int) {
	centers := randMatrix(r, classes, dim)
	x := NewMatrix(n, dim)
	y := make([]int, n)
	for i := range n {
		c := r.IntN(classes)
		y[i] = c
		for j := range dim {
			x.Row(i)[j] = centers.Row(c)[j] + float32(spread*r.NormFloat64()) + 5 // offset: standardization matters
		}
	}
	return x, y
}

func TestLogisticGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x, y := blobs(r, 37, 5, 4, 1.5)
	mean, std := standardize(x)
	const l2 = 0.03
	lr := newLogreg(x, y, mean, std, 4, l2, 2)
	params := make([]float64, 4*6)
	for i := range params {
		params[i] = 0.5 * r.NormFloat64()
	}
	g := make([]float64, len(params))
	f := lr.eval(params, g)
	fr, gr := refObjective(x, y, mean, std, 4, l2, params)
	if math.Abs(f-fr) > 1e-5*math.Abs(fr) {
		t.Errorf("objective %v, reference %v", f, fr)
	}
	for i := range g {
		if math.Abs(g[i]-gr[i]) > 1e-5 {
			t.Errorf("grad[%d] = %v, reference %v", i, g[i], gr[i])
		}
		// Central finite difference of the float64 reference.
		const h = 1e-5
		p := slices.Clone(params)
		p[i] += h
		fp, _ := refObjective(x, y, mean, std, 4, l2, p)
		p[i] -= 2 * h
		fm, _ := refObjective(x, y, mean, std, 4, l2, p)
		if fd := (fp - fm) / (2 * h); math.Abs(fd-gr[i]) > 1e-6 {
			t.Errorf("reference grad[%d] = %v, finite difference %v", i, gr[i], fd)
		}
	}
}

// TestLogisticClosedForm: two points x=+1 (class 1) and x=-1 (class 0).
// By symmetry b=0 and W = (-w, w) with 2/(1+e^{2w}) = 2λw, solved here by
// bisection.
func TestLogisticClosedForm(t *testing.T) {
	for _, l2 := range []float64{1, 0.1, 0.01} {
		lo, hi := 0.0, 100.0
		for range 200 {
			mid := (lo + hi) / 2
			if 1/(1+math.Exp(2*mid))-l2*mid > 0 {
				lo = mid
			} else {
				hi = mid
			}
		}
		w := lo
		x := &Matrix{Rows: 2, Cols: 1, Data: []float32{1, -1}}
		m, info, err := FitLogistic(x, []int{1, 0}, LinearOptions{L2: []float64{l2}, GradTol: 1e-9})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(m.W[1]-w) > 1e-5*math.Max(w, 1) || math.Abs(m.W[0]+w) > 1e-5*math.Max(w, 1) || math.Abs(m.B[0]-m.B[1]) > 1e-6 {
			t.Errorf("λ=%v: W=%v B=%v, want ±%v and equal biases (%+v)", l2, m.W, m.B, w, info)
		}
	}
}

// TestLogisticOptimality: the objective is strictly convex for λ > 0, so a
// vanishing float64 reference gradient at the result certifies the optimum.
func TestLogisticOptimality(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x, y := blobs(r, 600, 20, 5, 2)
	m, info, err := FitLogistic(x, y, LinearOptions{L2: []float64{1e-2}})
	if err != nil {
		t.Fatal(err)
	}
	params := make([]float64, 5*21)
	for c := range 5 {
		copy(params[c*21:], m.W[c*20:(c+1)*20])
		params[c*21+20] = m.B[c]
	}
	f, g := refObjective(x, y, m.Mean, m.Std, 5, 1e-2, params)
	if gm := maxAbs(g); gm > 1e-4 {
		t.Errorf("reference gradient at the fit: max %v (loss %v, %+v)", gm, f, info)
	}
	if math.Abs(f-info.Loss) > 1e-5 {
		t.Errorf("reported loss %v, reference %v", info.Loss, f)
	}
}

func TestLinearProbe(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	train, ty := blobs(r, 3000, 30, 6, 2)
	// Test set from the same centers: regenerate with the same seed.
	r2 := rand.New(rand.NewPCG(15, 16))
	all, ay := blobs(r2, 4000, 30, 6, 2)
	test := &Matrix{Rows: 1000, Cols: 30, Data: all.Data[3000*30:]}
	testY := ay[3000:]
	res, err := LinearProbe(train, ty, LinearOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sweep) != len(DefaultL2Grid) || !slices.Contains(DefaultL2Grid, res.L2) {
		t.Fatalf("sweep %+v chose %v", res.Sweep, res.L2)
	}
	for _, p := range res.Sweep {
		if p.L2 == res.L2 {
			for _, q := range res.Sweep {
				if q.ValAccuracy > p.ValAccuracy {
					t.Errorf("chose λ=%v (val %v) but λ=%v has val %v", p.L2, p.ValAccuracy, q.L2, q.ValAccuracy)
				}
			}
		}
	}
	pred, err := res.Model.Predict(test, 2)
	if err != nil {
		t.Fatal(err)
	}
	acc := Accuracy(pred, testY)
	// Nearest-centroid accuracy is a near-Bayes reference for isotropic blobs.
	centroid := nearestCentroid(train, ty, test, 6)
	if acc < Accuracy(centroid, testY)-0.02 || acc < 0.8 {
		t.Errorf("linear probe test accuracy %v, nearest centroid %v", acc, Accuracy(centroid, testY))
	}
	t.Logf("probe %.4f centroid %.4f λ=%v sweep %+v fit %+v", acc, Accuracy(centroid, testY), res.L2, res.Sweep, res.Fit)
}

func nearestCentroid(train *Matrix, y []int, test *Matrix, classes int) []int {
	cent := make([][]float64, classes)
	n := make([]float64, classes)
	for c := range cent {
		cent[c] = make([]float64, train.Cols)
	}
	for i := range train.Rows {
		for j, v := range train.Row(i) {
			cent[y[i]][j] += float64(v)
		}
		n[y[i]]++
	}
	pred := make([]int, test.Rows)
	for i := range test.Rows {
		best := math.Inf(1)
		for c := range classes {
			var d float64
			for j, v := range test.Row(i) {
				e := float64(v) - cent[c][j]/n[c]
				d += e * e
			}
			if d < best {
				best, pred[i] = d, c
			}
		}
	}
	return pred
}

func TestStratifiedSplit(t *testing.T) {
	labels := make([]int, 0, 103)
	for i := range 103 {
		labels = append(labels, i%3)
	}
	fit, val := StratifiedSplit(labels, 0.1, 7)
	if len(fit)+len(val) != 103 || len(val) != 10 {
		t.Fatalf("fit %d val %d", len(fit), len(val))
	}
	seen := map[int]bool{}
	perClass := map[int]int{}
	for _, i := range append(slices.Clone(fit), val...) {
		if seen[i] {
			t.Fatalf("index %d twice", i)
		}
		seen[i] = true
	}
	for _, i := range val {
		perClass[labels[i]]++
	}
	if perClass[0] != 3 && perClass[0] != 4 || perClass[1] != 3 || perClass[2] != 3 {
		t.Errorf("val per class %v", perClass)
	}
	fit2, val2 := StratifiedSplit(labels, 0.1, 7)
	if !slices.Equal(fit, fit2) || !slices.Equal(val, val2) {
		t.Error("same seed, different split")
	}
	_, val3 := StratifiedSplit(labels, 0.1, 8)
	if slices.Equal(val, val3) {
		t.Error("different seeds, same split")
	}
}

func TestLinearErrors(t *testing.T) {
	x := NewMatrix(4, 2)
	if _, err := LinearProbe(x, []int{0, 1, 0}, LinearOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("label count: %v", err)
	}
	x.Data[0] = float32(math.NaN())
	if _, _, err := FitLogistic(x, []int{0, 1, 0, 1}, LinearOptions{}); !errors.Is(err, ErrInput) {
		t.Errorf("NaN: %v", err)
	}
	m := &LinearModel{Classes: 2, Dim: 3}
	if _, err := m.Predict(NewMatrix(2, 2), 1); !errors.Is(err, ErrInput) {
		t.Errorf("dims: %v", err)
	}
}

func BenchmarkLogisticEval(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := blobs(r, 54000, 784, 10, 1)
	mean, std := standardize(x)
	lr := newLogreg(x, y, mean, std, 10, 1e-4, 0)
	lr.workers = 2
	params := make([]float64, 10*785)
	g := make([]float64, len(params))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		lr.eval(params, g)
	}
	b.ReportMetric(float64(b.N*54000)/b.Elapsed().Seconds(), "rows/s")
}
