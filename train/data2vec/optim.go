package data2vec

import (
	"math"
)

// TauAt is the teacher's EMA decay after step updates: fairseq's
// get_annealed_rate, rising linearly from Start (step 0) to End
// (step AnnealSteps), then End.
func (c EMAConfig) TauAt(step int64) float64 {
	if c.AnnealSteps <= 0 || step >= c.AnnealSteps {
		return c.End
	}
	return c.End - (c.End-c.Start)*(1-float64(step)/float64(c.AnnealSteps))
}

// LRAt is the learning rate of update step (0-based) of total: linear
// warm-up over WarmupSteps to LR, then cosine decay to 0 at total.
func (c OptimConfig) LRAt(step, total int64) float64 {
	if step < c.WarmupSteps {
		return c.LR * float64(step+1) / float64(c.WarmupSteps)
	}
	n := total - c.WarmupSteps
	if n <= 0 {
		return c.LR
	}
	p := math.Min(1, float64(step-c.WarmupSteps)/float64(n))
	return c.LR * 0.5 * (1 + math.Cos(math.Pi*p))
}
