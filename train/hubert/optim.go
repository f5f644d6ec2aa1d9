package hubert

import (
	"fmt"
	"math"
	"strings"

	tr "github.com/sslpipe/sslpipe/train/transformer"
)

// OptimConfig is fairseq's HuBERT optimizer: Adam with decoupled weight
// decay (torch.optim.AdamW's update), betas (0.9, 0.98), eps 1e-6,
// weight decay 0.01, gradient-norm clipping at 10.
type OptimConfig struct {
	LR          float64 `yaml:"lr" json:"lr"`
	Beta1       float64 `yaml:"beta1" json:"beta1"`
	Beta2       float64 `yaml:"beta2" json:"beta2"`
	Eps         float64 `yaml:"eps" json:"eps"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	// ExcludeNoDecay exempts biases, norms and embeddings from decay
	// (fairseq decays everything: false).
	ExcludeNoDecay bool    `yaml:"exclude_no_decay" json:"exclude_no_decay"`
	ClipGradNorm   float64 `yaml:"clip_grad_norm" json:"clip_grad_norm"` // 0: off
	// CNNLRScale multiplies the learning rate of the CNN feature encoder
	// (parameters under wav2vec2.feature_extractor.); 0 means 1. Adam
	// normalizes away the CNN gradient scale (cnn_grad_scale), so short
	// runs at high learning rates slow the CNN down here instead: at 10x
	// fairseq's rate the feature penalty otherwise drives every CNN unit
	// into GELU's flat negative side within ~20 steps.
	CNNLRScale  float64 `yaml:"cnn_lr_scale" json:"cnn_lr_scale"`
	WarmupSteps int64   `yaml:"warmup_steps" json:"warmup_steps"`
}

// Validate checks ranges.
func (c OptimConfig) Validate() error {
	if c.CNNLRScale < 0 {
		return fmt.Errorf("hubert: optim: cnn_lr_scale %v must be >= 0", c.CNNLRScale)
	}
	if !(c.LR > 0) || c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1 || !(c.Eps > 0) || c.WeightDecay < 0 || c.ClipGradNorm < 0 || c.WarmupSteps < 0 {
		return fmt.Errorf("hubert: optim: lr %v > 0, betas (%v, %v) in [0, 1), eps %v > 0, weight_decay %v, clip %v, warmup %d >= 0 required",
			c.LR, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, c.ClipGradNorm, c.WarmupSteps)
	}
	return nil
}

// LRAt is fairseq's polynomial_decay schedule with power 1: linear warmup
// over WarmupSteps to LR, then linear decay to 0 at total.
func (c OptimConfig) LRAt(step, total int64) float64 {
	if step < c.WarmupSteps {
		return c.LR * float64(step+1) / float64(c.WarmupSteps)
	}
	n := total - c.WarmupSteps
	if n <= 0 {
		return c.LR
	}
	return c.LR * math.Max(0, 1-float64(step-c.WarmupSteps)/float64(n))
}

const cnnPrefix = "wav2vec2.feature_extractor."

// adamW keeps the first and second moments of every parameter.
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

// step applies one AdamW update with learning rate lr (torch.optim.AdamW,
// single-tensor path). Runs under NoGrad.
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
		lr := lr
		if c.CNNLRScale > 0 && strings.HasPrefix(p.Name, cnnPrefix) {
			lr *= c.CNNLRScale
		}
		if c.WeightDecay > 0 && !(c.ExcludeNoDecay && p.NoDecay) {
			tr.MulScalarInPlace(p.T, 1-lr*c.WeightDecay)
		}
		m, ok := o.m[p.Name]
		if !ok {
			m = tp.Keep(tp.ZerosLike(p.T))
			o.m[p.Name] = m
			o.v[p.Name] = tp.Keep(tp.ZerosLike(p.T))
		}
		v := o.v[p.Name]
		// In place, two temporaries per parameter (torch.optim.AdamW's
		// update up to rounding):
		// m = lerp(m, g, 1-b1); v = b2·v + (√(1-b2)·g)²;
		// p += m / ((√v/√bc2 + eps)·(-bc1/lr)).
		tr.LerpInPlace(m, g, 1-c.Beta1)
		tr.MulScalarInPlace(v, c.Beta2)
		gs := tp.MulScalar(g, math.Sqrt(1-c.Beta2))
		tr.AddcmulInPlace(v, gs, gs)
		if lr == 0 {
			continue
		}
		denom := tp.Sqrt(v)
		tr.MulScalarInPlace(denom, 1/math.Sqrt(bc2))
		tr.AddScalarInPlace(denom, c.Eps)
		tr.MulScalarInPlace(denom, -bc1/lr)
		tr.AddcdivInPlace(p.T, m, denom)
	}
}
