package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// StratifiedFolds partitions the rows 0..len(labels)-1 into k folds of
// nearly equal size, stratified by label: each class's rows are shuffled
// with a generator keyed by seed, then dealt to the folds in turn, each
// class starting where the previous one stopped, so that every fold holds
// ⌊n_c/k⌋ or ⌈n_c/k⌉ rows of each class c and the fold sizes differ by at
// most one. Every row is in exactly one fold; each fold's rows are sorted.
// The result depends only on the labels, k and seed.
func StratifiedFolds(labels []int, k int, seed uint64) ([][]int, error) {
	if k < 2 {
		return nil, fmt.Errorf("%w: %d folds (want at least 2)", ErrInput, k)
	}
	if k > len(labels) {
		return nil, fmt.Errorf("%w: %d folds for %d examples", ErrInput, k, len(labels))
	}
	keys, byClass := classRows(labels)
	r := rand.New(rand.NewPCG(seed, 0xf01d5))
	folds := make([][]int, k)
	next := 0
	for _, c := range keys {
		idx := byClass[c]
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for _, i := range idx {
			folds[next] = append(folds[next], i)
			next = (next + 1) % k
		}
	}
	for _, f := range folds {
		slices.Sort(f)
	}
	return folds, nil
}

// Complement returns the rows 0..n-1 that are not in fold (sorted), the
// training rows of a fold.
func Complement(n int, fold []int) []int {
	in := make([]bool, n)
	for _, i := range fold {
		in[i] = true
	}
	out := make([]int, 0, n-len(fold))
	for i := range n {
		if !in[i] {
			out = append(out, i)
		}
	}
	return out
}

// MeanSD returns the mean of xs, their sample standard deviation (n - 1
// in the denominator; 0 for fewer than two values) and the standard error
// of the mean, sd/√n.
func MeanSD(xs []float64) (mean, sd, se float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	sd = math.Sqrt(ss / float64(len(xs)-1))
	return mean, sd, sd / math.Sqrt(float64(len(xs)))
}
