package hubert

import (
	"fmt"
	"math"
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
