package train

import (
	"fmt"
	"math"

	"github.com/sslpipe/sslpipe/train/op"
)

// OptimConfig selects and tunes an optimizer. The update rules are
// PyTorch 1.13's (torch.optim.SGD, torch.optim.AdamW, single-tensor path)
// and, for LARS, SGD with momentum applied to the LARS-scaled gradient:
//
//	d = g + wd*p;  d *= eta*||p||/||d|| (when both norms are > 0)
//	buf = momentum*buf + d;  p -= lr*buf
//
// with parameters marked NoDecay (biases, normalization) excluded from
// both the weight decay and the trust ratio, as in BYOL.
type OptimConfig struct {
	Name        string  `yaml:"name" json:"name"` // sgd, lars or adamw
	LR          float64 `yaml:"lr" json:"lr"`     // base learning rate (before batch scaling)
	ScaleLR     bool    `yaml:"scale_lr" json:"scale_lr"`
	Momentum    float64 `yaml:"momentum" json:"momentum"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	Eta         float64 `yaml:"eta" json:"eta"` // LARS trust coefficient
	Beta1       float64 `yaml:"beta1" json:"beta1"`
	Beta2       float64 `yaml:"beta2" json:"beta2"`
	Eps         float64 `yaml:"eps" json:"eps"`
	// ExcludeBiasNorm exempts biases and normalization parameters from
	// weight decay for SGD and AdamW too (LARS always exempts them).
	ExcludeBiasNorm bool    `yaml:"exclude_bias_norm" json:"exclude_bias_norm"`
	ClipGradNorm    float64 `yaml:"clip_grad_norm" json:"clip_grad_norm"` // 0: off
	// SkipNonFinite skips (and counts) steps whose loss or clipped
	// gradient norm is NaN or Inf. It reads the loss before the update,
	// which synchronizes a GPU once per step before the optimizer's
	// kernels are queued; false reads it after the update instead.
	SkipNonFinite bool `yaml:"skip_nonfinite" json:"skip_nonfinite"`
}

// Validate checks ranges.
func (c OptimConfig) Validate() error {
	switch c.Name {
	case "sgd", "lars", "adamw":
	default:
		return fmt.Errorf("train: optim.name %q: want sgd, lars or adamw", c.Name)
	}
	if !(c.LR > 0) || c.Momentum < 0 || c.Momentum >= 1 || c.WeightDecay < 0 || c.ClipGradNorm < 0 {
		return fmt.Errorf("train: optim: lr %v must be > 0, momentum %v in [0, 1), weight_decay %v and clip_grad_norm %v >= 0", c.LR, c.Momentum, c.WeightDecay, c.ClipGradNorm)
	}
	if c.Name == "adamw" && !(c.Beta1 >= 0 && c.Beta1 < 1 && c.Beta2 >= 0 && c.Beta2 < 1 && c.Eps > 0) {
		return fmt.Errorf("train: optim adamw: betas (%v, %v) must be in [0, 1) and eps %v > 0", c.Beta1, c.Beta2, c.Eps)
	}
	if c.Name == "lars" && !(c.Eta > 0) {
		return fmt.Errorf("train: optim lars: eta %v must be > 0", c.Eta)
	}
	return nil
}

// optimizer holds per-parameter state tensors.
type optimizer struct {
	cfg   OptimConfig
	steps int64
	// slots[param name][slot name]
	slots map[string]map[string]tensor
}

func newOptimizer(cfg OptimConfig) *optimizer {
	return &optimizer{cfg: cfg, slots: map[string]map[string]tensor{}}
}

func (o *optimizer) slotNames() []string {
	if o.cfg.Name == "adamw" {
		return []string{"exp_avg", "exp_avg_sq"}
	}
	if o.cfg.Momentum == 0 {
		return nil
	}
	return []string{"momentum_buffer"}
}

// slot returns the state tensor, creating zeros like p.
func (o *optimizer) slot(tp *tape, p *Var, name string) tensor {
	s := o.slots[p.Name]
	if s == nil {
		s = map[string]tensor{}
		o.slots[p.Name] = s
	}
	if t, ok := s[name]; ok {
		return t
	}
	z := tp.Keep(tp.ZerosLike(p.t))
	s[name] = z
	return z
}

// free releases the optimizer state.
func (o *optimizer) free() {
	for _, s := range o.slots {
		for _, t := range s {
			op.Free(t)
		}
	}
	o.slots = map[string]map[string]tensor{}
}

func (o *optimizer) decays(p *Var) bool {
	if o.cfg.WeightDecay == 0 {
		return false
	}
	if p.NoDecay && (o.cfg.Name == "lars" || o.cfg.ExcludeBiasNorm) {
		return false
	}
	return true
}

// stepForeachSGD is the SGD update with libtorch's multi-tensor ops, one
// call per weight-decay group (a few kernel launches instead of six per
// tensor). It returns false, having changed nothing, where the shim lacks
// them.
func (o *optimizer) stepForeachSGD(tp *tape, params []*Var, grads []tensor, lr float64) bool {
	c := o.cfg
	var groups [2]struct{ p, g, buf []tensor }
	for i, p := range params {
		if grads[i] == nil {
			continue
		}
		k := 0
		if o.decays(p) {
			k = 1
		}
		gr := &groups[k]
		gr.p, gr.g = append(gr.p, p.t), append(gr.g, grads[i])
		if c.Momentum != 0 {
			gr.buf = append(gr.buf, o.slot(tp, p, "momentum_buffer"))
		}
	}
	for k, gr := range groups {
		wd := 0.0
		if k == 1 {
			wd = c.WeightDecay
		}
		if !op.ForeachSGD(gr.p, gr.g, gr.buf, lr, c.Momentum, wd) {
			if k == 1 && len(groups[0].p) > 0 {
				op.Fail(fmt.Errorf("train: sgd: the foreach update vanished mid-step"))
			}
			return false
		}
	}
	return true
}

// step applies one update with learning rate lr to params whose gradients
// are grads (same order; nil grads are skipped). Must run under noGrad.
func (o *optimizer) step(tp *tape, params []*Var, grads []tensor, lr float64) {
	o.steps++
	c := o.cfg
	if c.Name == "sgd" && o.stepForeachSGD(tp, params, grads, lr) {
		return
	}
	for i, p := range params {
		g := grads[i]
		if g == nil {
			continue
		}
		switch c.Name {
		case "sgd", "lars":
			d := g
			if o.decays(p) {
				d = tp.Add(g, tp.MulScalar(p.t, c.WeightDecay))
			}
			if c.Name == "lars" && !p.NoDecay {
				pn := math.Sqrt(op.Scalar(tp.Sum(tp.Mul(p.t, p.t))))
				dn := math.Sqrt(op.Scalar(tp.Sum(tp.Mul(d, d))))
				if pn > 0 && dn > 0 {
					d = tp.MulScalar(d, c.Eta*pn/dn)
				}
			}
			if c.Momentum != 0 {
				buf := o.slot(tp, p, "momentum_buffer")
				op.MulScalarInPlace(buf, c.Momentum)
				op.AddInPlace(buf, d)
				d = buf
			}
			op.AddInPlace(p.t, tp.MulScalar(d, -lr))
		case "adamw":
			t := float64(o.steps)
			if o.decays(p) {
				op.MulScalarInPlace(p.t, 1-lr*c.WeightDecay)
			}
			m := o.slot(tp, p, "exp_avg")
			v := o.slot(tp, p, "exp_avg_sq")
			op.MulScalarInPlace(m, c.Beta1)
			op.AddInPlace(m, tp.MulScalar(g, 1-c.Beta1))
			op.MulScalarInPlace(v, c.Beta2)
			op.AddInPlace(v, tp.MulScalar(tp.Mul(g, g), 1-c.Beta2))
			bc1 := 1 - math.Pow(c.Beta1, t)
			bc2 := 1 - math.Pow(c.Beta2, t)
			denom := tp.AddScalar(tp.MulScalar(tp.Sqrt(v), 1/math.Sqrt(bc2)), c.Eps)
			op.AddInPlace(p.t, tp.MulScalar(tp.Div(m, denom), -lr/bc1))
		}
	}
}
