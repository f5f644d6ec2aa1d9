package audio

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SpanMaskCount returns the time mask (true: masked) of one sequence of T
// frames with exactly n masked frames: spans are drawn as SpanMask draws
// them (fairseq compute_mask_indices), then surplus frames are unmasked,
// or missing ones masked, uniformly without replacement, as fairseq's
// require_same_masks does for a batch (thinning to the batch's smallest
// count, or add_masks). Unlike SpanMaskBatch the count is fixed by the
// caller, so a sample's mask depends only on its own rng: data2vec 2.0
// gathers the unmasked frames of a batch into a dense tensor, which needs
// the same count in every row, and with n = ExpectedSpanCount(T, c) the
// masked fraction is the one fairseq's spans give on average. Only mask
// dropout is not supported (it would change the count).
func SpanMaskCount(rng *rand.Rand, T, n int, c MaskConfig) ([]bool, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Dropout > 0 {
		return nil, fmt.Errorf("%w: mask dropout with a fixed count", ErrMaskConfig)
	}
	if T < 1 || n < 0 || n > T {
		return nil, fmt.Errorf("%w: %d masked frames of %d", ErrMaskConfig, n, T)
	}
	mask := make([]bool, T)
	idx := spanIndices(rng, T, &c)
	if len(idx) > n {
		for _, j := range sampleWithoutReplacement(rng, len(idx), n) {
			mask[idx[j]] = true
		}
		return mask, nil
	}
	for _, i := range idx {
		mask[i] = true
	}
	if len(idx) < n {
		free := make([]int, 0, T-len(idx))
		for i, m := range mask {
			if !m {
				free = append(free, i)
			}
		}
		for _, j := range sampleWithoutReplacement(rng, len(free), n-len(idx)) {
			mask[free[j]] = true
		}
	}
	return mask, nil
}

// ExpectedSpanCount is the expected number of distinct masked frames of
// SpanMask on T frames, rounded down and capped at T-1 (so that one frame
// always stays visible). It is exact for static span lengths with
// overlapping spans (the span count's probabilistic rounding and MinMasks
// included: span starts are uniform without replacement, so a frame is
// left unmasked with a hypergeometric probability); other span types and
// NoOverlap are an error.
func ExpectedSpanCount(T int, c MaskConfig) (int, error) {
	if err := c.validate(); err != nil {
		return 0, err
	}
	if c.Type != Static || c.NoOverlap {
		return 0, fmt.Errorf("%w: expected span count needs static, overlapping spans", ErrMaskConfig)
	}
	if T <= 0 {
		return 0, nil
	}
	return min(int(expectedUnion(T, c)), T-1), nil
}

// expectedUnion is the unrounded expected count of ExpectedSpanCount:
// the span count is int(x + U[0,1)) for x = Prob·T/Length, so floor(x) + 1
// with probability frac(x) and floor(x) otherwise.
func expectedUnion(T int, c MaskConfig) float64 {
	x := c.Prob * float64(T) / float64(c.Length)
	k0 := math.Floor(x)
	frac := x - k0
	return (1-frac)*expectedCovered(T, int(k0), c) + frac*expectedCovered(T, int(k0)+1, c)
}

// expectedCovered is the expected union size of num spans (before
// MinMasks) of c.Length frames on T frames, following spanIndices.
func expectedCovered(T, num int, c MaskConfig) float64 {
	num = max(num, c.MinMasks)
	if num == 0 {
		return 0
	}
	minLen := c.Length
	if T-minLen <= num {
		minLen = T - num - 1
	}
	n := T - minLen // candidate starts [0, n)
	if n < num {
		num = max(n, 0)
	}
	if num == 0 {
		return 0
	}
	var e float64
	for t := range T {
		lo, hi := max(0, t-c.Length+1), min(n-1, t)
		cnt := hi - lo + 1 // starts whose span covers t
		if cnt <= 0 {
			continue
		}
		if cnt > n-num {
			e++
			continue
		}
		// P(no chosen start among cnt of n) with num drawn without replacement.
		p := 1.0
		for i := range cnt {
			p *= float64(n-num-i) / float64(n-i)
		}
		e += 1 - p
	}
	return e
}
