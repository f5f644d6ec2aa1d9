package pipeline

import (
	"math"
	"testing"
)

func TestPermutationIsBijection(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 16, 17, 100, 1000, 4097} {
		for seed := uint64(0); seed < 5; seed++ {
			p := newPermutation(n, seed, 3)
			seen := make([]bool, n)
			for i := range n {
				j := p.at(i)
				if j < 0 || j >= n || seen[j] {
					t.Fatalf("n=%d seed=%d: position %d maps to %d (out of range or repeated)", n, seed, i, j)
				}
				seen[j] = true
			}
		}
	}
}

func TestPermutationDependsOnSeedAndEpoch(t *testing.T) {
	const n = 1000
	same := func(a, b permutation) int {
		k := 0
		for i := range n {
			if a.at(i) == b.at(i) {
				k++
			}
		}
		return k
	}
	a := newPermutation(n, 1, 0)
	if k := same(a, newPermutation(n, 1, 0)); k != n {
		t.Fatalf("same key gives a different order (%d/%d equal)", k, n)
	}
	// Two independent permutations agree in about one position.
	if k := same(a, newPermutation(n, 1, 1)); k > 10 {
		t.Errorf("epochs 0 and 1 agree in %d of %d positions", k, n)
	}
	if k := same(a, newPermutation(n, 2, 0)); k > 10 {
		t.Errorf("seeds 1 and 2 agree in %d of %d positions", k, n)
	}
}

// The position of each element is uniform over epochs: chi-square test on
// a 10x10 table of (element, position) counts.
func TestPermutationUniform(t *testing.T) {
	const n, trials = 10, 20000
	var counts [n][n]int
	for e := range trials {
		p := newPermutation(n, 7, uint64(e))
		for i := range n {
			counts[p.at(i)][i]++
		}
	}
	exp := float64(trials) / n
	for el := range n {
		chi := 0.0
		for pos := range n {
			d := float64(counts[el][pos]) - exp
			chi += d * d / exp
		}
		// df 9: P(chi2 > 33.7) = 1e-4 for each of 10 rows.
		if chi > 33.7 {
			t.Errorf("element %d: chi-square %.1f over positions %v", el, chi, counts[el])
		}
	}
	// Pairs: P(a before b) = 1/2 for elements 0 and 1.
	before := 0
	for e := range trials {
		p := newPermutation(n, 9, uint64(e))
		for i := range n {
			if v := p.at(i); v == 0 {
				before++
				break
			} else if v == 1 {
				break
			}
		}
	}
	if z := math.Abs(float64(before)-trials/2) / math.Sqrt(trials/4); z > 4 {
		t.Errorf("element 0 precedes 1 in %d of %d epochs (z=%.1f)", before, trials, z)
	}
}
