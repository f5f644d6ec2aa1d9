package data2vec

import (
	"math"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// OptimConfig is the shared optimizer block (train.OptimConfig); an empty
// Name means adamw, data2vec's optimizer.
type OptimConfig = train.OptimConfig

// StepResult reports one update.
type StepResult struct {
	Loss               float64
	TargetVar, PredVar float64 // Variance of the masked targets and predictions
	GradNorm           float64 // before clipping (after the data-parallel average)
	Masked             int     // masked positions in the batch
	Skipped            bool    // non-finite loss or gradient: no update
}

// Optimizer updates a model's student with one of package nn's
// optimizers (AdamW in every preset).
type Optimizer struct {
	m   *Model
	cfg OptimConfig
	opt *nn.Optimizer
}

// NewOptimizer makes the optimizer of cfg for m's student.
func NewOptimizer(m *Model, cfg OptimConfig) (*Optimizer, error) {
	if cfg.Name == "" {
		cfg.Name = "adamw"
	}
	opt, err := nn.NewOptimizer(cfg)
	if err != nil {
		return nil, err
	}
	return &Optimizer{m: m, cfg: cfg, opt: opt}, nil
}

// Free releases the optimizer state.
func (o *Optimizer) Free() { o.opt.Free() }

// Steps is the number of updates applied.
func (o *Optimizer) Steps() int64 { return o.opt.Steps() }

// State returns the optimizer's state as checkpoint entries
// "optim.<param>.<slot>" (AdamW: exp_avg, exp_avg_sq).
func (o *Optimizer) State() (map[string]train.STensor, error) {
	return o.opt.State(o.m.Params, "optim.")
}

// SetState restores what State returned after steps updates.
func (o *Optimizer) SetState(src string, ts map[string]train.STensor, steps int64) error {
	return o.opt.SetState(src, o.m.Params, ts, "optim.", steps)
}

// Step runs student and teacher on b, back-propagates the loss, clips the
// gradient norm and applies one update with learning rate lr (the teacher
// is not touched: call Model.UpdateTeacher after). A non-finite loss or
// gradient skips the update. The caller locks the OS thread.
func (o *Optimizer) Step(b *Batch, lr float64) (StepResult, error) {
	return o.StepReduce(b, lr, nil)
}

// StepReduce is Step in a data-parallel run: reduce averages the
// gradients across ranks in place between the backward pass and the
// update (nil: one process). Every rank calls reduce, even when its own
// gradient is not finite, and all skip or apply the update alike (the
// averaged norm decides).
func (o *Optimizer) StepReduce(b *Batch, lr float64, reduce func([]op.Tensor) error) (r StepResult, err error) {
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	out := o.m.Loss(&tp, b)
	r.Masked = out.Masked
	// Loss and monitors are read with the gradient norm, after the backward
	// pass is queued: one device sync per step. A non-finite loss gives a
	// non-finite gradient norm, and the update is skipped.
	stats := []op.Tensor{out.Loss}
	tv, pv := varianceTensor(&tp, out.Target), varianceTensor(&tp, out.Pred)
	if tv != nil && pv != nil {
		stats = append(stats, tv, pv)
	}
	params := o.m.Params.Trainable()
	var vals []float64
	if reduce == nil {
		r.GradNorm, vals, r.Skipped = o.opt.MinimizeReading(&tp, params, out.Loss, o.cfg.ClipGradNorm, lr, stats...)
	} else {
		var grads []op.Tensor
		grads, _, vals, _ = nn.Backward(&tp, params, out.Loss, stats...)
		if r.GradNorm, r.Skipped, err = o.reduceAndUpdate(&tp, params, grads, lr, reduce); err != nil {
			return r, err
		}
	}
	r.Loss = vals[0]
	if len(vals) == 3 {
		r.TargetVar, r.PredVar = vals[1], vals[2]
	}
	if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
		r.Skipped = true
	}
	return r, nil
}

// reduceAndUpdate averages grads across ranks, reads the averaged norm,
// clips and updates.
func (o *Optimizer) reduceAndUpdate(tp *op.Tape, params []*nn.Param, grads []op.Tensor, lr float64, reduce func([]op.Tensor) error) (float64, bool, error) {
	restore := op.NoGrad()
	defer restore()
	var present []op.Tensor
	for _, g := range grads {
		if g != nil {
			present = append(present, g)
		}
	}
	if err := reduce(present); err != nil {
		return 0, true, err
	}
	if len(present) == 0 {
		return 0, true, nil
	}
	norm := op.ReadScalars(tp, op.TotalNorm(tp, present))[0]
	if !op.Finite(norm) {
		return norm, true, nil
	}
	nn.ClipGrads(grads, norm, o.cfg.ClipGradNorm)
	o.opt.Step(tp, params, grads, lr)
	return norm, false, nil
}
