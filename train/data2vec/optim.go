package data2vec

import (
	"math"

	lib "github.com/sugarme/gotch/libtch"

	tr "github.com/sslpipe/sslpipe/train/transformer"
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

// adamW keeps the first and second moments of every parameter
// (torch.optim.AdamW's single-tensor update).
type adamW struct {
	cfg   OptimConfig
	steps int64
	m, v  map[string]tr.Tensor
}

func newAdamW(cfg OptimConfig) *adamW {
	return &adamW{cfg: cfg, m: map[string]tr.Tensor{}, v: map[string]tr.Tensor{}}
}

func (o *adamW) free() {
	for _, t := range o.m {
		tr.Free(t)
	}
	for _, t := range o.v {
		tr.Free(t)
	}
	o.m, o.v = map[string]tr.Tensor{}, map[string]tr.Tensor{}
}

// step applies one AdamW update with learning rate lr. Runs under NoGrad.
func (o *adamW) step(tp *tr.Tape, params []*tr.Param, grads []tr.Tensor, lr float64) {
	o.steps++
	c := o.cfg
	t := float64(o.steps)
	bc1 := 1 - math.Pow(c.Beta1, t)
	bc2 := 1 - math.Pow(c.Beta2, t)
	for i, p := range params {
		g := grads[i]
		if g == nil {
			continue
		}
		if c.WeightDecay > 0 {
			tr.MulScalarInPlace(p.T, 1-lr*c.WeightDecay)
		}
		m, ok := o.m[p.Name]
		if !ok {
			m = tp.Keep(tp.MulScalar(p.T, 0))
			o.m[p.Name] = m
			o.v[p.Name] = tp.Keep(tp.MulScalar(p.T, 0))
		}
		v := o.v[p.Name]
		// Fewer kernel launches than the textbook form (it matters on
		// CUDA, where each op is a launch through cgo): m.lerp_(g, 1-b1),
		// v.mul_(b2).addcmul_((1-b2)·g, g), p.addcdiv_(-lr/bc1·m, denom).
		lerpInPlace(m, g, 1-c.Beta1)
		tr.MulScalarInPlace(v, c.Beta2)
		addcmulInPlace(v, tp.MulScalar(g, 1-c.Beta2), g)
		denom := tp.AddScalar(tp.MulScalar(tp.Sqrt(v), 1/math.Sqrt(bc2)), c.Eps)
		addcdivInPlace(p.T, tp.MulScalar(m, -lr/bc1), denom)
	}
}

// lerpInPlace is x += w·(y - x) (torch.Tensor.lerp_).
func lerpInPlace(x, y tr.Tensor, w float64) {
	var out tr.Tensor
	sc := lib.AtsFloat(w)
	lib.AtgLerp_(&out, x, y, sc)
	lib.AtsFree(sc)
	tr.Check()
	tr.Free(out)
}

// addcmulInPlace is x += a·b.
func addcmulInPlace(x, a, b tr.Tensor) {
	var out tr.Tensor
	lib.AtgAddcmul_(&out, x, a, b)
	tr.Check()
	tr.Free(out)
}

// addcdivInPlace is x += a/b.
func addcdivInPlace(x, a, b tr.Tensor) {
	var out tr.Tensor
	lib.AtgAddcdiv_(&out, x, a, b)
	tr.Check()
	tr.Free(out)
}
