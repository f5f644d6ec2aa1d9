package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestStratifiedFolds: the folds partition the rows, hold each class's
// rows in near-equal shares, are deterministic in the seed and change
// with it.
func TestStratifiedFolds(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	// Unbalanced classes, as the fortunes categories (74 to 1,050).
	var labels []int
	for c, n := range []int{74, 3, 211, 1, 40} {
		for range n {
			labels = append(labels, c)
		}
	}
	r.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	for _, k := range []int{2, 5, 7} {
		folds, err := StratifiedFolds(labels, k, 9)
		if err != nil {
			t.Fatal(err)
		}
		if len(folds) != k {
			t.Fatalf("k=%d: %d folds", k, len(folds))
		}
		seen := make([]int, len(labels))
		minSize, maxSize := len(labels), 0
		for _, f := range folds {
			if !slices.IsSorted(f) {
				t.Errorf("k=%d: fold not sorted", k)
			}
			minSize, maxSize = min(minSize, len(f)), max(maxSize, len(f))
			count := map[int]int{}
			for _, i := range f {
				seen[i]++
				count[labels[i]]++
			}
			for c, n := range []int{74, 3, 211, 1, 40} {
				if lo, hi := n/k, (n+k-1)/k; count[c] < lo || count[c] > hi {
					t.Errorf("k=%d: class %d has %d rows in a fold, want %d..%d", k, c, count[c], lo, hi)
				}
			}
			if comp := Complement(len(labels), f); len(comp)+len(f) != len(labels) {
				t.Errorf("k=%d: complement has %d rows, fold %d, total %d", k, len(comp), len(f), len(labels))
			} else {
				for _, i := range comp {
					if _, in := slices.BinarySearch(f, i); in {
						t.Fatalf("k=%d: row %d in the fold and its complement", k, i)
					}
				}
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Fatalf("k=%d: row %d in %d folds", k, i, n)
			}
		}
		if maxSize-minSize > 1 {
			t.Errorf("k=%d: fold sizes %d..%d", k, minSize, maxSize)
		}
		again, _ := StratifiedFolds(labels, k, 9)
		if !slices.EqualFunc(folds, again, slices.Equal) {
			t.Errorf("k=%d: folds differ between two calls with one seed", k)
		}
		other, _ := StratifiedFolds(labels, k, 10)
		if slices.EqualFunc(folds, other, slices.Equal) {
			t.Errorf("k=%d: seeds 9 and 10 give the same folds", k)
		}
	}
	for _, k := range []int{0, 1, len(labels) + 1} {
		if _, err := StratifiedFolds(labels, k, 0); !errors.Is(err, ErrInput) {
			t.Errorf("k=%d: err %v", k, err)
		}
	}
}

// TestLinearProbeFolds: with Folds the probe picks the L2 that a brute
// force picks (each candidate fitted from scratch on every fold's
// complement and scored on the fold), and reports the same pooled
// validation accuracies.
func TestLinearProbeFolds(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	// Few noisy examples in many dimensions: the strength matters.
	x, y := blobs(r, 90, 30, 3, 4)
	grid := []float64{1e-4, 0.003, 0.03, 0.3, 3} // weakest first: the pick is not the first
	const k = 4
	opt := LinearOptions{L2: grid, Folds: k, Seed: 3, MaxIter: 2000, GradTol: 1e-9, Workers: 2}
	res, err := LinearProbe(x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	folds, err := StratifiedFolds(y, k, 3)
	if err != nil {
		t.Fatal(err)
	}
	best, bestL2 := -1.0, 0.0
	var accs []float64
	for _, l2 := range grid {
		right := 0
		for _, f := range folds {
			fit := Complement(len(y), f)
			m, _, err := FitLogistic(x.SelectRows(fit), pick(y, fit), LinearOptions{L2: []float64{l2}, Classes: 3, MaxIter: 2000, GradTol: 1e-9})
			if err != nil {
				t.Fatal(err)
			}
			pred, _ := m.Predict(x.SelectRows(f), 1)
			for i, p := range pred {
				if p == y[f[i]] {
					right++
				}
			}
		}
		acc := float64(right) / float64(len(y))
		accs = append(accs, acc)
		if acc > best {
			best, bestL2 = acc, l2
		}
	}
	t.Logf("brute force: accuracies %v for L2 %v, pick %g; CV sweep %+v", accs, grid, bestL2, res.Sweep)
	if slices.Min(accs) == slices.Max(accs) {
		t.Fatalf("every L2 scores %v: the problem does not test the choice", accs)
	}
	if res.L2 != bestL2 {
		t.Errorf("CV picked L2 %g, brute force %g (accuracies %v, sweep %+v)", res.L2, bestL2, accs, res.Sweep)
	}
	for i, sp := range res.Sweep {
		if math.Abs(sp.ValAccuracy-accs[i]) > 1.5/float64(len(y)) {
			t.Errorf("L2 %g: CV accuracy %v, brute force %v", sp.L2, sp.ValAccuracy, accs[i])
		}
	}
	// One fold per example and more folds than rows are refused.
	if _, err := LinearProbe(x, y, LinearOptions{Folds: len(y) + 1}); !errors.Is(err, ErrInput) {
		t.Errorf("too many folds: %v", err)
	}
}

func TestMeanSD(t *testing.T) {
	m, sd, se := MeanSD([]float64{1, 2, 3, 4})
	if m != 2.5 || math.Abs(sd-math.Sqrt(5.0/3)) > 1e-12 || math.Abs(se-sd/2) > 1e-12 {
		t.Errorf("MeanSD = %v %v %v", m, sd, se)
	}
	if m, sd, se := MeanSD([]float64{7}); m != 7 || sd != 0 || se != 0 {
		t.Errorf("one value: %v %v %v", m, sd, se)
	}
}
