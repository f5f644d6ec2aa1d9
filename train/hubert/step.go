package hubert

import (
	"math"
	"strings"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

// StepResult reports one optimizer step.
type StepResult struct {
	Loss, LossM, LossU, FeatPen float64
	CorrectM, CountM            int
	CorrectU, CountU            int
	GradNorm                    float64 // before clipping
	Skipped                     bool    // non-finite loss: no update
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

// Optimizer owns a model's AdamW state.
type Optimizer struct {
	m   *Model
	cfg OptimConfig
	opt *tr.AdamW
}

// NewOptimizer makes fairseq's HuBERT optimizer for m.
func NewOptimizer(m *Model, cfg OptimConfig) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ac := tr.AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay, ExcludeNoDecay: cfg.ExcludeNoDecay}
	if s := cfg.CNNLRScale; s > 0 && s != 1 {
		ac.LRScale = func(name string) float64 {
			if strings.HasPrefix(name, cnnPrefix) {
				return s
			}
			return 1
		}
	}
	return &Optimizer{m: m, cfg: cfg, opt: tr.NewAdamW(ac)}, nil
}

// Free releases the optimizer state.
func (o *Optimizer) Free() { o.opt.Free() }

// Steps is the number of updates applied.
func (o *Optimizer) Steps() int64 { return o.opt.Steps() }

// State returns the AdamW moments as checkpoint entries "optim.<param>.exp_avg"
// and "optim.<param>.exp_avg_sq".
func (o *Optimizer) State() (map[string]train.STensor, error) {
	return o.opt.State(o.m.Params, "optim.")
}

// SetState restores what State returned after steps updates.
func (o *Optimizer) SetState(src string, ts map[string]train.STensor, steps int64) error {
	return o.opt.SetState(src, o.m.Params, ts, "optim.", steps)
}

// Step runs forward and backward on b, clips the gradient norm and applies
// one AdamW update with learning rate lr. A non-finite loss skips the
// update (Skipped). The caller locks the OS thread.
func (o *Optimizer) Step(b *Batch, lr float64) (r StepResult, err error) {
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	out := o.m.Loss(&tp, b)
	// Every value is read with the gradient norm, after the backward pass
	// is queued: one device sync per step. A non-finite loss gives a
	// non-finite gradient norm, and the update is skipped.
	var vals []float64
	r.GradNorm, vals, r.Skipped = o.opt.MinimizeReading(&tp, o.m.Params.List(), out.Loss, o.cfg.ClipGradNorm, lr, out.stats()...)
	out.fill(&r, vals)
	if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
		r.Skipped = true
	}
	return r, nil
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
