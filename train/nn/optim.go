package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// Optimizer is the optimizer a train.OptimConfig names, over trainable
// Params. The update rules are PyTorch 1.13's (torch.optim.SGD and
// torch.optim.AdamW) and, for LARS, SGD with momentum applied to the
// LARS-scaled gradient:
//
//	d = g + wd*p;  d *= eta*||p||/||d|| (when both norms are > 0)
//	buf = momentum*buf + d;  p -= lr*buf
//
// with parameters marked NoDecay (biases, normalization) excluded from
// both the weight decay and the trust ratio, as in BYOL and SimCLR. SGD
// and AdamW exclude them from weight decay when ExcludeBiasNorm is set.
//
// LRScale, when set, multiplies the learning rate of the named parameter
// (SimSiam's fixed-LR predictor, HuBERT's slow CNN).
type Optimizer struct {
	Cfg     train.OptimConfig
	LRScale func(name string) float64
	steps   int64
	buf     map[string]op.Tensor // momentum buffers (sgd, lars)
	adam    *AdamW
}

// NewOptimizer makes the optimizer of cfg with no state.
func NewOptimizer(cfg train.OptimConfig) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &Optimizer{Cfg: cfg, buf: map[string]op.Tensor{}}
	if cfg.Name == "adamw" {
		o.adam = NewAdamW(AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay,
			ExcludeNoDecay: cfg.ExcludeBiasNorm})
	}
	return o, nil
}

// Steps is the number of updates applied.
func (o *Optimizer) Steps() int64 {
	if o.adam != nil {
		return o.adam.Steps()
	}
	return o.steps
}

// Free releases the optimizer state.
func (o *Optimizer) Free() {
	for _, t := range o.buf {
		op.Free(t)
	}
	o.buf = map[string]op.Tensor{}
	if o.adam != nil {
		o.adam.Free()
	}
}

func (o *Optimizer) decays(p *Param) bool {
	c := o.Cfg
	if c.WeightDecay == 0 {
		return false
	}
	return !(p.NoDecay && (c.Name == "lars" || c.ExcludeBiasNorm))
}

func (o *Optimizer) momentum(tp *op.Tape, p *Param) op.Tensor {
	if t, ok := o.buf[p.Name]; ok {
		return t
	}
	z := tp.Keep(tp.ZerosLike(p.T))
	o.buf[p.Name] = z
	return z
}

func (o *Optimizer) lr(p *Param, lr float64) float64 {
	if o.LRScale != nil {
		return lr * o.LRScale(p.Name)
	}
	return lr
}

// Step applies one update with learning rate lr to params given their
// gradients (same order; nil: skipped). Runs under op.NoGrad; the
// temporaries go on tp.
func (o *Optimizer) Step(tp *op.Tape, params []*Param, grads []op.Tensor, lr float64) {
	if o.adam != nil {
		o.adam.cfg.LRScale = o.LRScale
		o.adam.Step(tp, params, grads, lr)
		return
	}
	o.steps++
	c := o.Cfg
	if c.Name == "sgd" && o.stepForeachSGD(tp, params, grads, lr) {
		return
	}
	for i, p := range params {
		g := grads[i]
		if g == nil {
			continue
		}
		d := g
		if o.decays(p) {
			d = tp.Add(g, tp.MulScalar(p.T, c.WeightDecay))
		}
		if c.Name == "lars" && !p.NoDecay {
			pn := math.Sqrt(op.Scalar(tp.Sum(tp.Mul(p.T, p.T))))
			dn := math.Sqrt(op.Scalar(tp.Sum(tp.Mul(d, d))))
			if pn > 0 && dn > 0 {
				d = tp.MulScalar(d, c.Eta*pn/dn)
			}
		}
		if c.Momentum != 0 {
			buf := o.momentum(tp, p)
			op.MulScalarInPlace(buf, c.Momentum)
			op.AddInPlace(buf, d)
			d = buf
		}
		op.AddInPlace(p.T, tp.MulScalar(d, -o.lr(p, lr)))
	}
}

// stepForeachSGD is the SGD update with libtorch's multi-tensor ops, one
// call per (learning rate, weight decay) group. It returns false, having
// changed nothing, where the shim lacks them.
func (o *Optimizer) stepForeachSGD(tp *op.Tape, params []*Param, grads []op.Tensor, lr float64) bool {
	c := o.Cfg
	type key struct{ lr, wd float64 }
	type group struct{ p, g, buf []op.Tensor }
	groups := map[key]*group{}
	var order []key
	for i, p := range params {
		if grads[i] == nil {
			continue
		}
		k := key{o.lr(p, lr), 0}
		if o.decays(p) {
			k.wd = c.WeightDecay
		}
		gr := groups[k]
		if gr == nil {
			gr = &group{}
			groups[k] = gr
			order = append(order, k)
		}
		gr.p, gr.g = append(gr.p, p.T), append(gr.g, grads[i])
		if c.Momentum != 0 {
			gr.buf = append(gr.buf, o.momentum(tp, p))
		}
	}
	for i, k := range order {
		gr := groups[k]
		if !op.ForeachSGD(gr.p, gr.g, gr.buf, k.lr, c.Momentum, k.wd) {
			if i > 0 {
				op.Fail(fmt.Errorf("nn: sgd: the foreach update vanished mid-step"))
			}
			return false
		}
	}
	return true
}

