package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func randMatrix(r *rand.Rand, rows, cols int) *Matrix {
	m := NewMatrix(rows, cols)
	for i := range m.Data {
		m.Data[i] = float32(r.NormFloat64())
	}
	return m
}

// refKNN is a direct float64 implementation of the weighted vote.
func refKNN(train *Matrix, labels []int, query *Matrix, s KNNSetting, classes int) []int {
	norm := func(v []float32) []float64 {
		out := make([]float64, len(v))
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		n = math.Sqrt(n)
		for i, x := range v {
			if n > 0 {
				out[i] = float64(x) / n
			}
		}
		return out
	}
	tr := make([][]float64, train.Rows)
	for i := range tr {
		tr[i] = norm(train.Row(i))
	}
	pred := make([]int, query.Rows)
	for q := range query.Rows {
		qv := norm(query.Row(q))
		type nb struct {
			i int
			s float64
		}
		all := make([]nb, train.Rows)
		for i, t := range tr {
			var d float64
			for j := range t {
				d += t[j] * qv[j]
			}
			all[i] = nb{i, d}
		}
		sort.SliceStable(all, func(a, b int) bool { return all[a].s > all[b].s })
		votes := make([]float64, classes)
		for _, n := range all[:min(s.K, len(all))] {
			votes[labels[n.i]] += math.Exp(n.s / s.T)
		}
		pred[q] = 0
		for c := range votes {
			if votes[c] > votes[pred[q]] {
				pred[q] = c
			}
		}
	}
	return pred
}

func TestKNNMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	// Sizes that are not multiples of the block sizes, a train set smaller
	// and larger than one block, and a query set spanning several blocks.
	for _, sz := range []struct{ ntrain, nquery, dim, classes int }{
		{5, 3, 2, 3},
		{300, 410, 17, 4},
		{1000, 200, 64, 10},
	} {
		train := randMatrix(r, sz.ntrain, sz.dim)
		query := randMatrix(r, sz.nquery, sz.dim)
		labels := make([]int, sz.ntrain)
		for i := range labels {
			labels[i] = r.IntN(sz.classes)
		}
		settings := []KNNSetting{KNNDefault, KNNDINO, {K: 1, T: 1}, {K: 7, T: 1000}}
		for _, workers := range []int{1, 3} {
			got, err := KNN(train, labels, query, KNNOptions{Settings: settings, Workers: workers, Classes: sz.classes})
			if err != nil {
				t.Fatal(err)
			}
			for si, s := range settings {
				want := refKNN(train, labels, query, s, sz.classes)
				diff := 0
				for i := range want {
					if got[si][i] != want[i] {
						diff++
					}
				}
				// float32 vs float64 similarities may reorder near-equal
				// neighbours; allow at most one flip in a thousand.
				if diff*1000 > len(want) {
					t.Errorf("%+v %v workers=%d: %d of %d predictions differ from the reference", sz, s, workers, diff, len(want))
				}
			}
		}
	}
}

func TestKNNClusters(t *testing.T) {
	// Ten well-separated clusters on orthogonal directions: every query
	// must get its cluster's class, for both common settings.
	r := rand.New(rand.NewPCG(9, 10))
	const dim, classes, per = 32, 10, 250
	mk := func(n int) (*Matrix, []int) {
		m := NewMatrix(n*classes, dim)
		lab := make([]int, n*classes)
		for c := range classes {
			for i := range n {
				row := m.Row(c*n + i)
				for j := range row {
					row[j] = float32(0.05 * r.NormFloat64())
				}
				row[3*c] += 1
				lab[c*n+i] = c
			}
		}
		return m, lab
	}
	train, tl := mk(per)
	query, ql := mk(40)
	preds, err := KNN(train, tl, query, KNNOptions{Settings: []KNNSetting{KNNDefault, KNNDINO}})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range preds {
		if acc := Accuracy(p, ql); acc != 1 {
			t.Errorf("setting %d: accuracy %v on separated clusters, want 1", i, acc)
		}
	}
}

