package audio

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// ExpectedSpanCount is the mean union size of SpanMask's spans (measured
// over 20,000 draws, within 5 standard errors, before rounding down).
func TestExpectedSpanCount(t *testing.T) {
	for _, c := range []struct {
		T   int
		cfg MaskConfig
	}{
		{999, MaskConfig{Prob: 0.5, Length: 5, MinMasks: 1}}, // data2vec 2.0 audio base, 20 s crops
		{99, MaskConfig{Prob: 0.5, Length: 5, MinMasks: 1}},  // the CPU preset's 2 s crops
		{19, MaskConfig{Prob: 0.5, Length: 5, MinMasks: 1}},
		{12, MaskConfig{Prob: 0.65, Length: 10, MinMasks: 2}}, // start range cut short (T - length <= spans)
		{50, MaskConfig{Prob: 0.1, Length: 3}},
	} {
		got, err := ExpectedSpanCount(c.T, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(uint64(c.T), 5))
		const n = 20000
		var sum, sq float64
		for range n {
			k := float64(len(spanIndices(r, c.T, &c.cfg)))
			sum += k
			sq += k * k
		}
		mean := sum / n
		se := math.Sqrt(max(sq/n-mean*mean, 0) / n)
		e := expectedUnion(c.T, c.cfg)
		t.Logf("T=%d prob %v length %d: expected %.3f (count %d), measured mean %.3f (se %.3f)", c.T, c.cfg.Prob, c.cfg.Length, e, got, mean, se)
		if math.Abs(e-mean) > 5*se+1e-9 {
			t.Errorf("T=%d: expected union %.3f, measured mean %.3f ± %.3f", c.T, e, mean, se)
		}
		if got != min(int(e), c.T-1) {
			t.Errorf("T=%d: ExpectedSpanCount %d for an expectation of %.3f", c.T, got, e)
		}
	}
	if _, err := ExpectedSpanCount(50, MaskConfig{Prob: 0.5, Length: 5, Type: Poisson}); err == nil {
		t.Error("poisson span lengths accepted")
	}
}

// SpanMaskCount masks exactly n frames, keeps the spans' structure when n
// is the expected count (most masked frames have a masked neighbour), and
// depends only on its rng.
func TestSpanMaskCount(t *testing.T) {
	cfg := MaskConfig{Prob: 0.5, Length: 5, MinMasks: 1}
	T := 99
	n, err := ExpectedSpanCount(T, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var adj, tot int
	for seed := range uint64(200) {
		a, err := SpanMaskCount(rand.New(rand.NewPCG(seed, 3)), T, n, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := SpanMaskCount(rand.New(rand.NewPCG(seed, 3)), T, n, cfg)
		if !slices.Equal(a, b) {
			t.Fatal("same rng, different masks")
		}
		k := 0
		for i, m := range a {
			if m {
				k++
				if (i > 0 && a[i-1]) || (i+1 < T && a[i+1]) {
					adj++
				}
			}
		}
		tot += k
		if k != n {
			t.Fatalf("seed %d: %d masked, want %d", seed, k, n)
		}
	}
	if f := float64(adj) / float64(tot); f < 0.9 {
		t.Errorf("only %.2f of masked frames have a masked neighbour: spans lost", f)
	}
	for _, k := range []int{0, 1, T - 1, T} {
		m, err := SpanMaskCount(rand.New(rand.NewPCG(1, 1)), T, k, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c := len(slices.DeleteFunc(slices.Clone(m), func(b bool) bool { return !b })); c != k {
			t.Errorf("count %d: %d masked", k, c)
		}
	}
	if _, err := SpanMaskCount(rand.New(rand.NewPCG(1, 1)), T, T+1, cfg); err == nil {
		t.Error("more masked frames than frames accepted")
	}
	if _, err := SpanMaskCount(rand.New(rand.NewPCG(1, 1)), T, 3, MaskConfig{Prob: 0.5, Length: 5, Dropout: 0.1}); err == nil {
		t.Error("mask dropout with a fixed count accepted")
	}
}
