package sslkit

import (
	"math"

	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/transformer"
)

// Optimizer updates parameters from their gradients (nil: skipped) with
// learning rate lr, under op.NoGrad; temporaries go on tp.
// transformer.AdamW and SGD implement it.
type Optimizer interface {
	Step(tp *op.Tape, params []*transformer.Param, grads []op.Tensor, lr float64)
}

// SGD is torch.optim.SGD (momentum, dampening 0, no Nesterov) and, with
// LARS, SGD with momentum on the LARS-scaled gradient (BYOL's, SimCLR's
// and MoCo v3's rule, train.OptimConfig's "lars"):
//
//	d = g + wd·p;  d *= eta·‖p‖/‖d‖ (when both norms are > 0)
//	buf = momentum·buf + d;  p -= lr·buf
//
// Parameters marked NoDecay (biases, normalization) skip weight decay and
// the trust ratio under LARS, and weight decay under SGD when
// ExcludeBiasNorm is set.
type SGD struct {
	Momentum, WeightDecay float64
	LARS                  bool
	Eta                   float64 // LARS trust coefficient (0.001 or 0.02)
	ExcludeBiasNorm       bool
	// LRScale, when set, multiplies the learning rate of the named
	// parameter; SimSiam's fixed-LR predictor uses it.
	LRScale func(name string) float64
	buf     map[string]op.Tensor
}

// Free releases the momentum buffers.
func (o *SGD) Free() {
	for _, t := range o.buf {
		op.Free(t)
	}
	o.buf = nil
}

func (o *SGD) decays(p *transformer.Param) bool {
	return o.WeightDecay != 0 && !(p.NoDecay && (o.LARS || o.ExcludeBiasNorm))
}

// Step applies one update (see SGD).
func (o *SGD) Step(tp *op.Tape, params []*transformer.Param, grads []op.Tensor, lr float64) {
	if o.buf == nil {
		o.buf = map[string]op.Tensor{}
	}
	for i, p := range params {
		g := grads[i]
		if g == nil {
			continue
		}
		d := g
		if o.decays(p) {
			d = tp.Add(g, tp.MulScalar(p.T, o.WeightDecay))
		}
		if o.LARS && !p.NoDecay {
			pn := math.Sqrt(op.Scalar(tp.Sum(tp.Mul(p.T, p.T))))
			dn := math.Sqrt(op.Scalar(tp.Sum(tp.Mul(d, d))))
			if pn > 0 && dn > 0 {
				d = tp.MulScalar(d, o.Eta*pn/dn)
			}
		}
		if o.Momentum != 0 {
			buf, ok := o.buf[p.Name]
			if !ok {
				buf = tp.Keep(tp.ZerosLike(p.T))
				o.buf[p.Name] = buf
			}
			op.MulScalarInPlace(buf, o.Momentum)
			op.AddInPlace(buf, d)
			d = buf
		}
		plr := lr
		if o.LRScale != nil {
			plr *= o.LRScale(p.Name)
		}
		op.AddInPlace(p.T, tp.MulScalar(d, -plr))
	}
}

// Backward clears the gradients of params, back-propagates loss and
// returns the gradients (nil where a parameter got none), owned by tp.
func Backward(tp *op.Tape, params []*transformer.Param, loss op.Tensor) []op.Tensor {
	ts := make([]op.Tensor, len(params))
	for i, p := range params {
		ts[i] = p.T
	}
	op.ClearGrads(ts)
	op.Backward(loss)
	grads := make([]op.Tensor, len(params))
	for i, p := range params {
		grads[i] = tp.Grad(p.T)
	}
	return grads
}

// EMA sets every trainable tensor of teacher to tau·teacher +
// (1-tau)·student, matched by name (a name the student lacks panics:
// the teacher is built from the student's constructor); buffers are left
// to the teacher's own forward passes, as in DINO and MoCo v3. Runs under
// op.NoGrad.
func EMA(tp *op.Tape, teacher, student *Params, tau float64) {
	for _, q := range teacher.Trainable() {
		s := student.Get(q.Name)
		if s == nil {
			panic("sslkit: ema: student has no " + q.Name)
		}
		op.MulScalarInPlace(q.T, tau)
		op.AddInPlace(q.T, tp.MulScalar(s.T, 1-tau))
	}
}

// Cosine goes from base (t = 0) to final (t >= 1) along a half cosine:
// final + (base-final)·(1 + cos(π·t))/2. DINO's and MoCo v3's momentum
// schedules (0.996 -> 1, 0.99 -> 1) and the cosine learning-rate decay
// are Cosine(base, final, step/steps).
func Cosine(base, final, t float64) float64 {
	t = min(max(t, 0), 1)
	return final + (base-final)*(1+math.Cos(math.Pi*t))/2
}

// WarmupCosine is a learning rate (or weight decay) schedule at step
// (0-based) of total: linear from 0 at step 0 to base at step warmup-1,
// then Cosine(base, final) over the remaining total-warmup steps (DINO's
// cosine_scheduler with start_warmup_value 0: np.linspace(0, base,
// warmup), then final + (base-final)·(1 + cos(π·i/(total-warmup)))/2).
func WarmupCosine(base, final float64, step, warmup, total int64) float64 {
	if step < warmup {
		if warmup == 1 {
			return 0
		}
		return base * float64(step) / float64(warmup-1)
	}
	if total <= warmup {
		return final
	}
	return Cosine(base, final, float64(step-warmup)/float64(total-warmup))
}