func TestKNNWeightedVote(t *testing.T) {
	// One neighbour of class 0 at similarity 1, two of class 1 at
	// similarity 0.6 (k=3). A sharp temperature lets the close neighbour
	// win (e^10 > 2e^6); a flat one makes it a majority vote for class 1.
	train := &Matrix{Rows: 4, Cols: 2, Data: []float32{
		1, 0,
		0.6, 0.8,
		0.6, -0.8,
		-1, 0, // far, class 2; outside k=3
	}}
	labels := []int{0, 1, 1, 2}
	query := &Matrix{Rows: 1, Cols: 2, Data: []float32{3, 0}} // not unit norm: normalized inside
	preds, err := KNN(train, labels, query, KNNOptions{Settings: []KNNSetting{{K: 3, T: 0.1}, {K: 3, T: 100}, {K: 1, T: 100}, {K: 10, T: 1e6}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 1, 0, 1} // k=10 > rows: all four vote, class 1 has two
	for i, w := range want {
		if preds[i][0] != w {
			t.Errorf("setting %d: predicted %d, want %d", i, preds[i][0], w)
		}
	}
	// Inputs are not modified.
	if query.Data[0] != 3 || train.Data[2] != 0.6 {
		t.Error("KNN modified its inputs")
	}
}

func TestNeighborsTiesAndOrder(t *testing.T) {
	// Identical train rows: the lower index is the nearer neighbour.
	train := &Matrix{Rows: 6, Cols: 3, Data: []float32{
		0, 1, 0, 1, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 1, 1, 1, 0,
	}}
	query := &Matrix{Rows: 1, Cols: 3, Data: []float32{1, 0, 0}}
	var got []Neighbor
	err := Neighbors(train, query, 4, 1, func(q int, nb []Neighbor) { got = slices.Clone(nb) })
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{}
	for _, n := range got {
		idx = append(idx, n.Index)
	}
	if !slices.Equal(idx, []int{1, 2, 3, 5}) || math.Abs(float64(got[3].Sim)-math.Sqrt(0.5)) > 1e-6 {
		t.Errorf("neighbours %v", got)
	}
}

func TestKNNErrors(t *testing.T) {
	a := NewMatrix(3, 2)
	cases := map[string]func() error{
		"dims": func() error {
			_, err := KNN(a, []int{0, 1, 0}, NewMatrix(2, 3), KNNOptions{})
			return err
		},
		"labels": func() error { _, err := KNN(a, []int{0, 1}, a, KNNOptions{}); return err },
		"negative": func() error {
			_, err := KNN(a, []int{0, -1, 0}, a, KNNOptions{})
			return err
		},
		"classes": func() error {
			_, err := KNN(a, []int{0, 5, 0}, a, KNNOptions{Classes: 3})
			return err
		},
		"k": func() error {
			_, err := KNN(a, []int{0, 1, 0}, a, KNNOptions{Settings: []KNNSetting{{K: 0, T: 1}}})
			return err
		},
		"T": func() error {
			_, err := KNN(a, []int{0, 1, 0}, a, KNNOptions{Settings: []KNNSetting{{K: 1, T: math.NaN()}}})
			return err
		},
		"nan": func() error {
			b := NewMatrix(3, 2)
			b.Data[3] = float32(math.Inf(1))
			_, err := KNN(b, []int{0, 1, 0}, a, KNNOptions{})
			return err
		},
		"empty": func() error {
			_, err := KNN(NewMatrix(0, 2), nil, a, KNNOptions{})
			return err
		},
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, ErrInput) {
			t.Errorf("%s: error %v, want ErrInput", name, err)
		}
	}
}

func TestAccuracyPerClass(t *testing.T) {
	pred := []int{0, 1, 1, 2, 2, 0}
	lab := []int{0, 1, 2, 2, 2, 1}
	if a := Accuracy(pred, lab); math.Abs(a-4.0/6) > 1e-12 {
		t.Errorf("accuracy %v", a)
	}
	acc, n := PerClassAccuracy(pred, lab, 4)
	if acc[0] != 1 || acc[1] != 0.5 || math.Abs(acc[2]-2.0/3) > 1e-12 || !math.IsNaN(acc[3]) || !slices.Equal(n, []int{1, 2, 3, 0}) {
		t.Errorf("per class %v %v", acc, n)
	}
	c := Confusion(pred, lab, 3)
	if c[2][1] != 1 || c[2][2] != 2 || c[1][0] != 1 {
		t.Errorf("confusion %v", c)
	}
}

// BenchmarkKNN measures the user-facing case: queries x train x dims as
// in the issue (10k x 60k x 512 with -bench 'KNN/10k'); reports queries/s.
func BenchmarkKNN(b *testing.B) {
	for _, sz := range []struct {
		name                string
		ntrain, nquery, dim int
	}{
		{"1k_x_10k_x_128", 10000, 1000, 128},
		{"10k_x_60k_x_512", 60000, 10000, 512},
	} {
		b.Run(sz.name, func(b *testing.B) {
			if testing.Short() && sz.ntrain > 10000 {
				b.Skip("short")
			}
			r := rand.New(rand.NewPCG(1, 1))
			train := randMatrix(r, sz.ntrain, sz.dim)
			query := randMatrix(r, sz.nquery, sz.dim)
			labels := make([]int, sz.ntrain)
			for i := range labels {
				labels[i] = r.IntN(10)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := KNN(train, labels, query, KNNOptions{Settings: []KNNSetting{KNNDefault, KNNDINO}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*sz.nquery)/b.Elapsed().Seconds(), "queries/s")
			b.ReportMetric(float64(b.N)*2*float64(sz.ntrain)*float64(sz.nquery)*float64(sz.dim)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestSelectBest(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for trial := range 300 {
		n := 1 + r.IntN(60)
		a := make([]Neighbor, n)
		for i := range a {
			// Few distinct values: many ties.
			a[i] = Neighbor{Index: i, Sim: float32(r.IntN(5))}
		}
		want := slices.Clone(a)
		slices.SortFunc(want, func(x, y Neighbor) int {
			if better(x, y) {
				return -1
			}
			return 1
		})
		k := 1 + r.IntN(n)
		r.Shuffle(n, func(i, j int) { a[i], a[j] = a[j], a[i] })
		selectBest(a, k)
		got := slices.Clone(a[:k])
		slices.SortFunc(got, func(x, y Neighbor) int {
			if better(x, y) {
				return -1
			}
			return 1
		})
		if !slices.Equal(got, want[:k]) {
			t.Fatalf("trial %d n=%d k=%d: %v, want %v", trial, n, k, got, want[:k])
		}
	}
	// The streaming buffer gives the same k best as sorting everything.
	sims := make([]float32, 5000)
	for i := range sims {
		sims[i] = float32(r.IntN(50))
	}
	var h topK
	h.reset(30)
	for lo := 0; lo < len(sims); lo += 128 {
		h.push(sims[lo:min(lo+128, len(sims))], lo, 30)
	}
	got := h.result(30)
	all := make([]Neighbor, len(sims))
	for i, s := range sims {
		all[i] = Neighbor{Index: i, Sim: s}
	}
	slices.SortStableFunc(all, func(x, y Neighbor) int {
		if x.Sim > y.Sim {
			return -1
		}
		if x.Sim < y.Sim {
			return 1
		}
		return 0
	})
	if !slices.Equal(got, all[:30]) {
		t.Errorf("streaming top-k %v, want %v", got, all[:30])
	}
}
