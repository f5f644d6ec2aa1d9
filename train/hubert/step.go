package hubert

import (
	"strings"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// StepResult reports one optimizer step (or one evaluation).
type StepResult struct {
	Loss, LossM, LossU, FeatPen float64
	CorrectM, CountM            int
	CorrectU, CountU            int
	GradNorm                    float64 // before clipping (after averaging across ranks)
	Skipped                     bool    // non-finite loss or gradient: no update
}

// AccM is the masked-frame accuracy of the step.
func (r StepResult) AccM() float64 { return ratio(r.CorrectM, r.CountM) }

// AccU is the unmasked-frame accuracy of the step.
func (r StepResult) AccU() float64 { return ratio(r.CorrectU, r.CountU) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// cnnPrefix names the CNN feature encoder's parameters.
const cnnPrefix = "wav2vec2.feature_extractor."

// Optimizer is a model's optimizer: the shared optimizer block (fairseq's
// HuBERT uses AdamW with betas (0.9, 0.98), eps 1e-6, weight decay 0.01,
// gradient-norm clipping at 10), with the CNN's learning rate multiplied
// by cnnLRScale.
type Optimizer struct {
	m   *Model
	opt *nn.Optimizer
}

// NewOptimizer makes the optimizer of cfg for m; cnnLRScale (0 or 1: none)
// scales the CNN feature encoder's learning rate.
func NewOptimizer(m *Model, cfg train.OptimConfig, cnnLRScale float64) (*Optimizer, error) {
	o, err := nn.NewOptimizer(cfg)
	if err != nil {
		return nil, err
	}
	if s := cnnLRScale; s > 0 && s != 1 {
		o.LRScale = func(name string) float64 {
			if strings.HasPrefix(name, cnnPrefix) {
				return s
			}
			return 1
		}
	}
	return &Optimizer{m: m, opt: o}, nil
}

// Free releases the optimizer state.
func (o *Optimizer) Free() { o.opt.Free() }

// Steps is the number of updates applied.
func (o *Optimizer) Steps() int64 { return o.opt.Steps() }

// State returns the optimizer state as checkpoint entries named
// prefix+<param>.<slot> (exp_avg, exp_avg_sq for AdamW).
func (o *Optimizer) State(prefix string) (map[string]train.STensor, error) {
	return o.opt.State(o.m.Params, prefix)
}

// SetState restores what State returned after steps updates.
func (o *Optimizer) SetState(src string, ts map[string]train.STensor, prefix string, steps int64) error {
	return o.opt.SetState(src, o.m.Params, ts, prefix, steps)
}

// Step runs forward and backward on b, averages the gradients across
// ranks with reduce when it is non-nil (data-parallel runs), clips the
// gradient norm and applies one update with learning rate lr. A
// non-finite loss or gradient norm skips the update (Skipped). Every
// value is read together with the gradient norm after the backward pass
// is queued: one device synchronization per step (two with reduce). The
// caller locks the OS thread.
func (o *Optimizer) Step(b *Batch, lr float64, reduce func([]op.Tensor) error) (r StepResult, err error) {
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	out := o.m.Loss(&tp, b)
	params := o.m.Params.Trainable()
	grads, norm, vals, ok := nn.Backward(&tp, params, out.Loss, out.stats()...)
	out.fill(&r, vals)
	if reduce != nil {
		if err := reduce(grads); err != nil {
			return r, err
		}
		norm, ok = gradNorm(&tp, grads)
	}
	r.GradNorm = norm
	if !ok || !op.Finite(r.Loss) {
		r.Skipped = true
		return r, nil
	}
	restore := op.NoGrad()
	defer restore()
	nn.ClipGrads(grads, norm, o.opt.Cfg.ClipGradNorm)
	o.opt.Step(&tp, params, grads, lr)
	return r, nil
}

// gradNorm is the global norm of grads (read from the device).
func gradNorm(tp *op.Tape, grads []op.Tensor) (float64, bool) {
	restore := op.NoGrad()
	defer restore()
	var present []op.Tensor
	for _, g := range grads {
		if g != nil {
			present = append(present, g)
		}
	}
	if len(present) == 0 {
		return 0, true
	}
	n := op.ReadScalars(tp, op.TotalNorm(tp, present))[0]
	return n, op.Finite(n)
}

// Eval runs the model on b without updating it (no dropout unless
// b.Train) and returns the same statistics.
func (m *Model) Eval(b *Batch) (r StepResult, err error) {
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	var tp op.Tape
	defer tp.Drop()
	out := m.Loss(&tp, b)
	out.fill(&r, op.ReadScalars(&tp, out.stats()...))
	return r, nil
}

// Sync waits for the device's queued work (CUDA); a no-op on the CPU.
func Sync(dev gotch.Device) (err error) {
	if !dev.IsCuda() {
		return nil
	}
	defer op.Catch(&err)
	lib.AtcSynchronize(int64(dev.Value))
	op.Check()
	return nil
}
