package data2vec2

import (
	"errors"
	"fmt"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// ErrCollapse is wrapped by the collapse monitor's errors (CollapseConfig.Check).
var ErrCollapse = errors.New("data2vec2: representation collapse")

// Optimizer is the optimizer of a model's student (AdamW in every preset;
// fairseq's Adam with decoupled weight decay, biases and 1-D parameters not
// decayed when ExcludeBiasNorm), with gradient clipping.
type Optimizer struct {
	m   *Model
	cfg train.OptimConfig
	opt *nn.Optimizer
}

// NewOptimizer makes an optimizer with no state.
func NewOptimizer(m *Model, cfg train.OptimConfig) (*Optimizer, error) {
	o, err := nn.NewOptimizer(cfg)
	if err != nil {
		return nil, err
	}
	return &Optimizer{m: m, cfg: cfg, opt: o}, nil
}

// Free releases the optimizer state.
func (o *Optimizer) Free() { o.opt.Free() }

// Steps is the number of updates applied.
func (o *Optimizer) Steps() int64 { return o.opt.Steps() }

// State returns the optimizer state as checkpoint entries
// "optim.<param>.<slot>".
func (o *Optimizer) State() (map[string]train.STensor, error) {
	return o.opt.State(o.m.Params, "optim.")
}

// SetState restores what State returned after steps updates.
func (o *Optimizer) SetState(src string, ts map[string]train.STensor, steps int64) error {
	return o.opt.SetState(src, o.m.Params, ts, "optim.", steps)
}

// StepResult is one update's figures.
type StepResult struct {
	// Loss is the total; Reg and Cls its regression and CLS parts.
	Loss, Reg, Cls float64
	// TargetVar and PredVar are the collapse monitor's variances of the
	// masked targets and predictions.
	TargetVar, PredVar float64
	GradNorm           float64
	// Masked is the number of masked positions per student row, of T.
	Masked, T int
	// Skipped reports a non-finite loss or gradient (no update).
	Skipped bool
}

// Step runs teacher and student on b, back-propagates the loss, averages
// the gradients across ranks with reduce (nil: one process), clips their
// norm and applies one update with learning rate lr. The teacher is not
// touched: call Model.UpdateTeacher after. A non-finite loss or gradient
// skips the update. The caller locks the OS thread.
func (o *Optimizer) Step(b *Batch, lr float64, reduce func([]op.Tensor) error) (r StepResult, err error) {
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	out := o.m.Loss(&tp, b)
	r.Masked, r.T = out.Masked, b.T
	stats := []op.Tensor{out.Loss, out.Reg}
	if out.Cls != nil {
		stats = append(stats, out.Cls)
	}
	tv, pv := varianceTensor(&tp, out.Target), varianceTensor(&tp, out.Pred)
	if tv != nil && pv != nil {
		stats = append(stats, tv, pv)
	}
	params := o.m.Params.Trainable()
	grads, norm, vals, ok := nn.Backward(&tp, params, out.Loss, stats...)
	r.Loss, r.Reg, vals = vals[0], vals[1], vals[2:]
	if out.Cls != nil {
		r.Cls, vals = vals[0], vals[1:]
	}
	if len(vals) == 2 {
		r.TargetVar, r.PredVar = vals[0], vals[1]
	}
	if reduce != nil {
		if err := reduce(grads); err != nil {
			return r, err
		}
		restore := op.NoGrad()
		var present []op.Tensor
		for _, g := range grads {
			if g != nil {
				present = append(present, g)
			}
		}
		norm = op.ReadScalars(&tp, op.TotalNorm(&tp, present))[0]
		restore()
		ok = op.Finite(norm)
	}
	r.GradNorm = norm
	if !ok || !op.Finite(r.Loss) {
		r.Skipped = true
		return r, nil
	}
	restore := op.NoGrad()
	defer restore()
	nn.ClipGrads(grads, norm, o.cfg.ClipGradNorm)
	o.opt.Step(&tp, params, grads, lr)
	return r, nil
}

// Check applies the collapse monitor to the figures of update step
// (1-based): after After updates, a target variance below MinTargetVar or
// a prediction variance below MinPredVar is a collapse. It returns nil
// (healthy, or not checked yet) or an error wrapping ErrCollapse; warn
// reports whether the trainer should warn rather than stop (Stop false).
func (c CollapseConfig) Check(step int64, r StepResult) (warn bool, err error) {
	if step <= c.After || (r.TargetVar >= c.MinTargetVar && r.PredVar >= c.MinPredVar) {
		return false, nil
	}
	err = fmt.Errorf("%w at step %d: target variance %.4f (min %.3g), prediction variance %.4f (min %.3g)",
		ErrCollapse, step, r.TargetVar, c.MinTargetVar, r.PredVar, c.MinPredVar)
	return !c.Stop, err
}
