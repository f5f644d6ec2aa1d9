package augment

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// blockStats are the per-mask statistics of testdata/make_blockmask2_stats.py
// on the marked set (the blocks: kept cells of an inverse mask).
func blockStats(s BlockMask2D, m Mask) map[string]float64 {
	marked := slices.Clone(m.Bits)
	if s.Inverse {
		for i := range marked {
			marked[i] = !marked[i]
		}
	}
	at := func(r, c int) bool { return r >= 0 && r < s.Rows && c >= 0 && c < s.Cols && marked[r*s.Cols+c] }
	dirs := [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}}
	seen := make([]bool, len(marked))
	var nb, tot, comps int
	for r := range s.Rows {
		for c := range s.Cols {
			if !at(r, c) {
				continue
			}
			tot++
			for _, d := range dirs {
				if at(r+d[0], c+d[1]) {
					nb++
					break
				}
			}
			if seen[r*s.Cols+c] {
				continue
			}
			comps++
			stack := [][2]int{{r, c}}
			seen[r*s.Cols+c] = true
			for len(stack) > 0 {
				p := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for _, d := range dirs {
					x, y := p[0]+d[0], p[1]+d[1]
					if at(x, y) && !seen[x*s.Cols+y] {
						seen[x*s.Cols+y] = true
						stack = append(stack, [2]int{x, y})
					}
				}
			}
		}
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	out := map[string]float64{
		"count": float64(m.Count()), "components": float64(comps),
		"corner": b2f(at(0, 0)), "centre": b2f(at(s.Rows/2, s.Cols/2)),
	}
	if tot > 0 {
		out["neighbour"] = float64(nb) / float64(tot)
	}
	return out
}

// TestBlockMask2DStatistics compares the masks' statistics with those of
// fairseq's compute_block_mask_2d (testdata/blockmask2_stats.json, made
// by testdata/make_blockmask2_stats.py): the count exactly, the block
// structure (neighbour fraction, components) and the border effect
// (corner vs centre rate) within 5 standard errors.
func TestBlockMask2DStatistics(t *testing.T) {
	data, err := os.ReadFile("testdata/blockmask2_stats.json")
	if err != nil {
		t.Fatal(err)
	}
	type moment struct{ Mean, Std, Min, Max float64 }
	var ref []struct {
		BlockMask2D
		N                                            int
		Count, Neighbour, Components, Corner, Centre moment
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	for _, c := range ref {
		s := c.BlockMask2D
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		sum := map[string]float64{}
		sq := map[string]float64{}
		for range c.N {
			m := s.Generate(r)
			if m.Count() != s.Count() || float64(s.Count()) != c.Count.Mean {
				t.Fatalf("%+v: %d masked, Count %d, fairseq %v", s, m.Count(), s.Count(), c.Count.Mean)
			}
			for k, v := range blockStats(s, m) {
				sum[k] += v
				sq[k] += v * v
			}
		}
		n := float64(c.N)
		for k, want := range map[string]moment{"neighbour": c.Neighbour, "components": c.Components, "corner": c.Corner, "centre": c.Centre} {
			mean := sum[k] / n
			sd := math.Sqrt(max(sq[k]/n-mean*mean, 0))
			se := math.Sqrt(sd*sd/n + want.Std*want.Std/float64(c.N))
			t.Logf("%dx%d p=%v len=%d inverse=%v: %s %.4f, fairseq %.4f (se %.4f)", s.Rows, s.Cols, s.Prob, s.Length, s.Inverse, k, mean, want.Mean, se)
			if math.Abs(mean-want.Mean) > 5*se+1e-9 {
				t.Errorf("%+v: %s mean %.4f, fairseq %.4f (5 se = %.4f)", s, k, mean, want.Mean, 5*se)
			}
		}
	}
}

// Masks are a function of the rng's stream, and every mask of a spec masks
// Count patches whatever the draw.
func TestBlockMask2DCount(t *testing.T) {
	for _, s := range []BlockMask2D{
		{Rows: 14, Cols: 14, Prob: 0.8, Length: 3, ProbAdjust: 0.07, Inverse: true},
		{Rows: 5, Cols: 9, Prob: 0.5, Length: 2},
		{Rows: 3, Cols: 3, Prob: 0.8, Length: 5, ProbAdjust: 1, Inverse: true},
	} {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		for seed := range uint64(50) {
			a := s.Generate(rand.New(rand.NewPCG(seed, 9)))
			b := s.Generate(rand.New(rand.NewPCG(seed, 9)))
			if !slices.Equal(a.Bits, b.Bits) {
				t.Fatalf("%+v: same seed, different masks", s)
			}
			if a.Count() != s.Count() {
				t.Fatalf("%+v: %d masked, want %d", s, a.Count(), s.Count())
			}
		}
	}
	for _, bad := range []BlockMask2D{
		{Rows: 0, Cols: 3, Prob: 0.5, Length: 2},
		{Rows: 4, Cols: 4, Prob: 1.5, Length: 2},
		{Rows: 4, Cols: 4, Prob: 0.5, Length: 1},
		{Rows: 4, Cols: 4, Prob: 0.99, Length: 2, Inverse: true}, // keeps int(16·0.01) = 0 patches
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
