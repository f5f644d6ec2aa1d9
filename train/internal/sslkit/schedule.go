package sslkit

import "math"

// WarmupCosine is a value (learning rate, weight decay) at step k of
// total: linear warm-up base·(k+1)/warmup over warmup steps (as
// train.Config.LRAt), then a half cosine from base to final over the
// rest. DINO's weight decay is WarmupCosine(0.04, 0.4, k, 0, total).
func WarmupCosine(base, final float64, k, warmup, total int64) float64 {
	if k < warmup {
		return base * float64(k+1) / float64(warmup)
	}
	n := total - warmup
	if n <= 0 {
		return base
	}
	f := math.Min(float64(k-warmup)/float64(n), 1)
	return final + (base-final)*(1+math.Cos(math.Pi*f))/2
}