// SetWeightDecay sets the weight decay of the following updates (a
// schedule such as DINO's cosine from 0.04 to 0.4); which parameters it
// applies to is unchanged (Cfg.ExcludeBiasNorm, LARS's exemption). It is
// configuration, not optimizer state: a resumed run sets it again before
// its first update.
func (o *Optimizer) SetWeightDecay(wd float64) {
	o.Cfg.WeightDecay = wd
	if o.adam != nil {
		o.adam.cfg.WeightDecay = wd
	}
}

// MinimizeReading back-propagates loss into params (their gradients
// cleared first), reads the one-element tensors stats together with the
// gradient norm (one device synchronization per step), clips the norm at
// clip (0: no clipping) and applies one update with learning rate lr. A
// non-finite norm (a non-finite loss gives one) skips the update.
func (o *Optimizer) MinimizeReading(tp *op.Tape, params []*Param, loss op.Tensor, clip, lr float64, stats ...op.Tensor) (gradNorm float64, vals []float64, skipped bool) {
	grads, gradNorm, vals, ok := Backward(tp, params, loss, stats...)
	if !ok {
		return gradNorm, vals, true
	}
	restore := op.NoGrad()
	defer restore()
	ClipGrads(grads, gradNorm, clip)
	o.Step(tp, params, grads, lr)
	return gradNorm, vals, false
}

// Backward clears the gradients of params, back-propagates loss and reads
// stats and the global gradient norm in one device synchronization. ok is
// false when the norm is not finite. grads[i] is params[i]'s gradient
// (nil where it has none).
func Backward(tp *op.Tape, params []*Param, loss op.Tensor, stats ...op.Tensor) (grads []op.Tensor, gradNorm float64, vals []float64, ok bool) {
	op.ClearGrads(Tensors(params))
	op.Backward(loss)
	restore := op.NoGrad()
	defer restore()
	grads = make([]op.Tensor, len(params))
	var present []op.Tensor
	for i, p := range params {
		if grads[i] = tp.Grad(p.T); grads[i] != nil {
			present = append(present, grads[i])
		}
	}
	read := slices.Clone(stats)
	if len(present) > 0 {
		read = append(read, op.TotalNorm(tp, present))
	}
	all := op.ReadScalars(tp, read...)
	vals = all[:len(stats)]
	if len(present) > 0 {
		gradNorm = all[len(stats)]
	}
	return grads, gradNorm, vals, op.Finite(gradNorm)
}

// ClipGrads scales grads in place so that their global norm (norm) is at
// most clip (0: no clipping), as torch.nn.utils.clip_grad_norm_.
func ClipGrads(grads []op.Tensor, norm, clip float64) {
	if f := op.ClipFactor(norm, clip); f != 1 {
		var present []op.Tensor
		for _, g := range grads {
			if g != nil {
				present = append(present, g)
			}
		}
		op.ForeachMulScalar(present, f)
	}
}

// State copies the optimizer state into checkpoint entries named
// prefix+<param>.<slot> (PyTorch's slot names: momentum_buffer, exp_avg,
// exp_avg_sq).
func (o *Optimizer) State(params *Params, prefix string) (out map[string]train.STensor, err error) {
	if o.adam != nil {
		return o.adam.State(params, prefix)
	}
	defer op.Catch(&err)
	out = map[string]train.STensor{}
	for _, p := range params.List() {
		if b, ok := o.buf[p.Name]; ok {
			out[prefix+p.Name+".momentum_buffer"] = train.STensor{Shape: slices.Clone(p.Shape), F32: op.ToFloat32(b)}
		}
	}
	return out, nil
}

// SetState restores what State wrote after steps updates; src names the
// checkpoint in errors. With steps > 0 every trainable parameter must have
// its state (when the optimizer keeps any).
func (o *Optimizer) SetState(src string, params *Params, tensors map[string]train.STensor, prefix string, steps int64) (err error) {
	if o.adam != nil {
		return o.adam.SetState(src, params, tensors, prefix, steps)
	}
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	o.Free()
	if o.Cfg.Momentum != 0 {
		for _, p := range params.Trainable() {
			s, ok := tensors[prefix+p.Name+".momentum_buffer"]
			if !ok {
				if steps == 0 {
					continue
				}
				o.Free()
				return fmt.Errorf("%s: %w: no optimizer state %s.momentum_buffer", src, train.ErrBadCheckpoint, prefix+p.Name)
			}
			if !slices.Equal(s.Shape, p.Shape) || s.F32 == nil {
				o.Free()
				return fmt.Errorf("%s: %w: optimizer state %s.momentum_buffer has shape %v, want %v", src, train.ErrBadCheckpoint, prefix+p.Name, s.Shape, p.Shape)
			}
			t, err := op.FromFloat32(s.F32, params.Device(), p.Shape...)
			if err != nil {
				o.Free()
				return err
			}
			o.buf[p.Name] = t
		}
	}
	o.steps = steps
	return nil
}
